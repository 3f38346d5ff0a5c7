#!/bin/sh
# Guest side of the apple-gfxd PCI smoke test (busybox sh, no driver).
# Device contract: 106b:eeee class 0x038000; BAR0 16 KiB mem32 non-prefetch;
# BAR0+0x1000 ID 0x58464741, +0x1004 version (non-zero), +0x1008 scratch,
# +0x100C write v -> raise interrupt vector v; MSI (64-bit) and MSI-X caps,
# MSI-X table BAR0+0x0000, PBA BAR0+0x0800. Kernel arg agfx.variant=mmio:
# BAR2 = 64 KiB and 2 MSI-X vectors, otherwise no BAR2 and 1 vector.
# Prints "AGFX-RESULT key=value" lines; exit 0 only if every check passes.

here=$(dirname "$0")
lib=/lib.sh
[ -f "$here/lib.sh" ] && lib="$here/lib.sh"
# shellcheck source=test/guest/lib.sh
. "$lib"

VENDOR=0x106b
DEVICE=0xeeee
ITER=20            # interrupts per vector (kernel arg agfx.irqs=N)
POLL_CS=200        # wait up to 2 s for each interrupt
MAX_MISSES=2       # give up on a vector after this many misses in a row
MSI_DATA=0xA6F0000 # + vector number

fails=0
# check KEY GOT WANT: print the result; count a failure on mismatch
check() {
  result "$1" "$2"
  if [ "$2" != "$3" ]; then
    echo "AGFX-FAIL $1: got $2, want $3"
    fails=$((fails + 1))
  fi
}

variant=default
read -r cmdline </proc/cmdline
guest_mem=""
for arg in $cmdline; do
  case "$arg" in
    agfx.variant=*) variant=${arg#agfx.variant=} ;;
    agfx.irqs=*) ITER=${arg#agfx.irqs=} ;;
    mem=*) guest_mem=${arg#mem=} ;;
  esac
done
if [ "$variant" = mmio ]; then want_bar2=65536 nvec=2; else want_bar2=0 nvec=1; fi
result variant "$variant"

# 1. presence, class, BARs
count=$(pci_count $VENDOR $DEVICE)
check count "$count" 1
dev=$(pci_find $VENDOR $DEVICE | head -n 1)
if [ -z "$dev" ]; then
  echo "AGFX-FAIL no $VENDOR:$DEVICE device; PCI devices present:"
  pci_list
  for k in class bar0_size bar2_size enable id version scratch1 scratch2 msix_cap; do result "$k" none; done
  result failures "$fails"
  result status fail
  exit 1
fi
result bdf "${dev##*/}"
check class "$(pci_class "$dev")" 0x038000
check bar0_size "$(pci_bar_size "$dev" 0)" 16384
flags=$(($(pci_bar_flags "$dev" 0)))
# IORESOURCE_MEM 0x200, PREFETCH 0x2000, MEM_64 0x100000
if [ $((flags & 0x200)) -ne 0 ] && [ $((flags & 0x102000)) -eq 0 ]; then t=mem32; else t="flags=$(hex32 "$flags")"; fi
check bar0_type "$t" mem32
check bar2_size "$(pci_bar_size "$dev" 2)" "$want_bar2"

# 2. enable (memory decode) and registers
pci_enable "$dev" 2>/dev/null
cmd=$(($(cfg_read "$dev" 4 2)))
if [ "$(cat "$dev/enable")" = 1 ] && [ $((cmd & 0x2)) -ne 0 ]; then e=1; else e=0; fi
check enable "$e" 1
bar0=$(($(pci_bar_start "$dev" 0)))
if [ "$bar0" -eq 0 ]; then
  check bar0_start unassigned assigned
  result failures "$fails"
  result status fail
  exit 1
fi
check id "$(mmio_read32 $((bar0 + 0x1000)))" 0x58464741
version=$(mmio_read32 $((bar0 + 0x1004)))
result version "$version"
if [ $((version)) -eq 0 ] || [ $((version)) -eq $((0xffffffff)) ]; then
  echo "AGFX-FAIL version: got $version, want non-zero"
  fails=$((fails + 1))
fi
mmio_write32 $((bar0 + 0x1008)) 0xA5A5F00D
check scratch1 "$(mmio_read32 $((bar0 + 0x1008)))" 0xa5a5f00d
mmio_write32 $((bar0 + 0x1008)) 0x12345678
check scratch2 "$(mmio_read32 $((bar0 + 0x1008)))" 0x12345678

# 3. capabilities
msi=$(pci_find_cap "$dev" 0x05) || msi=none
result msi_cap "$msi"
if [ "$msi" != none ]; then
  check msi_64bit $((($(cfg_read "$dev" $((msi + 2)) 2) >> 7) & 1)) 1
else
  check msi_64bit none 1
fi
msix=$(pci_find_cap "$dev" 0x11) || msix=none
result msix_cap "$msix"
if [ "$msix" = none ]; then
  check msix none present
  result failures "$fails"
  result status fail
  exit 1
fi
ctrl=$(($(cfg_read "$dev" $((msix + 2)) 2)))
table=$(($(cfg_read "$dev" $((msix + 4)) 4)))
pba=$(($(cfg_read "$dev" $((msix + 8)) 4)))
check msix_table_size $(((ctrl & 0x7ff) + 1)) "$nvec"
check msix_table "bar$((table & 7))+$(printf 0x%04x $((table & ~7)))" bar0+0x0000
check msix_pba "bar$((pba & 7))+$(printf 0x%04x $((pba & ~7)))" bar0+0x0800

# 4. MSI-X delivery into hidden RAM (above mem=, not owned by Linux)
case "$guest_mem" in
  *[Mm]) mb=${guest_mem%?} ;;
  *[Gg]) mb=$((${guest_mem%?} * 1024)) ;;
  *) mb="" ;;
