#!/usr/bin/env bash
# The guest-visible cost of a BAR0 read: a program in the real arm64 guest
# (test/guest/bar-read-bench.c) times 32-bit reads of BAR0 0x1000 through
# QEMU 11.1's vfio-user-pci, once against apple-gfxd and once against the
# smallest C vfio-user server QEMU will realize (scripts/bench-src/
# min-vfio-user-server.c), alternating, RUNS boots each. The guest runs under
# TCG, so the figure includes QEMU's own cost per access; the ratio is what
# the daemon adds over a server that does nothing. BEFORE=path/to/another
# tree's dist/daemon/src/main.js boots against that daemon too, same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/rig/lib.sh
. scripts/rig/lib.sh
RUNS="${RUNS:-3}" READS="${READS:-5000}" ROUNDS="${ROUNDS:-5}"
if ! rig_qemu_ready || ! rig_guest_ready; then
  echo "guest-mmio: skipped, the QEMU rig is not set up (scripts/rig/setup.sh)" >&2
  exit 0
fi
bash scripts/rig/build-guest-programs.sh >/dev/null
prog="$RIG_GUEST/bin/bar-read-bench"
[ -x "$prog" ] || { echo "guest-mmio: $prog was not built" >&2; exit 1; }
work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
gcc -O2 -o "$work/min-server" scripts/bench-src/min-vfio-user-server.c

wait_for_socket() { for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no socket $1" >&2; return 1; }
boot() { # socket -> prints the guest's median µs per read
  local out
  out=$(bash scripts/rig/run-guest.sh --socket "$1" --test test/guest/bar-read-bench.sh --program "$prog" \
    --append "agfx.reads=$READS agfx.rounds=$ROUNDS" --timeout 300 2>&1) || { echo "$out" >&2; return 1; }
  sed -n 's/^AGFX-RESULT us_per_read=\([0-9.]*\).*/\1/p' <<<"$out" | tr -d '\r'
}
measure_min() {
  "$work/min-server" "$work/min.sock" >/dev/null & server_pid=$!
  wait_for_socket "$work/min.sock"
  boot "$work/min.sock"
  wait "$server_pid" 2>/dev/null || true; server_pid=""; rm -f "$work/min.sock"
}
measure_daemon() { # [main.js]
  node "${1:-dist/daemon/src/main.js}" --socket-path "$work/gfx.sock" --log-level warn 2>"$work/daemon.log" & server_pid=$!
  wait_for_socket "$work/gfx.sock"
  boot "$work/gfx.sock"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

m=() d=() b=()
for i in $(seq "$RUNS"); do
  m+=("$(measure_min)"); d+=("$(measure_daemon)")
  [ -z "${BEFORE:-}" ] || b+=("$(measure_daemon "$BEFORE")")
  echo "  run $i/$RUNS: minimal C server ${m[-1]} us/read, apple-gfxd ${d[-1]} us/read${BEFORE:+, before ${b[-1]} us/read}" >&2
done
mm=$(printf '%s\n' "${m[@]}" | median); dm=$(printf '%s\n' "${d[@]}" | median)
printf 'guest BAR0 read (TCG arm64 guest, %s reads x %s rounds, median of %s boots): minimal C server %.2f us | apple-gfxd %.2f us | ratio %.2fx (goal <= 1.05x)\n' \
  "$READS" "$ROUNDS" "$RUNS" "$mm" "$dm" "$(awk "BEGIN{print $dm/$mm}")"
if [ -n "${BEFORE:-}" ]; then
  bm=$(printf '%s\n' "${b[@]}" | median)
  printf 'BEFORE (%s): %.2f us | ratio %.2fx\n' "$BEFORE" "$bm" "$(awk "BEGIN{print $bm/$mm}")"
fi
