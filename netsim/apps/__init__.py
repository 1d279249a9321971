"""Built-in node programs (echo, flood, gossip) and the registry that finds an app by name or
``module:Class``."""
