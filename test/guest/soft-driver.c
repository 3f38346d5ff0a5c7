// Guest-side driver for apple-gfxd's soft device (docs/soft-device.md), for
// the rig's guests (busybox initramfs, no kernel driver): arm64 on `virt`
// and x86_64 on `q35`.
//
//   soft-driver ring|present|iosfc|reset|garbage|fdless [seed]
//
// It maps BAR0 (and BAR2) through sysfs resourceN, enables the device,
// bus mastering and MSI-X through the sysfs config file, and uses the RAM that
// Linux was told to ignore (mem= below -m) as DMA memory with known GPAs,
// through /dev/mem. MSI-X table entry v is programmed to write MSI_DATA + v
// into that RAM, which the program polls.
//
// Output: "AGFX-RESULT key=value" lines (read by test/e2e/soft-device.test.ts)
// and "AGFX-FAIL step: message" for every failed check. The last line is
// "AGFX-RESULT <step>=pass|fail"; the exit status is 0 only on pass.
// Every wait is bounded (TIMEOUT_MS), so a broken device fails fast.
//
// Build: aarch64-linux-gnu-gcc (or gcc for x86_64) -std=c11 -static -O2 -Wall -Wextra -I native/include
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------- contract --
#define VENDOR 0x106b
#define DEVICE 0xeeee

// The soft device's registers, opcodes, statuses and limits: the one
// definition, shared with the device (native/include/agfx_soft.h; the build
// passes -I native/include).
#include "agfx_soft.h"

static const char *const status_names[AGFX_SOFT_ST_COUNT] = {
  "OK", "BAD_OPCODE", "BAD_ARGS", "NO_TASK", "TASK_EXISTS", "MAP_FAILED",
  "OUT_OF_RANGE", "NO_DISPLAY", "BAD_MODE", "NO_MEMORY", "NOT_MAPPED",
  "GUEST_MEMORY",
};

#define OUTSIDE_RAM 0x1000000000000ull // 2^48: no RAM there on virt or q35
#if defined(__aarch64__)
#define RAM_BASE 0x40000000ull // virt: RAM starts at 1 GiB
// Linux maps RAM it does not own through /dev/mem as device memory only
// with O_SYNC, which needs aligned accesses (ram_write below keeps to them).
#define DEVMEM_FLAGS (O_RDWR | O_SYNC)
#else
#define RAM_BASE 0x0ull // q35: RAM from 0 (below the PCI hole for the rig's 512 MiB)
// x86: PAT refuses an uncached mapping over RAM (EAGAIN); write-back it is.
#define DEVMEM_FLAGS O_RDWR
#endif
#define MSI_DATA 0xA6F00000u
#define TIMEOUT_MS 2000
#define PAGE 4096u

// Hidden-RAM layout (offsets from the first byte above mem=).
#define OFF_MSIX 0x000000u   // vector v writes MSI_DATA + v at + 4 * v
#define OFF_RING 0x010000u   // up to 256 entries
#define OFF_LIST 0x020000u   // range lists
#define OFF_DATA 0x100000u   // ring: pattern pages (128 KiB)
#define DATA_LEN 0x020000u
#define OFF_FRAME 0x200000u  // 640x480 BGRA (0x12c000)
#define OFF_FRAME2 0x400000u // 320x240 XRGB, padded stride
#define OFF_GLYPH 0x480000u  // 32x32 cursor
#define OFF_IOSFC 0x500000u  // iosfc: 2 pages
#define OFF_RAND 0x600000u   // garbage: random range lists
#define HIDDEN_NEED 0x800000u

// ------------------------------------------------------------------ output --
static const char *step = "init";
static int fails;

static void result(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("AGFX-RESULT %s=", key);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("AGFX-FAIL %s: ", step);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fails++;
}

static void finish(void) {
  result("failures_total", "%d", fails);
  result(step, "%s", fails ? "fail" : "pass");
  fflush(stdout);
  exit(fails ? 1 : 0);
}

// A failure after which the step cannot go on.
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("AGFX-FAIL %s: FATAL: ", step);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fails++;
  finish();
  exit(1);
}

static void check_u64(const char *what, uint64_t got, uint64_t want) {
  if (got != want) fail("%s: got 0x%" PRIx64 ", want 0x%" PRIx64, what, got, want);
}

static const char *sname(uint32_t s) {
  static char buf[4][24];
  static int i;
  if (s < AGFX_SOFT_ST_COUNT) return status_names[s];
  if (s == AGFX_SOFT_ST_PENDING) return "PENDING";
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "UNDEFINED(0x%x)", s);
  return buf[i];
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= AGFX_SOFT_FNV_PRIME;
  }
  return h;
}
#define AGFX_SOFT_FNV_BASIS 0x811C9DC5u

// xorshift64*: reproducible "random" input
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static void barrier(void) {
#if defined(__aarch64__)
  __asm__ volatile("dsb sy" ::: "memory");
#else
  __sync_synchronize();
#endif
}

// ------------------------------------------------------------------ device --
static char devdir[300];
static int cfg_fd = -1;
static volatile uint32_t *bar0, *bar2;
static unsigned msix_cap, nvec;
static uint64_t hidden_gpa; // first byte above mem=
static size_t hidden_size;
static volatile uint8_t *hidden; // /dev/mem mapping (device memory: aligned accesses only)

static uint32_t rd(unsigned off) { return bar0[off / 4]; }
static void wr(unsigned off, uint32_t v) { bar0[off / 4] = v; }
static uint32_t rd2(unsigned off) { return bar2[off / 4]; }
static void wr2(unsigned off, uint32_t v) { bar2[off / 4] = v; }

static int read_file(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

static unsigned long read_hex_file(const char *dir, const char *name) {
  char p[400], b[64];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (read_file(p, b, sizeof b) < 0) return ~0ul;
  return strtoul(b, NULL, 0);
}

static uint32_t cfg_read(unsigned off, unsigned len) {
  uint8_t b[4] = {0};
  if (pread(cfg_fd, b, len, off) != (ssize_t)len) die("config read at 0x%x: %s", off, strerror(errno));
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void cfg_write(unsigned off, unsigned len, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  if (pwrite(cfg_fd, b, len, off) != (ssize_t)len) die("config write at 0x%x: %s", off, strerror(errno));
}

static volatile uint32_t *map_bar(int n, size_t want) {
  char p[400];
  snprintf(p, sizeof p, "%s/resource%d", devdir, n);
  int fd = open(p, O_RDWR | O_SYNC);
  if (fd < 0) die("open %s: %s", p, strerror(errno));
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < (off_t)want) die("%s is %lld bytes, want at least %zu", p, (long long)size, want);
  void *m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap %s: %s", p, strerror(errno));
  close(fd);
  return (volatile uint32_t *)m;
}

static void find_device(void) {
  DIR *d = opendir("/sys/bus/pci/devices");
  if (!d) die("no /sys/bus/pci/devices: %s", strerror(errno));
  struct dirent *e;
  devdir[0] = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[300];
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s", e->d_name);
    if (read_hex_file(p, "vendor") == VENDOR && read_hex_file(p, "device") == DEVICE) {
      snprintf(devdir, sizeof devdir, "%s", p);
      break;
    }
  }
  closedir(d);
  if (!devdir[0]) die("no %04x:%04x PCI device", VENDOR, DEVICE);
  result("bdf", "%s", strrchr(devdir, '/') + 1);
}

// Parse mem= (e.g. 448M) from the kernel command line: RAM above it is ours.
static void map_hidden_ram(void) {
  char cl[4096];
  if (read_file("/proc/cmdline", cl, sizeof cl) < 0) die("cannot read /proc/cmdline");
  uint64_t mem = 0;
  for (char *t = strtok(cl, " \n"); t; t = strtok(NULL, " \n")) {
    if (strncmp(t, "mem=", 4)) continue;
    char *end;
    mem = strtoull(t + 4, &end, 0);
    switch (*end) {
      case 'G': case 'g': mem <<= 30; break;
      case 'M': case 'm': mem <<= 20; break;
      case 'K': case 'k': mem <<= 10; break;
      default: break;
    }
  }
  if (!mem) die("no mem= on the kernel command line: no hidden RAM for DMA (boot with mem= below -m)");
  hidden_gpa = RAM_BASE + mem;
  // Real RAM size from the device tree where there is one (virt: memory@40000000
  // reg, 2 cells addr, 2 cells size); otherwise the runner's default.
  uint64_t total = 0;
  int fd = open("/proc/device-tree/memory@40000000/reg", O_RDONLY);
  if (fd >= 0) {
    uint8_t b[16];
    if (read(fd, b, 16) == 16)
      for (int i = 8; i < 16; i++) total = total << 8 | b[i];
    close(fd);
  }
  if (total <= mem) total = mem + (64u << 20); // the runner's default
  hidden_size = total - mem;
  if (hidden_size > (64u << 20)) hidden_size = 64u << 20;
  if (hidden_size < HIDDEN_NEED) die("only %zu bytes of RAM above mem=, need %u", hidden_size, HIDDEN_NEED);
  fd = open("/dev/mem", DEVMEM_FLAGS);
  if (fd < 0) die("open /dev/mem: %s", strerror(errno));
  void *m = mmap(NULL, hidden_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)hidden_gpa);
  if (m == MAP_FAILED) die("mmap /dev/mem at 0x%" PRIx64 ": %s", hidden_gpa, strerror(errno));
  close(fd);
  hidden = m;
  result("hidden_ram", "0x%" PRIx64 "+0x%zx", hidden_gpa, hidden_size);
}

static uint32_t ram_rd32(uint32_t off) { return *(volatile uint32_t *)(hidden + off); }
static void ram_wr32(uint32_t off, uint32_t v) { *(volatile uint32_t *)(hidden + off) = v; }
static void ram_wr64(uint32_t off, uint64_t v) { *(volatile uint64_t *)(hidden + off) = v; }
static uint64_t gpa(uint32_t off) { return hidden_gpa + off; }

// Copy local bytes into hidden RAM with aligned stores (no memcpy: device memory).
static void ram_write(uint32_t off, const uint8_t *src, size_t len) {
  size_t i = 0;
  if (off % 8 == 0)
    for (; i + 8 <= len; i += 8) {
      uint64_t v;
      memcpy(&v, src + i, 8);
      ram_wr64(off + (uint32_t)i, v);
    }
  for (; i < len; i++) hidden[off + i] = src[i];
}

