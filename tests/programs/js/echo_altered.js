// MUTANT of echo.js, deliberately wrong: echo_ok does not carry the text it was sent but that text
// with "!" appended (a non-string echo comes back as its string form plus "!"). (As ../echo_altered.py.)
const { Node, need } = require("./maelstrom");

const node = new Node();

node.on("echo", (request) => {
  need(request.body, "echo");
  node.reply(request, { type: "echo_ok", echo: `${request.body.echo}!` });
});

node.main();
