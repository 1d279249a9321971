// Maelstrom's lin-kv workload as a proxy for the lin-kv service: read {key}, write {key, value} and
// cas {key, from, to} from clients go to lin-kv as they are, and lin-kv's reply, read_ok / write_ok /
// cas_ok or an error (20 key-does-not-exist, 22 precondition-failed, ...), goes back to the client as
// it is. A request lin-kv does not answer within 5 s is answered with error 0 (timeout).
// (As ../lin_kv.py.)
const { Node } = require("./maelstrom");

const node = new Node();

function relay(request) {
  const { msg_id, ...body } = request.body;
  node.rpc("lin-kv", body, ({ msg_id, in_reply_to, ...reply }) => node.reply(request, reply), 5000);
}

for (const type of ["read", "write", "cas"]) node.on(type, relay);

node.main();