static void setup(int need_bar2) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  find_device();
  char p[400];
  snprintf(p, sizeof p, "%s/enable", devdir);
  if (read_hex_file(devdir, "enable") != 1) {
    int fd = open(p, O_WRONLY);
    if (fd < 0 || write(fd, "1", 1) != 1) die("enable %s: %s", p, strerror(errno));
    close(fd);
  }
  snprintf(p, sizeof p, "%s/config", devdir);
  cfg_fd = open(p, O_RDWR);
  if (cfg_fd < 0) die("open %s: %s", p, strerror(errno));
  bar0 = map_bar(0, 16384);
  if (need_bar2) bar2 = map_bar(2, 65536);
  else { // optional: the reset step also checks IOSFC mappings when there are some
    char r2[400];
    snprintf(r2, sizeof r2, "%s/resource2", devdir);
    if (access(r2, F_OK) == 0) bar2 = map_bar(2, 65536);
  }
  uint32_t id = rd(AGFX_SOFT_REG_ID);
  result("id", "0x%08x", id);
  if (id != AGFX_SOFT_ID) die("ID register reads 0x%08x, want 0x%08x (BAR0 not decoding?)", id, AGFX_SOFT_ID);
  map_hidden_ram();

  // MSI-X capability
  if (!(cfg_read(6, 2) & 0x10)) die("no capability list");
  unsigned ptr = cfg_read(0x34, 1) & 0xfc;
  for (int n = 0; ptr >= 0x40 && n < 48; n++) {
    if (cfg_read(ptr, 1) == 0x11) { msix_cap = ptr; break; }
    ptr = cfg_read(ptr + 1, 1) & 0xfc;
  }
  if (!msix_cap) die("no MSI-X capability");
  uint32_t ctrl = cfg_read(msix_cap + 2, 2);
  uint32_t table = cfg_read(msix_cap + 4, 4);
  nvec = (ctrl & 0x7ff) + 1;
  if ((table & 7) != 0) die("MSI-X table in BAR%u, want BAR0", table & 7);
  for (unsigned v = 0; v < nvec; v++) {
    uint32_t word = OFF_MSIX + 4 * v;
    ram_wr32(word, 0);
    unsigned e = (table & ~7u) + 16 * v;
    wr(e, (uint32_t)gpa(word));
    wr(e + 4, (uint32_t)(gpa(word) >> 32));
    wr(e + 8, MSI_DATA + v);
    wr(e + 12, 0);
  }
  cfg_write(4, 2, cfg_read(4, 2) | 0x6); // memory decode + bus master
  cfg_write(msix_cap + 2, 2, (ctrl | 0x8000) & ~0x4000u);
  if (!(cfg_read(msix_cap + 2, 2) & 0x8000)) die("MSI-X enable did not stick");
  result("msix_vectors", "%u", nvec);
}

// ------------------------------------------------------------- interrupts --
static void irq_clear(unsigned v) { ram_wr32(OFF_MSIX + 4 * v, 0); barrier(); }
static int irq_seen(unsigned v) { return ram_rd32(OFF_MSIX + 4 * v) == MSI_DATA + v; }
// Wait for one interrupt on vector v; consumes it. 0 on timeout.
static int irq_wait(unsigned v, unsigned ms) {
  uint64_t t0 = now_ms();
  for (;;) {
    if (irq_seen(v)) { irq_clear(v); return 1; }
    if (now_ms() - t0 > ms) return 0;
  }
}

// ------------------------------------------------------------------- ring --
static uint32_t ring_off, ring_entries, ring_tail;
static unsigned n_ok, n_err;
static uint32_t last_err;
static uint32_t base_completed, base_errors;

static void counters_baseline(void) {
  base_completed = rd(AGFX_SOFT_REG_COMPLETED);
  base_errors = rd(AGFX_SOFT_REG_ERRORS);
  n_ok = n_err = 0;
  last_err = 0;
}

static void dump_regs(const char *why) {
  printf("AGFX-INFO %s: STATUS=0x%x HEAD=%u TAIL=%u(driver %u) COMPLETED=%u ERRORS=%u LAST_ERROR=%u IRQ_STATUS=0x%x ID=0x%08x\n",
         why, rd(AGFX_SOFT_REG_STATUS), rd(AGFX_SOFT_REG_RING_HEAD), rd(AGFX_SOFT_REG_RING_TAIL), ring_tail, rd(AGFX_SOFT_REG_COMPLETED), rd(AGFX_SOFT_REG_ERRORS),
         rd(AGFX_SOFT_REG_LAST_ERROR), rd(AGFX_SOFT_REG_IRQ_STATUS), rd(AGFX_SOFT_REG_ID));
}

static void ring_config(uint32_t off, uint32_t entries) {
  for (uint32_t i = 0; i < entries * 64; i += 8) ram_wr64(off + i, 0);
  ring_off = off;
  ring_entries = entries;
  ring_tail = 0;
  barrier();
  wr(AGFX_SOFT_REG_RING_BASE_LO, (uint32_t)gpa(off));
  wr(AGFX_SOFT_REG_RING_BASE_HI, (uint32_t)(gpa(off) >> 32));
  wr(AGFX_SOFT_REG_RING_ENTRIES, entries);
  uint32_t st = rd(AGFX_SOFT_REG_STATUS);
  if (!(st & AGFX_SOFT_STATUS_RING_READY)) {
    dump_regs("after configuring the ring");
    die("RING_READY not set after configuring a ring of %u entries at GPA 0x%" PRIx64 " (STATUS=0x%x, RING_ENTRIES reads %u): "
        "the device has no command ring?", entries, gpa(off), st, rd(AGFX_SOFT_REG_RING_ENTRIES));
  }
  if (st & AGFX_SOFT_STATUS_HALTED) fail("STATUS.HALTED set right after configuring the ring (0x%x)", st);
  check_u64("RING_HEAD after configuring", rd(AGFX_SOFT_REG_RING_HEAD), 0);
  check_u64("RING_TAIL after configuring", rd(AGFX_SOFT_REG_RING_TAIL), 0);
}

static uint32_t entry_off(uint32_t idx) { return ring_off + (idx % ring_entries) * 64; }

static uint32_t ring_put(uint32_t op, uint32_t flags, const uint64_t a[6]) {
  uint32_t idx = ring_tail++;
  uint32_t e = entry_off(idx);
  ram_wr32(e + 0, op);
  ram_wr32(e + 4, flags);
  ram_wr32(e + 8, AGFX_SOFT_ST_PENDING);
  ram_wr32(e + 12, 0);
  for (int i = 0; i < 6; i++) ram_wr64(e + 16 + 8 * i, a[i]);
  return idx;
}

static void ring_kick(uint32_t mode) {
  barrier();
  wr(AGFX_SOFT_REG_RING_TAIL, ring_tail);
  wr(AGFX_SOFT_REG_DOORBELL, mode);
}

static void ring_wait(void) {
  uint64_t t0 = now_ms();
  while (rd(AGFX_SOFT_REG_RING_HEAD) != ring_tail) {
    if (now_ms() - t0 > TIMEOUT_MS) {
      dump_regs("timeout");
      die("ring did not drain within %d ms (HEAD=%u, TAIL=%u)", TIMEOUT_MS, rd(AGFX_SOFT_REG_RING_HEAD), ring_tail);
    }
  }
  barrier();
}

static uint32_t entry_status(uint32_t idx) { return ram_rd32(entry_off(idx) + 8); }
static uint32_t entry_result(uint32_t idx) { return ram_rd32(entry_off(idx) + 12); }

static void account(uint32_t st) {
  if (st == AGFX_SOFT_ST_OK) n_ok++;
  else { n_err++; last_err = st; }
}

// Run one command (sync doorbell) and return its status.
static uint32_t cmd(uint32_t op, const uint64_t a[6], uint32_t *res) {
  uint32_t idx = ring_put(op, 0, a);
  ring_kick(1);
  ring_wait();
  uint32_t st = entry_status(idx);
  if (st == AGFX_SOFT_ST_PENDING) die("command %u (opcode %u): HEAD advanced but status still pending", idx, op);
  if (res) *res = entry_result(idx);
  account(st);
  return st;
}
#define CMD(res, op, ...) cmd((op), (const uint64_t[6]){__VA_ARGS__}, (res))

static uint32_t expect_st(const char *what, uint32_t want, uint32_t got) {
  if (got != want) fail("%s: status %s, want %s", what, sname(got), sname(want));
  return got;
}
#define EXPECT(what, want, op, ...) expect_st((what), (want), CMD(NULL, (op), __VA_ARGS__))
// Result key + check: prints key=STATUSNAME.
#define EXPECT_R(key, want, op, ...) do { \
    uint32_t st_ = CMD(NULL, (op), __VA_ARGS__); \
    result((key), "%s", sname(st_)); \
    expect_st((key), (want), st_); \
  } while (0)

// Write a range list at hidden offset off: n pairs {gpa, len}.
static void put_ranges(uint32_t off, const uint64_t (*r)[2], unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    ram_wr64(off + 16 * i, r[i][0]);
    ram_wr64(off + 16 * i + 8, r[i][1]);
  }
}

static void check_counters(void) {
  uint32_t c = rd(AGFX_SOFT_REG_COMPLETED) - base_completed, e = rd(AGFX_SOFT_REG_ERRORS) - base_errors;
  result("completed", "%u", c);
  result("errors", "%u", e);
  result("completed_expected", "%u", n_ok);
  result("errors_expected", "%u", n_err);
  check_u64("COMPLETED (commands with status OK)", c, n_ok);
  check_u64("ERRORS (commands with an error status)", e, n_err);
  if (n_err) check_u64("LAST_ERROR", rd(AGFX_SOFT_REG_LAST_ERROR), last_err);
}

// N fences, one at a time, each must raise vector 0 exactly once.
static void fences(unsigned n, uint64_t base, const char *key) {
  unsigned got = 0;
  uint64_t last = 0;
  irq_clear(0);
  for (unsigned i = 1; i <= n; i++) {
    last = base + i;
    CMD(NULL, AGFX_SOFT_OP_FENCE, last, 0);
    if (irq_wait(0, TIMEOUT_MS)) got++;
    else fail("FENCE %u: no MSI-X interrupt on vector 0 within %d ms", i, TIMEOUT_MS);
  }
  usleep(50000);
  if (irq_seen(0)) { fail("an extra vector-0 interrupt arrived after %u fences", n); irq_clear(0); }
  char k[64];
  snprintf(k, sizeof k, "%s_irqs", key);
  result(k, "%u", got);
  snprintf(k, sizeof k, "%s_expected", key);
  result(k, "%u", n);
  check_u64("fence interrupts", got, n);
  uint64_t f = (uint64_t)rd(AGFX_SOFT_REG_FENCE_HI) << 32 | rd(AGFX_SOFT_REG_FENCE_LO);
  snprintf(k, sizeof k, "%s_value", key);
  result(k, "0x%" PRIx64, f);
  check_u64("FENCE_HI:FENCE_LO after the last fence", f, last);
}

