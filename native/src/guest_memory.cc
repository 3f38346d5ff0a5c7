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
  if (regions_.size() >= kMaxRegions) return ENOSPC;
  auto next = regions_.lower_bound(gpa);
  if (next != regions_.end() && next->first < gpa + size) return EEXIST;
  if (next != regions_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second->size > gpa) return EEXIST;
  }
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* host = ::mmap(nullptr, size, prot, MAP_SHARED, fd, static_cast<off_t>(fd_offset));
  if (host == MAP_FAILED) return errno;
  regions_.emplace(gpa, std::make_shared<const GuestRegion>(gpa, size, fd_offset, static_cast<uint8_t*>(host), fd, writable));
  return 0;
}

int GuestMemory::Unmap(uint64_t gpa, uint64_t size, size_t* invalidated) {
  {
    std::unique_lock lock(mu_);
    auto it = regions_.find(gpa);
    if (it == regions_.end() || it->second->size != size) return ENOENT;
    regions_.erase(it);  // the mmap goes when the last IOSFC reference does
  }
  // Task aliases of this memory hold the file; stop the device from using it.
  size_t n = TaskMemory::Instance().InvalidateGuestRange(gpa, size);
  if (invalidated) *invalidated = n;
  return 0;
}

size_t GuestMemory::UnmapAll() {
  std::map<uint64_t, RegionRef> old;
  {
    std::unique_lock lock(mu_);
    old.swap(regions_);
  }
  for (auto& [gpa, r] : old) TaskMemory::Instance().InvalidateGuestRange(gpa, r->size);
  return old.size();
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

// Returns the number of task aliases that had to be cut.
Napi::Value GmUnmap(const Napi::CallbackInfo& info) {
  size_t invalidated = 0;
  int err = GuestMemory::Instance().Unmap(U64(info[0]), U64(info[1]), &invalidated);
  if (err) ThrowErrno(info.Env(), err, "guest memory unmap");
  return Napi::Number::New(info.Env(), double(invalidated));
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
  exports.Set("gmUnmap", Napi::Function::New(env, GmUnmap));
  exports.Set("gmUnmapAll", Napi::Function::New(env, GmUnmapAll));
  exports.Set("gmList", Napi::Function::New(env, GmList));
  exports.Set("gmRead", Napi::Function::New(env, GmRead));
  exports.Set("gmWrite", Napi::Function::New(env, GmWrite));
}

}  // namespace agfx
