// Maelstrom's pn-counter workload as a state-based CRDT gossiped between nodes (no service):
// add {delta} -> add_ok (delta may be negative), read -> read_ok {value}. (As ../pn_counter.py.)
//
// Each node keeps two maps, node -> sum of that node's positive deltas and node -> sum of (the absolute
// values of) its negative deltas, and adds its own deltas to its own entries only. Every
// GOSSIP_INTERVAL_MS it sends both maps to every other node ("replicate", no reply expected); a node
// merges what it receives by taking the larger value per entry. Sending the whole state again and again
// stands in for retries: whatever a partition lost, the next round carries. A read is the local sum of
// increments minus the sum of decrements, so it converges once gossip gets through.
const { Node } = require("./maelstrom");

const GOSSIP_INTERVAL_MS = 200;

const node = new Node();
const increments = {};
const decrements = {};
const sum = (totals) => Object.values(totals).reduce((a, b) => a + b, 0);

node.on("add", (request) => {
  const delta = request.body.delta;
  if (!Number.isInteger(delta)) throw new TypeError(`delta ${delta} is not an integer`);
  const totals = delta >= 0 ? increments : decrements;
  totals[node.nodeId] = (totals[node.nodeId] || 0) + Math.abs(delta);
  node.reply(request, { type: "add_ok" });
});

node.on("read", (request) => node.reply(request, { type: "read_ok", value: sum(increments) - sum(decrements) }));

node.on("replicate", (request) => {
  for (const [mine, theirs] of [
    [increments, request.body.increments],
    [decrements, request.body.decrements],
  ]) {
    for (const [peer, total] of Object.entries(theirs)) mine[peer] = Math.max(mine[peer] || 0, total);
  }
});

node.every(GOSSIP_INTERVAL_MS, () => {
  if (Object.keys(increments).length === 0 && Object.keys(decrements).length === 0) return;
  for (const peer of node.peers()) node.send(peer, { type: "replicate", increments, decrements });
});

node.main();
