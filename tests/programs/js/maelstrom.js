// A small Maelstrom node library for the workload programs next to it, in the manner of Maelstrom's
// own demo libraries (Node.js, no npm packages); the same as ../maelstrom.py.
//
// A program makes a Node, registers a handler per request type with on() and calls main(). The node
// answers init itself, replies error 10 (not-supported) to requests of a type it has no handler for,
// and error 12 (malformed-request) or 13 (crash) when a handler throws, so a body it does not
// understand never ends the program. rpc() sends a request and keeps its callback in a table by
// msg_id until the reply (matched by in_reply_to) arrives, or calls it with an error 0 (timeout) body
// when none does. The program ends when stdin closes. Messages go out one JSON line each (stdout is
// a pipe, written synchronously on Linux); diagnostics go to stderr.
const readline = require("readline");

const TIMEOUT = 0;
const NOT_SUPPORTED = 10;
const TEMPORARILY_UNAVAILABLE = 11;
const MALFORMED_REQUEST = 12;
const CRASH = 13;
const KEY_DOES_NOT_EXIST = 20;
const PRECONDITION_FAILED = 22;

class Node {
  constructor() {
    this.nodeId = null;
    this.nodeIds = [];
    this.handlers = new Map([["init", (request) => this.init(request)]]);
    this.callbacks = new Map(); // msg_id of a request this node sent -> function called with the reply body
    this.initHooks = []; // functions run at init, once nodeId and nodeIds are known
    this.nextMsgId = 0;
  }

  on(type, handler) {
    this.handlers.set(type, handler);
    return this;
  }

  onInit(hook) {
    this.initHooks.push(hook);
    return this;
  }

  log(text) {
    process.stderr.write(`${this.nodeId}: ${text}\n`);
  }

  peers() {
    return this.nodeIds.filter((node) => node !== this.nodeId);
  }

  send(dest, body) {
    process.stdout.write(JSON.stringify({ src: this.nodeId, dest, body }) + "\n");
  }

  reply(request, body) {
    const msgId = request.body.msg_id;
    if (msgId !== undefined && msgId !== null) this.send(request.src, { ...body, in_reply_to: msgId });
  }

  error(request, code, text) {
    this.reply(request, { type: "error", code, text });
  }

  // Sends a request; callback(replyBody) runs on the reply, or on a timeout error body.
  rpc(dest, body, callback, timeoutMs = 1000) {
    const msgId = ++this.nextMsgId;
    const timer = setTimeout(() => {
      if (this.callbacks.delete(msgId)) {
        this.guarded(() => callback({ type: "error", code: TIMEOUT, text: `no reply from ${dest} in ${timeoutMs} ms` }));
      }
    }, timeoutMs);
    this.callbacks.set(msgId, (reply) => {
      clearTimeout(timer);
      callback(reply);
    });
    this.send(dest, { ...body, msg_id: msgId });
  }

  // Sends every [dest, body] request at once; callback(replies) runs when all have answered.
  rpcAll(calls, callback, timeoutMs = 1000) {
    const replies = new Array(calls.length);
    let waiting = calls.length;
    if (waiting === 0) callback(replies);
    calls.forEach(([dest, body], index) => {
      this.rpc(dest, body, (reply) => {
        replies[index] = reply;
        waiting -= 1;
        if (waiting === 0) callback(replies);
      }, timeoutMs);
    });
  }

  every(ms, fn) {
    setInterval(() => this.guarded(fn), ms);
  }

  after(ms, fn) {
    setTimeout(() => this.guarded(fn), ms);
  }

  guarded(fn) {
    try {
      fn();
    } catch (error) {
      this.log(`ignoring an exception: ${error.stack}`);
    }
  }

  handle(line) {
    let message;
    try {
      message = JSON.parse(line);
    } catch (error) {
      this.log(`ignoring a line that is not JSON: ${line.slice(0, 80)}`);
      return;
    }
    const body = message && typeof message === "object" ? message.body : undefined;
    if (!body || typeof body !== "object" || typeof body.type !== "string") {
      this.log(`ignoring a line that is not a message: ${line.slice(0, 80)}`);
      return;
    }
    if (body.in_reply_to !== undefined && body.in_reply_to !== null) {
      const callback = this.callbacks.get(body.in_reply_to);
      if (callback === undefined) {
        this.log(`ignoring a reply nobody waits for: ${JSON.stringify(body)}`);
      } else {
        this.callbacks.delete(body.in_reply_to);
        callback(body);
      }
      return;
    }
    const handler = this.handlers.get(body.type);
    if (handler === undefined) {
      this.error(message, NOT_SUPPORTED, `${body.type} is not supported`);
      return;
    }
    try {
      handler(message);
    } catch (error) {
      this.log(`${body.type} failed: ${error.stack}`);
      const code = error instanceof TypeError || error instanceof RangeError ? MALFORMED_REQUEST : CRASH;
      this.error(message, code, `${body.type} failed: ${error}`);
    }
  }

  init(request) {
    this.nodeId = request.body.node_id;
    this.nodeIds = request.body.node_ids;
    for (const hook of this.initHooks) hook();
    this.reply(request, { type: "init_ok" });
  }

  main() {
    const lines = readline.createInterface({ input: process.stdin, terminal: false });
    lines.on("line", (line) => {
      if (line.trim()) this.guarded(() => this.handle(line));
    });
    lines.on("close", () => process.exit(0)); // stdin closed: whoever runs us is done
  }
}

// Throws a TypeError (answered with error 12, malformed-request) unless body has every named field.
function need(body, ...fields) {
  for (const field of fields) {
    if (!(field in body)) throw new TypeError(`no ${field} in ${body.type}`);
  }
}

module.exports = {
  Node,
  need,
  TIMEOUT,
  NOT_SUPPORTED,
  TEMPORARILY_UNAVAILABLE,
  MALFORMED_REQUEST,
  CRASH,
  KEY_DOES_NOT_EXIST,
  PRECONDITION_FAILED,
};
