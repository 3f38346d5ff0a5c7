#!/usr/bin/env bash
# Installs the Debian packages apple-gfxd's build, tests and benchmarks need,
# only those missing (clang, libfuzzer-14-dev, libclang-rt-14-dev: libFuzzer
# harnesses and sanitizer builds; the real-client viewer tests: chromium for
# the web viewer and noVNC, novnc for Debian's noVNC 1.3, tigervnc-viewer
# under xvfb, captured with xwd from x11-apps, located with xwininfo from
# x11-utils, typed into with xdotool).
# Needs root (apt-get). The QEMU rig installs its own
# (scripts/rig/setup.sh); Node.js 20 and npm are expected on the machine.
set -euo pipefail
packages=(g++ gcc make python3 util-linux procps clang libfuzzer-14-dev libclang-rt-14-dev chromium novnc tigervnc-viewer xvfb x11-apps x11-utils xdotool)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "[setup-host] Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "[setup-host] host packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[setup-host] missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "[setup-host] installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
