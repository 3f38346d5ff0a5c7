#!/usr/bin/env bash
# Build a guest for ARCH (aarch64, the default, or x86_64): the Debian trixie
# kernel as $GUEST/vmlinuz and a busybox initramfs with the /init contract
# below as $GUEST/base.cpio.gz, where $GUEST is $RIG_CACHE/guest (aarch64) or
# $RIG_CACHE/guest-x86_64. Packages are fetched with a scratch apt
# configuration; the host's dpkg database is never touched. Idempotent (stamp
# with versions + recipe hash).
#
#   build-guest.sh [ARCH]
#
# /init contract (qemu-rig.md §5), read by scripts/rig/run-guest.sh:
#   prints "RIG-INIT: reached /init uptime=<s>", loads the bundled modules
#   (failures print "RIG-MODULE-FAIL: ..." and are not fatal; kernel args
#   "<module>.<param>=<value>" are passed to insmod; rig.modules=0 skips them),
#   runs rig.script=PATH (default /test.sh) with "RIG-TEST-BEGIN: <path>" and
#   "RIG-TEST-EXIT: <rc>", then an interactive shell if rig.shell=1, then
#   "poweroff -f". The console is the kernel's (console= on its command line).
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARCH="${1:-aarch64}"
rig_arch_check "$ARCH"
DEBARCH=$(rig_deb_arch "$ARCH")
GUEST=$(rig_guest_dir "$ARCH")
APTDIR="$RIG_CACHE/apt-$DEBARCH"
DEBS="$RIG_CACHE/guest-debs"
# Modules in load-request order; dependencies are added automatically.
MODULES=(uio uio_pci_generic vfio vfio_iommu_type1 vfio_pci_core vfio_pci)

apt_opts=(
  -o "Dir::Etc::sourcelist=$APTDIR/sources.list"
  -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache=$APTDIR/cache"
  -o "Dir::State::status=$APTDIR/status"
  -o "APT::Architecture=$DEBARCH"
  -o "APT::Architectures=$DEBARCH"
  -o APT::Sandbox::User=root
)

scratch_apt_update() {
  local archive="$1" signed=""
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  : >"$APTDIR/status"
  [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] &&
    signed=" signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
  echo "deb [arch=$DEBARCH$signed] $archive $RIG_SUITE main" >"$APTDIR/sources.list"
  rig_log "apt-get update (scratch config, $DEBARCH $RIG_SUITE)... log: $APTLOG"
  if ! apt-get "${apt_opts[@]}" update >"$APTLOG" 2>&1; then
    rig_log_is_network_error "$APTLOG" &&
      rig_unavailable "scratch apt-get update failed: archive unreachable" "log: $APTLOG"
    rig_die "scratch apt-get update failed; see $APTLOG"
  fi
}

candidate_version() {
  apt-cache "${apt_opts[@]}" show --no-all-versions "$1" | awk '$1 == "Version:" { print $2; exit }'
}

# Prints the path of a $DEBARCH .deb of package $1 in $DEBS, downloading it
# unless the candidate version is already there.
fetch_deb() {
  local pkg="$1" want f
  want=$(candidate_version "$pkg")
  [ -n "$want" ] || rig_die "package $pkg not found in $RIG_SUITE ($DEBARCH)"
  for f in "$DEBS/${pkg}"_*_"$DEBARCH".deb; do
    [ -e "$f" ] || continue
    if [ "$(dpkg-deb -f "$f" Version)" = "$want" ]; then
      echo "$f"
      return 0
    fi
    rm -f "$f"
  done
  rig_log "downloading $pkg $want"
  (cd "$DEBS" && apt-get "${apt_opts[@]}" download "$pkg" >>"$APTLOG" 2>&1) ||
    rig_die "apt-get download $pkg failed; see $APTLOG"
  for f in "$DEBS/${pkg}"_*_"$DEBARCH".deb; do
    [ -e "$f" ] && { echo "$f"; return 0; }
  done
  rig_die "downloaded $pkg but found no .deb in $DEBS"
}

