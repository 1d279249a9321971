// Maelstrom's g-counter workload on the seq-kv service, the Gossip Glomers way: add {delta} -> add_ok,
// read -> read_ok {value}. (As ../g_counter.py.)
//
// All nodes share one seq-kv key, "counter". add reads it (a missing key counts as 0) and swaps in the
// sum with cas (create_if_not_exists); on error 22 (another node got there first) or 20 it reads again
// and retries after a short random pause. A failed read is answered with error 11 (the add did not
// happen); a failed cas, e.g. a timeout, is passed on to the client (the add may have happened, so it
// is not retried). read first writes a fresh value to a key of this node's own, which brings seq-kv's
// view for this node up to date, then reads "counter".
const m = require("./maelstrom");

const KEY = "counter";

const node = new m.Node();
let syncs = 0;

function addDelta(request, delta) {
  node.rpc("seq-kv", { type: "read", key: KEY }, (reply) => {
    let current;
    if (reply.type === "read_ok") current = reply.value;
    else if (reply.code === m.KEY_DOES_NOT_EXIST) current = 0;
    else return node.error(request, m.TEMPORARILY_UNAVAILABLE, `seq-kv read failed: ${reply.text}`);
    const cas = { type: "cas", key: KEY, from: current, to: current + delta, create_if_not_exists: true };
    node.rpc("seq-kv", cas, (reply) => {
      if (reply.type === "cas_ok") node.reply(request, { type: "add_ok" });
      else if (reply.code === m.PRECONDITION_FAILED || reply.code === m.KEY_DOES_NOT_EXIST) {
        node.after(5 + Math.random() * 45, () => addDelta(request, delta));
      } else node.error(request, reply.code ?? m.CRASH, `seq-kv cas failed: ${reply.text}`);
    });
  });
}

node.on("add", (request) => {
  if (!Number.isInteger(request.body.delta)) throw new TypeError(`delta ${request.body.delta} is not an integer`);
  addDelta(request, request.body.delta);
});

node.on("read", (request) => {
  syncs += 1;
  node.rpc("seq-kv", { type: "write", key: `sync-${node.nodeId}`, value: syncs }, () => {
    node.rpc("seq-kv", { type: "read", key: KEY }, (reply) => {
      if (reply.type === "read_ok") node.reply(request, { type: "read_ok", value: reply.value });
      else if (reply.code === m.KEY_DOES_NOT_EXIST) node.reply(request, { type: "read_ok", value: 0 });
      else node.error(request, m.TEMPORARILY_UNAVAILABLE, `seq-kv read failed: ${reply.text}`);
    });
  });
});

node.main();
