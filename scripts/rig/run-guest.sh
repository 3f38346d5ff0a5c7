#!/usr/bin/env bash
# Boot one guest under QEMU 11 (TCG) and report its test result.
#
#   run-guest.sh [--arch aarch64|x86_64] [--socket PATH [--device-json '{"key":...}']]...
#                [--overlay DIR]... [--test FILE] [--program FILE]... [--mem MB]
#                [--guest-mem MB] [--plain-ram] [--timeout S] [--log FILE]
#                [--append "kernel args"] [--qmp PATH] [--name NAME] [--tablet] [--shell]
#
# --arch         aarch64 (default): arm64 `virt`, RAM at 0x40000000, console
#                ttyAMA0; x86_64: `q35` with SeaBIOS, RAM at 0, console ttyS0
# --socket       one vfio-user-pci device per socket (the server must already listen)
# --device-json  extra JSON keys for the preceding --socket's device
# --overlay      files of DIR are added to the initramfs (DIR/test.sh -> /test.sh)
# --test         shortcut: FILE -> /test.sh and test/guest/lib.sh -> /lib.sh
# --program      FILE (a static binary for --arch) -> /bin/NAME, executable
# --mem          guest RAM (memfd, shared), default 512
# --guest-mem    RAM Linux may use (mem=), default mem-64: the top of RAM at
#                RAM base + guest_mem is left free for /dev/mem DMA tests
# --plain-ram    plain -m (anonymous RAM): QEMU shares guest RAM without an fd
# --name         QEMU's -name (what QMP query-name answers; viewers show it)
# --tablet       add a USB tablet (qemu-xhci + usb-tablet): an absolute pointer for QMP input
# --shell        rig.shell=1: interactive shell after the test (no timeout by default)
#
# QEMU's own stderr is kept apart from the console: each of its lines appears
# in the log as "QEMU-STDERR: <line>".
#
# Exit status: the guest's RIG-TEST-EXIT code; 124 on timeout; 125 if the
# guest never reported (QEMU failed, no test script, crash); 77 if the rig is
# not set up (run scripts/rig/setup.sh [ARCH]).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

sockets=() devjson=() overlays=() programs=() test_file="" mem=512 guest_mem="" timeout="" log=""
append="" qmp="" vm_name="" shell=0 tablet=0 arch=aarch64 plain_ram=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) rig_arch_check "$2"; arch="$2"; shift 2 ;;
    --plain-ram) plain_ram=1; shift ;;
    --socket) sockets+=("$2"); devjson+=(""); shift 2 ;;
    --device-json)
      [ "${#sockets[@]}" -gt 0 ] || rig_die "--device-json must follow a --socket"
      devjson[${#devjson[@]} - 1]="$2"; shift 2 ;;
    --overlay) [ -d "$2" ] || rig_die "--overlay $2: not a directory"; overlays+=("$2"); shift 2 ;;
    --test) [ -f "$2" ] || rig_die "--test $2: no such file"; test_file="$2"; shift 2 ;;
    --program) [ -f "$2" ] || rig_die "--program $2: no such file"; programs+=("$2"); shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --guest-mem) guest_mem="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --append) append="$append $2"; shift 2 ;;
    --qmp) qmp="$2"; shift 2 ;;
    --name) vm_name="$2"; shift 2 ;;
    --tablet) tablet=1; shift ;;
    --shell) shell=1; shift ;;
    -h | --help) usage ;;
    *) echo "run-guest.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$guest_mem" ] || guest_mem=$((mem - 64))
[ -n "$timeout" ] || { if [ "$shell" = 1 ]; then timeout=0; else timeout=120; fi; }
for n in "$mem" "$guest_mem" "$timeout"; do
  [[ "$n" =~ ^[0-9]+$ ]] || rig_die "not a number: $n"
done
if [ "$guest_mem" -gt "$mem" ] || [ "$guest_mem" -lt 64 ]; then
  rig_die "--guest-mem must be 64..$mem"
fi

if ! rig_qemu_ready "$arch" || ! rig_guest_ready "$arch"; then
  rig_unavailable "the $arch rig is not set up in $RIG_CACHE" "run scripts/rig/setup.sh $arch first (as root)"
fi
guest_dir=$(rig_guest_dir "$arch")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rig-run.XXXXXX")
qpid="" tpid="" spid=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill -TERM "$qpid" 2>/dev/null || true
    sleep 1
    kill -KILL "$qpid" 2>/dev/null || true
  fi
  if [ -n "$tpid" ]; then kill "$tpid" 2>/dev/null || true; fi
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'rig_log "interrupted; stopping QEMU"; exit 130' INT TERM HUP

# Initramfs: base archive + one gzip cpio per overlay (later files win).
pack() { (cd "$1" && find . -mindepth 1 -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1); }
if [ -n "$test_file" ]; then
  mkdir "$tmp/test-overlay"
  cp "$test_file" "$tmp/test-overlay/test.sh"
  cp "$here/../../test/guest/lib.sh" "$tmp/test-overlay/lib.sh"
  overlays+=("$tmp/test-overlay")
fi
if [ "${#programs[@]}" -gt 0 ]; then
  mkdir -p "$tmp/program-overlay/bin"
  for p in "${programs[@]}"; do install -m 0755 "$p" "$tmp/program-overlay/bin/$(basename "$p")"; done
  overlays+=("$tmp/program-overlay")
