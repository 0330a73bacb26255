"""`python -m live` runs the command line."""

from live.cli import main

main()
