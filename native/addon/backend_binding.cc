// JS binding of a backend instance: the daemon's device model calls MMIO,
// reset and display operations here; backend events come back through the
// HostEventBridge's threadsafe function (addon/host_events.h).
//
// Threading: the short calls (displays, read-outs, cursor, memory map) run on
// the JS thread and call straight into the backend. That is safe because every
// host service the backend may need while serving them (memory, tasks,
// interrupts, events) completes natively without the JS thread (docs/design.md
// invariant 1); the JS thread only waits for the backend, never the other way
// round. The long calls (reset, save/restore, set_running, guest_memory_gone:
// PVG's finishSuspend, device swaps, render waits) run on a thread of their
// own and settle a promise (docs/design.md, "Long backend calls"): while one
// is under way every other call from JS is refused with EBUSY, so calls other
// than MMIO still never overlap one another. Guest MMIO does not come through
// here in the daemon: each client's data-plane thread calls
// mmio_read/mmio_write through BackendMmio, concurrently with these calls.
#include <dlfcn.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "addon/bindings.h"
#include "addon/dataplane_binding.h"
#include "addon/host_events.h"
#include "addon/napi_util.h"
#include "agfx_backend.h"
#include "core/host/backend_host.h"
#include "core/host/iosfc_map.h"
#include "core/host/task_memory.h"
#include "platform/platform.h"
#include "soft/backend.h"

#if AGFX_HAVE_PVG
// The pvg backend is built on macOS only (binding.gyp: agfx_pvg, AGFX_HAVE_PVG).
extern "C" const agfx_backend* agfx_pvg_backend(void);
extern "C" bool agfx_pvg_write_option_rom(const char* path, char* err, size_t err_len);
#endif

namespace agfx {

namespace {

// Fields appended to agfx_backend since version 1's first release (from
// update_frame on) are optional: a library built against an older header
// has a smaller struct_size and simply lacks them.
constexpr size_t kBackendV1Size = offsetof(agfx_backend, update_frame);

template <typename Field>
bool Offers(const agfx_backend* b, Field agfx_backend::*field) {
  const agfx_backend probe{};
  size_t end = size_t(reinterpret_cast<const char*>(&(probe.*field)) - reinterpret_cast<const char*>(&probe)) + sizeof(Field);
  return b->struct_size >= end && b->*field != nullptr;
}

const agfx_backend* LoadLibraryBackend(Napi::Env env, const std::string& path, void** handle) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) ThrowErrno(env, ENOENT, std::string("cannot load backend library: ") + ::dlerror());
  auto entry = reinterpret_cast<agfx_backend_entry_fn>(::dlsym(h, AGFX_BACKEND_ENTRY_SYMBOL));
  const agfx_backend* b = entry ? entry() : nullptr;
  std::string problem;
  if (!entry) problem = std::string("it does not export ") + AGFX_BACKEND_ENTRY_SYMBOL;
  else if (!b) problem = std::string(AGFX_BACKEND_ENTRY_SYMBOL) + "() returned NULL";
  else if (b->abi_version != AGFX_BACKEND_ABI_VERSION)
    problem = "it implements backend ABI version " + std::to_string(b->abi_version) + ", this daemon speaks " +
              std::to_string(AGFX_BACKEND_ABI_VERSION);
  else if (b->struct_size < kBackendV1Size)
    problem = "its agfx_backend struct is smaller than ABI version 1's";
  if (!problem.empty()) {
    ::dlclose(h);
    ThrowErrno(env, EINVAL, "backend library " + path + " refused: " + problem);
  }
  *handle = h;
  return b;
}

std::vector<agfx_display_mode> ModesFrom(Napi::Env env, Napi::Value v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<agfx_display_mode> modes;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Object m = a.Get(i).As<Napi::Object>();
    modes.push_back(agfx_display_mode{static_cast<uint16_t>(m.Get("width").As<Napi::Number>().Uint32Value()),
                                      static_cast<uint16_t>(m.Get("height").As<Napi::Number>().Uint32Value()),
                                      static_cast<uint32_t>(m.Get("refreshHz").As<Napi::Number>().DoubleValue() * 1000)});
  }
  return modes;
}

}  // namespace

