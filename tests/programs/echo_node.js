// A Maelstrom node in JavaScript, as people write them: answers init and echo; at init, n0 also
// greets the nodes named in argv and writes each reply on its stderr.
const readline = require("readline");

let nodeId = null;
let nextId = 0;

function send(dest, body) {
  nextId += 1;
  process.stdout.write(JSON.stringify({ src: nodeId, dest, body: { ...body, msg_id: nextId } }) + "\n");
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const message = JSON.parse(line);
  const body = message.body;
  if (body.type === "init") {
    nodeId = body.node_id;
    process.stdout.write(
      JSON.stringify({ src: nodeId, dest: message.src, body: { type: "init_ok", in_reply_to: body.msg_id } }) + "\n"
    );
    if (nodeId === "n0") {
      for (const peer of process.argv.slice(2)) send(peer, { type: "echo", echo: `hello ${peer}` });
    }
  } else if (body.type === "echo") {
    send(message.src, { type: "echo_ok", echo: body.echo, in_reply_to: body.msg_id });
  } else if (body.type === "echo_ok") {
    process.stderr.write(`${nodeId} got echo_ok from ${message.src}: ${body.echo}\n`);
  } else if (body.type === "error") {
    process.stderr.write(`${nodeId} got error ${body.code}: ${body.text}\n`);
  }
});
