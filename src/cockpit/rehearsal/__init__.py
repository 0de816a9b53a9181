"""Local stand-ins for rehearsals and tests: only `cockpit rehearse` and the tests import this."""
