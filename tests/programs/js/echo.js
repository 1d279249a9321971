// Maelstrom's echo workload: answers echo {echo} with echo_ok carrying the same echo. (As ../echo.py.)
const { Node, need } = require("./maelstrom");

const node = new Node();

node.on("echo", (request) => {
  need(request.body, "echo");
  node.reply(request, { type: "echo_ok", echo: request.body.echo });
});

node.main();
