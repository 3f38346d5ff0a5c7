// JS binding of the data plane. The thread itself is plain C++
// (dataplane/data_plane.h); this file turns its ControlPlane calls into
// threadsafe-function calls on the JS thread and JS calls into the
// data plane's thread-safe entry points.
//
// Threading (docs/design.md, "Threads and locks"): every ControlPlane call
// comes from the data-plane thread and only posts (NonBlockingCall) — it
// never waits for the JS thread (invariant 1). The JS callbacks run in the
// order posted: a message, its events, and last the close. The JS object is
// kept alive (Ref) until the close has been delivered, so every posted call
// finds it.
#include "addon/dataplane_binding.h"

#include <cerrno>
#include <string>
#include <vector>

#include "addon/napi_util.h"
#include "core/dataplane/data_plane.h"
#include "core/dataplane/wire.h"
#include "core/fd_util.h"
#include "platform/platform.h"

namespace agfx {

namespace {

class DataPlaneStatsWrap : public Napi::ObjectWrap<DataPlaneStatsWrap> {
 public:
  static Napi::FunctionReference* ctor;
  static Napi::Function Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "DataPlaneStats", {InstanceMethod("snapshot", &DataPlaneStatsWrap::Snapshot)});
    ctor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }
  // new DataPlaneStats(boundsUs: number[])
  explicit DataPlaneStatsWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataPlaneStatsWrap>(info) {
    Napi::Array a = info[0].As<Napi::Array>();
    std::vector<double> bounds;
    for (uint32_t i = 0; i < a.Length(); ++i) bounds.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
    stats_ = std::make_shared<DataPlaneStats>(bounds);
  }
  std::shared_ptr<DataPlaneStats> stats() const { return stats_; }

 private:
  // snapshot() -> [{command, total, errors, counts: number[]}]
  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    for (int slot = 0; slot < DataPlaneStats::kSlots; ++slot) {
      DataPlaneStats::Snapshot s = stats_->Get(slot);
      Napi::Object o = Napi::Object::New(env);
      o.Set("command", DataPlaneStats::Command(slot));
      o.Set("total", double(s.total));
      o.Set("errors", double(s.errors));
      Napi::Array counts = Napi::Array::New(env, s.buckets.size());
      for (size_t i = 0; i < s.buckets.size(); ++i) counts.Set(uint32_t(i), double(s.buckets[i]));
      o.Set("counts", counts);
      out.Set(uint32_t(slot), o);
    }
    return out;
  }
  std::shared_ptr<DataPlaneStats> stats_;
};
Napi::FunctionReference* DataPlaneStatsWrap::ctor = nullptr;

class DataPlaneWrap;

// The data plane's view of JS: posts to the JS thread, never waits.
class JsControlPlane : public ControlPlane {
 public:
  JsControlPlane(Napi::ThreadSafeFunction tsfn, DataPlaneWrap* wrap) : tsfn_(tsfn), wrap_(wrap) {}
  bool Deliver(std::vector<uint8_t>&& message, std::vector<int>&& fds) override;
  void EventsReady() override;
  void Closed(const std::string& reason) override;

 private:
  Napi::ThreadSafeFunction tsfn_;
  DataPlaneWrap* const wrap_;  // alive (Ref'd) until Closed's call has run
};

struct Handed {
  std::vector<uint8_t> data;
  std::vector<int> fds;
  ~Handed() { CloseAll(fds); }  // fds JS never got (the environment went away)
};