esac
if [ -z "$mb" ]; then
  check msix_mem "none (no mem=NNNM on the kernel command line)" ok
  mb=0
else
  case "$(uname -m)" in # where guest RAM starts: virt at 1 GiB, q35 at 0
    x86_64) ram_base=0 ;;
    *) ram_base=$((0x40000000)) ;;
  esac
  ram=$((ram_base + mb * 1048576))
  mmio_write32 "$ram" 0x5a5a1234
  if [ "$(mmio_read32 "$ram")" = 0x5a5a1234 ]; then m=ok; else m=unusable; fi
  result msix_ram "$(hex32 "$ram")"
  check msix_mem "$m" ok
fi
if [ "$mb" -gt 0 ] && [ "$m" = ok ]; then
  v=0
  while [ "$v" -lt "$nvec" ]; do # program entry v: addr lo, addr hi, data, unmasked
    word=$((ram + 4 * v))
    mmio_write32 "$word" 0
    entry=$((bar0 + (table & ~7) + 16 * v))
    mmio_write32 "$entry" $((word & 0xffffffff))
    mmio_write32 $((entry + 4)) $((word >> 32))
    mmio_write32 $((entry + 8)) $((MSI_DATA + v))
    mmio_write32 $((entry + 12)) 0
    v=$((v + 1))
  done
  pci_set_master "$dev"
  cfg_write "$dev" $((msix + 2)) 2 $(((ctrl | 0x8000) & ~0x4000))
  c=$(($(cfg_read "$dev" $((msix + 2)) 2)))
  result msix_enabled $(((c >> 15) & 1))
  result bus_master $((($(cfg_read "$dev" 4 2) >> 2) & 1))

  v=0
  while [ "$v" -lt "$nvec" ]; do
    word=$((ram + 4 * v))
    want=$(hex32 $((MSI_DATA + v)))
    n=0 i=0 misses=0 worst=0
    while [ "$i" -lt "$ITER" ] && [ "$misses" -lt "$MAX_MISSES" ]; do
      mmio_write32 "$word" 0
      t0=$(now_cs)
      mmio_write32 $((bar0 + 0x100C)) "$v"
      got=0
      while :; do
        if [ "$(mmio_read32 "$word")" = "$want" ]; then got=1; break; fi
        [ $(($(now_cs) - t0)) -lt "$POLL_CS" ] || break
      done
      if [ "$got" = 1 ]; then
        n=$((n + 1)) misses=0
        dt=$(($(now_cs) - t0))
        [ "$dt" -gt "$worst" ] && worst=$dt
      else
        misses=$((misses + 1))
      fi
      i=$((i + 1))
    done
    [ "$misses" -ge "$MAX_MISSES" ] && echo "AGFX-FAIL vector $v: $MAX_MISSES misses in a row, stopped after $i tries"
    result "msix_vector${v}_expected" "$ITER"
    result "msix_vector${v}_worst_ms" $((worst * 10))
    check "msix_vector${v}_count" "$n" "$ITER"
    v=$((v + 1))
  done
fi

result failures "$fails"
if [ "$fails" -eq 0 ]; then
  result status pass
  exit 0
fi
result status fail
exit 1
