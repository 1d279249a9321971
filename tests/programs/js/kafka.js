// Maelstrom's kafka workload on the lin-kv service: send {key, msg} -> send_ok {offset},
// poll {offsets} -> poll_ok {msgs}, commit_offsets {offsets} -> commit_offsets_ok,
// list_committed_offsets {keys} -> list_committed_offsets_ok {offsets}. (As ../kafka.py.)
//
// Each log is one lin-kv value, the list of its messages under "log-KEY"; a message's offset is its
// index there. send reads the list (missing: empty) and appends with cas (create_if_not_exists), so
// allocating the offset and storing the message are one atomic step; on error 22 or 20 it reads again
// and retries. poll reads the logs it is asked about and returns at most POLL_LIMIT messages per key
// from the offset given. Committed offsets live under "committed-KEY" and only move up (a cas loop). A failed read is answered with error 11; a failed cas or write (e.g. a timeout: it may have
// happened) is passed on to the client.
const m = require("./maelstrom");

const POLL_LIMIT = 100;

const node = new m.Node();

// The value of a read_ok, `missing` for error 20; undefined (and the caller gives up) otherwise.
function valueOf(reply, missing) {
  if (reply.type === "read_ok") return reply.value;
  return reply.code === m.KEY_DOES_NOT_EXIST ? missing : undefined;
}

function append(request, key, msg) {
  node.rpc("lin-kv", { type: "read", key: `log-${key}` }, (reply) => {
    const log = valueOf(reply, []);
    if (log === undefined) return node.error(request, m.TEMPORARILY_UNAVAILABLE, `lin-kv read failed: ${reply.text}`);
    const cas = { type: "cas", key: `log-${key}`, from: log, to: [...log, msg], create_if_not_exists: true };
    node.rpc("lin-kv", cas, (reply) => {
      if (reply.type === "cas_ok") node.reply(request, { type: "send_ok", offset: log.length });
      else if (reply.code === m.PRECONDITION_FAILED || reply.code === m.KEY_DOES_NOT_EXIST) {
        node.after(Math.random() * 20, () => append(request, key, msg));
      } else node.error(request, reply.code ?? m.CRASH, `lin-kv cas failed: ${reply.text}`);
    });
  });
}

node.on("send", (request) => {
  m.need(request.body, "key", "msg");
  append(request, request.body.key, request.body.msg);
});

node.on("poll", (request) => {
  const offsets = request.body.offsets;
  const keys = Object.keys(offsets);
  if (!keys.every((key) => Number.isInteger(offsets[key]))) throw new TypeError("offsets are not all integers");
  node.rpcAll(
    keys.map((key) => ["lin-kv", { type: "read", key: `log-${key}` }]),
    (replies) => {
      const msgs = {};
      for (const [index, key] of keys.entries()) {
        const log = valueOf(replies[index], []);
        if (log === undefined) return node.error(request, m.TEMPORARILY_UNAVAILABLE, "lin-kv read failed");
        const start = Math.max(offsets[key], 0);
        msgs[key] = log.slice(start, start + POLL_LIMIT).map((msg, i) => [start + i, msg]);
      }
      node.reply(request, { type: "poll_ok", msgs });
    },
  );
});

// Moves committed-KEY up to `offset` (never down: clients commit concurrently) with a cas loop.
function raiseTo(request, key, offset, done) {
  node.rpc("lin-kv", { type: "read", key: `committed-${key}` }, (reply) => {
    const current = valueOf(reply, -1);
    if (current === undefined) return node.error(request, m.TEMPORARILY_UNAVAILABLE, `lin-kv read failed: ${reply.text}`);
    if (current >= offset) return done(key);
    const cas = { type: "cas", key: `committed-${key}`, from: current, to: offset };
    if (current < 0) cas.create_if_not_exists = true;
    node.rpc("lin-kv", cas, (reply) => {
      if (reply.type === "cas_ok") done(key);
      else if (reply.code === m.PRECONDITION_FAILED || reply.code === m.KEY_DOES_NOT_EXIST) {
        node.after(Math.random() * 20, () => raiseTo(request, key, offset, done));
      } else node.error(request, reply.code ?? m.CRASH, `lin-kv cas failed: ${reply.text}`);
    });
  });
}

node.on("commit_offsets", (request) => {
  const pending = new Set(Object.keys(request.body.offsets));
  if (pending.size === 0) return node.reply(request, { type: "commit_offsets_ok" });
  const done = (key) => {
    pending.delete(key);
    if (pending.size === 0) node.reply(request, { type: "commit_offsets_ok" });
  };
  for (const [key, offset] of Object.entries(request.body.offsets)) raiseTo(request, key, offset, done);
});

node.on("list_committed_offsets", (request) => {
  const keys = request.body.keys;
  if (!Array.isArray(keys)) throw new TypeError("keys is not a list");
  node.rpcAll(
    keys.map((key) => ["lin-kv", { type: "read", key: `committed-${key}` }]),
    (replies) => {
      const offsets = {};
      for (const [index, key] of keys.entries()) {
        const offset = valueOf(replies[index], null);
        if (offset === undefined) return node.error(request, m.TEMPORARILY_UNAVAILABLE, "lin-kv read failed");
        if (offset !== null) offsets[key] = offset;
      }
      node.reply(request, { type: "list_committed_offsets_ok", offsets });
    },
  );
});

node.main();
