#!/usr/bin/env bash
# Drives the interactive `ledger chat` in tmux as a person would: three turns, slash commands, Ctrl+C while a slow
# reply streams (that turn is dropped, the chat goes on), Ctrl+C twice at the prompt to quit, a resumed session
# ended by Ctrl+D; then checks with `ledger show` that the thread is valid and holds exactly the completed turns.
# Then the line editor on a second thread: editing keys, a bracketed paste of indented lines sent as one turn,
# history recall (also in a later chat), /edit with a scripted $EDITOR, /retry, /undo, Ctrl+D on a half-typed line.
# No API key is used: the CLI's in-process emulator answers, slowed by a latency fault.
# Usage: bash scripts/tmux-chat.sh        (KEEP=1 keeps the temp directory; LEDGER_DLL=path skips the build)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "tmux is required: apt-get install -y tmux" >&2; exit 1; }
dll=${LEDGER_DLL:-src/ConversationLedger.Cli/bin/Debug/net10.0/ledger.dll}
if [ -z "${LEDGER_DLL:-}" ]; then
  dotnet build src/ConversationLedger.Cli -nologo -v q >/dev/null
fi
dll=$(realpath "$dll")

work=$(mktemp -d)
session="ledger-chat-$$"
pane="$session:0.0"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The child's environment: never an API key; a SQLite file of our own; replies at 40 tokens a second.
# $EDITOR is a script that appends two lines (one indented) to the file it is given, as a person would in an editor.
cat > "$work/editor.sh" <<'SH'
#!/bin/sh
printf 'written in the editor\n    with an indented line\n' >> "$1"
SH
chmod +x "$work/editor.sh"
run_env=(env -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL -u VISUAL LEDGER_STORE="sqlite:$work/ledger.db" XDG_DATA_HOME="$work"
         LEDGER_EMULATOR_FAULT="ttft:200,tps:40" EDITOR="$work/editor.sh")
ledger() { "${run_env[@]}" dotnet "$dll" "$@"; }

screen() { tmux capture-pane -p -t "$pane" -S -500; }
fail() {
  echo "FAIL: $*" >&2
  echo "--- pane:" >&2
  screen >&2 || true
  exit 1
}
# Waits until the pane shows $1 (a fixed string) at least $2 times (default 1), for at most $3 seconds (default 60).
wait_for() {
  local text=$1 count=${2:-1} deadline=$((SECONDS + ${3:-60}))
  until [ "$(screen | grep -cF -- "$text")" -ge "$count" ]; do
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for \"$text\" (x$count)"
    sleep 0.2
  done
}
type_line() { tmux send-keys -t "$pane" -l -- "$1"; tmux send-keys -t "$pane" Enter; }
start_chat() {
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x 150 -y 50 \
    "$(printf '%q ' "${run_env[@]}" dotnet "$dll" chat --thread "${1:-tmux}"); echo CHAT-EXIT=\$?; sleep 600"
}
keys() { tmux send-keys -t "$pane" "$@"; }

echo "1. three turns"
start_chat
wait_for "replies come from the local emulator"
wait_for "you>"
# Each committed turn ends with one usage line ("… sent · context …"): counting them counts turns.
type_line "My name is Hesham and I build automation systems."
wait_for "I can see 1 message"
wait_for " sent · context" 1
type_line "What do I build?"
wait_for "I can see 3 messages"
wait_for " sent · context" 2
type_line "Thanks."
wait_for "I can see 5 messages"
wait_for " sent · context" 3

echo "2. slash commands"
type_line "/history"
wait_for "claude #"
type_line "/usage"
wait_for "prompt tokens per turn"

echo "3. Ctrl+C while a long reply streams"
type_line "Please write 400 words about ledgers."
wait_for "lorem" 1 30
tmux send-keys -t "$pane" C-c
wait_for "cancelled: nothing of this turn was stored"
type_line "Still there?"
wait_for " sent · context" 4

echo "4. Ctrl+C twice at the prompt quits"
sleep 0.5
tmux send-keys -t "$pane" C-c
wait_for "(Ctrl+C again to quit, or type /exit)"
tmux send-keys -t "$pane" C-c
wait_for "CHAT-EXIT=0"