// One backend device and what it needs, shared by the JS Backend object and
// the data planes that call its MMIO: the last owner to let go destroys it
// (once, on its own thread), so a data-plane thread in the middle of an mmio
// call never sees it freed, and the JS thread never waits for that call to
// finish (docs/design.md invariant 1).
struct BackendInstance {
  const agfx_backend* backend = nullptr;
  agfx_device* dev = nullptr;
  HostEventBridge* host = nullptr;
  ~BackendInstance() {
    if (dev) backend->destroy(dev);  // joins the backend's threads
    if (host) host->Release();  // only now: no thread can post events any more
    // Tasks and IOSFC references the backend leaked die with it.
    TaskMemory::Instance().DestroyAll();
    IosfcMappings::Instance().ReleaseAll();
  }
};

namespace {
class BackendMmio : public MmioTarget {
 public:
  explicit BackendMmio(std::shared_ptr<BackendInstance> b) : b_(std::move(b)) {}
  uint32_t Read(uint32_t region, uint64_t offset) override { return b_->backend->mmio_read(b_->dev, region, offset); }
  void Write(uint32_t region, uint64_t offset, uint32_t value) override {
    b_->backend->mmio_write(b_->dev, region, offset, value);
  }
  bool Read64(uint32_t region, uint64_t offset, uint64_t* value) override {
    if (!Offers(b_->backend, &agfx_backend::mmio_read64)) return false;
    *value = b_->backend->mmio_read64(b_->dev, region, offset);
    return true;
  }
  bool Write64(uint32_t region, uint64_t offset, uint64_t value) override {
    if (!Offers(b_->backend, &agfx_backend::mmio_write64)) return false;
    b_->backend->mmio_write64(b_->dev, region, offset, value);
    return true;
  }

 private:
  std::shared_ptr<BackendInstance> b_;
};
Napi::FunctionReference* backend_ctor = nullptr;  // the Backend class (one per process)
}  // namespace

