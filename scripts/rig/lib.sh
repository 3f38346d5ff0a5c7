# shellcheck shell=bash
# Shared helpers for the QEMU test rig (sourced by scripts/rig/*.sh).
#
# The rig keeps everything it builds in $RIG_CACHE, outside the repository, so
# fresh clones (CI) on the same machine reuse it. Recipe: docs in
# /work/shared/reference/qemu-rig.md (QEMU 11.1 from trixie-backports in a
# debootstrapped trixie root, run through trixie's ld.so) and platforms.md
# (x86_64 guests).
#
# Guest architectures, by their QEMU / uname names: aarch64 (arm64 `virt`,
# the default everywhere) and x86_64 (`q35` with SeaBIOS). Both run under TCG:
# nested KVM fails on the machines this runs on.

RIG_CACHE="${APPLE_GFXD_CACHE:-/var/cache/apple-gfxd}"
RIG_ROOT="$RIG_CACHE/qemu-root"
RIG_ARCHES="aarch64 x86_64"
RIG_QEMU="$RIG_CACHE/bin/qemu-system-aarch64"
RIG_GUEST="$RIG_CACHE/guest"
RIG_LOGS="$RIG_CACHE/logs"
RIG_SUITE="trixie"
RIG_APT_SOURCES="${RIG_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"

rig_log() { printf '[rig] %s\n' "$*" >&2; }

rig_die() {
  printf '[rig] ERROR: %s\n' "$*" >&2
  exit 1
}

# The machine cannot run the rig (not root, no archive, no network...).
# Exit status 77 = "skipped" for test harnesses.
rig_unavailable() {
  {
    echo "[rig] ================================================================"
    echo "[rig] RIG UNAVAILABLE: $1"
    shift
    local line
    for line in "$@"; do echo "[rig]   $line"; done
    echo "[rig] The QEMU rig cannot run on this machine; tests needing it are skipped."
    echo "[rig] ================================================================"
  } >&2
  exit 77
}

rig_require_root() {
  [ "$(id -u)" -eq 0 ] ||
    rig_unavailable "not running as root" \
      "Building $RIG_CACHE needs root (debootstrap, chroot, apt-get)." \
      "Run scripts/rig/setup.sh once as root."
}

# Serialise setup runs: one lock for the whole cache. Re-entrant for child
# scripts (the holder exports RIG_LOCK_HELD).
rig_lock() {
  [ "${RIG_LOCK_HELD:-}" = 1 ] && return 0
  mkdir -p "$RIG_CACHE"
  exec 9>"$RIG_CACHE/.lock"
  if ! flock -n 9; then
    rig_log "another setup run holds $RIG_CACHE/.lock; waiting..."
    flock 9
  fi
  export RIG_LOCK_HELD=1
}

# Debian archive URL: first "URIs:" entry of the host's deb822 sources,
# falling back to the first "deb URL" line of sources.list.
rig_archive_url() {
  local url=""
  if [ -r "$RIG_APT_SOURCES" ]; then
    url=$(awk '$1 == "URIs:" { print $2; exit }' "$RIG_APT_SOURCES")
  fi
  if [ -z "$url" ] && [ -r /etc/apt/sources.list ]; then
    url=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  [ -n "$url" ] || return 1
  printf '%s\n' "${url%/}"
}

# Check that the archive answers for the trixie suite (one small download
# through apt's own helper). Exits 77 when it does not.
rig_probe_archive() {
  local url="$1" tmp
  tmp=$(mktemp)
  if ! /usr/lib/apt/apt-helper -o Acquire::http::Timeout=20 -o Acquire::Retries=1 \
    download-file "$url/dists/$RIG_SUITE/Release" "$tmp" >"$tmp.log" 2>&1; then
    local why=()
    mapfile -t why < <(tail -n 3 "$tmp.log")
    rm -f "$tmp" "$tmp.log"
    rig_unavailable "Debian archive not reachable ($url, suite $RIG_SUITE)" "${why[@]}"
  fi
  rm -f "$tmp" "$tmp.log"
}

# True if a log shows a network / archive failure rather than a local bug.
rig_log_is_network_error() {
  grep -qiE 'Temporary failure resolving|Could not resolve|Failed to fetch|Failed getting release file|Couldn.t download|Network is unreachable|Connection (refused|timed out|failed)|Unable to connect|No route to host' \
    "$1"
}

# Install host packages (Debian archive only) that are missing.
rig_ensure_host_pkgs() {
  local pkg missing=()
  for pkg in "$@"; do
    # shellcheck disable=SC2016 # dpkg-query format, not shell
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  rig_log "installing host packages: ${missing[*]}"
  mkdir -p "$RIG_LOGS"
  local log="$RIG_LOGS/host-apt.log"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    rig_log_is_network_error "$log" &&
      rig_unavailable "cannot install host packages (${missing[*]}): archive unreachable" "log: $log"
    rig_die "apt-get install ${missing[*]} failed; see $log"
  fi
}

# Fails (status 2, with a message) unless $1 is a guest architecture we know.
rig_arch_check() {
  case " $RIG_ARCHES " in
    *" $1 "*) return 0 ;;
  esac
  printf '[rig] ERROR: unknown guest architecture %s (known: %s)\n' "$1" "$RIG_ARCHES" >&2
  exit 2
}

# Per-architecture facts, one place each.
rig_qemu_bin() { echo "$RIG_CACHE/bin/qemu-system-$1"; }          # the loader wrapper
rig_guest_dir() {                                                  # kernel, initramfs, programs
  if [ "$1" = aarch64 ]; then echo "$RIG_GUEST"; else echo "$RIG_CACHE/guest-$1"; fi
}
rig_deb_arch() { case "$1" in aarch64) echo arm64 ;; x86_64) echo amd64 ;; esac; }
# Packages the QEMU root needs for this architecture (from trixie-backports).
rig_qemu_pkgs() { case "$1" in aarch64) echo qemu-system-arm ;; x86_64) echo qemu-system-x86 seabios ;; esac; }

# "stamp present + executable": the QEMU root and the wrapper for $1
# (default aarch64) are ready.
rig_qemu_ready() {
  local arch="${1:-aarch64}"
  [ -s "$RIG_CACHE/qemu.stamp" ] && [ -x "$(rig_qemu_bin "$arch")" ] &&
    [ -x "$RIG_ROOT/usr/bin/qemu-system-$arch" ] || return 1
  # q35 boots SeaBIOS; Debian's copy in usr/share/qemu is a symlink into it.
  [ "$arch" != x86_64 ] || [ -s "$RIG_ROOT/usr/share/seabios/bios-256k.bin" ]
}

# Guest kernel + base initramfs for $1 (default aarch64) are ready and built
# by the current recipe.
rig_guest_ready() {
  local dir
  dir=$(rig_guest_dir "${1:-aarch64}")
  [ -s "$dir/vmlinuz" ] && [ -s "$dir/base.cpio.gz" ] &&
    [ -s "$dir/guest.stamp" ] &&
    grep -qx "recipe=$(rig_guest_recipe)" "$dir/guest.stamp"
}

# Recipe fingerprint of the guest build: rebuild when build-guest.sh changes.
rig_guest_recipe() {
  sha256sum "$(dirname "${BASH_SOURCE[0]}")/build-guest.sh" | cut -c1-16
}
