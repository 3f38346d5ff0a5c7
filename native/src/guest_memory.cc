#include "guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "errors.h"
#include "host/task_memory.h"

namespace agfx {

namespace {
constexpr uint64_t kPage = 4096;
constexpr size_t kMaxRegions = 4096;
}  // namespace

GuestRegion::~GuestRegion() {
  ::munmap(host, size);
  ::close(fd);
}

GuestMemory& GuestMemory::Instance() {
  static GuestMemory instance;
  return instance;
}

int GuestMemory::Map(uint64_t gpa, uint64_t size, int fd, uint64_t fd_offset, bool writable) {
  if (size == 0 || (gpa | size | fd_offset) % kPage != 0) return EINVAL;
  if (gpa + size < gpa || fd_offset + size < fd_offset) return EINVAL;
  // A mapping past the end of the file faults (SIGBUS) on first touch, so the
  // file must really hold the whole range.
  struct stat st;
  if (::fstat(fd, &st) < 0) return EBADF;
  if (!S_ISREG(st.st_mode)) return EINVAL;
  if (static_cast<uint64_t>(st.st_size) < fd_offset + size) return EINVAL;

  std::unique_lock lock(mu_);
  if (regions_.size() + unreachable_.size() >= kMaxRegions) return ENOSPC;
  if (OverlapsLocked(gpa, size)) return EEXIST;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* host = ::mmap(nullptr, size, prot, MAP_SHARED, fd, static_cast<off_t>(fd_offset));
  if (host == MAP_FAILED) return errno;
  regions_.emplace(gpa, std::make_shared<const GuestRegion>(gpa, size, fd_offset, static_cast<uint8_t*>(host), fd, writable));
  return 0;
}

// Whether [gpa, gpa+size) meets any range of either kind (size > 0, no wrap).
bool GuestMemory::OverlapsLocked(uint64_t gpa, uint64_t size) const {
  auto meets = [&](const auto& table, auto size_of) {
    auto next = table.lower_bound(gpa);
    if (next != table.end() && next->first < gpa + size) return true;
    if (next == table.begin()) return false;
    auto prev = std::prev(next);
    return prev->first + size_of(prev->second) > gpa;
  };
  return meets(regions_, [](const RegionRef& r) { return r->size; }) ||
         meets(unreachable_, [](const UnreachableRange& r) { return r.size; });
}

int GuestMemory::MapUnreachable(uint64_t gpa, uint64_t size) {
  if (size == 0 || (gpa | size) % kPage != 0 || gpa + size < gpa) return EINVAL;
  std::unique_lock lock(mu_);
  if (regions_.size() + unreachable_.size() >= kMaxRegions) return ENOSPC;
  if (OverlapsLocked(gpa, size)) return EEXIST;
  unreachable_.try_emplace(gpa, size);
  return 0;
}

bool GuestMemory::NoteUnreachable(uint64_t gpa, uint64_t len, UnreachableHit* hit) const {
  uint64_t end = gpa + std::max<uint64_t>(len, 1);
  if (end < gpa) end = UINT64_MAX;
  std::shared_lock lock(mu_);
  auto it = unreachable_.upper_bound(gpa);
  if (it != unreachable_.begin() && std::prev(it)->first + std::prev(it)->second.size > gpa) --it;
  if (it == unreachable_.end() || it->first >= end) return false;
  hit->gpa = it->first;
  hit->size = it->second.size;
  hit->first = it->second.refused.fetch_add(1, std::memory_order_relaxed) == 0;
  return true;
}

std::vector<std::array<uint64_t, 3>> GuestMemory::UnreachableSnapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::array<uint64_t, 3>> out;
  for (auto& [gpa, r] : unreachable_) out.push_back({gpa, r.size, r.refused.load(std::memory_order_relaxed)});
  return out;
}

