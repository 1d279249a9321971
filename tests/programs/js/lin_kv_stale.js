// MUTANT of lin_kv.js, deliberately wrong: it serves stale reads. The first value lin-kv returns for a
// key is cached, and every later read of that key is answered from the cache without asking lin-kv,
// so writes and cas (still relayed to lin-kv, as in lin_kv.js) are never seen by reads through this
// node. (As ../lin_kv_stale.py.)
const { Node } = require("./maelstrom");

const node = new Node();
const cache = new Map(); // JSON of a key -> the first value read for it, served forever

function relay(request, remember) {
  const { msg_id, ...body } = request.body;
  node.rpc("lin-kv", body, ({ msg_id, in_reply_to, ...reply }) => {
    if (remember && reply.type === "read_ok") remember(reply.value);
    node.reply(request, reply);
  }, 5000);
}

node.on("read", (request) => {
  const key = JSON.stringify(request.body.key);
  if (cache.has(key)) node.reply(request, { type: "read_ok", value: cache.get(key) });
  else relay(request, (value) => cache.has(key) || cache.set(key, value));
});

for (const type of ["write", "cas"]) node.on(type, (request) => relay(request));

node.main();