class Backend : public Napi::ObjectWrap<Backend> {
 public:
  // For a data plane: the device's MMIO, holding a share of it.
  std::shared_ptr<MmioTarget> Mmio(Napi::Env env) {
    if (!instance_) ThrowErrno(env, ENODEV, "backend destroyed");
    return std::make_shared<BackendMmio>(instance_);
  }

  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Backend",
                       {InstanceMethod("mmioRead", &Backend::MmioRead), InstanceMethod("mmioWrite", &Backend::MmioWrite),
                        InstanceMethod("mmioRead64", &Backend::MmioRead64), InstanceMethod("mmioWrite64", &Backend::MmioWrite64),
                        InstanceMethod("regionSize", &Backend::RegionSize),
                        InstanceMethod("attachDisplay", &Backend::AttachDisplay),
                        InstanceMethod("setModes", &Backend::SetModes), InstanceMethod("detachDisplay", &Backend::DetachDisplay),
                        InstanceMethod("readFrame", &Backend::ReadFrame),
                        InstanceMethod("updateFrame", &Backend::UpdateFrame),
                        InstanceAccessor("tracksDamage", &Backend::TracksDamage, nullptr),
                        InstanceMethod("cursorPosition", &Backend::CursorPosition),
                        InstanceMethod("memoryMapChanged", &Backend::MemoryMapChanged),
                        InstanceMethod("resetAsync", &Backend::ResetAsync),
                        InstanceMethod("saveStateAsync", &Backend::SaveStateAsync),
                        InstanceMethod("restoreStateAsync", &Backend::RestoreStateAsync),
                        InstanceMethod("setRunningAsync", &Backend::SetRunningAsync),
                        InstanceMethod("guestMemoryGoneAsync", &Backend::GuestMemoryGoneAsync),
                        InstanceAccessor("busy", &Backend::Busy, nullptr),
                        InstanceMethod("destroy", &Backend::Destroy), InstanceAccessor("name", &Backend::Name, nullptr),
                        InstanceAccessor("displayPorts", &Backend::DisplayPorts, nullptr)});
  }

  // new Backend(kind: 'soft' | 'pvg' | 'lib', path: string, {variant, displayPorts?, memoryModel?}, onEvents).
  // displayPorts: how many ports the device gets; omitted or 0, all the
  // backend offers (max_display_ports); more than it offers is refused.
  explicit Backend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Backend>(info) {
    Napi::Env env = info.Env();
    std::string kind = info[0].As<Napi::String>();
    Napi::Object opts = info[2].As<Napi::Object>();
    if (kind == "soft") backend_ = SoftBackend();
#if AGFX_HAVE_PVG
    else if (kind == "pvg") backend_ = agfx_pvg_backend();
#endif
    else if (kind == "lib") backend_ = LoadLibraryBackend(env, info[1].As<Napi::String>(), &lib_);
    else ThrowErrno(env, EINVAL, "unknown backend kind '" + kind + "'");

    uint32_t max_ports = Offers(backend_, &agfx_backend::max_display_ports) ? backend_->max_display_ports()
                                                                              : AGFX_DEFAULT_DISPLAY_PORTS;
    Napi::Value asked = opts.Get("displayPorts");
    uint32_t ports = asked.IsNumber() ? asked.As<Napi::Number>().Uint32Value() : 0;
    if (ports == 0) ports = max_ports;
    if (ports == 0 || ports > max_ports)
      ThrowErrno(env, EINVAL, std::string("backend '") + backend_->name + "' offers " + std::to_string(max_ports) +
                                  " display ports on this host; " + std::to_string(ports) + " asked for");
    display_ports_ = ports;

    HostEventBridge* host = new HostEventBridge(env, info[3].As<Napi::Function>());
    uint32_t model = opts.Has("memoryModel") ? opts.Get("memoryModel").As<Napi::Number>().Uint32Value() : uint32_t(AGFX_MEMORY_TASKS);
    agfx_device_config cfg{sizeof(agfx_device_config), opts.Get("variant").As<Napi::Number>().Uint32Value(), model, ports};
    char err[256] = {0};
    agfx_device* dev = backend_->create(&cfg, host->ops(), err, sizeof err);
    if (!dev) {
      host->Release();
      ThrowErrno(env, EINVAL, std::string("backend '") + backend_->name + "' failed to start: " + err);
    }
    instance_ = std::make_shared<BackendInstance>();
    instance_->backend = backend_;
    instance_->dev = dev_ = dev;
    instance_->host = host;
    // PVG may put work on the main dispatch queue at any time (finding 8),
    // also while a data-plane thread's MMIO waits for it: the pump is held
    // until the device is destroyed, whichever thread destroys it (the
    // bridge releases it on the JS thread once the device is gone). The pvg
    // backend's table however it was loaded (built in, or lib:PATH of a
    // standalone build: a dylib on macOS, the PVG double here).
    if (std::string(backend_->name) == "pvg") host->HoldMainQueuePump(env);
  }

  ~Backend() override { Teardown(); }

 private:
  // Drops JS's share: the device is destroyed now, or by the data-plane
  // thread still using it once that lets go.
  void Teardown() {
    dev_ = nullptr;
    instance_.reset();
  }

  agfx_device* Live(Napi::Env env) {
    if (!dev_) ThrowErrno(env, ENODEV, "backend destroyed");
    if (!busy_.empty()) ThrowErrno(env, EBUSY, "backend '" + std::string(backend_->name) + "' is busy with " + busy_);
    return dev_;
  }

  // What a long call hands back to the JS thread: builds the promise's value
  // there, or throws (a Napi::Error) to reject it.
  using Settle = std::function<Napi::Value(Napi::Env)>;

  // Runs `work` (a long backend call) on a thread of its own and returns a
  // promise settled on the JS thread with what `work` returns. The thread
  // holds a share of the device, so destroy() meanwhile frees nothing under
  // it; JS keeps serving viewers, control and (on macOS) the main dispatch
  // queue, which PVG's call may wait for (docs/design.md, "Long backend
  // calls"). One at a time: a second one, like any other call, gets EBUSY.
  Napi::Value RunLong(Napi::Env env, const std::string& what, std::function<Settle(BackendInstance&)> work) {
    Live(env);
    auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
    Napi::ThreadSafeFunction tsfn =
        Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "agfx-backend-call", 0, 1);
    busy_ = what;
    Ref();  // the wrapper outlives the call (busy_ is cleared on it)
    std::shared_ptr<BackendInstance> inst = instance_;
    try {
      std::thread([tsfn, deferred, inst, work = std::move(work), this]() mutable {
        platform::NameThread("agfx-backend-call");
        Settle settle;
        try {
          settle = work(*inst);
        } catch (const std::exception& e) {  // allocation failures and the like
          std::string msg = e.what();
          settle = [msg](Napi::Env env) -> Napi::Value { ThrowErrno(env, EIO, msg); };
        }
        inst.reset();  // the device may go now, on this thread, if JS let go
        tsfn.BlockingCall([settle, deferred, this](Napi::Env env, Napi::Function) {
          busy_.clear();
          Napi::HandleScope scope(env);
          try {
            deferred->Resolve(settle(env));
          } catch (const Napi::Error& e) {
            deferred->Reject(e.Value());
          }
          Unref();
        });
        tsfn.Release();
      }).detach();
    } catch (const std::system_error& e) {
      busy_.clear();
      Unref();
      tsfn.Release();
      ThrowErrno(env, EAGAIN, std::string("cannot start a thread for ") + what + ": " + e.what());
    }
    return deferred->Promise();
  }

  // The long call in progress ('' when none).
  Napi::Value Busy(const Napi::CallbackInfo& info) {
    return busy_.empty() ? info.Env().Null() : Napi::String::New(info.Env(), busy_);
  }

  Napi::Value ResetAsync(const Napi::CallbackInfo& info) {
    return RunLong(info.Env(), "reset", [](BackendInstance& b) -> Settle {
      b.backend->reset(b.dev);
      return [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
    });
  }

  Napi::Value SaveStateAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!backend_->save_state || !backend_->free_state) {
      Live(env);
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Null());
      return d.Promise();
    }
    return RunLong(env, "save_state", [](BackendInstance& b) -> Settle {
      void* blob = nullptr;
      size_t len = 0;
      if (!b.backend->save_state(b.dev, &blob, &len))
        return [](Napi::Env env) -> Napi::Value { ThrowErrno(env, EIO, "backend failed to save its state"); };
      auto data = std::make_shared<std::vector<uint8_t>>(static_cast<uint8_t*>(blob), static_cast<uint8_t*>(blob) + len);
      b.backend->free_state(b.dev, blob);
      return [data](Napi::Env env) -> Napi::Value { return Napi::Buffer<uint8_t>::Copy(env, data->data(), data->size()); };
    });
  }

  Napi::Value RestoreStateAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    if (!backend_->restore_state) ThrowErrno(env, ENOTSUP, std::string("backend '") + backend_->name + "' cannot restore state");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    auto data = std::make_shared<std::vector<uint8_t>>(buf.Data(), buf.Data() + buf.Length());  // JS may reuse its buffer
    return RunLong(env, "restore_state", [data](BackendInstance& b) -> Settle {
      char err[256] = {0};
      if (b.backend->restore_state(b.dev, data->data(), data->size(), err, sizeof err))
        return [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
      std::string why = err;
      return [why](Napi::Env env) -> Napi::Value { ThrowErrno(env, EINVAL, "backend state refused: " + why); };
    });
  }

  Napi::Value SetRunningAsync(const Napi::CallbackInfo& info) {
    bool running = info[0].ToBoolean();
    return RunLong(info.Env(), running ? "set_running(true)" : "set_running(false)", [running](BackendInstance& b) -> Settle {
      if (b.backend->set_running) b.backend->set_running(b.dev, running);
      return [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
    });
  }

  Napi::Value GuestMemoryGoneAsync(const Napi::CallbackInfo& info) {
    bool offered = Offers(backend_, &agfx_backend::guest_memory_gone);
    return RunLong(info.Env(), "guest_memory_gone", [offered](BackendInstance& b) -> Settle {
      if (offered) b.backend->guest_memory_gone(b.dev);
      return [offered](Napi::Env env) -> Napi::Value { return MemoryKept(env, offered); };
    });
  }

  // What the host still holds of the guest's memory after guest_memory_gone.
  static Napi::Object MemoryKept(Napi::Env env, bool offered) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("offered", offered);
    o.Set("tasksKept", double(TaskMemory::Instance().GetStats().tasks));
    o.Set("iosfcMappingsKept", double(IosfcMappings::Instance().Live()));
    o.Set("snapshotsKept", double(LiveMemoryMapSnapshots()));
    return o;
  }

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), backend_->name); }
  // The display ports the device was created with (its backend's limit unless fewer were asked for).
  Napi::Value DisplayPorts(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), display_ports_); }

  Napi::Value MmioRead(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    uint32_t v = backend_->mmio_read(d, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value());
    return Napi::Number::New(info.Env(), v);
  }

  Napi::Value MmioWrite(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    backend_->mmio_write(d, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value(),
                         info[2].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  // 8-byte accesses whole, where the backend takes them (agfx_backend
  // mmio_read64/mmio_write64): null / false when it does not.
  Napi::Value MmioRead64(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    if (!Offers(backend_, &agfx_backend::mmio_read64)) return info.Env().Null();
    uint64_t v = backend_->mmio_read64(d, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value());
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value MmioWrite64(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    if (!Offers(backend_, &agfx_backend::mmio_write64)) return Napi::Boolean::New(info.Env(), false);
    bool lossless = true;
    uint64_t v = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    backend_->mmio_write64(d, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Int64Value(), v);
    return Napi::Boolean::New(info.Env(), true);
  }

  // The BAR size the backend asks for (agfx_backend region_size), 0 for the default.
  Napi::Value RegionSize(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    if (!Offers(backend_, &agfx_backend::region_size)) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), double(backend_->region_size(d, info[0].As<Napi::Number>().Uint32Value())));
  }

  Napi::Value AttachDisplay(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    auto modes = ModesFrom(info.Env(), info[3]);
    std::string name = info[2].As<Napi::String>();
    bool ok = backend_->attach_display(d, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(),
                                       name.c_str(), modes.data(), uint32_t(modes.size()));
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value SetModes(const Napi::CallbackInfo& info) {
    agfx_device* d = Live(info.Env());
    auto modes = ModesFrom(info.Env(), info[1]);
    return Napi::Boolean::New(info.Env(), backend_->set_modes(d, info[0].As<Napi::Number>().Uint32Value(), modes.data(),
                                                              uint32_t(modes.size())));
  }

  Napi::Value DetachDisplay(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), backend_->detach_display(Live(info.Env()), info[0].As<Napi::Number>().Uint32Value()));
  }

  // readFrame(port) -> {width, height, stride, format, sequence, data} | null
  Napi::Value ReadFrame(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    agfx_device* d = Live(env);
    uint32_t port = info[0].As<Napi::Number>().Uint32Value();
    agfx_frame_info fi{};
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!backend_->read_frame(d, port, nullptr, 0, &fi)) return env.Null();
      auto buf = Napi::Buffer<uint8_t>::New(env, size_t(fi.stride) * fi.height);
      if (!backend_->read_frame(d, port, buf.Data(), buf.Length(), &fi)) continue;  // mode changed in between
      Napi::Object o = Napi::Object::New(env);
      o.Set("width", fi.width);
      o.Set("height", fi.height);
      o.Set("stride", fi.stride);
      o.Set("format", fi.format);
      o.Set("sequence", Napi::Number::New(env, double(fi.sequence)));
      o.Set("data", buf);
      return o;
    }
    return env.Null();
  }

  Napi::Value TracksDamage(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), Offers(backend_, &agfx_backend::update_frame));
  }

  // updateFrame(port, buffer | null, since) -> {width, height, sequence,
  // version, full, move: {x, y, w, h, srcX, srcY} | null, damage: [{x, y, w,
  // h}], data} | null. `buffer` holds frame version `since` in packed rows;
  // it is brought up to date in place, or a new one is allocated (and the
  // whole frame copied) when it is missing or the mode's size differs.
  Napi::Value UpdateFrame(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    agfx_device* d = Live(env);
    if (!Offers(backend_, &agfx_backend::update_frame)) ThrowErrno(env, ENOTSUP, "this backend does not track damage");
    uint32_t port = info[0].As<Napi::Number>().Uint32Value();
    double held = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
    uint64_t since = held >= 0 && held < 9007199254740992.0 ? uint64_t(held) : 0;  // else: unknown, copy everything
    agfx_frame_info fi{};
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!backend_->read_frame(d, port, nullptr, 0, &fi)) return env.Null();
      size_t size = size_t(fi.width) * fi.height * 4;
      Napi::Buffer<uint8_t> buf;
      if (info[1].IsBuffer() && info[1].As<Napi::Buffer<uint8_t>>().Length() == size) {
        buf = info[1].As<Napi::Buffer<uint8_t>>();
      } else {
        buf = Napi::Buffer<uint8_t>::New(env, size);
        since = 0;
      }
      agfx_frame_update u{};
      u.struct_size = sizeof u;
      u.since = since;
      if (!backend_->update_frame(d, port, buf.Data(), buf.Length(), &fi, &u)) continue;  // mode changed in between
      if (size_t(fi.width) * fi.height * 4 != buf.Length()) continue;
      Napi::Object o = Napi::Object::New(env);
      o.Set("width", fi.width);
      o.Set("height", fi.height);
      o.Set("sequence", Napi::Number::New(env, double(fi.sequence)));
      o.Set("version", Napi::Number::New(env, double(u.version)));
      o.Set("full", Napi::Boolean::New(env, u.full));
      if (u.move.width && u.move.height) {
        Napi::Object m = Rect(env, u.move);
        m.Set("srcX", u.move_src_x);
        m.Set("srcY", u.move_src_y);
        o.Set("move", m);
      } else {
        o.Set("move", env.Null());
      }
      Napi::Array damage = Napi::Array::New(env);
      for (uint32_t i = 0; i < u.damage_count && i < AGFX_MAX_DAMAGE; ++i) damage.Set(i, Rect(env, u.damage[i]));
      o.Set("damage", damage);
      o.Set("data", buf);
      return o;
    }
    return env.Null();
  }

  static Napi::Object Rect(Napi::Env env, const agfx_rect& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("x", r.x);
    o.Set("y", r.y);
    o.Set("w", r.width);
    o.Set("h", r.height);
    return o;
  }

  Napi::Value CursorPosition(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t x, y;
    if (!backend_->cursor_position(Live(env), info[0].As<Napi::Number>().Uint32Value(), &x, &y)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("x", x);
    o.Set("y", y);
    return o;
  }

  Napi::Value MemoryMapChanged(const Napi::CallbackInfo& info) {
    if (backend_->memory_map_changed) backend_->memory_map_changed(Live(info.Env()));
    return info.Env().Undefined();
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Teardown();
    return info.Env().Undefined();
  }

  const agfx_backend* backend_ = nullptr;
  agfx_device* dev_ = nullptr;  // instance_->dev while JS holds a share
  std::shared_ptr<BackendInstance> instance_;
  void* lib_ = nullptr;  // never dlclose'd while code from it may still run
  uint32_t display_ports_ = 0;
  std::string busy_;  // the long call under way (JS thread only)
};