int GuestMemory::Unmap(uint64_t gpa, uint64_t size, size_t* invalidated, uint64_t* refused, bool* reachable) {
  if (invalidated) *invalidated = 0;
  if (refused) *refused = 0;
  {
    std::unique_lock lock(mu_);
    auto it = regions_.find(gpa);
    if (it == regions_.end() || it->second->size != size) {
      // Not a reachable region: maybe one QEMU mapped without an fd.
      auto u = unreachable_.find(gpa);
      if (u == unreachable_.end() || u->second.size != size) return ENOENT;
      if (refused) *refused = u->second.refused.load(std::memory_order_relaxed);
      if (reachable) *reachable = false;
      unreachable_.erase(u);
      return 0;  // nothing ever reached it: no task alias to cut
    }
    if (reachable) *reachable = true;
    regions_.erase(it);  // the mmap goes when the last IOSFC reference does
  }
  // Task aliases of this memory hold the file; stop the device from using it.
  size_t n = TaskMemory::Instance().InvalidateGuestRange(gpa, size);
  if (invalidated) *invalidated = n;
  return 0;
}

size_t GuestMemory::UnmapAll() {
  std::map<uint64_t, RegionRef> old;
  size_t unreachable = 0;
  {
    std::unique_lock lock(mu_);
    old.swap(regions_);
    unreachable = unreachable_.size();
    unreachable_.clear();
  }
  for (auto& [gpa, r] : old) TaskMemory::Instance().InvalidateGuestRange(gpa, r->size);
  return old.size() + unreachable;
}

RegionRef GuestMemory::Find(uint64_t gpa, uint64_t len) const {
  if (gpa + len < gpa) return nullptr;
  std::shared_lock lock(mu_);
  auto it = regions_.upper_bound(gpa);
  if (it == regions_.begin()) return nullptr;
  const RegionRef& r = std::prev(it)->second;
  return r->Contains(gpa, len) ? r : nullptr;
}

// Copies go through process_vm_readv/writev on our own process rather than
// memcpy: if the VMM shrank the shared file after DMA_MAP, touching the
// mapping past its end would raise SIGBUS; the kernel copy fails with EFAULT.
static bool SafeCopy(void* dst, const void* src, uint64_t len, bool to_guest) {
  uint64_t done = 0;
  while (done < len) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(len - done, 16u << 20));
    iovec local{(to_guest ? const_cast<void*>(src) : dst), chunk};
    iovec remote{(to_guest ? dst : const_cast<void*>(src)), chunk};
    local.iov_base = static_cast<uint8_t*>(local.iov_base) + done;
    remote.iov_base = static_cast<uint8_t*>(remote.iov_base) + done;
    ssize_t n = to_guest ? ::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0)
                         : ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
    if (n != static_cast<ssize_t>(chunk)) return false;
    done += chunk;
  }
  return true;
}

bool GuestMemory::Read(uint64_t gpa, void* dst, uint64_t len) const {
  RegionRef r = Find(gpa, len);
  if (!r) return false;
  if (len == 0) return true;  // dst may be null: no copy of nothing
  return SafeCopy(dst, r->host + (gpa - r->gpa), len, false);
}

bool GuestMemory::Write(uint64_t gpa, const void* src, uint64_t len) const {
  RegionRef r = Find(gpa, len);
  if (!r || !r->writable) return false;
  if (len == 0) return true;
  return SafeCopy(r->host + (gpa - r->gpa), src, len, true);
}

std::vector<RegionRef> GuestMemory::Snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<RegionRef> out;
  for (auto& [gpa, r] : regions_) out.push_back(r);
  return out;
}

// ------------------------------------------------------------- JS bindings