# Decompress one module file to stdout.
decompress_ko() {
  case "$1" in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *.ko) cat "$1" ;;
    *) return 1 ;;
  esac
}

# Module name from a path: kernel/x/vfio-pci.ko.xz -> vfio_pci
mod_name() {
  local b="${1##*/}"
  b="${b%%.ko*}"
  echo "${b//-/_}"
}

# Debian's kernel .deb ships no modules.dep (depmod runs at install time), so
# dependencies come from each module's .modinfo "depends=" field, which is
# what depmod reads. Copies the wanted modules and their dependencies
# (decompressed) into $INITRD/lib/modules; load order -> $INITRD/etc/rig-modules.
add_modules() {
  local moddir="$1" f b want
  local -A pathof=() state=()
  local order=()
  while IFS= read -r -d '' f; do
    b="${f##*/}"
    b="${b%%.ko*}"
    pathof[${b//-/_}]="$f"
  done < <(find "$moddir" -name '*.ko*' -print0)

  add_one() { # depth-first: dependencies first
    local name="$1" out deps d
    [ -n "${state[$name]:-}" ] && return 0
    state[$name]=1
    out="$INITRD/lib/modules/$name.ko"
    decompress_ko "${pathof[$name]}" >"$out" || rig_die "cannot decompress module $name"
    deps=$(tr '\0' '\n' <"$out" | LC_ALL=C sed -n 's/^depends=//p')
    deps="${deps%%$'\n'*}"
    for d in ${deps//,/ }; do
      d="${d//-/_}"
      [ -n "${pathof[$d]:-}" ] || rig_die "module $name needs $d, which is missing"
      add_one "$d"
    done
    order+=("$name")
  }

  for want in "${MODULES[@]}"; do
    if [ -n "${pathof[$want]:-}" ]; then
      add_one "$want"
    elif grep -qE "/${want//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
      rig_log "module $want is built into the kernel"
    else
      rig_log "module $want not present in this kernel (skipped)"
    fi
  done
  printf '%s\n' "${order[@]}" >"$INITRD/etc/rig-modules"
  rig_log "modules (load order): ${order[*]}"
}

write_init() {
  cat >"$INITRD/init" <<'INIT'
#!/bin/busybox sh
# Test rig /init (generated by scripts/rig/build-guest.sh).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
read -r up _ </proc/uptime
echo "RIG-INIT: reached /init uptime=$up"

cmdline=$(cat /proc/cmdline)
script=/test.sh
shell=0
modules=1
for arg in $cmdline; do
  case "$arg" in
    rig.script=*) script=${arg#rig.script=} ;;
    rig.shell=*) shell=${arg#rig.shell=} ;;
    rig.modules=*) modules=${arg#rig.modules=} ;;
  esac
done

if [ "$modules" = 1 ] && [ -f /etc/rig-modules ]; then
  while read -r mod; do
    params=""
    for arg in $cmdline; do
      case "$arg" in
        *.*=*) [ "$(echo "${arg%%.*}" | tr - _)" = "$mod" ] && params="$params ${arg#*.}" ;;
      esac
    done
    # shellcheck disable=SC2086 # params are separate words
    out=$(insmod "/lib/modules/$mod.ko" $params 2>&1) ||
      echo "RIG-MODULE-FAIL: $mod: $out"
  done </etc/rig-modules
fi

if [ -f "$script" ]; then
  echo "RIG-TEST-BEGIN: $script"
  (cd / && sh "$script")
  echo "RIG-TEST-EXIT: $?"
else
  echo "RIG-NO-TEST: $script not found"
fi

if [ "$shell" = 1 ]; then
  echo "RIG-SHELL: exit the shell to power off"
  setsid cttyhack sh
fi
sync
echo "RIG-POWEROFF"
poweroff -f
INIT
  chmod 755 "$INITRD/init"
}

if rig_guest_ready "$ARCH"; then
  rig_log "$ARCH guest ready ($GUEST)"
  exit 0
fi
rig_require_root
rig_lock
if rig_guest_ready "$ARCH"; then
  rig_log "$ARCH guest ready ($GUEST)"
  exit 0
fi
mkdir -p "$RIG_LOGS" "$DEBS" "$GUEST"
APTLOG="$RIG_LOGS/guest-apt-$DEBARCH.log"
rig_ensure_host_pkgs cpio xz-utils zstd gzip

ARCHIVE=$(rig_archive_url) ||
  rig_unavailable "no Debian archive in the host's apt sources" "looked at $RIG_APT_SOURCES"
rig_probe_archive "$ARCHIVE"
start=$SECONDS
scratch_apt_update "$ARCHIVE"

kpkg=""
[ "$ARCH" = aarch64 ] && kpkg="${RIG_GUEST_KERNEL:-}" # a pinned arm64 kernel package
if [ -z "$kpkg" ]; then
  kpkg=$(apt-cache "${apt_opts[@]}" depends "linux-image-$DEBARCH" |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || rig_die "cannot resolve linux-image-$DEBARCH to a versioned kernel package"
rig_log "fetching $kpkg and busybox-static ($DEBARCH; ~90 MB unless already in $DEBS)..."
kdeb=$(fetch_deb "$kpkg")
bdeb=$(fetch_deb busybox-static)

WORK=$(mktemp -d "$RIG_CACHE/guest-build.XXXXXX")
trap 'rm -rf --one-file-system "$WORK"' EXIT
rig_log "unpacking the kernel and busybox"
dpkg-deb -x "$kdeb" "$WORK/kernel"
dpkg-deb -x "$bdeb" "$WORK/busybox"

kimage=$(find "$WORK/kernel/boot" -name 'vmlinuz-*' | head -n 1)
[ -n "$kimage" ] || rig_die "no boot/vmlinuz-* in $kdeb"
kver="${kimage##*/vmlinuz-}"
moddir=""
for d in "$WORK/kernel/usr/lib/modules/$kver" "$WORK/kernel/lib/modules/$kver"; do
  [ -d "$d" ] && moddir="$d"
done
[ -n "$moddir" ] || rig_die "no modules directory for $kver in $kdeb"

rig_log "building the initramfs"
INITRD="$WORK/initrd"
mkdir -p "$INITRD"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lib/modules,etc,root}
install -m 755 "$WORK/busybox/usr/bin/busybox" "$INITRD/bin/busybox"
mknod -m 600 "$INITRD/dev/console" c 5 1
mknod -m 666 "$INITRD/dev/null" c 1 3
add_modules "$moddir"
write_init
bbver=$(dpkg-deb -f "$bdeb" Version)
kdebver=$(dpkg-deb -f "$kdeb" Version)
printf 'kernel=%s\nkernel_package=%s %s\nbusybox=%s\n' "$kver" "$kpkg" "$kdebver" "$bbver" \
  >"$INITRD/etc/rig-release"

(cd "$INITRD" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -9) \
  >"$GUEST/base.cpio.gz.tmp"
cp "$kimage" "$GUEST/vmlinuz.tmp"
mv -f "$GUEST/base.cpio.gz.tmp" "$GUEST/base.cpio.gz"
mv -f "$GUEST/vmlinuz.tmp" "$GUEST/vmlinuz"
{
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "recipe=$(rig_guest_recipe)"
  cat "$INITRD/etc/rig-release"
  echo "modules=$(tr '\n' ' ' <"$INITRD/etc/rig-modules")"
} >"$GUEST/guest.stamp"
rig_log "$ARCH guest ready in $((SECONDS - start)) s: kernel $kver, busybox $bbver," \
  "initramfs $(du -h "$GUEST/base.cpio.gz" | cut -f1)"
