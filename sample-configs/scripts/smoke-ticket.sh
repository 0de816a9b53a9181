#!/bin/sh
# Smoke test used by the sample config: create a ticket and close it again.
# Usage: smoke-ticket.sh BASE_URL   (expects SERVICEDESK_SMOKE_TOKEN in the environment)
set -eu
base="$1"
: "${SERVICEDESK_SMOKE_TOKEN:?set SERVICEDESK_SMOKE_TOKEN to an API token of the smoke-test user}"
id=$(curl -fsS -X POST -H "Authorization: Bearer $SERVICEDESK_SMOKE_TOKEN" \
  -H 'Content-Type: application/json' -d '{"title":"cockpit smoke test"}' \
  "$base/api/tickets" | sed -n 's/.*"id":[ ]*"\{0,1\}\([0-9A-Za-z-]*\).*/\1/p')
test -n "$id"
curl -fsS -X POST -H "Authorization: Bearer $SERVICEDESK_SMOKE_TOKEN" "$base/api/tickets/$id/close" >/dev/null
echo "ticket $id created and closed"
