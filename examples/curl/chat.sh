#!/usr/bin/env bash
# Stream one chat answer with curl: the raw server-sent events, as they arrive.
#
#   CHAT_USER=alice examples/curl/chat.sh "Why does streaming matter?"                 # make local
#   CHAT_URL=https://ID.execute-api.REGION.amazonaws.com/dev CHAT_API_KEY=... examples/curl/chat.sh "Hi"
#   CHAT_USER=alice examples/curl/chat.sh "And then?" SESSION_ID                       # continue a session
#
# CHAT_URL defaults to http://127.0.0.1:8080 (make local). A refusal (no identity, quota, spend guard, invalid
# request) is one JSON error on stdout and exit status 22 (curl's --fail-with-body); jq builds the request body.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: [CHAT_URL=...] [CHAT_API_KEY=... | CHAT_USER=NAME] $0 MESSAGE [SESSION_ID]" >&2
  exit 2
fi
url="${CHAT_URL:-http://127.0.0.1:8080}"
if [[ -n "${CHAT_API_KEY:-}" ]]; then
  identity="x-api-key: ${CHAT_API_KEY}"
elif [[ -n "${CHAT_USER:-}" ]]; then
  identity="x-kit-user-id: ${CHAT_USER}"
else
  echo "set CHAT_API_KEY (deployed) or CHAT_USER (make local)" >&2
  exit 2
fi
body=$(jq -cn --arg message "$1" --arg session "${2:-}" \
  '{message: $message} + (if $session == "" then {} else {session_id: $session} end)')

# -N: print each event as it arrives instead of buffering the response.
exec curl -sS -N --fail-with-body "${url%/}/chat" \
  -H 'content-type: application/json' -H 'accept: text/event-stream' -H "$identity" --data-binary "$body"
