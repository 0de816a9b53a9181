"""`python -m cockpit`, as the `cockpit` command."""

from cockpit.cli import main

main()