// ------------------------------------------------------------------ steps --
static void step_ring(void) {
  ring_config(OFF_RING, 64);
  counters_baseline();
  uint32_t st0 = rd(AGFX_SOFT_REG_STATUS);
  if (!(st0 & AGFX_SOFT_STATUS_IDLE)) fail("STATUS.IDLE clear on an empty ring (0x%x)", st0);

  const uint64_t T = 1, TSIZE = 16u << 20;
  EXPECT_R("st_task_create", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, T, TSIZE);
  EXPECT_R("st_task_create_again", AGFX_SOFT_ST_TASK_EXISTS, AGFX_SOFT_OP_TASK_CREATE, T, TSIZE);
  EXPECT_R("st_task_create_id0", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_CREATE, 0, TSIZE);
  EXPECT_R("st_task_create_id64", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_CREATE, 64, TSIZE);
  EXPECT_R("st_task_create_unaligned", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_CREATE, 2, 4096 + 12);
  EXPECT_R("st_task_create_2g", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_CREATE, 2, 2ull << 30);
  EXPECT_R("st_task_create_huge", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_CREATE, 2, 0xFFFFFFFFFFFFF000ull);

  // Pattern pages, local copy first (hidden RAM is device memory).
  static uint8_t data[DATA_LEN];
  for (uint32_t i = 0; i < DATA_LEN; i++) data[i] = (uint8_t)(((i * 2654435761u) >> 13) ^ (i >> 12) ^ 0x5a);
  ram_write(OFF_DATA, data, DATA_LEN);
  // Four ranges, out of order and with gaps, mapped back to back at MAPOFF.
  const uint64_t r[4][2] = {
    {0x0000, 0x3000}, {0x8000, 0x1000}, {0x5000, 0x2000}, {0x10000, 0x4000},
  };
  uint64_t rl[4][2];
  size_t total = 0;
  for (int i = 0; i < 4; i++) { rl[i][0] = gpa(OFF_DATA + (uint32_t)r[i][0]); rl[i][1] = r[i][1]; total += r[i][1]; }
  static uint8_t view[DATA_LEN]; // the task's view, in task order
  size_t pos = 0;
  for (int i = 0; i < 4; i++) { memcpy(view + pos, data + r[i][0], r[i][1]); pos += r[i][1]; }
  put_ranges(OFF_LIST, (const uint64_t(*)[2])rl, 4);
  const uint64_t MAPOFF = 0x10000;
  EXPECT_R("st_task_map", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, MAPOFF, gpa(OFF_LIST), 4, 0);

  uint32_t dev_sum = 0;
  uint32_t want = fnv1a(AGFX_SOFT_FNV_BASIS, view, total);
  uint32_t st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, MAPOFF, total);
  expect_st("CHECKSUM of the mapped ranges", AGFX_SOFT_ST_OK, st);
  result("checksum_guest", "0x%08x", want);
  result("checksum_device", "0x%08x", dev_sum);
  if (dev_sum != want) fail("CHECKSUM through the task: device 0x%08x, guest 0x%08x", dev_sum, want);

  // A sub-range crossing range boundaries, odd start and length.
  size_t so = 0x2800 + 3, sl = 0x1000 + 37 + 0x1800;
  want = fnv1a(AGFX_SOFT_FNV_BASIS, view + so, sl);
  st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, MAPOFF + so, sl);
  expect_st("CHECKSUM across range boundaries", AGFX_SOFT_ST_OK, st);
  result("checksum_cross_guest", "0x%08x", want);
  result("checksum_cross_device", "0x%08x", dev_sum);
  if (dev_sum != want) fail("CHECKSUM across ranges: device 0x%08x, guest 0x%08x", dev_sum, want);

  // Live alias: change one byte of range 1 in guest RAM, checksum again.
  data[0x8000 + 100] ^= 0xff;
  hidden[OFF_DATA + 0x8000 + 100] = data[0x8000 + 100];
  view[0x3000 + 100] = data[0x8000 + 100];
  barrier();
  want = fnv1a(AGFX_SOFT_FNV_BASIS, view, total);
  st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, MAPOFF, total);
  expect_st("CHECKSUM after a guest write", AGFX_SOFT_ST_OK, st);
  result("checksum_live_guest", "0x%08x", want);
  result("checksum_live_device", "0x%08x", dev_sum);
  if (dev_sum != want) fail("CHECKSUM after changing guest RAM: device 0x%08x, guest 0x%08x (a copy, not an alias?)", dev_sum, want);

  // Read-only mapping of the same list elsewhere in the task.
  EXPECT_R("st_task_map_ro", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0x100000, gpa(OFF_LIST), 4, 1);
  st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, 0x100000, total);
  expect_st("CHECKSUM of the read-only mapping", AGFX_SOFT_ST_OK, st);
  if (dev_sum != want) fail("CHECKSUM of the read-only mapping: device 0x%08x, guest 0x%08x", dev_sum, want);

  // Unmap, then the same checksum must fail.
  EXPECT_R("st_task_unmap", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_UNMAP, T, MAPOFF, total);
  EXPECT_R("st_checksum_unmapped", AGFX_SOFT_ST_NOT_MAPPED, AGFX_SOFT_OP_CHECKSUM, T, MAPOFF, total);
  EXPECT_R("st_checksum_partly_unmapped", AGFX_SOFT_ST_NOT_MAPPED, AGFX_SOFT_OP_CHECKSUM, T, 0x100000 + total - 16, 0x20);
  EXPECT_R("st_checksum_never_mapped", AGFX_SOFT_ST_NOT_MAPPED, AGFX_SOFT_OP_CHECKSUM, T, 0x800000, 64);

  // Error cases.
  EXPECT_R("st_bad_opcode", AGFX_SOFT_ST_BAD_OPCODE, 0x1234, 1, 2, 3);
  EXPECT_R("st_bad_opcode_13", AGFX_SOFT_ST_BAD_OPCODE, 13, 0);
  EXPECT_R("st_checksum_no_task", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_CHECKSUM, 42, 0, 16);
  EXPECT_R("st_map_no_task", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_TASK_MAP, 42, 0, gpa(OFF_LIST), 1, 0);
  EXPECT_R("st_destroy_no_task", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_TASK_DESTROY, 42);
  EXPECT_R("st_unmap_no_task", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_TASK_UNMAP, 42, 0, 4096);
  const uint64_t outside[1][2] = {{OUTSIDE_RAM, 0x1000}};
  put_ranges(OFF_LIST + 0x200, outside, 1);
  EXPECT_R("st_map_outside_ram", AGFX_SOFT_ST_MAP_FAILED, AGFX_SOFT_OP_TASK_MAP, T, 0x200000, gpa(OFF_LIST + 0x200), 1, 0);
  // MAP_FAILED keeps the ranges before the bad one mapped.
  const uint64_t partial[2][2] = {{gpa(OFF_DATA), 0x1000}, {OUTSIDE_RAM, 0x1000}};
  put_ranges(OFF_LIST + 0x300, partial, 2);
  EXPECT_R("st_map_partial", AGFX_SOFT_ST_MAP_FAILED, AGFX_SOFT_OP_TASK_MAP, T, 0x300000, gpa(OFF_LIST + 0x300), 2, 0);
  want = fnv1a(AGFX_SOFT_FNV_BASIS, data, 0x1000);
  st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, 0x300000, 0x1000);
  result("st_checksum_partial_first", "%s", sname(st));
  expect_st("CHECKSUM of the range before a MAP_FAILED one", AGFX_SOFT_ST_OK, st);
  if (st == AGFX_SOFT_ST_OK && dev_sum != want) fail("CHECKSUM of the range kept by a failed map: device 0x%08x, guest 0x%08x", dev_sum, want);
  EXPECT_R("st_map_list_outside_ram", AGFX_SOFT_ST_GUEST_MEMORY, AGFX_SOFT_OP_TASK_MAP, T, 0x400000, OUTSIDE_RAM, 1, 0);
  EXPECT_R("st_map_count0", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_MAP, T, 0x400000, gpa(OFF_LIST), 0, 0);
  EXPECT_R("st_map_count257", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_MAP, T, 0x400000, gpa(OFF_LIST), 257, 0);
  EXPECT_R("st_map_offset_unaligned", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_MAP, T, 0x400010, gpa(OFF_LIST), 1, 0);
  const uint64_t unal[1][2] = {{gpa(OFF_DATA) + 0x10, 0x1000}};
  put_ranges(OFF_LIST + 0x400, unal, 1);
  EXPECT_R("st_map_range_unaligned", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_MAP, T, 0x400000, gpa(OFF_LIST + 0x400), 1, 0);
  EXPECT_R("st_map_beyond_task", AGFX_SOFT_ST_OUT_OF_RANGE, AGFX_SOFT_OP_TASK_MAP, T, TSIZE - 0x1000, gpa(OFF_LIST), 1, 0); // range 0 is 3 pages
  EXPECT_R("st_checksum_len0", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_CHECKSUM, T, 0x300000, 0);
  EXPECT_R("st_checksum_huge", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_CHECKSUM, T, 0, (64u << 20) + 1);
  EXPECT_R("st_checksum_beyond_task", AGFX_SOFT_ST_OUT_OF_RANGE, AGFX_SOFT_OP_CHECKSUM, T, TSIZE, 4096);
  EXPECT_R("st_unmap_unaligned", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_TASK_UNMAP, T, 0x300000, 100);

  // Fences and MSI-X.
  fences(16, 0x1234500000000ull, "fence");
  uint32_t irqs = rd(AGFX_SOFT_REG_IRQ_STATUS);
  result("irq_status", "0x%x", irqs);
  if ((irqs & (AGFX_SOFT_IRQ_FENCE | AGFX_SOFT_IRQ_ERROR)) != (AGFX_SOFT_IRQ_FENCE | AGFX_SOFT_IRQ_ERROR)) fail("IRQ_STATUS 0x%x, want FENCE|ERROR set", irqs);
  wr(AGFX_SOFT_REG_IRQ_STATUS, AGFX_SOFT_IRQ_FENCE);
  check_u64("IRQ_STATUS after W1C of FENCE", rd(AGFX_SOFT_REG_IRQ_STATUS) & 3, AGFX_SOFT_IRQ_ERROR);
  wr(AGFX_SOFT_REG_IRQ_STATUS, AGFX_SOFT_IRQ_ERROR);
  check_u64("IRQ_STATUS after W1C of ERROR", rd(AGFX_SOFT_REG_IRQ_STATUS) & 3, 0);

  // Doorbell 0 (async): batch of NOPs and a fence, poll HEAD.
  uint32_t first = ring_tail;
  const uint64_t z[6] = {0};
  for (int i = 0; i < 40; i++) ring_put(AGFX_SOFT_OP_NOP, 0, z);
  const uint64_t fa[6] = {0xA5A5000000000001ull, 0};
  ring_put(AGFX_SOFT_OP_FENCE, 0, fa);
  irq_clear(0);
  uint64_t t0 = now_ms();
  ring_kick(0);
  ring_wait();
  result("doorbell_async_ms", "%" PRIu64, now_ms() - t0);
  int bad = 0;
  for (uint32_t i = first; i != ring_tail; i++) {
    uint32_t s = entry_status(i);
    if (s != AGFX_SOFT_ST_OK) bad++;
    account(s);
  }
  result("doorbell_async_bad", "%d", bad);
  if (bad) fail("async doorbell: %d of %u entries not OK", bad, ring_tail - first);
  if (!irq_wait(0, TIMEOUT_MS)) fail("async doorbell: no interrupt for the batch's FENCE");
  check_u64("FENCE after the async batch", (uint64_t)rd(AGFX_SOFT_REG_FENCE_HI) << 32 | rd(AGFX_SOFT_REG_FENCE_LO), fa[0]);
  uint32_t s = rd(AGFX_SOFT_REG_STATUS);
  if (!(s & AGFX_SOFT_STATUS_IDLE) || (s & AGFX_SOFT_STATUS_BUSY)) fail("STATUS after draining: 0x%x, want IDLE and not BUSY", s);

  // Doorbell 1 (sync): HEAD == TAIL as soon as the write returns.
  first = ring_tail;
  for (int i = 0; i < 40; i++) ring_put(AGFX_SOFT_OP_NOP, 0, z);
  barrier();
  wr(AGFX_SOFT_REG_RING_TAIL, ring_tail);
  wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC);
  uint32_t head = rd(AGFX_SOFT_REG_RING_HEAD);
  result("doorbell_sync_head_lag", "%u", ring_tail - head);
  if (head != ring_tail) {
    fail("sync doorbell: HEAD=%u right after the write, want TAIL=%u", head, ring_tail);
    ring_wait();
  }
  bad = 0;
  for (uint32_t i = first; i != ring_tail; i++) {
    uint32_t x = entry_status(i);
    if (x != AGFX_SOFT_ST_OK) bad++;
    account(x);
  }
  if (bad) fail("sync doorbell: %d entries not OK right after the write", bad);
  result("ring_wrapped", "%u", ring_tail / ring_entries);

  EXPECT_R("st_task_destroy", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_DESTROY, T);
  EXPECT_R("st_checksum_destroyed", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_CHECKSUM, T, 0x100000, 16);
  check_counters();
}

