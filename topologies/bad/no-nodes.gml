graph [
  name "nothing here"
]
