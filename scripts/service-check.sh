#!/usr/bin/env bash
# The README's service session as a person runs it: `ledger serve` on the embedded defaults (SQLite, the emulator),
# a key from `ledger keys create`, then curl: create a thread, send a turn, stream one; then SIGTERM and a clean exit.
set -euo pipefail
LEDGER_DLL="${LEDGER_DLL:-src/ConversationLedger.Cli/bin/Debug/net10.0/ledger.dll}"
home=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
export XDG_DATA_HOME="$home"
unset ANTHROPIC_API_KEY
ledger() { dotnet "$LEDGER_DLL" "$@"; }
dotnet "$LEDGER_DLL" serve --urls "http://127.0.0.1:$port" > "$home/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
grep -q "replies from the local emulator" "$home/serve.log" || { echo "serve did not say it uses the emulator" >&2; cat "$home/serve.log" >&2; exit 1; }
KEY=$(ledger keys create acme 2>/dev/null)
api() { curl -sS "http://127.0.0.1:$port$1" -H "x-api-key: $KEY" -H 'content-type: application/json' "${@:2}"; }
api /v1/threads -d '{"scope":"support","id":"ticket-42","system":"You are a concise support engineer."}' | grep -q '"id":"ticket-42"'
api /v1/threads/support/ticket-42/turns -d '{"content":"My name is Ada."}' | grep -q '"status":"committed"'
stream=$(api /v1/threads/support/ticket-42/turns -N -d '{"content":"What is my name?","stream":true}')
grep -q '^event: content_block_delta' <<<"$stream" || { echo "no deltas in the stream" >&2; exit 1; }
grep -q 'I can see 3 messages' <<<"$stream" || { echo "the second turn did not carry the first" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/threads")" = 401 ] || { echo "no key must be 401" >&2; exit 1; }
kill -TERM "$server"
wait "$server" || { echo "serve did not exit cleanly on SIGTERM" >&2; exit 1; }
echo "service check: serve, keys create, a thread, a turn and a stream over curl, 401 without a key, clean exit"