// The daemon coalesces host events that follow each other (consecutive frames
// or cursor moves: latest wins) and logs a frame by reading the current one.
// Pause after each event the test wants to see logged on its own.
static void settle(void) { usleep(100000); }

// Frame pattern: BGRA(x, y, x^y, 0xff).
static void step_present(void) {
  ring_config(OFF_RING, 64);
  counters_baseline();
  result("displays", "%u", rd(AGFX_SOFT_REG_DISPLAYS));
  const uint64_t T = 2;
  EXPECT_R("st_task_create", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, T, 8u << 20);

  // 640x480 BGRA at task offset 0, mapped as two swapped halves.
  const uint32_t W = 640, H = 480, FLEN = W * H * 4, HALF = FLEN / 2; // HALF = 0x96000
  uint8_t *f = malloc(FLEN);
  if (!f) die("out of memory");
  for (uint32_t y = 0; y < H; y++)
    for (uint32_t x = 0; x < W; x++) {
      uint8_t *p = f + (y * W + x) * 4;
      p[0] = (uint8_t)x; p[1] = (uint8_t)y; p[2] = (uint8_t)(x ^ y); p[3] = 0xff;
    }
  uint32_t frame_sum = fnv1a(AGFX_SOFT_FNV_BASIS, f, FLEN);
  ram_write(OFF_FRAME + HALF, f, HALF);       // task [0, HALF) -> second half of the GPA area
  ram_write(OFF_FRAME, f + HALF, HALF);       // task [HALF, FLEN) -> first half
  const uint64_t fr[2][2] = {{gpa(OFF_FRAME + HALF), HALF}, {gpa(OFF_FRAME), HALF}};
  put_ranges(OFF_LIST, fr, 2);
  EXPECT_R("st_map_frame", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0, gpa(OFF_LIST), 2, 1);
  uint32_t dev_sum = 0;
  uint32_t st = CMD(&dev_sum, AGFX_SOFT_OP_CHECKSUM, T, 0, FLEN);
  expect_st("CHECKSUM of the frame", AGFX_SOFT_ST_OK, st);
  result("frame_task_checksum", "0x%08x", dev_sum);
  if (dev_sum != frame_sum) fail("frame CHECKSUM through the task: device 0x%08x, guest 0x%08x", dev_sum, frame_sum);

  EXPECT_R("st_set_mode_640", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_SET_MODE, 0, W, H);
  EXPECT_R("st_set_mode_bad", AGFX_SOFT_ST_BAD_MODE, AGFX_SOFT_OP_SET_MODE, 0, 800, 600);
  EXPECT_R("st_set_mode_no_display", AGFX_SOFT_ST_NO_DISPLAY, AGFX_SOFT_OP_SET_MODE, 3, W, H);
  EXPECT_R("st_present_stride_small", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_PRESENT, 0, T, 0, W * 4 - 4, 0);
  EXPECT_R("st_present_bad_format", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_PRESENT, 0, T, 0, W * 4, 7);
  EXPECT_R("st_present_no_task", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_PRESENT, 0, 9, 0, W * 4, 0);
  EXPECT_R("st_present_unmapped", AGFX_SOFT_ST_NOT_MAPPED, AGFX_SOFT_OP_PRESENT, 0, T, 0x500000, W * 4, 0);
  EXPECT_R("st_present", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, 0, W * 4, 0);
  settle();
  result("frame_size", "%ux%u", W, H);
  result("frame_checksum", "0x%08x", frame_sum);

  // A terminal's scroll: COPY_RECT moves rows 16.. up by 16 inside the
  // display, then a PRESENT with a damage hint (x | y << 16 | w << 32 |
  // h << 48) reads just the new bottom strip from guest memory.
  const uint32_t S = 16;
  EXPECT_R("st_copy_rect_outside", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_COPY_RECT, 0, 0 | S << 16, 0, W | H << 16);
  EXPECT_R("st_copy_rect", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_COPY_RECT, 0, 0 | S << 16, 0, W | (H - S) << 16);
  memmove(f, f + S * W * 4, (H - S) * W * 4);
  uint8_t *strip = f + (H - S) * W * 4;
  for (uint32_t i = 0; i < S * W * 4; i++) strip[i] = (i & 3) == 3 ? 0xff : (uint8_t)(i * 7 + 1);
  ram_write(OFF_FRAME + (H - S) * W * 4 - HALF, strip, S * W * 4);  // task [HALF, FLEN) is the first half
  EXPECT_R("st_present_hint_outside", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_PRESENT, 0, T, 0, W * 4, 0, (uint64_t)(H - S) << 16 | (uint64_t)W << 32 | (uint64_t)(S + 1) << 48);
  EXPECT_R("st_present_hint", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, 0, W * 4, 0, (uint64_t)(H - S) << 16 | (uint64_t)W << 32 | (uint64_t)S << 48);
  settle();
  result("frame3_checksum", "0x%08x", fnv1a(AGFX_SOFT_FNV_BASIS, f, FLEN));
  free(f);

  // 320x240 XRGB8 with a padded stride; alpha 0 in guest memory.
  const uint32_t W2 = 320, H2 = 240, S2 = W2 * 4 + 64, L2 = S2 * H2;
  uint8_t *g = malloc(L2), *stored = malloc(W2 * H2 * 4);
  if (!g || !stored) die("out of memory");
  memset(g, 0xee, L2);
  for (uint32_t y = 0; y < H2; y++)
    for (uint32_t x = 0; x < W2; x++) {
      uint8_t *p = g + y * S2 + x * 4, *q = stored + (y * W2 + x) * 4;
      p[0] = (uint8_t)(x * 3); p[1] = (uint8_t)(y * 5); p[2] = (uint8_t)(x + y); p[3] = 0;
      q[0] = p[0]; q[1] = p[1]; q[2] = p[2]; q[3] = 0xff;
    }
  ram_write(OFF_FRAME2, g, L2);
  const uint64_t fr2[1][2] = {{gpa(OFF_FRAME2), (L2 + PAGE - 1) / PAGE * PAGE}};
  put_ranges(OFF_LIST + 0x100, fr2, 1);
  EXPECT_R("st_map_frame2", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0x200000, gpa(OFF_LIST + 0x100), 1, 0);
  EXPECT_R("st_set_mode_320", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_SET_MODE, 0, W2, H2);
  EXPECT_R("st_present2", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, 0x200000, S2, 1);
  settle();
  result("frame2_size", "%ux%u", W2, H2);
  result("frame2_checksum", "0x%08x", fnv1a(AGFX_SOFT_FNV_BASIS, stored, W2 * H2 * 4));
  free(g);
  free(stored);

  // Cursor: 32x32 BGRA glyph, hotspot (3,5).
  const uint32_t CW = 32, CH = 32, HX = 3, HY = 5;
  uint8_t glyph[32 * 32 * 4];
  for (uint32_t y = 0; y < CH; y++)
    for (uint32_t x = 0; x < CW; x++) {
      uint8_t *p = glyph + (y * CW + x) * 4;
      p[0] = (uint8_t)(x * 7); p[1] = (uint8_t)(y * 11); p[2] = (uint8_t)(x ^ y); p[3] = (x + y < 32) ? 0xff : 0x80;
    }
  ram_write(OFF_GLYPH, glyph, sizeof glyph);
  const uint64_t gr[1][2] = {{gpa(OFF_GLYPH), PAGE}};
  put_ranges(OFF_LIST + 0x200, gr, 1);
  EXPECT_R("st_map_glyph", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0x300000, gpa(OFF_LIST + 0x200), 1, 1);
  EXPECT_R("st_cursor_glyph_bad_size", AGFX_SOFT_ST_BAD_ARGS, AGFX_SOFT_OP_CURSOR_GLYPH, 0, T, 0x300000, 0 | 257u << 16, 0);
  EXPECT_R("st_cursor_glyph", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_GLYPH, 0, T, 0x300000, CW | CH << 16, HX | HY << 16);
  result("cursor_glyph_size", "%ux%u", CW, CH);
  result("cursor_glyph_hot", "%u,%u", HX, HY);
  result("cursor_glyph_checksum", "0x%08x", fnv1a(AGFX_SOFT_FNV_BASIS, glyph, sizeof glyph));
  EXPECT_R("st_cursor_show", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_SHOW, 0, 1);
  result("cursor_show", "1");
  EXPECT_R("st_cursor_move1", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_MOVE, 0, 100, 200);
  settle();
  result("cursor_move1", "100,200");
  EXPECT_R("st_cursor_move2", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_MOVE, 0, 0xffff, 0xffff);
  settle();
  result("cursor_move2", "65535,65535");

  EXPECT_R("st_task_destroy", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_DESTROY, T);
  check_counters();
}

