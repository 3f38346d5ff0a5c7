# shellcheck shell=sh
# Guest-side helpers for rig tests (busybox sh). Copied into initramfs
# overlays next to the test script; source it with ". /lib.sh".
# PCI access goes through sysfs (busybox has no lspci/setpci); MMIO through
# busybox devmem, which only works while no driver owns the BAR.

# result KEY VALUE -> "AGFX-RESULT KEY=VALUE" (parsed by the host side)
result() {
  echo "AGFX-RESULT $1=$2"
}

# hex32 N -> 0x%08x
hex32() {
  printf '0x%08x\n' "$(($1))"
}

# pci_list: "BDF vendor device class" for every PCI device
pci_list() {
  for d in /sys/bus/pci/devices/*; do
    [ -e "$d/vendor" ] || continue
    echo "${d##*/} $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class")"
  done
}

# pci_find VENDOR DEVICE -> sysfs directories of matching devices, one a line
pci_find() {
  for d in /sys/bus/pci/devices/*; do
    [ -e "$d/vendor" ] || continue
    [ "$(($(cat "$d/vendor")))" -eq "$(($1))" ] || continue
    [ "$(($(cat "$d/device")))" -eq "$(($2))" ] || continue
    echo "$d"
  done
}

# pci_count VENDOR DEVICE -> number of matching devices
pci_count() {
  pci_find "$1" "$2" | wc -l | tr -d ' '
}

# pci_class DEV -> e.g. 0x038000
pci_class() {
  cat "$1/class"
}

# pci_bar_field DEV N FIELD(1=start 2=end 3=flags): from line N+1 of resource
pci_bar_field() {
  sed -n "$(($2 + 1))p" "$1/resource" | awk -v f="$3" '{ print $f }'
}
pci_bar_start() { printf '0x%x\n' "$(($(pci_bar_field "$1" "$2" 1)))"; }
pci_bar_end() { printf '0x%x\n' "$(($(pci_bar_field "$1" "$2" 2)))"; }
pci_bar_flags() { printf '0x%x\n' "$(($(pci_bar_field "$1" "$2" 3)))"; }

# pci_bar_size DEV N -> size in bytes (decimal), 0 if the BAR is absent
pci_bar_size() {
  _s=$(($(pci_bar_field "$1" "$2" 1)))
  _e=$(($(pci_bar_field "$1" "$2" 2)))
  if [ "$_s" -eq 0 ] && [ "$_e" -eq 0 ]; then echo 0; else echo $((_e - _s + 1)); fi
}

# pci_enable DEV: memory/IO decode on (NOT bus master; see pci_set_master)
pci_enable() {
  echo 1 >"$1/enable"
}

# cfg_read DEV OFF LEN(1|2|4) -> value as 0x.. (little-endian)
# Aligned accesses are one read() of LEN bytes, so the kernel issues one
# config cycle of that size.
cfg_read() {
  if [ $(($2 % $3)) -eq 0 ]; then
    _b=$(dd if="$1/config" bs="$3" skip=$(($2 / $3)) count=1 2>/dev/null | od -An -v -tx1)
  else
    _b=$(dd if="$1/config" bs=1 skip="$2" count="$3" 2>/dev/null | od -An -v -tx1)
  fi
  _v=0 _i=0
  for _x in $_b; do
    _v=$((_v | (0x$_x << (8 * _i))))
    _i=$((_i + 1))
  done
  [ "$_i" -eq "$3" ] || { echo "cfg_read: short read at $2" >&2; return 1; }
  printf "0x%0$(($3 * 2))x\n" "$_v"
}

# cfg_write DEV OFF LEN(1|2|4) VALUE (little-endian)
cfg_write() {
  _fmt="" _i=0
  while [ "$_i" -lt "$3" ]; do
    _fmt="$_fmt\\$(printf '%03o' $((($4 >> (8 * _i)) & 0xff)))"
    _i=$((_i + 1))
  done
  if [ $(($2 % $3)) -eq 0 ]; then
    # shellcheck disable=SC2059 # the format is the octal-escaped bytes
    printf "$_fmt" | dd of="$1/config" bs="$3" seek=$(($2 / $3)) count=1 conv=notrunc 2>/dev/null
  else
    # shellcheck disable=SC2059
    printf "$_fmt" | dd of="$1/config" bs=1 seek="$2" count="$3" conv=notrunc 2>/dev/null
  fi
}

# pci_set_master DEV: set Bus Master (command bit 2), keep the other bits
pci_set_master() {
  cfg_write "$1" 4 2 $(($(cfg_read "$1" 4 2) | 0x4))
}

# pci_find_cap DEV ID -> config offset of the first capability ID, or fail
pci_find_cap() {
  [ $(($(cfg_read "$1" 6 2) & 0x10)) -ne 0 ] || return 1
  _p=$(($(cfg_read "$1" 0x34 1) & 0xfc))
  _n=0
  while [ "$_p" -ge 64 ] && [ "$_n" -lt 48 ]; do
    if [ $(($(cfg_read "$1" "$_p" 1))) -eq $(($2)) ]; then
      printf '0x%02x\n' "$_p"
      return 0
    fi
    _p=$(($(cfg_read "$1" $((_p + 1)) 1) & 0xfc))
    _n=$((_n + 1))
  done
  return 1
}

# mmio_read32 ADDR -> 0x%08x ; mmio_write32 ADDR VALUE
mmio_read32() {
  hex32 "$(devmem "$(hex32 "$1")" 32)"
}
mmio_write32() {
  devmem "$(hex32 "$1")" 32 "$(hex32 "$2")"
}

# now_cs -> uptime in centiseconds (for bounded polls)
now_cs() {
  read -r _u _ </proc/uptime
  _u=${_u%.*}${_u#*.}
  while [ "${_u#0}" != "$_u" ] && [ -n "${_u#0}" ]; do _u=${_u#0}; done # not octal
  echo $((_u))
}
