#!/bin/sh
# The demo guest (npm run demo): runs the soft device's demo program for
# agfx.demo_seconds seconds (0 or unset: until the VM is stopped).
seconds=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in agfx.demo_seconds=*) seconds=${arg#agfx.demo_seconds=} ;; esac
done
echo "AGFX-DEMO starting (seconds=$seconds)"
exec /bin/soft-driver demo "$seconds"
