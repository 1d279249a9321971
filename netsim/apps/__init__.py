"""Built-in node programs (echo, flood, gossip) and the registry that finds an app by name or
``module:Class``. They subclass ``netsim.runtime.app.App``, as a user's app does."""
