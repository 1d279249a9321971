# A server and two clients, each linked to the server: the topology of the socket tutorial's loops
# (examples/tutorial_tcp.py, examples/tutorial_udp.py). Each link's conditions apply to what its
# two nodes send each other; give them as edge attributes (latency_ms 20) or with netsim run --latency.
graph [
  name "client-server"
  node [ id 0 label "server" ]
  node [ id 1 label "client1" ]
  node [ id 2 label "client2" ]
  edge [ source 0 target 1 ]
  edge [ source 0 target 2 ]
]