namespace {

uint64_t U64(const Napi::Value& v) {
  bool lossless = true;
  if (v.IsBigInt()) return v.As<Napi::BigInt>().Uint64Value(&lossless);
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

// gmMap(gpa, size, fd, fdOffset, writable): on success the table owns fd.
Napi::Value GmMap(const Napi::CallbackInfo& info) {
  int err = GuestMemory::Instance().Map(U64(info[0]), U64(info[1]),
                                        info[2].As<Napi::Number>().Int32Value(), U64(info[3]),
                                        info[4].ToBoolean());
  if (err) ThrowErrno(info.Env(), err, "guest memory map");
  return info.Env().Undefined();
}

// gmMapUnreachable(gpa, size): a range mapped without an fd.
Napi::Value GmMapUnreachable(const Napi::CallbackInfo& info) {
  int err = GuestMemory::Instance().MapUnreachable(U64(info[0]), U64(info[1]));
  if (err) ThrowErrno(info.Env(), err, "guest memory map (no fd)");
  return info.Env().Undefined();
}

// Returns {taskAliasesCut, reachable, refusedUses}.
Napi::Value GmUnmap(const Napi::CallbackInfo& info) {
  size_t invalidated = 0;
  uint64_t refused = 0;
  bool reachable = true;
  int err = GuestMemory::Instance().Unmap(U64(info[0]), U64(info[1]), &invalidated, &refused, &reachable);
  if (err) ThrowErrno(info.Env(), err, "guest memory unmap");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("taskAliasesCut", double(invalidated));
  o.Set("reachable", reachable);
  o.Set("refusedUses", double(refused));
  return o;
}

// [{gpa, size, refusedUses}] of the ranges mapped without an fd.
Napi::Value GmListUnreachable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto ranges = GuestMemory::Instance().UnreachableSnapshot();
  Napi::Array out = Napi::Array::New(env, ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("gpa", Napi::BigInt::New(env, ranges[i][0]));
    o.Set("size", Napi::BigInt::New(env, ranges[i][1]));
    o.Set("refusedUses", double(ranges[i][2]));
    out.Set(i, o);
  }
  return out;
}

Napi::Value GmUnmapAll(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GuestMemory::Instance().UnmapAll()));
}

Napi::Value GmList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto regions = GuestMemory::Instance().Snapshot();
  Napi::Array out = Napi::Array::New(env, regions.size());
  for (size_t i = 0; i < regions.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("gpa", Napi::BigInt::New(env, regions[i]->gpa));
    o.Set("size", Napi::BigInt::New(env, regions[i]->size));
    o.Set("fdOffset", Napi::BigInt::New(env, regions[i]->fd_offset));
    o.Set("writable", Napi::Boolean::New(env, regions[i]->writable));
    out.Set(i, o);
  }
  return out;
}

Napi::Value GmRead(const Napi::CallbackInfo& info) {
  uint64_t gpa = U64(info[0]);
  uint32_t len = info[1].As<Napi::Number>().Uint32Value();
  auto buf = Napi::Buffer<uint8_t>::New(info.Env(), len);
  if (!GuestMemory::Instance().Read(gpa, buf.Data(), len))
    ThrowErrno(info.Env(), EFAULT, "guest memory read outside shared guest RAM");
  return buf;
}

Napi::Value GmWrite(const Napi::CallbackInfo& info) {
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  if (!GuestMemory::Instance().Write(U64(info[0]), buf.Data(), buf.Length()))
    ThrowErrno(info.Env(), EFAULT, "guest memory write outside writable shared guest RAM");
  return info.Env().Undefined();
}

}  // namespace

void InitGuestMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("gmMap", Napi::Function::New(env, GmMap));
  exports.Set("gmMapUnreachable", Napi::Function::New(env, GmMapUnreachable));
  exports.Set("gmUnmap", Napi::Function::New(env, GmUnmap));
  exports.Set("gmListUnreachable", Napi::Function::New(env, GmListUnreachable));
  exports.Set("gmUnmapAll", Napi::Function::New(env, GmUnmapAll));
  exports.Set("gmList", Napi::Function::New(env, GmList));
  exports.Set("gmRead", Napi::Function::New(env, GmRead));
  exports.Set("gmWrite", Napi::Function::New(env, GmWrite));
}

}  // namespace agfx
