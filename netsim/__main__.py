"""``python -m netsim`` is the ``netsim`` command."""

from netsim.cli.entry import main

main()
