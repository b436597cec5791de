"""``python -m dispatcher`` is the ``huyuan`` command."""

from dispatcher.cli import main

main()