class DataPlaneWrap : public Napi::ObjectWrap<DataPlaneWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "DataPlane",
                       {InstanceMethod("send", &DataPlaneWrap::Send),
                        InstanceMethod("setNegotiated", &DataPlaneWrap::SetNegotiated),
                        InstanceMethod("setTracing", &DataPlaneWrap::SetTracing),
                        InstanceMethod("close", &DataPlaneWrap::Close),
                        InstanceMethod("stats", &DataPlaneWrap::Stats)});
  }

  // new DataPlane(fd, {backend, stats, numRegions, regions: RegionRule[],
  //   maxMessageSize, maxFds, maxQueuedBytes?, maxEvents?},
  //   onMessage(buf, fds), onEvents(events), onClose(reason | null))
  explicit DataPlaneWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataPlaneWrap>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Object o = info[1].As<Napi::Object>();
    on_message_ = Napi::Persistent(info[2].As<Napi::Function>());
    on_events_ = Napi::Persistent(info[3].As<Napi::Function>());
    on_close_ = Napi::Persistent(info[4].As<Napi::Function>());

    std::shared_ptr<MmioTarget> target = BackendMmioTarget(env, o.Get("backend"));
    Napi::Value sv = o.Get("stats");
    if (!DataPlaneStatsWrap::ctor || !sv.IsObject() || !sv.As<Napi::Object>().InstanceOf(DataPlaneStatsWrap::ctor->Value()))
      ThrowErrno(env, EINVAL, "stats: not a DataPlaneStats");
    std::shared_ptr<DataPlaneStats> stats = DataPlaneStatsWrap::Unwrap(sv.As<Napi::Object>())->stats();

    auto table = std::make_shared<RegionTable>(o.Get("numRegions").As<Napi::Number>().Uint32Value());
    Napi::Array rules = o.Get("regions").As<Napi::Array>();
    for (uint32_t i = 0; i < rules.Length(); ++i) {
      Napi::Object r = rules.Get(i).As<Napi::Object>();
      RegionRule rule;
      rule.size = uint64_t(r.Get("size").As<Napi::Number>().Int64Value());
      rule.readable = r.Get("readable").ToBoolean();
      rule.writable = r.Get("writable").ToBoolean();
      rule.native = r.Get("native").ToBoolean();
      rule.backend_region = r.Has("backendRegion") ? r.Get("backendRegion").As<Napi::Number>().Uint32Value() : 0;
      if (r.Has("zeroWindow") && r.Get("zeroWindow").IsObject()) {
        Napi::Object z = r.Get("zeroWindow").As<Napi::Object>();
        rule.zero_offset = uint64_t(z.Get("offset").As<Napi::Number>().Int64Value());
        rule.zero_len = uint64_t(z.Get("length").As<Napi::Number>().Int64Value());
      }
      rule.whole64 = r.Has("whole64") && r.Get("whole64").ToBoolean();
      if (r.Has("traceRead")) rule.trace_read = r.Get("traceRead").As<Napi::String>();
      if (r.Has("traceWrite")) rule.trace_write = r.Get("traceWrite").As<Napi::String>();
      if (!table->Set(r.Get("index").As<Napi::Number>().Uint32Value(), std::move(rule)))
        ThrowErrno(env, EINVAL, "region index outside numRegions");
    }

    DataPlaneOptions opts;
    opts.max_message_size = o.Get("maxMessageSize").As<Napi::Number>().Uint32Value();
    opts.max_fds = o.Get("maxFds").As<Napi::Number>().Uint32Value();
    if (o.Has("maxQueuedBytes")) opts.max_queued_bytes = o.Get("maxQueuedBytes").As<Napi::Number>().Uint32Value();
    if (o.Has("maxEvents")) opts.max_events = o.Get("maxEvents").As<Napi::Number>().Uint32Value();
    if (o.Has("sliceUs")) opts.slice_ns = uint64_t(o.Get("sliceUs").As<Napi::Number>().Uint32Value()) * 1000;
    if (opts.max_message_size < wire::kHeaderSize) ThrowErrno(env, EINVAL, "maxMessageSize");

    // Kept referenced: the data plane keeps the loop alive while a client is
    // connected, as the socket's poll watcher did before it.
    Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(
        env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "agfx-dataplane", 0, 1);
    std::string err;
    dp_ = DataPlane::Start(fd, table, target, stats, std::make_shared<JsControlPlane>(tsfn, this), opts, &err);
    if (!dp_) {
      tsfn.Release();
      ThrowErrno(env, EIO, err);
    }
    Ref();  // until the close has been delivered (OnClose)
  }

  // ---- posted from the data-plane thread, run on the JS thread ----
  void OnMessage(Napi::Env env, Handed& m) {
    Napi::HandleScope scope(env);
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, m.data.data(), m.data.size());
    Napi::Array fds = Napi::Array::New(env, m.fds.size());
    for (size_t k = 0; k < m.fds.size(); ++k) fds.Set(uint32_t(k), Napi::Number::New(env, m.fds[k]));
    m.fds.clear();  // ownership moves to JS
    in_message_ = true;
    Napi::Value result;
    try {
      result = on_message_.MakeCallback(Value(), {buf, fds});
    } catch (const Napi::Error&) {
      // reported through process 'uncaughtException'; the message is done
      // all the same, or the client would hang.
    }
    in_message_ = false;
    if (!result.IsEmpty() && result.IsPromise()) {
      // The session's work for this message is asynchronous (a reset or a
      // migration step whose backend call runs off the JS thread): the data
      // plane reads nothing more until it settles (docs/design.md invariant
      // 2). Its reply comes through send() meanwhile, before Complete.
      Napi::Env e = env;
      auto done = Napi::Function::New(e, [this](const Napi::CallbackInfo& info) {
        if (dp_) dp_->Complete();
        Unref();
        return info.Env().Undefined();
      });
      Ref();  // until the promise settles
      try {
        result.As<Napi::Object>().Get("then").As<Napi::Function>().Call(result, {done, done});
        return;
      } catch (const Napi::Error&) {
        Unref();
      }
    }
    if (dp_) dp_->Complete();
  }

  void OnEvents(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (!dp_) return;
    std::vector<DataPlaneEvent> evs = dp_->TakeEvents();
    if (evs.empty()) return;
    Napi::Array a = Napi::Array::New(env, evs.size());
    for (size_t i = 0; i < evs.size(); ++i) a.Set(uint32_t(i), EventObject(env, evs[i]));
    try {
      on_events_.MakeCallback(Value(), {a});
    } catch (const Napi::Error&) {
    }
  }

  void OnClose(Napi::Env env, const std::string& reason) {
    Napi::HandleScope scope(env);
    OnEvents(env);  // whatever was logged last
    Napi::Value r = reason.empty() ? env.Null() : Napi::String::New(env, reason);
    try {
      on_close_.MakeCallback(Value(), {r});
    } catch (const Napi::Error&) {
    }
    // Let go of the data plane now rather than at garbage collection: its
    // wake-up fd closes as soon as the thread has dropped its share too.
    last_ = dp_->counters();
    dp_.reset();
    Unref();
  }

 private:
  static Napi::Object EventObject(Napi::Env env, const DataPlaneEvent& e) {
    Napi::Object o = Napi::Object::New(env);
    switch (e.kind) {
      case DataPlaneEvent::kRequestFailed:
        o.Set("type", "request_failed");
        o.Set("id", e.id);
        o.Set("command", e.command);
        o.Set("errno", e.err);
        o.Set("noReply", e.no_reply);
        o.Set("err", e.text);
        break;
      case DataPlaneEvent::kGuestError:
        o.Set("type", "guest_error");
        o.Set("region", e.region);
        o.Set("offset", double(e.offset));
        o.Set("count", e.count);
        o.Set("what", e.text);
        break;
      case DataPlaneEvent::kTrace:
        o.Set("type", "trace");
        o.Set("name", e.text);
        o.Set("write", e.write);
        o.Set("region", e.region);
        o.Set("offset", double(e.offset));
        // A whole 64-bit access may not fit a Number.
        if (e.value <= (uint64_t(1) << 53)) o.Set("value", double(e.value));
        else o.Set("value", Napi::BigInt::New(env, e.value));
        break;
      case DataPlaneEvent::kDropped:
        o.Set("type", "dropped");
        o.Set("count", e.count);
        break;
    }
    return o;
  }

  // send(message, fds?) -> true: queued on the data plane (sent in order).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!dp_) return Napi::Boolean::New(env, false);
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    std::vector<int> fds;
    if (info.Length() > 1 && info[1].IsArray()) {
      Napi::Array a = info[1].As<Napi::Array>();
      // Duplicated: the caller keeps (and may close) its own.
      for (uint32_t i = 0; i < a.Length(); ++i) {
        int dup = platform::DupCloexec(a.Get(i).As<Napi::Number>().Int32Value());
        if (dup < 0) {
          CloseAll(fds);
          ThrowErrno(env, -dup, "dup");
        }
        fds.push_back(dup);
      }
    }
    dp_->Reply(std::vector<uint8_t>(data.Data(), data.Data() + data.Length()), std::move(fds), !in_message_);
    return Napi::Boolean::New(env, true);
  }

  Napi::Value SetNegotiated(const Napi::CallbackInfo& info) {
    if (dp_) dp_->SetNegotiated(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value SetTracing(const Napi::CallbackInfo& info) {
    if (dp_) dp_->SetTracing(info[0].ToBoolean());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (dp_) dp_->Close();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DataPlane::Counters c = dp_ ? dp_->counters() : last_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("messages", double(c.messages));
    o.Set("native", double(c.native));
    o.Set("handed", double(c.handed));
    o.Set("errors", double(c.errors));
    o.Set("fdsIn", double(c.fds_in));
    o.Set("queuedBytes", double(c.queued_bytes));
    o.Set("eventsDropped", double(c.events_dropped));
    o.Set("shortSlice", c.short_slice);
    return o;
  }

  std::shared_ptr<DataPlane> dp_;  // null once the close has been delivered
  DataPlane::Counters last_;
  bool in_message_ = false;  // JS thread only
  Napi::FunctionReference on_message_, on_events_, on_close_;
};

bool JsControlPlane::Deliver(std::vector<uint8_t>&& message, std::vector<int>&& fds) {
  auto m = std::make_shared<Handed>();
  m->data = std::move(message);
  m->fds = std::move(fds);
  DataPlaneWrap* wrap = wrap_;
  return tsfn_.NonBlockingCall([wrap, m](Napi::Env env, Napi::Function) { wrap->OnMessage(env, *m); }) == napi_ok;
  // On failure `m` dies with the lambda and closes the fds.
}

void JsControlPlane::EventsReady() {
  DataPlaneWrap* wrap = wrap_;
  tsfn_.NonBlockingCall([wrap](Napi::Env env, Napi::Function) { wrap->OnEvents(env); });
}

void JsControlPlane::Closed(const std::string& reason) {
  DataPlaneWrap* wrap = wrap_;
  tsfn_.NonBlockingCall([wrap, reason](Napi::Env env, Napi::Function) { wrap->OnClose(env, reason); });
  tsfn_.Release();
}

// The wire constants the data plane uses, for the unit test that compares
// them with protocol/src/constants.ts.
Napi::Value DataPlaneWire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("headerSize", uint32_t(wire::kHeaderSize));
  o.Set("VERSION", uint32_t(wire::kVersion));
  o.Set("REGION_READ", uint32_t(wire::kRegionRead));
  o.Set("REGION_WRITE", uint32_t(wire::kRegionWrite));
  o.Set("REGION_WRITE_MULTI", uint32_t(wire::kRegionWriteMulti));
  o.Set("TYPE_MASK", uint32_t(wire::kTypeMask));
  o.Set("TYPE_COMMAND", uint32_t(wire::kTypeCommand));
  o.Set("TYPE_REPLY", uint32_t(wire::kTypeReply));
  o.Set("NO_REPLY", uint32_t(wire::kNoReply));
  o.Set("ERROR", uint32_t(wire::kError));
  o.Set("EINVAL", wire::kEINVAL);
  o.Set("MULTI_MAX", double(wire::kMultiMax));
  o.Set("MULTI_DATA", wire::kMultiData);
  return o;
}

}  // namespace

void InitDataPlane(Napi::Env env, Napi::Object exports) {
  exports.Set("DataPlane", DataPlaneWrap::Init(env));
  exports.Set("DataPlaneStats", DataPlaneStatsWrap::Init(env));
  exports.Set("dataPlaneWire", Napi::Function::New(env, DataPlaneWire));
}

}  // namespace agfx
