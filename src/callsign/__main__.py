"""``python -m callsign`` runs the command line."""

from callsign.cli import main

main()
