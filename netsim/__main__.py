"""``python -m netsim`` is the ``netsim`` command."""

from netsim.cli.main import main

main()
