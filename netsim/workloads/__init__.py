"""Client workloads for nodes that speak Maelstrom's protocol: the operations clients issue, the
history they record, the services netsim hosts, and the checkers that judge a history."""
