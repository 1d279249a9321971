// Maelstrom's unique-ids workload: generate -> generate_ok {id}, ids unique across nodes and restarts.
// (As ../unique_ids.py.)
//
// An id is the node id and a counter. With NETSIM_STATE_DIR set, the counter survives restarts: the
// node leases blocks of LEASE values by writing the block's end to a file there (atomically, before
// handing out any of them), and a restarted node starts after the last lease. Without it, each run of
// the program draws a random 64-bit epoch that goes into its ids: "n0-<epoch>-<counter>".
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { Node } = require("./maelstrom");

const LEASE = 1000;

const node = new Node();
const stateDir = process.env.NETSIM_STATE_DIR;
const epoch = crypto.randomBytes(8).toString("hex");
let counter = 0;
let leased = 0; // ids below this are ours to hand out (with a state directory)

const leaseFile = () => path.join(stateDir, `unique-ids-${node.nodeId}`);

node.onInit(() => {
  if (stateDir && fs.existsSync(leaseFile())) counter = leased = parseInt(fs.readFileSync(leaseFile(), "utf8"), 10);
});

node.on("generate", (request) => {
  let id;
  if (stateDir) {
    if (counter >= leased) {
      leased = counter + LEASE;
      fs.writeFileSync(`${leaseFile()}.new`, String(leased));
      fs.renameSync(`${leaseFile()}.new`, leaseFile());
    }
    id = `${node.nodeId}-${counter}`;
  } else {
    id = `${node.nodeId}-${epoch}-${counter}`;
  }
  counter += 1;
  node.reply(request, { type: "generate_ok", id });
});

node.main();
