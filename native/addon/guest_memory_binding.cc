// JS bindings of the guest-memory table (core/guest_memory.h): DMA_MAP and
// DMA_UNMAP land here, on the JS thread.
#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "core/guest_memory.h"

namespace agfx {

namespace {

// gmMap(gpa, size, fd, fdOffset, writable): on success the table owns fd.
Napi::Value GmMap(const Napi::CallbackInfo& info) {
  int err = GuestMemory::Instance().Map(ArgU64(info[0]), ArgU64(info[1]), ArgI32(info[2]), ArgU64(info[3]),
                                        info[4].ToBoolean());
  if (err) ThrowErrno(info.Env(), err, "guest memory map");
  return info.Env().Undefined();
}

// gmMapUnreachable(gpa, size): a range mapped without an fd.
Napi::Value GmMapUnreachable(const Napi::CallbackInfo& info) {
  int err = GuestMemory::Instance().MapUnreachable(ArgU64(info[0]), ArgU64(info[1]));
  if (err) ThrowErrno(info.Env(), err, "guest memory map (no fd)");
  return info.Env().Undefined();
}

// Returns {taskAliasesCut, reachable, refusedUses}.
Napi::Value GmUnmap(const Napi::CallbackInfo& info) {
  size_t invalidated = 0;
  uint64_t refused = 0;
  bool reachable = true;
  int err = GuestMemory::Instance().Unmap(ArgU64(info[0]), ArgU64(info[1]), &invalidated, &refused, &reachable);
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
  uint64_t gpa = ArgU64(info[0]);
  uint32_t len = ArgU32(info[1]);
  auto buf = Napi::Buffer<uint8_t>::New(info.Env(), len);
  if (!GuestMemory::Instance().Read(gpa, buf.Data(), len))
    ThrowErrno(info.Env(), EFAULT, "guest memory read outside shared guest RAM");
  return buf;
}

Napi::Value GmWrite(const Napi::CallbackInfo& info) {
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  if (!GuestMemory::Instance().Write(ArgU64(info[0]), buf.Data(), buf.Length()))
    ThrowErrno(info.Env(), EFAULT, "guest memory write outside writable shared guest RAM");
  return info.Env().Undefined();
}

}  // namespace

void InitGuestMemory(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "gmMap", GmMap);
  Export(env, exports, "gmMapUnreachable", GmMapUnreachable);
  Export(env, exports, "gmUnmap", GmUnmap);
  Export(env, exports, "gmListUnreachable", GmListUnreachable);
  Export(env, exports, "gmUnmapAll", GmUnmapAll);
  Export(env, exports, "gmList", GmList);
  Export(env, exports, "gmRead", GmRead);
  Export(env, exports, "gmWrite", GmWrite);
}

}  // namespace agfx
