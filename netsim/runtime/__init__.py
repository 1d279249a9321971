"""One node process: the event loop, its links and their handshake, shaping on send, the trace writer
it feeds, and what an app sees of it. It defines the two interfaces of a node: the ``App`` it runs
(``app``) and the control protocol its launcher speaks (``control``); it imports neither the launcher
nor the apps."""
