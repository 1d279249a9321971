"""The ``netsim`` command's entry point.

Loading the CLI takes tens of milliseconds, before any of netsim's signal handling is in place: a Ctrl-C
then would print a KeyboardInterrupt traceback from deep inside an import. This module imports nothing
of its own, so the command ends quietly with the shell's code for an interrupt instead.
"""

import signal
import sys


def main() -> None:
    try:
        from netsim.cli.main import app
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
    app()
