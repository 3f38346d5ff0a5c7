#!/usr/bin/env bash
# Installs the JSON discovery file management tools use to find backend
# programs (the vhost-user convention, which the vfio-user spec points to):
#   scripts/install-discovery.sh [--dir DIR] [--binary PATH]
# Default DIR: /usr/share/vfio-user (root) or ${XDG_CONFIG_HOME:-~/.config}/vfio-user.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="" binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    *) echo "usage: $0 [--dir DIR] [--binary PATH]" >&2; exit 2 ;;
  esac
done
if [ -z "$dir" ]; then
  if [ "$(id -u)" -eq 0 ]; then dir=/usr/share/vfio-user; else dir="${XDG_CONFIG_HOME:-$HOME/.config}/vfio-user"; fi
fi
[ -n "$binary" ] || binary="$(pwd)/dist/daemon/src/main.js"
case "$binary" in /*) ;; *) echo "--binary must be an absolute path" >&2; exit 2 ;; esac
mkdir -p "$dir"
sed "s|@BINARY@|$binary|" share/50-apple-gfxd.json.in > "$dir/50-apple-gfxd.json"
echo "installed $dir/50-apple-gfxd.json (binary $binary)"
