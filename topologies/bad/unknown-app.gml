graph [
  node [ id 0 label "a" app "pingpong" ]
  node [ id 1 label "b" ]
  edge [ source 0 target 1 ]
]
