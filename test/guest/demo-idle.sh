#!/bin/sh
# The demo for agfx.demo_seconds seconds, then "AGFX-DEMO stopped" and
# agfx.idle_seconds with its last frame on screen: the viewer e2e test
# (test/e2e/vnc-viewers.test.ts) compares VNC clients with the daemon then.
seconds=20
idle=30
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    agfx.demo_seconds=*) seconds=${arg#agfx.demo_seconds=} ;;
    agfx.idle_seconds=*) idle=${arg#agfx.idle_seconds=} ;;
  esac
done
/bin/soft-driver demo "$seconds"
echo "AGFX-DEMO stopped"
sleep "$idle"