static uint32_t iosfc_cmd(uint32_t command, unsigned *irqs) {
  irq_clear(1);
  wr2(AGFX_SOFT_IOSFC_COMMAND, command);
  if (irq_wait(1, TIMEOUT_MS)) (*irqs)++;
  else fail("IOSFC COMMAND %u: no vector-1 interrupt within %d ms", command, TIMEOUT_MS);
  return rd2(AGFX_SOFT_IOSFC_STATUS);
}

static void step_iosfc(void) {
  if (nvec < 2) die("%u MSI-X vector(s): the IOSFC needs the mmio variant (daemon --variant mmio)", nvec);
  unsigned irqs = 0, cmds = 0;
  uint32_t m0 = rd2(AGFX_SOFT_IOSFC_MAPPED);
  result("iosfc_mapped_initial", "%u", m0);
  check_u64("MAPPED before any map", m0, 0);
  irq_clear(0);

  const uint32_t W1 = 0xC0FFEE01, W2 = 0x5EED0002;
  for (uint32_t i = 0; i < 2 * PAGE; i += 4) ram_wr32(OFF_IOSFC + i, 0x01010101u * (i / 4 % 251));
  ram_wr32(OFF_IOSFC + 8, W1);
  barrier();
  wr2(AGFX_SOFT_IOSFC_GPA_LO, (uint32_t)gpa(OFF_IOSFC));
  wr2(AGFX_SOFT_IOSFC_GPA_HI, (uint32_t)(gpa(OFF_IOSFC) >> 32));
  wr2(AGFX_SOFT_IOSFC_LENGTH, 2 * PAGE);
  uint32_t st = iosfc_cmd(AGFX_SOFT_IOSFC_MAP_RO, &irqs); cmds++;
  uint32_t h1 = rd2(AGFX_SOFT_IOSFC_HANDLE);
  result("iosfc_map_status", "%s", sname(st));
  result("iosfc_handle", "%u", h1);
  expect_st("IOSFC map read-only", AGFX_SOFT_ST_OK, st);
  if (h1 == 0 || h1 > 65535) fail("HANDLE after a map: %u, want 1..65535", h1);
  result("iosfc_mapped", "%u", rd2(AGFX_SOFT_IOSFC_MAPPED));
  check_u64("MAPPED after one map", rd2(AGFX_SOFT_IOSFC_MAPPED), 1);

  wr2(AGFX_SOFT_IOSFC_PEEK_OFFSET, 8);
  uint32_t p = rd2(AGFX_SOFT_IOSFC_PEEK_DATA);
  result("iosfc_peek1", "0x%08x", p);
  check_u64("PEEK_DATA at offset 8", p, W1);
  ram_wr32(OFF_IOSFC + 8, W2);
  barrier();
  p = rd2(AGFX_SOFT_IOSFC_PEEK_DATA);
  result("iosfc_peek2", "0x%08x", p);
  check_u64("PEEK_DATA after changing guest RAM (live alias)", p, W2);
  wr2(AGFX_SOFT_IOSFC_PEEK_OFFSET, PAGE + 0x40);
  check_u64("PEEK_DATA in the second page", rd2(AGFX_SOFT_IOSFC_PEEK_DATA), ram_rd32(OFF_IOSFC + PAGE + 0x40));
  wr2(AGFX_SOFT_IOSFC_PEEK_OFFSET, 2 * PAGE);
  p = rd2(AGFX_SOFT_IOSFC_PEEK_DATA);
  result("iosfc_peek_out_of_range", "0x%08x", p);
  check_u64("PEEK_DATA past the mapping", p, 0xFFFFFFFF);

  // A second, read-write mapping of one page.
  wr2(AGFX_SOFT_IOSFC_LENGTH, PAGE);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_MAP_RW, &irqs); cmds++;
  uint32_t h2 = rd2(AGFX_SOFT_IOSFC_HANDLE);
  expect_st("IOSFC map read-write", AGFX_SOFT_ST_OK, st);
  if (h2 == 0 || h2 == h1) fail("second handle %u (first %u)", h2, h1);
  check_u64("MAPPED after two maps", rd2(AGFX_SOFT_IOSFC_MAPPED), 2);
  wr2(AGFX_SOFT_IOSFC_PEEK_OFFSET, 8);
  check_u64("PEEK_DATA through the second mapping", rd2(AGFX_SOFT_IOSFC_PEEK_DATA), W2);

  // Outside guest RAM.
  wr2(AGFX_SOFT_IOSFC_GPA_LO, (uint32_t)OUTSIDE_RAM);
  wr2(AGFX_SOFT_IOSFC_GPA_HI, (uint32_t)(OUTSIDE_RAM >> 32));
  wr2(AGFX_SOFT_IOSFC_LENGTH, PAGE);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_MAP_RO, &irqs); cmds++;
  result("iosfc_map_outside_status", "%s", sname(st));
  result("iosfc_map_outside_handle", "%u", rd2(AGFX_SOFT_IOSFC_HANDLE));
  expect_st("IOSFC map outside RAM", AGFX_SOFT_ST_MAP_FAILED, st);
  check_u64("HANDLE after a failed map", rd2(AGFX_SOFT_IOSFC_HANDLE), 0);
  check_u64("MAPPED after a failed map", rd2(AGFX_SOFT_IOSFC_MAPPED), 2);
  // Length 0.
  wr2(AGFX_SOFT_IOSFC_GPA_LO, (uint32_t)gpa(OFF_IOSFC));
  wr2(AGFX_SOFT_IOSFC_GPA_HI, (uint32_t)(gpa(OFF_IOSFC) >> 32));
  wr2(AGFX_SOFT_IOSFC_LENGTH, 0);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_MAP_RO, &irqs); cmds++;
  result("iosfc_map_len0_status", "%s", sname(st));
  expect_st("IOSFC map of length 0", AGFX_SOFT_ST_BAD_ARGS, st);

  // Unmap both, then unknown handles.
  wr2(AGFX_SOFT_IOSFC_HANDLE, h1);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_UNMAP, &irqs); cmds++;
  result("iosfc_unmap_status", "%s", sname(st));
  expect_st("IOSFC unmap", AGFX_SOFT_ST_OK, st);
  check_u64("MAPPED after unmapping the first", rd2(AGFX_SOFT_IOSFC_MAPPED), 1);
  wr2(AGFX_SOFT_IOSFC_HANDLE, h2);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_UNMAP, &irqs); cmds++;
  expect_st("IOSFC unmap of the second", AGFX_SOFT_ST_OK, st);
  result("iosfc_mapped_final", "%u", rd2(AGFX_SOFT_IOSFC_MAPPED));
  check_u64("MAPPED after unmapping both", rd2(AGFX_SOFT_IOSFC_MAPPED), 0);
  wr2(AGFX_SOFT_IOSFC_HANDLE, h1);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_UNMAP, &irqs); cmds++;
  result("iosfc_unmap_again_status", "%s", sname(st));
  expect_st("IOSFC unmap of a released handle", AGFX_SOFT_ST_BAD_ARGS, st);
  wr2(AGFX_SOFT_IOSFC_HANDLE, 0xBEEF);
  st = iosfc_cmd(AGFX_SOFT_IOSFC_UNMAP, &irqs); cmds++;
  result("iosfc_unmap_unknown_status", "%s", sname(st));
  expect_st("IOSFC unmap of an unknown handle", AGFX_SOFT_ST_BAD_ARGS, st);
  st = iosfc_cmd(77, &irqs); cmds++; // unknown command: any defined status, still one interrupt
  result("iosfc_bad_command_status", "%s", sname(st));
  if (st >= AGFX_SOFT_ST_COUNT || st == AGFX_SOFT_ST_OK) fail("IOSFC unknown COMMAND: status %s, want an error code", sname(st));

  usleep(50000);
  if (irq_seen(1)) fail("extra vector-1 interrupt after %u commands", cmds);
  if (irq_seen(0)) fail("vector-0 interrupt during IOSFC commands");
  result("iosfc_irqs", "%u", irqs);
  result("iosfc_commands", "%u", cmds);
  check_u64("vector-1 interrupts (one per COMMAND)", irqs, cmds);
}

// Memory the VMM maps for the device without an fd: on q35 the std VGA's
// BAR0 (video RAM QEMU keeps private; ROM and flash likewise). Every use of
// it is refused with its documented status, never served (the daemon cannot
// reach it without DMA_READ/WRITE, docs/design.md invariant 3); the daemon
// logs one line naming it. Needs a std VGA (1234:1111) with memory decode on.
// ------------------------------------------------------------------ ports
// The display port registers (interface 1.1) as a driver uses them: each
// port's attached state and mode list (preferred first) and its current
// mode; DISPLAY_CHANGED after a device reset (every attached port); the
// change interrupt on vector 0 through MSI-X when enabled with bits pending.
static void step_ports(void) {
  check_u64("VERSION minor (display port registers)", rd(AGFX_SOFT_REG_VERSION) & 0xffff, AGFX_SOFT_VERSION & 0xffff);
  wr(AGFX_SOFT_REG_CONTROL, AGFX_SOFT_CONTROL_RESET);
  uint32_t changed = rd(AGFX_SOFT_REG_DISPLAY_CHANGED);
  result("ports_changed_after_reset", "0x%x", changed);
  char k[64];
  for (uint32_t p = 0; p < AGFX_SOFT_PORTS; p++) {
    wr(AGFX_SOFT_REG_PORT_SELECT, p);
    uint32_t gen = rd(AGFX_SOFT_REG_PORT_GENERATION);
    int attached = (rd(AGFX_SOFT_REG_PORT_STATUS) & AGFX_SOFT_PORT_ATTACHED) != 0;
    uint32_t n = rd(AGFX_SOFT_REG_PORT_MODE_COUNT);
    char list[256] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < n && used < sizeof list - 32; i++) {
      wr(AGFX_SOFT_REG_PORT_MODE_INDEX, i);
      uint32_t size = rd(AGFX_SOFT_REG_PORT_MODE_SIZE), rate = rd(AGFX_SOFT_REG_PORT_MODE_RATE);
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%ux%u@%u", i ? "," : "", AGFX_SOFT_SIZE_WIDTH(size), AGFX_SOFT_SIZE_HEIGHT(size), rate / 1000);
    }
    uint32_t cur = rd(AGFX_SOFT_REG_PORT_CURRENT);
    if (rd(AGFX_SOFT_REG_PORT_GENERATION) != gen) fail("port %u changed while it was read", p);
    snprintf(k, sizeof k, "port%u", p);
    result(k, "%s %s current %ux%u", attached ? "attached" : "empty", n ? list : "-", AGFX_SOFT_SIZE_WIDTH(cur), AGFX_SOFT_SIZE_HEIGHT(cur));
  }
  // Enabling the interrupt with changes pending raises vector 0 at once.
  irq_clear(0);
  wr(AGFX_SOFT_REG_DISPLAY_IRQ, AGFX_SOFT_DISPLAY_IRQ_ENABLE);
  result("ports_irq", "%d", irq_wait(0, 2000));
  wr(AGFX_SOFT_REG_DISPLAY_CHANGED, changed);
  result("ports_changed_cleared", "0x%x", rd(AGFX_SOFT_REG_DISPLAY_CHANGED));
  wr(AGFX_SOFT_REG_DISPLAY_IRQ, 0);
}

