#!/usr/bin/env bash
# cpu-per-login.sh: the server's CPU per two-step password login, as the README's Speed
# section measures it (issue 12, item 5).
#
#   test/perf/cpu-per-login.sh ARBOR_BINARY embedded|redis CONCURRENCY RUNS
#
# One fresh server (a temporary data directory; for redis, a fresh redis-server without
# persistence on a random port), the cheapest hash, a 5 s warm-up run of arbor bench, then
# RUNS runs of 10 s, each printing logins, failures, logins/s and the server's CPU per login
# read from its own /metrics. Compare two builds by running this for each in turn, several
# times: the machine's speed drifts from minute to minute. Environment: EXTRA adds serve
# flags (the README's runs use EXTRA="--throttle-pair-free 64": the bench signs in one user
# from one address); BENCHBIN sets the arbor binary that runs the bench (default: the one
# measured), so that two builds can be measured by the same client. FLOOR=std|fast|adapt
# measures test/perf/floor instead (ARBOR_BINARY is then that binary, built with
# `cd test/perf/floor && go build -o /tmp/floor .`, and BENCHBIN must be set): the least
# work a server can do for the same two requests, with that HTTP layer.
set -euo pipefail
BIN=$1 STORE=$2 C=$3 N=$4
BENCH=${BENCHBIN:-$BIN}
PORT=$((20000 + RANDOM % 10000)) RP=$((30000 + RANDOM % 10000))
D=$(mktemp -d) args=()
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ "$STORE" = redis ] && redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1
  rm -rf "$D"
}
trap cleanup EXIT
case $STORE in
  redis)
    redis-server --port "$RP" --save '' --appendonly no --daemonize yes >/dev/null
    args=(--redis "redis://127.0.0.1:$RP/0")
    [ -n "${FLOOR:-}" ] && args=(-redis "127.0.0.1:$RP")
    for _ in $(seq 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done ;;
  embedded) ;;
  *) echo "store must be embedded or redis, not $STORE" >&2; exit 2 ;;
esac
if [ -n "${FLOOR:-}" ]; then
  [ -n "${BENCHBIN:-}" ] || { echo "FLOOR needs BENCHBIN, the arbor binary that runs the bench" >&2; exit 2; }
  TMPDIR=$D "$BIN" -listen "127.0.0.1:$PORT" -http "$FLOOR" "${args[@]}" >/dev/null 2>&1 &
else
  # shellcheck disable=SC2086 # EXTRA is a list of flags
  "$BIN" serve --demo --data "$D" --hash-memory-kib 8 --hash-iterations 1 --log-level warn ${EXTRA:-} \
    --listen "127.0.0.1:$PORT" "${args[@]}" >/dev/null 2>&1 &
fi
PID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && break; sleep 0.1; done
"$BENCH" bench --url "http://127.0.0.1:$PORT" --concurrency "$C" --duration 5s --logout=false >/dev/null
for i in $(seq "$N"); do
  out=$("$BENCH" bench --url "http://127.0.0.1:$PORT" --concurrency "$C" --duration 10s --logout=false 2>&1)
  echo "$(basename "$BIN")${FLOOR:+-$FLOOR} $STORE c=$C run $i: $(echo "$out" | grep -E 'logins:|server CPU|first error' | tr -s ' ' | tr '\n' ' ')"
done
