#!/bin/sh
# Guest side of the soft-device end-to-end test (busybox sh, run as /test.sh).
# Runs /bin/soft-driver (test/guest/soft-driver.c, added with run-guest.sh
# --program) once per step named in the kernel argument
#   agfx.steps=ring,present,iosfc,reset,garbage,fdless,ports
# (default: ring) and stops at the first failing step with its exit status.
# agfx.seed=N is passed to every step (the garbage step's random seed).

here=$(dirname "$0")
lib=/lib.sh
[ -f "$here/lib.sh" ] && lib="$here/lib.sh"
# shellcheck source=test/guest/lib.sh
. "$lib"

steps=ring
seed=""
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    agfx.steps=*) steps=${arg#agfx.steps=} ;;
    agfx.seed=*) seed=${arg#agfx.seed=} ;;
  esac
done

driver=$(command -v soft-driver || true)
if [ -z "$driver" ]; then
  echo "AGFX-FAIL soft-e2e: /bin/soft-driver missing (run-guest.sh --program \$RIG_CACHE/guest/bin/soft-driver)"
  result status fail
  exit 1
fi

result steps "$steps"
for s in $(echo "$steps" | tr ',' ' '); do
  t0=$(now_cs)
  # shellcheck disable=SC2086 # seed is empty or one word
  "$driver" "$s" $seed
  rc=$?
  echo "AGFX-STEP $s: exit $rc after $(($(now_cs) - t0))0 ms"
  if [ "$rc" -ne 0 ]; then
    result failed_step "$s"
    result status fail
    exit "$rc"
  fi
done
result status pass
exit 0