static void step_fdless(void) {
  char vga[300] = "";
  DIR *d = opendir("/sys/bus/pci/devices");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char p[300];
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s", e->d_name);
    if (e->d_name[0] != '.' && read_hex_file(p, "vendor") == 0x1234 && read_hex_file(p, "device") == 0x1111) {
      snprintf(vga, sizeof vga, "%s", p);
      break;
    }
  }
  if (d) closedir(d);
  if (!vga[0]) die("no std VGA (1234:1111): no memory the VMM maps without an fd");
  char p[400], line[200];
  snprintf(p, sizeof p, "%s/resource", vga);
  if (read_file(p, line, sizeof line) < 0) die("cannot read %s", p);
  uint64_t start = strtoull(line, NULL, 0), end = strtoull(strchr(line, ' ') ? strchr(line, ' ') + 1 : line, NULL, 0);
  if (!start || end <= start) die("VGA BAR0 not assigned (%s)", line);
  snprintf(p, sizeof p, "%s/config", vga);
  int fd = open(p, O_RDONLY);
  uint8_t cmdreg[2] = {0};
  if (fd < 0 || pread(fd, cmdreg, 2, 4) != 2) die("cannot read %s", p);
  close(fd);
  if (!(cmdreg[0] & 2)) die("VGA memory decode is off: QEMU has not mapped its BAR0");
  result("fdless_gpa", "0x%" PRIx64, start);
  result("fdless_size", "0x%" PRIx64, end - start + 1);

  counters_baseline();
  ring_config(OFF_RING, 64);
  enum { T = 9 };
  EXPECT_R("st_fdless_task_create", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, T, 0x100000);
  const uint64_t r1[1][2] = {{start + 0x10000, 2 * PAGE}};
  put_ranges(OFF_LIST, r1, 1);
  EXPECT_R("st_fdless_task_map", AGFX_SOFT_ST_MAP_FAILED, AGFX_SOFT_OP_TASK_MAP, T, 0, gpa(OFF_LIST), 1, 0);
  for (int i = 0; i < 5; i++) EXPECT("task map into it again", AGFX_SOFT_ST_MAP_FAILED, AGFX_SOFT_OP_TASK_MAP, T, 0, gpa(OFF_LIST), 1, 1);
  EXPECT_R("st_fdless_list", AGFX_SOFT_ST_GUEST_MEMORY, AGFX_SOFT_OP_TASK_MAP, T, 0, start + 0x20000, 1, 0);
  EXPECT_R("st_fdless_checksum", AGFX_SOFT_ST_NOT_MAPPED, AGFX_SOFT_OP_CHECKSUM, T, 0, 64);
  EXPECT_R("st_fdless_task_destroy", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_DESTROY, T);
  check_counters();

  // A command ring there is not taken.
  wr(AGFX_SOFT_REG_RING_BASE_LO, (uint32_t)start);
  wr(AGFX_SOFT_REG_RING_BASE_HI, (uint32_t)(start >> 32));
  wr(AGFX_SOFT_REG_RING_ENTRIES, 64);
  uint32_t st = rd(AGFX_SOFT_REG_STATUS);
  result("fdless_ring_ready", "%u", st & AGFX_SOFT_STATUS_RING_READY);
  check_u64("RING_READY with the ring in VGA memory", st & AGFX_SOFT_STATUS_RING_READY, 0);

  if (bar2) { // the IOSFC (variant mmio)
    unsigned irqs = 0;
    wr2(AGFX_SOFT_IOSFC_GPA_LO, (uint32_t)start);
    wr2(AGFX_SOFT_IOSFC_GPA_HI, (uint32_t)(start >> 32));
    wr2(AGFX_SOFT_IOSFC_LENGTH, PAGE);
    st = iosfc_cmd(1, &irqs);
    result("st_fdless_iosfc_map", "%s", sname(st));
    expect_st("IOSFC map of VGA memory", AGFX_SOFT_ST_MAP_FAILED, st);
    check_u64("IOSFC HANDLE after the refused map", rd2(AGFX_SOFT_IOSFC_HANDLE), 0);
  }
  ring_config(OFF_RING, 64); // and the device works on
  counters_baseline();
  fences(2, 0xfd1e55000ull, "fdless_fence");
}

