#!/usr/bin/env bash
# `npm run fuzz:native`: builds the libFuzzer harnesses (ASan + UBSan) and
# runs each for FUZZ_SECONDS (default 30) seconds, starting from the
# regression seeds in native/fuzz/corpus/<harness>/ plus the working corpus
# in native/fuzz/out/corpus/<harness>/. Fails on any crash, sanitizer report
# or failed check; the crashing input is left in native/fuzz/out/crashes/.
#   FUZZ_SECONDS=300 npm run fuzz:native
#   FUZZ_HARNESSES="framer soft_device" npm run fuzz:native
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
harnesses="${FUZZ_HARNESSES:-framer guest_memory soft_device region_access}"
bash ./build.sh
mkdir -p out/crashes
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
failed=0
for h in $harnesses; do
  mkdir -p "out/corpus/$h" "corpus/$h"
  log="out/$h.log"
  # Regression seeds first: each must pass as it is.
  if compgen -G "corpus/$h/*" >/dev/null; then
    if ! "./out/${h}_fuzz" -runs=0 "corpus/$h" >"out/$h.seeds.log" 2>&1; then
      echo "FAIL $h: a regression seed in native/fuzz/corpus/$h fails (out/$h.seeds.log)"
      tail -20 "out/$h.seeds.log"
      failed=1
      continue
    fi
  fi
  start=$(date +%s)
  rc=0
  "./out/${h}_fuzz" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="out/crashes/$h-" \
    "out/corpus/$h" "corpus/$h" >"$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  if [ "$rc" -ne 0 ]; then
    echo "FAIL $h (exit $rc after ${took}s): see native/fuzz/$log"
    grep -E 'ERROR|SUMMARY|check failed|runtime error' "$log" | head -10 || true
    ls out/crashes/"$h"-* 2>/dev/null | head -3
    failed=1
  else
    echo "ok   $h: ${runs:-?} runs in ${took}s (${rate:-?} exec/s, $cov)"
  fi
done
exit "$failed"
