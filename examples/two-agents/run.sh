#!/usr/bin/env bash
# One command: a Tessera registry, two agents, and a badge-authenticated call between them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/setup
swift build --product tessera >&2
swift build --product two-agents-example >&2
BIN=.build/debug
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
wait_port() { for _ in $(seq 1 200); do P=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$1" | grep -o '[0-9]*$' || true); [ -n "$P" ] && return; sleep 0.05; done; cat "$1" >&2; exit 1; }

$BIN/tessera serve --state-dir "$WORK/state" --port 0 --bootstrap-mode bootstrap 2>"$WORK/serve.log" & PIDS+=($!)
wait_port "$WORK/serve.log"; export TESSERA_SERVER="http://127.0.0.1:$P"
export TESSERA_TOKEN=$($BIN/tessera iam bootstrap 2>/dev/null)
for name in caller callee; do
  $BIN/tessera key gen --out-dir "$WORK/$name" >/dev/null 2>&1
  $BIN/tessera agent register --name "$name" --public-key "$WORK/$name/public.jwk" 2>/dev/null | tail -1 > "$WORK/$name.id"
done
# The callee must know the URL its callers use (each DPoP proof is checked against it, never
# against the Host header): pick a free port first.
CALLEE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$BIN/two-agents-example callee --server "$TESSERA_SERVER" --public-url "http://127.0.0.1:$CALLEE_PORT" 2>"$WORK/callee.log" & PIDS+=($!)
wait_port "$WORK/callee.log"; CALLEE="http://127.0.0.1:$P"
echo "registry $TESSERA_SERVER, callee $CALLEE" >&2
# The API key opens the caller's first PoP challenge (RFC-003: no anonymous challenges).
TESSERA_API_KEY="$TESSERA_TOKEN" $BIN/two-agents-example caller --server "$TESSERA_SERVER" --agent "$(cat "$WORK/caller.id")" --keys-dir "$WORK/caller" --target "$CALLEE"
echo "without a badge:" >&2
curl -s -i "$CALLEE/hello" | head -1