namespace {
Napi::Value TaskStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = TaskMemory::Instance().GetStats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("tasks", double(s.tasks));
  o.Set("aliases", double(s.aliases));
  o.Set("maps", double(s.maps));
  o.Set("unmaps", double(s.unmaps));
  o.Set("failures", double(s.failures));
  o.Set("iosfcLive", double(IosfcMappings::Instance().Live()));
  return o;
}
// severKeptGuestMemory() -> regions severed: after a client left, the guest
// RAM a backend without guest_memory_gone still holds through IOSFC mappings
// becomes zero pages and its fd is closed (GuestRegion::Sever).
Napi::Value SeverKept(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(IosfcMappings::Instance().SeverAll()));
}
}  // namespace

#if AGFX_HAVE_PVG
// pvgWriteOptionRom(path): PGCopyOptionROMURL() padded to a power of two.
Napi::Value PvgWriteOptionRom(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>();
  char err[256] = {0};
  if (!agfx_pvg_write_option_rom(path.c_str(), err, sizeof err)) ThrowErrno(info.Env(), EIO, err);
  return info.Env().Undefined();
}
#endif

std::shared_ptr<MmioTarget> BackendMmioTarget(Napi::Env env, Napi::Value v) {
  if (!backend_ctor || !v.IsObject() || !v.As<Napi::Object>().InstanceOf(backend_ctor->Value()))
    ThrowErrno(env, EINVAL, "not a Backend");
  return Backend::Unwrap(v.As<Napi::Object>())->Mmio(env);
}

void InitBackend(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Backend::Init(env);
  backend_ctor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("Backend", ctor);
#if AGFX_HAVE_PVG
  exports.Set("pvgWriteOptionRom", Napi::Function::New(env, PvgWriteOptionRom));
#endif
  exports.Set("hostStats", Napi::Function::New(env, TaskStats));
  exports.Set("severKeptGuestMemory", Napi::Function::New(env, SeverKept));
}

}  // namespace agfx
