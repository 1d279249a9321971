graph [
  multigraph 1
  node [ id 0 label "a" ]
  node [ id 1 label "b" ]
  edge [ source 0 target 1 transport "tcp" ]
  edge [ source 1 target 0 transport "udp" ]
]
