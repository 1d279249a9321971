// Maelstrom's broadcast workload: topology -> topology_ok, broadcast {message} -> broadcast_ok,
// read -> read_ok {messages}. (As ../broadcast.py.)
//
// Every GOSSIP_INTERVAL_MS the node sends each neighbour (from the topology message) a "gossip"
// {messages} with the messages that neighbour has not acknowledged yet, and forgets them for that
// neighbour only on its "gossip_ok". Unanswered gossip (a partition, a crashed or unreachable peer) is
// simply sent again on the next tick, so values cross a partition once it heals. A message learnt
// from a peer is not gossiped back to it.
const { Node, need } = require("./maelstrom");

const GOSSIP_INTERVAL_MS = 200;
const BATCH = 500; // messages per gossip at most, to keep each one well inside a datagram

const node = new Node();
const messages = new Set(); // every message this node knows, in the order it learnt them
const unacked = new Map(); // neighbour -> Set of messages it has not acknowledged

function learn(values, source) {
  for (const value of values) {
    if (messages.has(value)) continue;
    messages.add(value);
    for (const [peer, pending] of unacked) if (peer !== source) pending.add(value);
  }
}

node.on("topology", (request) => {
  const neighbours = request.body.topology[node.nodeId] || [];
  unacked.clear();
  for (const peer of neighbours) if (peer !== node.nodeId) unacked.set(peer, new Set(messages));
  node.reply(request, { type: "topology_ok" });
});

node.on("broadcast", (request) => {
  need(request.body, "message");
  learn([request.body.message]);
  node.reply(request, { type: "broadcast_ok" });
});

node.on("read", (request) => node.reply(request, { type: "read_ok", messages: [...messages] }));

node.on("gossip", (request) => {
  learn(request.body.messages, request.src);
  node.reply(request, { type: "gossip_ok" });
});

node.every(GOSSIP_INTERVAL_MS, () => {
  for (const [peer, pending] of unacked) {
    if (pending.size === 0) continue;
    const batch = [...pending].slice(0, BATCH);
    node.rpc(peer, { type: "gossip", messages: batch }, (reply) => {
      if (reply.type === "gossip_ok") for (const value of batch) pending.delete(value);
    });
  }
});

node.main();
