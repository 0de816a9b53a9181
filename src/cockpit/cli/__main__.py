"""`python -m cockpit.cli`, as the `cockpit` command."""

from cockpit.cli import main

main()