fi
initrd="$guest_dir/base.cpio.gz"
if [ "${#overlays[@]}" -gt 0 ]; then
  cp "$initrd" "$tmp/initrd.cpio.gz"
  for d in "${overlays[@]}"; do pack "$d" >>"$tmp/initrd.cpio.gz"; done
  initrd="$tmp/initrd.cpio.gz"
fi

json_str() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }

# Per machine: the fastest TCG CPU (qemu-rig.md §8; q35 keeps its default),
# and the serial console -nographic puts on stdio.
case "$arch" in
  aarch64) machine=virt cpu=(-cpu cortex-a57) console=ttyAMA0 ;;
  x86_64) machine=q35 cpu=() console=ttyS0 ;;
esac
kargs="console=$console quiet panic=-1 mem=${guest_mem}M${append}"
[ "$shell" = 1 ] && kargs="$kargs rig.shell=1"
if [ "$plain_ram" = 1 ]; then
  ram=(-M "$machine")
else
  ram=(-M "$machine,memory-backend=rigmem" -object "memory-backend-memfd,id=rigmem,size=${mem}M,share=on")
fi
cmd=("$(rig_qemu_bin "$arch")" "${ram[@]}" "${cpu[@]}"
  -m "${mem}M" -nographic -no-reboot -nic none
  -kernel "$guest_dir/vmlinuz" -initrd "$initrd" -append "$kargs")
[ -n "$qmp" ] && cmd+=(-qmp "unix:$qmp,server=on,wait=off")
[ -n "$vm_name" ] && cmd+=(-name "$vm_name")
[ "$tablet" = 1 ] && cmd+=(-device qemu-xhci -device usb-tablet)
for i in "${!sockets[@]}"; do
  dev="{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":$(json_str "${sockets[$i]}"),\"type\":\"unix\"}"
  extra="${devjson[$i]}"
  if [ -n "$extra" ]; then
    extra="${extra#"${extra%%[!$' \t']*}"}" # trim leading blanks
    [ "${extra:0:1}" = "{" ] || rig_die "--device-json must be a JSON object: $extra"
    extra="${extra#\{}"
    extra="${extra%\}*}"
    [[ "$extra" =~ [^[:space:]] ]] && dev="$dev,$extra"
  fi
  cmd+=(-device "$dev}")
done

shown=""
for a in "${cmd[@]}"; do # shell-quote for copy/paste, readably
  if [[ "$a" =~ ^[][A-Za-z0-9_./,:=+@%-]+$ ]]; then shown+=" $a"; else shown+=" '${a//\'/\'\\\'\'}'"; fi
done
rig_log "qemu:${shown}"
[ -n "$log" ] || log="$tmp/console.log"
: >"$log"

# QEMU writes the console to the log and its own messages, marked, through
# a fifo; tail shows both live. All three are our own children.
mkfifo "$tmp/qemu-stderr"
sed -u 's/^/QEMU-STDERR: /' <"$tmp/qemu-stderr" >>"$log" &
spid=$!
if [ "$shell" = 1 ]; then # keep the terminal as stdin (& alone gives /dev/null)
  exec 3<&0
  "${cmd[@]}" <&3 3<&- >>"$log" 2>"$tmp/qemu-stderr" &
else
  "${cmd[@]}" </dev/null >>"$log" 2>"$tmp/qemu-stderr" &
fi
qpid=$!
tail -n +1 -s 0.2 --pid="$spid" -f "$log" & # sed ends after QEMU, having written its last line
tpid=$!

timed_out=0
start=$SECONDS
while kill -0 "$qpid" 2>/dev/null; do
  if [ "$timeout" -gt 0 ] && [ $((SECONDS - start)) -ge "$timeout" ]; then
    timed_out=1
    rig_log "TIMEOUT after ${timeout} s; killing QEMU (pid $qpid)"
    kill -TERM "$qpid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.3; done
    kill -KILL "$qpid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
qrc=0
wait "$qpid" || qrc=$?
qpid=""
wait "$spid" 2>/dev/null || true # the stderr marker has seen QEMU's last line
spid=""
wait "$tpid" 2>/dev/null || true
tpid=""
elapsed=$((SECONDS - start))

rc_line=$(tr -d '\r' <"$log" | grep -a -E '^RIG-TEST-EXIT: [0-9]+$' | tail -n 1 || true)
if [ -n "$rc_line" ]; then
  rc="${rc_line#RIG-TEST-EXIT: }"
  [ "$timed_out" = 1 ] && rig_log "warning: guest reported but did not power off in time"
  rig_log "guest test exit code $rc (QEMU status $qrc, ${elapsed} s)"
  exit "$rc"
fi
if [ "$timed_out" = 1 ]; then
  rig_log "FAIL: guest timed out after ${timeout} s without reporting RIG-TEST-EXIT"
  exit 124
fi
if [ "$shell" = 1 ] && [ "$qrc" = 0 ]; then
  exit 0
fi
hint=$(tr -d '\r' <"$log" | grep -a -E '^(QEMU-STDERR: |RIG-NO-TEST:|Kernel panic)' | head -n 3 || true)
rig_log "FAIL: the guest never reported RIG-TEST-EXIT (QEMU exit status $qrc, ${elapsed} s)"
[ -n "$hint" ] && printf '[rig]   %s\n' "${hint//$'\n'/$'\n'[rig]   }" >&2
exit 125
