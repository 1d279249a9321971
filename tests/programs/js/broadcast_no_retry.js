// MUTANT of broadcast.js, deliberately wrong: a message is gossiped to each neighbour once, when the
// node first learns it, with no acknowledgement and no retry, so a gossip lost to a partition (or sent
// before the topology arrived) is never sent again and those nodes never learn the value.
// (As ../broadcast_no_retry.py.) Otherwise as broadcast.js: topology -> topology_ok,
// broadcast {message} -> broadcast_ok, read -> read_ok {messages}, "gossip" {messages} between nodes.
const { Node, need } = require("./maelstrom");

const node = new Node();
const messages = new Set(); // every message this node knows, in the order it learnt them
let neighbours = [];

function learn(values, source) {
  const fresh = values.filter((value) => !messages.has(value));
  for (const value of fresh) messages.add(value);
  if (fresh.length === 0) return;
  for (const peer of neighbours) {
    if (peer !== source) node.send(peer, { type: "gossip", messages: fresh }); // fire and forget
  }
}

node.on("topology", (request) => {
  neighbours = (request.body.topology[node.nodeId] || []).filter((peer) => peer !== node.nodeId);
  node.reply(request, { type: "topology_ok" });
});

node.on("broadcast", (request) => {
  need(request.body, "message");
  learn([request.body.message]);
  node.reply(request, { type: "broadcast_ok" });
});

node.on("read", (request) => node.reply(request, { type: "read_ok", messages: [...messages] }));

node.on("gossip", (request) => learn(request.body.messages, request.src));

node.main();
