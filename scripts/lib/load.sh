# Shared by scripts/load, scripts/load-fleet, scripts/badge-e2e and scripts/api-fuzz (sourced, not
# run): wrk, a release build, servers on free ports (a work folder cleaned up on exit), wrk Lua
# bodies and one markdown row per run.

install_debian() { # install_debian COMMAND [PACKAGE] → the command, from Debian's packages if missing
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "load: installing ${2:-$1}…" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${2:-$1}" >&2
}
install_wrk() { install_debian wrk; }
install_hey() { install_debian hey; }

build_release() {
  echo "load: building tessera (release)…" >&2
  swift build -c release --product tessera >&2
  BIN=.build/release/tessera
}

WORK=$(mktemp -d)
PIDS=()
CLEANUP_HOOKS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for hook in "${CLEANUP_HOOKS[@]}"; do eval "$hook" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # start NAME ARGS… → sets PORT
  local name=$1 log="$WORK/$1.log"; shift
  "$@" 2>"$log" &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "${0##*/}: $name did not start" >&2; cat "$log" >&2; exit 1
}

post_lua() { # post_lua FILE BODY [AUTH]
  {
    echo 'wrk.method = "POST"'
    echo "wrk.body = '$2'"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    if [ -n "${3:-}" ]; then echo "wrk.headers[\"Authorization\"] = \"Bearer $3\""; fi
  } >"$1"
}

sessions_lua() { # sessions_lua FILE SESSION… → POST /evaluate to a random one of the sessions
  local file=$1; shift
  {
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    printf 'local sessions = {'
    for s in "$@"; do printf '"%s",' "$s"; done
    echo '}'
    echo 'request = function()'
    echo '  local s = sessions[math.random(#sessions)]'
    echo '  return wrk.format(nil, "/evaluate", nil, "{\"session_id\":\"" .. s .. "\",\"tool_name\":\"read_file\",\"arguments\":{\"path\":\"/data/q3/report.csv\"}}")'
    echo 'end'
  } >"$file"
}

wrk_fields() { # wrk_fields OUTPUT → "req/s p50 p99 non2xx"
  local rps p50 p99 non2xx
  rps=$(printf '%s\n' "$1" | awk '/Requests\/sec/ {print $2}')
  p50=$(printf '%s\n' "$1" | awk '$1=="50%" {print $2}')
  p99=$(printf '%s\n' "$1" | awk '$1=="99%" {print $2}')
  non2xx=$(printf '%s\n' "$1" | awk '/Non-2xx/ {print $5}')
  echo "$rps $p50 $p99 ${non2xx:-0}"
}