static void step_reset(void) {
  ring_config(OFF_RING, 16);
  const uint64_t T = 3;
  EXPECT("TASK_CREATE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, T, 1u << 20);
  const uint64_t r[1][2] = {{gpa(OFF_DATA), PAGE}};
  put_ranges(OFF_LIST, r, 1);
  EXPECT("TASK_MAP", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0, gpa(OFF_LIST), 1, 0);
  EXPECT("bad opcode", AGFX_SOFT_ST_BAD_OPCODE, 99, 0);
  irq_clear(0);
  EXPECT("FENCE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_FENCE, 0x77, 0);
  if (!irq_wait(0, TIMEOUT_MS)) fail("no interrupt for the FENCE before the reset");
  wr(AGFX_SOFT_REG_SCRATCH, 0xDEADBEEF);
  // Leave pending, unsubmitted work: TAIL ahead of HEAD without a doorbell.
  const uint64_t z[6] = {0};
  ring_put(AGFX_SOFT_OP_NOP, 0, z);
  barrier();
  wr(AGFX_SOFT_REG_RING_TAIL, ring_tail);
  if (rd(AGFX_SOFT_REG_COMPLETED) == 0 || rd(AGFX_SOFT_REG_FENCE_LO) != 0x77) fail("setup before reset did not take (COMPLETED=%u FENCE_LO=0x%x)", rd(AGFX_SOFT_REG_COMPLETED), rd(AGFX_SOFT_REG_FENCE_LO));

  unsigned iosfc_irqs = 0;
  if (bar2 && nvec >= 2) { // a live IOSFC mapping, released by the reset
    wr2(AGFX_SOFT_IOSFC_GPA_LO, (uint32_t)gpa(OFF_IOSFC));
    wr2(AGFX_SOFT_IOSFC_GPA_HI, (uint32_t)(gpa(OFF_IOSFC) >> 32));
    wr2(AGFX_SOFT_IOSFC_LENGTH, PAGE);
    expect_st("IOSFC map before the reset", AGFX_SOFT_ST_OK, iosfc_cmd(2, &iosfc_irqs));
    if (rd2(AGFX_SOFT_IOSFC_MAPPED) == 0) fail("IOSFC MAPPED 0 after a map");
  }

  wr(AGFX_SOFT_REG_CONTROL, 1);
  if (bar2 && nvec >= 2) {
    result("after_reset_iosfc_mapped", "%u", rd2(AGFX_SOFT_IOSFC_MAPPED));
    check_u64("IOSFC MAPPED after CONTROL=1", rd2(AGFX_SOFT_IOSFC_MAPPED), 0);
  }
  struct { const char *name; unsigned off; } regs[] = {
    {"status", AGFX_SOFT_REG_STATUS}, {"ring_head", AGFX_SOFT_REG_RING_HEAD}, {"ring_tail", AGFX_SOFT_REG_RING_TAIL},
    {"ring_base_lo", AGFX_SOFT_REG_RING_BASE_LO}, {"ring_base_hi", AGFX_SOFT_REG_RING_BASE_HI}, {"ring_entries", AGFX_SOFT_REG_RING_ENTRIES},
    {"fence_lo", AGFX_SOFT_REG_FENCE_LO}, {"fence_hi", AGFX_SOFT_REG_FENCE_HI}, {"completed", AGFX_SOFT_REG_COMPLETED}, {"errors", AGFX_SOFT_REG_ERRORS},
    {"irq_status", AGFX_SOFT_REG_IRQ_STATUS}, {"scratch", AGFX_SOFT_REG_SCRATCH},
  };
  for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
    uint32_t v = rd(regs[i].off);
    char k[64], w[64];
    snprintf(k, sizeof k, "after_reset_%s", regs[i].name);
    result(k, "0x%x", v);
    snprintf(w, sizeof w, "%s after CONTROL=1", regs[i].name);
    // STATUS: the table's reset value is 0, but IDLE is defined as
    // head == tail, which holds (0 == 0): accept IDLE, nothing else.
    check_u64(w, regs[i].off == AGFX_SOFT_REG_STATUS ? (v & ~(uint32_t)AGFX_SOFT_STATUS_IDLE) : v, 0);
  }
  result("after_reset_last_error", "0x%x", rd(AGFX_SOFT_REG_LAST_ERROR));
  check_u64("ID after reset", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
  check_u64("DISPLAYS after reset", rd(AGFX_SOFT_REG_DISPLAYS), 4);
  // CONTROL=1 is a device reset, not a PCI DEVICE_RESET: config space stays.
  uint32_t mc = cfg_read(msix_cap + 2, 2), cmdreg = cfg_read(4, 2);
  result("after_reset_msix_enabled", "%u", mc >> 15 & 1);
  result("after_reset_bus_master", "%u", cmdreg >> 2 & 1);
  if (!(mc & 0x8000) || !(cmdreg & 0x4)) {
    fail("config space changed by CONTROL=1 (MSI-X control 0x%x, command 0x%x); re-enabling", mc, cmdreg);
    cfg_write(4, 2, cmdreg | 0x6);
    cfg_write(msix_cap + 2, 2, (mc | 0x8000) & ~0x4000u);
  }

  ring_config(OFF_RING + 0x2000, 32);
  counters_baseline();
  EXPECT_R("st_after_reset_task_gone", AGFX_SOFT_ST_NO_TASK, AGFX_SOFT_OP_CHECKSUM, T, 0, 16);
  fences(3, 0x900000000ull, "after_reset_fence");
  check_counters();
}

static void step_garbage(void) {
  char k[64];
  uint32_t st;
  result("seed", "0x%" PRIx64, rng_state);
  // Register-level abuse.
  wr(AGFX_SOFT_REG_SCRATCH, 0x600DF00D);
  wr(AGFX_SOFT_REG_ID, 0x12345678);
  uint32_t version = rd(AGFX_SOFT_REG_VERSION);
  check_u64("VERSION major", version >> 16, AGFX_SOFT_VERSION >> 16);
  wr(AGFX_SOFT_REG_VERSION, 0);
  check_u64("ID after a write", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
  check_u64("VERSION after a write", rd(AGFX_SOFT_REG_VERSION), version);
  wr(AGFX_SOFT_REG_CONTROL, 2); // guest error, no reset
  check_u64("SCRATCH after CONTROL=2 (must not reset)", rd(AGFX_SOFT_REG_SCRATCH), 0x600DF00D);
  irq_clear(0);
  wr(AGFX_SOFT_REG_IRQ_TEST, 9); // out of range: raises nothing
  usleep(20000);
  if (irq_seen(0)) { fail("IRQ_TEST with vector 9 raised vector 0"); irq_clear(0); }
  check_u64("IRQ_TEST read (vectors)", rd(AGFX_SOFT_REG_IRQ_TEST), nvec);
  const unsigned unassigned[] = {0x1050, 0x1100, 0x1ffc, 0x2000, 0x3ffc};
  for (size_t i = 0; i < sizeof unassigned / sizeof unassigned[0]; i++) {
    wr(unassigned[i], 0xFFFFFFFF);
    snprintf(k, sizeof k, "unassigned register 0x%x", unassigned[i]);
    check_u64(k, rd(unassigned[i]), 0);
  }
  // Doorbell and tail without a ring.
  wr(AGFX_SOFT_REG_RING_ENTRIES, 0);
  wr(AGFX_SOFT_REG_RING_TAIL, 5);
  wr(AGFX_SOFT_REG_DOORBELL, 0);
  wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC);
  wr(AGFX_SOFT_REG_DOORBELL, 0x77);
  check_u64("ID after doorbells without a ring", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);

  // Invalid rings.
  struct { const char *name; uint64_t base; uint32_t entries; } bad[] = {
    {"outside_ram", OUTSIDE_RAM, 16},
    {"unaligned", gpa(OFF_RING) + 0x40, 16},
    {"not_pow2", gpa(OFF_RING), 3},
    {"too_many", gpa(OFF_RING), 8192},
    {"past_ram_end", gpa((uint32_t)hidden_size - 0x400), 64},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    wr(AGFX_SOFT_REG_RING_BASE_LO, (uint32_t)bad[i].base);
    wr(AGFX_SOFT_REG_RING_BASE_HI, (uint32_t)(bad[i].base >> 32));
    wr(AGFX_SOFT_REG_RING_ENTRIES, bad[i].entries);
    uint32_t s = rd(AGFX_SOFT_REG_STATUS);
    snprintf(k, sizeof k, "bad_ring_%s_ready", bad[i].name);
    result(k, "%u", s & AGFX_SOFT_STATUS_RING_READY);
    if (s & AGFX_SOFT_STATUS_RING_READY) fail("ring %s (base 0x%" PRIx64 ", %u entries) accepted: STATUS=0x%x", bad[i].name, bad[i].base, bad[i].entries, s);
    wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC);
    check_u64("ID after a doorbell on an invalid ring", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
  }

  // Tail beyond head: HALTED.
  ring_config(OFF_RING, 16);
  counters_baseline();
  wr(AGFX_SOFT_REG_RING_TAIL, 1000);
  wr(AGFX_SOFT_REG_DOORBELL, 0);
  uint64_t t0 = now_ms();
  uint32_t s;
  while (!((s = rd(AGFX_SOFT_REG_STATUS)) & AGFX_SOFT_STATUS_HALTED) && now_ms() - t0 < TIMEOUT_MS) {}
  result("halted_status", "0x%x", s);
  if (!(s & AGFX_SOFT_STATUS_HALTED)) fail("TAIL=1000 with 16 entries: STATUS=0x%x, want HALTED", s);
  check_u64("ID while halted", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
  wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC); // must return although the ring is halted
  check_u64("ID after a doorbell while halted", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
  ring_config(OFF_RING, 16); // clears HALTED (checked inside)
  s = rd(AGFX_SOFT_REG_STATUS);
  result("halted_cleared", "%u", !(s & AGFX_SOFT_STATUS_HALTED));
  // Same with TAIL just one past the limit.
  wr(AGFX_SOFT_REG_RING_TAIL, 17);
  wr(AGFX_SOFT_REG_DOORBELL, AGFX_SOFT_DOORBELL_SYNC);
  t0 = now_ms();
  while (!((s = rd(AGFX_SOFT_REG_STATUS)) & AGFX_SOFT_STATUS_HALTED) && now_ms() - t0 < TIMEOUT_MS) {}
  if (!(s & AGFX_SOFT_STATUS_HALTED)) fail("TAIL=17 with 16 entries: STATUS=0x%x, want HALTED", s);
  ring_config(OFF_RING, 16);
  EXPECT("NOP after re-configuring a halted ring", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_NOP, 0);

  // Random commands: 200 entries in batches, both doorbell modes.
  ring_config(OFF_RING, 256);
  counters_baseline();
  for (uint32_t i = 0; i < PAGE; i += 8) ram_wr64(OFF_RAND + i, (rng() & 1) ? rng() : (gpa(OFF_DATA) + (rng() % 64) * PAGE) | ((rng() & 3) ? 0 : rng() % PAGE));
  // Real tasks with real mappings, so random commands reach deeper paths.
  const uint64_t gr[2][2] = {{gpa(OFF_DATA), 0x8000}, {gpa(OFF_FRAME), 0x130000}};
  put_ranges(OFF_LIST, gr, 2);
  for (uint64_t t = 1; t <= 4; t++) {
    EXPECT("TASK_CREATE before the random commands", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, t, 8u << 20);
    EXPECT("TASK_MAP before the random commands", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, t, 0, gpa(OFF_LIST), 2, t & 1);
  }
  EXPECT("SET_MODE before the random commands", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_SET_MODE, 0, 320, 240);
  unsigned counts[AGFX_SOFT_ST_COUNT] = {0}, undefined = 0;
  for (int batch = 0; batch < 4; batch++) {
    uint32_t first = ring_tail;
    for (int i = 0; i < 50; i++) {
      uint64_t r0 = rng();
      uint32_t op = (r0 & 7) ? (uint32_t)(r0 >> 8) % 13 : (uint32_t)(r0 >> 8);
      uint32_t flags = (rng() % 8 == 0) ? (uint32_t)rng() : 0;
      uint64_t a[6];
      for (int j = 0; j < 6; j++) {
        uint64_t x = rng();
        switch (x % 9) {
          case 0: a[j] = 0; break;
          case 1: a[j] = (x >> 8) % 8; break;
          case 2: a[j] = (x >> 8) % 70; break;
          case 3: a[j] = ((x >> 8) % 0x10000) << 12; break;
          case 4: a[j] = gpa(OFF_RAND) + ((x >> 8) % 256) * 16; break;
          case 5: a[j] = x; break;
          case 6: a[j] = ~0ull; break;
          case 7: a[j] = (x >> 8) % 4096; break;
          default: a[j] = ((x >> 8) % 1024) | ((x >> 20) % 1024) << 16; break;
        }
      }
      if (rng() % 2) a[0] = rng() % 6;         // task ids / ports that exist, mostly
      if (op == AGFX_SOFT_OP_FENCE) a[1] &= 1; // keep fences on real vectors
      ring_put(op, flags, a);
    }
    ring_kick(batch & 1);
    ring_wait();
    for (uint32_t i = first; i != ring_tail; i++) {
      st = entry_status(i);
      if (st < AGFX_SOFT_ST_COUNT) counts[st]++;
      else { undefined++; fail("random entry %u: status 0x%x is not a defined code", i, st); }
      if (st != AGFX_SOFT_ST_PENDING) account(st);
    }
  }
  for (int c = 0; c < AGFX_SOFT_ST_COUNT; c++) {
    snprintf(k, sizeof k, "random_%s", status_names[c]);
    result(k, "%u", counts[c]);
  }
  result("random_undefined", "%u", undefined);
  check_u64("random entries with an undefined status", undefined, 0);
  check_u64("STATUS.HALTED after random commands", rd(AGFX_SOFT_REG_STATUS) & AGFX_SOFT_STATUS_HALTED, 0);
  check_counters();

  // Clean up whatever the random commands created, then a fence must complete.
  counters_baseline();
  for (uint64_t t = 1; t <= 63; t++) {
    st = CMD(NULL, AGFX_SOFT_OP_TASK_DESTROY, t);
    if (st != AGFX_SOFT_ST_OK && st != AGFX_SOFT_ST_NO_TASK) fail("TASK_DESTROY %" PRIu64 ": %s", t, sname(st));
  }
  wr(AGFX_SOFT_REG_IRQ_STATUS, 3);
  fences(1, 0xF1F0000000000000ull, "final_fence");
  check_u64("ID at the end", rd(AGFX_SOFT_REG_ID), AGFX_SOFT_ID);
}


// ---------------------------------------------------------------- demo
// Drives the device like a tiny compositor for people to watch (npm run
// demo): bars scrolling left, a bouncing square, a cursor circling. Like a
// real compositor it tells the device what changed: each frame is a
// COPY_RECT (the bars move 4 pixels left) and two PRESENTs with damage hints
// (the new strip on the right, the square's old and new place), so viewers
// get a CopyRect and two small rectangles instead of the whole screen.
// Modes: the display's preferred mode, read from the display port registers
// (interface 1.1, docs/soft-device.md); it tours the first two listed modes,
// one every 10 s, until the mode list changes (a viewer's resize, `ctl
// display modes`); from then on it follows the preferred mode.
#define OFF_DEMO 0x1000000u // two buffers of DEMO_BUF bytes
#define DEMO_BUF 0x800000u  // 1920x1080 BGRA fits
#define DEMO_MAX_W 1920u
#define DEMO_MAX_H 1080u
#define DEMO_MIN_W 160u
#define DEMO_MIN_H 120u
#define DEMO_SQUARE 80u
#define DEMO_SCROLL 4u
// Draws frame t; returns its FNV-1a and where the square is.
static uint32_t draw_demo(uint32_t off, uint32_t w, uint32_t h, uint32_t t, uint32_t *sq_x, uint32_t *sq_y) {
  static uint8_t row[DEMO_MAX_W * 4];
  uint32_t sum = AGFX_SOFT_FNV_BASIS;
  uint32_t bx = (t * 7) % (w - DEMO_SQUARE), by = (t * 5) % (h - DEMO_SQUARE);
  if ((t / ((w - DEMO_SQUARE) / 7)) & 1) bx = w - DEMO_SQUARE - bx;
  if ((t / ((h - DEMO_SQUARE) / 5)) & 1) by = h - DEMO_SQUARE - by;
  *sq_x = bx;
  *sq_y = by;
  for (uint32_t y = 0; y < h; y++) {
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *p = row + x * 4;
      uint32_t band = ((x + t * DEMO_SCROLL) / 40) % 6;
      static const uint8_t pal[6][3] = {{40, 40, 200}, {40, 160, 220}, {60, 200, 80}, {220, 200, 40}, {230, 120, 40}, {200, 50, 120}};
      uint32_t shade = 128 + (y * 127) / h;
      p[0] = (uint8_t)(pal[band][0] * shade / 255);
      p[1] = (uint8_t)(pal[band][1] * shade / 255);
      p[2] = (uint8_t)(pal[band][2] * shade / 255);
      p[3] = 0xff;
      if (x >= bx && x < bx + DEMO_SQUARE && y >= by && y < by + DEMO_SQUARE) { p[0] = 250; p[1] = 250; p[2] = 250; }
    }
    ram_write(off + y * w * 4, row, w * 4);
    sum = fnv1a(sum, row, w * 4);
  }
  return sum;
}

static uint64_t hint(uint32_t x, uint32_t y, uint32_t w, uint32_t h) {
  return (uint64_t)x | (uint64_t)y << 16 | (uint64_t)w << 32 | (uint64_t)h << 48;
}

// Port 0's usable modes from the display port registers, preferred first:
// the first two the demo can draw (DEMO_MIN..DEMO_MAX) into `out`; returns
// how many (0: none usable, `out` unchanged). The list is read whole: again
// if PORT_GENERATION moved meanwhile.
static unsigned demo_modes(uint32_t out[2][2]) {
  wr(AGFX_SOFT_REG_PORT_SELECT, 0);
  for (int tries = 0; tries < 16; tries++) {
    uint32_t gen = rd(AGFX_SOFT_REG_PORT_GENERATION), got[2][2], n = 0;
    uint32_t count = (rd(AGFX_SOFT_REG_PORT_STATUS) & AGFX_SOFT_PORT_ATTACHED) ? rd(AGFX_SOFT_REG_PORT_MODE_COUNT) : 0;
    for (uint32_t i = 0; i < count && n < 2; i++) {
      wr(AGFX_SOFT_REG_PORT_MODE_INDEX, i);
      uint32_t size = rd(AGFX_SOFT_REG_PORT_MODE_SIZE), w = AGFX_SOFT_SIZE_WIDTH(size), h = AGFX_SOFT_SIZE_HEIGHT(size);
      if (w < DEMO_MIN_W || h < DEMO_MIN_H || w > DEMO_MAX_W || h > DEMO_MAX_H) continue;
      got[n][0] = w;
      got[n][1] = h;
      n++;
    }
    if (rd(AGFX_SOFT_REG_PORT_GENERATION) != gen) continue;
    for (uint32_t i = 0; i < n; i++) out[i][0] = got[i][0], out[i][1] = got[i][1];
    return n;
  }
  return 0;
}

static void step_demo(unsigned seconds) {
  ring_config(OFF_RING, 64);
  const uint64_t T = 3;
  if (hidden_size < OFF_DEMO + 2 * DEMO_BUF) die("the demo needs %u bytes of RAM above mem=", OFF_DEMO + 2 * DEMO_BUF);
  EXPECT("TASK_CREATE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_CREATE, T, 32u << 20);
  const uint64_t fr[2][2] = {{gpa(OFF_DEMO), DEMO_BUF}, {gpa(OFF_DEMO + DEMO_BUF), DEMO_BUF}};
  put_ranges(OFF_LIST, fr, 1);
  EXPECT("TASK_MAP buffer 0", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 0, gpa(OFF_LIST), 1, 1);
  put_ranges(OFF_LIST + 0x100, &fr[1], 1);
  EXPECT("TASK_MAP buffer 1", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, DEMO_BUF, gpa(OFF_LIST + 0x100), 1, 1);
  // A 16x16 arrow cursor, hot spot at its tip.
  uint8_t glyph[16 * 16 * 4];
  for (uint32_t y = 0; y < 16; y++)
    for (uint32_t x = 0; x < 16; x++) {
      uint8_t *p = glyph + (y * 16 + x) * 4;
      int inside = x <= y && x + y / 2 < 14, edge = inside && (x == 0 || x == y || x + y / 2 == 13);
      p[0] = p[1] = p[2] = edge ? 0 : 255;
      p[3] = inside ? 255 : 0;
    }
  ram_write(OFF_GLYPH, glyph, sizeof glyph);
  const uint64_t gr[1][2] = {{gpa(OFF_GLYPH), PAGE}};
  put_ranges(OFF_LIST + 0x200, gr, 1);
  EXPECT("TASK_MAP glyph", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_TASK_MAP, T, 2 * DEMO_BUF, gpa(OFF_LIST + 0x200), 1, 1);
  EXPECT("CURSOR_GLYPH", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_GLYPH, 0, T, 2 * DEMO_BUF, 16 | 16u << 16, 0);
  EXPECT("CURSOR_SHOW", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_SHOW, 0, 1);
  uint32_t modes[2][2] = {{800, 600}, {640, 480}};
  const int have_ports = (rd(AGFX_SOFT_REG_VERSION) & 0xffff) >= 1;  // interface 1.1: the display port registers
  if (have_ports) wr(AGFX_SOFT_REG_DISPLAY_CHANGED, 1);  // cleared before reading: a change after it is seen below
  unsigned tour = have_ports ? demo_modes(modes) : 2;
  result("demo_modes_from_device", "%d", have_ports);
  unsigned mode = 0, frames = 0, follows = 0;
  int fresh = 1;  // the device's frame is not the previous one: present it whole
  uint32_t sq_x = 0, sq_y = 0, last_sum = 0;
  uint64_t start = now_ms(), last_mode = start, last_report = start;
  EXPECT("SET_MODE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_SET_MODE, 0, modes[0][0], modes[0][1]);
  printf("AGFX-DEMO starts in %ux%u\n", modes[0][0], modes[0][1]);
  for (uint32_t t = 0;; t++) {
    uint64_t now = now_ms();
    if (seconds && now - start >= seconds * 1000ull) break;
    if (have_ports && (rd(AGFX_SOFT_REG_DISPLAY_CHANGED) & 1)) {
      // A new mode list (or the display re-plugged): follow its preferred mode from now on.
      wr(AGFX_SOFT_REG_DISPLAY_CHANGED, 1);
      uint32_t was[2] = {modes[mode][0], modes[mode][1]};
      if (demo_modes(modes) > 0) {
        tour = 1;
        mode = 0;
        if (modes[0][0] != was[0] || modes[0][1] != was[1]) {
          uint32_t st = CMD(NULL, AGFX_SOFT_OP_SET_MODE, 0, modes[0][0], modes[0][1]);
          if (st == AGFX_SOFT_ST_OK) {
            follows++;
            printf("AGFX-DEMO follows the preferred mode %ux%u\n", modes[0][0], modes[0][1]);
            fflush(stdout);
            fresh = 1;
          } else {
            // Changed again meanwhile: the next change bit says so.
            modes[0][0] = was[0];
            modes[0][1] = was[1];
          }
        }
      } else {
        modes[0][0] = was[0];
        modes[0][1] = was[1];
        mode = 0;
        tour = 1;
      }
    }
    if (tour > 1 && now - last_mode >= 10000) {
      mode ^= 1;
      last_mode = now;
      EXPECT("SET_MODE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_SET_MODE, 0, modes[mode][0], modes[mode][1]);
      printf("AGFX-DEMO mode %ux%u\n", modes[mode][0], modes[mode][1]);
      fresh = 1;
    }
    uint32_t w = modes[mode][0], h = modes[mode][1], buf = t & 1, px, py;
    last_sum = draw_demo(OFF_DEMO + buf * DEMO_BUF, w, h, t, &px, &py);
    if (fresh) {
      EXPECT("PRESENT", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, buf * DEMO_BUF, w * 4, 0);
      fresh = 0;
    } else {
      // The bars moved left: the device moves what it has, then reads only
      // the new strip and the square's old (moved along) and new place.
      EXPECT("COPY_RECT", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_COPY_RECT, 0, DEMO_SCROLL, 0, (w - DEMO_SCROLL) | h << 16);
      EXPECT("PRESENT strip", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, buf * DEMO_BUF, w * 4, 0, hint(w - DEMO_SCROLL, 0, DEMO_SCROLL, h));
      uint32_t ox = sq_x >= DEMO_SCROLL ? sq_x - DEMO_SCROLL : 0;
      uint32_t x0 = ox < px ? ox : px, y0 = sq_y < py ? sq_y : py;
      uint32_t x1 = sq_x + DEMO_SQUARE > px + DEMO_SQUARE ? sq_x + DEMO_SQUARE : px + DEMO_SQUARE;
      uint32_t y1 = sq_y + DEMO_SQUARE > py + DEMO_SQUARE ? sq_y + DEMO_SQUARE : py + DEMO_SQUARE;
      if (x1 > w) x1 = w;
      if (y1 > h) y1 = h;
      EXPECT("PRESENT square", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_PRESENT, 0, T, buf * DEMO_BUF, w * 4, 0, hint(x0, y0, x1 - x0, y1 - y0));
    }
    sq_x = px;
    sq_y = py;
    double a = t * 0.15;
    EXPECT("CURSOR_MOVE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_CURSOR_MOVE, 0, (uint32_t)(w / 2 + (w / 3) * cos(a)), (uint32_t)(h / 2 + (h / 3) * sin(a)));
    EXPECT("FENCE", AGFX_SOFT_ST_OK, AGFX_SOFT_OP_FENCE, t, 0);
    frames++;
    if (now - last_report >= 5000) {
      printf("AGFX-DEMO %u frames, %.1f fps\n", frames, frames * 1000.0 / (double)(now - start));
      fflush(stdout);
      last_report = now;
    }
  }
  settle();
  result("demo_frames", "%u", frames);
  result("demo_last_size", "%ux%u", modes[mode][0], modes[mode][1]);
  result("demo_last_checksum", "0x%08x", last_sum);
  result("demo_follows", "%u", follows);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s ring|present|iosfc|reset|garbage|fdless|ports [seed] | demo [seconds]\n", argv[0]);
    return 2;
  }
  step = argv[1];
  if (!strcmp(step, "demo")) {
    printf("AGFX-STEP demo: start\n");
    setup(0);
    step_demo(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 0);
    finish();
  }
  if (argc > 2) rng_state = strtoull(argv[2], NULL, 0) | 1;
  void (*fn)(void) = NULL;
  if (!strcmp(step, "ring")) fn = step_ring;
  else if (!strcmp(step, "present")) fn = step_present;
  else if (!strcmp(step, "iosfc")) fn = step_iosfc;
  else if (!strcmp(step, "reset")) fn = step_reset;
  else if (!strcmp(step, "garbage")) fn = step_garbage;
  else if (!strcmp(step, "fdless")) fn = step_fdless;
  else if (!strcmp(step, "ports")) fn = step_ports;
  else {
    fprintf(stderr, "soft-driver: unknown step %s\n", step);
    return 2;
  }
  uint64_t t0 = now_ms();
  printf("AGFX-STEP %s: start\n", step);
  setup(fn == step_iosfc);
  fn();
  char k[64];
  snprintf(k, sizeof k, "%s_ms", step);
  result(k, "%" PRIu64, now_ms() - t0);
  finish();
}
