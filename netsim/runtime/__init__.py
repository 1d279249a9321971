"""One node process: the event loop, its links and their handshake, shaping on send, the trace writer
it feeds, and what an app sees of it."""