echo "5. resume, one more turn, Ctrl+D"
start_chat
wait_for "resuming local/default/tmux: 4 turns"
wait_for "you>"
type_line "And my name?"
wait_for "I can see 9 messages"
wait_for " sent · context" 1
tmux send-keys -t "$pane" C-d
wait_for "CHAT-EXIT=0"

echo "6. the thread is valid and holds exactly the completed turns"
shown=$(ledger show tmux) || fail "ledger show failed: $shown"
echo "$shown" | grep -qF "valid:" || fail "ledger show did not say valid: $shown"
echo "$shown" | grep -qF "10 messages now" || fail "expected 10 messages: $shown"
if echo "$shown" | grep -qF "400 words"; then fail "the cancelled turn was stored: $shown"; fi
usage=$(ledger usage tmux) || fail "ledger usage failed: $usage"
echo "$usage" | grep -qF "cancelled" || fail "the cancelled call (billed) is not in the usage log: $usage"

echo "7. the line editor: editing keys (Ctrl+U, Left, End, Ctrl+W) leave no control characters"
start_chat keys
wait_for "you>"
keys -l "garbage typed"; keys C-u
keys -l "helo"; keys Left; keys -l "l"; keys End; keys -l " world"; keys C-w; keys -l "there"; keys Enter
wait_for "Earliest user text: \"hello there\""
wait_for " sent · context" 1

echo "8. a bracketed paste of indented lines is one turn"
tmux set-buffer -b ledger-paste "def f(x):
    return x + 1
print(f(1))"
tmux paste-buffer -p -d -b ledger-paste -t "$pane"
sleep 0.5
keys Enter
wait_for " sent · context" 2

echo "9. history recall: Up walks back through the lines of the pasted message, then to the first message"
keys Up; sleep 0.3; keys Up; sleep 0.3; keys Up; sleep 0.3; keys Up; sleep 0.3; keys Up
wait_for "you> hello there"
keys -l " again"; keys Enter
wait_for " sent · context" 3

echo "10. /edit sends what the editor wrote"
type_line "/edit"
wait_for "you (from the editor):"
wait_for " sent · context" 4

echo "11. /retry regenerates the newest reply; /undo takes back the newest turn"
type_line "/retry"
wait_for " sent · context" 5
type_line "/undo"
wait_for "undone:"

echo "12. Ctrl+D on a half-typed line sends nothing; on an empty line it ends the chat"
keys -l "half typed"; keys C-d
sleep 0.5
keys C-u; keys C-d
wait_for "CHAT-EXIT=0"

echo "13. history across chats: Up in a new chat recalls the last entry"
start_chat keys
wait_for "resuming local/default/keys: 3 turns"
wait_for "you>"
keys Up
wait_for "you> /undo"
keys C-u; keys C-d
wait_for "CHAT-EXIT=0"

echo "14. the second thread holds the edited, pasted and recalled messages, and nothing half-typed"
shown=$(ledger show keys) || fail "ledger show keys failed: $shown"
echo "$shown" | grep -qF "valid:" || fail "ledger show did not say valid: $shown"
echo "$shown" | grep -qF "6 messages now" || fail "expected 6 messages after the undo: $shown"
echo "$shown" | grep -qxF "hello there" || fail "the edited first message is missing: $shown"
echo "$shown" | grep -qxF "    return x + 1" || fail "the paste lost its indentation or was split: $shown"
echo "$shown" | grep -qxF "hello there again" || fail "the recalled message is missing: $shown"
if echo "$shown" | grep -qF "written in the editor"; then fail "the undone /edit turn is still in the conversation: $shown"; fi
if echo "$shown" | grep -qF "half typed"; then fail "a half-typed line was sent: $shown"; fi
all=$(ledger show keys --all)
echo "$all" | grep -qF "written in the editor" || fail "the withdrawn turn is not kept in the ledger: $all"
if printf '%s' "$all" | LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f]'; then fail "control characters reached the ledger: $all"; fi
echo "OK: interactive chat, cancellation and resume behave; the line editor, paste, history, /edit, /retry and /undo work; the threads are valid"
