// Maelstrom's g-set workload: add {element} -> add_ok, read -> read_ok {value}. (As ../g_set.py.)
//
// Each node replicates its elements to every other node (node_ids from init) as in broadcast.js: every
// GOSSIP_INTERVAL_MS it sends each peer a "replicate" {elements} with what that peer has not
// acknowledged ("replicate_ok") yet, so elements cross partitions once they heal.
const { Node, need } = require("./maelstrom");

const GOSSIP_INTERVAL_MS = 200;
const BATCH = 500;

const node = new Node();
const elements = new Set();
const unacked = new Map(); // peer -> Set of elements it has not acknowledged

node.onInit(() => {
  for (const peer of node.peers()) unacked.set(peer, new Set());
});

function learn(values, source) {
  for (const value of values) {
    if (elements.has(value)) continue;
    elements.add(value);
    for (const [peer, pending] of unacked) if (peer !== source) pending.add(value);
  }
}

node.on("add", (request) => {
  need(request.body, "element");
  learn([request.body.element]);
  node.reply(request, { type: "add_ok" });
});

node.on("read", (request) => node.reply(request, { type: "read_ok", value: [...elements] }));

node.on("replicate", (request) => {
  learn(request.body.elements, request.src);
  node.reply(request, { type: "replicate_ok" });
});

node.every(GOSSIP_INTERVAL_MS, () => {
  for (const [peer, pending] of unacked) {
    if (pending.size === 0) continue;
    const batch = [...pending].slice(0, BATCH);
    node.rpc(peer, { type: "replicate", elements: batch }, (reply) => {
      if (reply.type === "replicate_ok") for (const value of batch) pending.delete(value);
    });
  }
});

node.main();
