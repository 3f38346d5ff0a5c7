#!/usr/bin/env bash
# Round trip of a 4-byte REGION_READ to BAR0, C client in both cases:
# against apple-gfxd, and against a C echo server answering with replies of
# the same sizes over the same kind of socket (the floor on this machine).
# Runs alternate between the two; medians over RUNS runs are reported.
# BEFORE=path/to/another/tree's dist/daemon/src/main.js measures that daemon
# too, in the same interleaving (e.g. a build without the data plane).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}" WARMUP="${WARMUP:-2000}" COUNT="${COUNT:-20000}"
work="$(mktemp -d)"
daemon_pid=""
cleanup() { [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
gcc -O2 -o "$work/rtt-client" scripts/bench-src/rtt-client.c -lpthread
gcc -O2 -o "$work/echo-server" scripts/bench-src/echo-server.c

wait_for_socket() { for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no socket $1" >&2; return 1; }

# $1 = pin prefix for the server, $2 = pin prefix for the client
measure_c() {
  local sock="$work/echo.sock"
  $1 "$work/echo-server" "$sock" >/dev/null &
  local pid=$!
  wait_for_socket "$sock"
  $2 "$work/rtt-client" "$sock" "$WARMUP" "$COUNT" || true
  kill "$pid" 2>/dev/null || true  # done with its one client (or never got it)
  wait "$pid" || true
}
measure_daemon() { # server_pin client_pin [main.js]
  local sock="$work/gfx.sock"
  $1 node "${3:-dist/daemon/src/main.js}" --socket-path "$sock" --log-level warn 2>"$work/daemon.log" &
  daemon_pid=$!
  wait_for_socket "$sock"
  $2 "$work/rtt-client" "$sock" "$WARMUP" "$COUNT" || true  # the daemon is stopped either way
  kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""
}
# A measurement that printed nothing (the client failed: a server that was
# not ready) is taken again, up to three times.
retry() {
  local out=""
  for _ in 1 2 3; do
    out=$("$@" || true)
    [ -n "$out" ] && break
    echo "  (retrying: $* printed nothing)" >&2
  done
  echo "$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

report() { # mode server_pin client_pin
  local mode="$1" c_p50=() c_p99=() d_p50=() d_p99=() b_p50=() b_p99=()
  for i in $(seq "$RUNS"); do
    read -r p50 p99 _ < <(retry measure_c "$2" "$3"); c_p50+=("$p50"); c_p99+=("$p99")
    read -r p50 p99 _ < <(retry measure_daemon "$2" "$3"); d_p50+=("$p50"); d_p99+=("$p99")
    if [ -n "${BEFORE:-}" ]; then read -r p50 p99 _ < <(retry measure_daemon "$2" "$3" "$BEFORE"); b_p50+=("$p50"); b_p99+=("$p99"); fi
    echo "  run $i/$RUNS ($mode): C p50 ${c_p50[-1]} us, daemon p50 ${d_p50[-1]} us${BEFORE:+, before p50 ${b_p50[-1]} us}" >&2
  done
  local cm cm99 dm dm99
  cm=$(printf '%s\n' "${c_p50[@]}" | median); cm99=$(printf '%s\n' "${c_p99[@]}" | median)
  dm=$(printf '%s\n' "${d_p50[@]}" | median); dm99=$(printf '%s\n' "${d_p99[@]}" | median)
  printf '%-22s C floor p50 %7.2f us  p99 %7.2f us | apple-gfxd p50 %7.2f us  p99 %7.2f us | ratio p50 %.2fx  p99 %.2fx (goal p50 <= 1.2x, p99 <= 2x)\n' \
    "$mode" "$cm" "$cm99" "$dm" "$dm99" "$(awk "BEGIN{print $dm/$cm}")" "$(awk "BEGIN{print $dm99/$cm99}")"
  if [ -n "${BEFORE:-}" ]; then
    local bm bm99
    bm=$(printf '%s\n' "${b_p50[@]}" | median); bm99=$(printf '%s\n' "${b_p99[@]}" | median)
    printf '%-22s BEFORE (%s): p50 %7.2f us  p99 %7.2f us | ratio p50 %.2fx  p99 %.2fx\n' \
      "$mode" "$BEFORE" "$bm" "$bm99" "$(awk "BEGIN{print $bm/$cm}")" "$(awk "BEGIN{print $bm99/$cm99}")"
  fi
}

echo "region-read-rtt: $RUNS runs x $COUNT round trips (after $WARMUP warm-up), C client, medians; $(nproc) cores"
report "same core (cpu0)" "taskset -c 0" "taskset -c 0"
report "cross core (0 / 1)" "taskset -c 0" "taskset -c 1"
report "unpinned" "" ""
