#!/usr/bin/env bash
# Runs current Claude clients from the npm registry against the emulator, as people will use it: the official
# TypeScript SDK with adaptive thinking, streaming and a tool loop (tests/clients/typescript/check.mjs).
#   EMULATOR_DLL=path/to/ConversationLedger.Emulator.dll bash scripts/client-check.sh
# Needs Node.js 20+ and npm (installs the pinned SDK from package-lock.json); starts and stops its own emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
dll="${EMULATOR_DLL:-src/ConversationLedger.Emulator/bin/Debug/net10.0/ConversationLedger.Emulator.dll}"
[ -f "$dll" ] || dotnet build src/ConversationLedger.Emulator -v q >/dev/null
command -v node >/dev/null 2>&1 || { echo "client check: Node.js is required (node not found)" >&2; exit 1; }

log=$(mktemp)
dotnet "$dll" --port 0 >"$log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "client check: the emulator did not start" >&2; cat "$log" >&2; exit 1; }

cd tests/clients/typescript
npm ci --no-audit --no-fund --loglevel=error >/dev/null
ANTHROPIC_BASE_URL="$url" node check.mjs
