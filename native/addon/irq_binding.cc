// JS bindings of the interrupt table (core/irq_table.h): SET_IRQS lands
// here, on the JS thread; backends raise natively.
#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "core/irq_table.h"

namespace agfx {

namespace {

Napi::Value IrqSet(const Napi::CallbackInfo& info) {
  int err = IrqTable::Instance().Set(ArgU32(info[0]), ArgU32(info[1]), ArgFds(info[2]));
  if (err) ThrowErrno(info.Env(), err, "interrupt fd assignment");
  return info.Env().Undefined();
}

Napi::Value IrqClear(const Napi::CallbackInfo& info) {
  int err = IrqTable::Instance().Clear(ArgU32(info[0]), ArgU32(info[1]), ArgU32(info[2]));
  if (err) ThrowErrno(info.Env(), err, "interrupt fd removal");
  return info.Env().Undefined();
}

Napi::Value IrqDisable(const Napi::CallbackInfo& info) {
  IrqTable::Instance().Disable(ArgU32(info[0]));
  return info.Env().Undefined();
}

Napi::Value IrqCloseAll(const Napi::CallbackInfo& info) {
  IrqTable::Instance().CloseAll();
  return info.Env().Undefined();
}

Napi::Value IrqRaise(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), IrqTable::Instance().Raise(ArgU32(info[0])));
}

Napi::Value IrqStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = IrqTable::Instance().Stats(ArgU32(info[0]));
  Napi::Object o = Napi::Object::New(env);
  o.Set("raised", Napi::Number::New(env, static_cast<double>(s.raised)));
  o.Set("delivered", Napi::Number::New(env, static_cast<double>(s.delivered)));
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(s.dropped)));
  return o;
}

Napi::Value IrqAssigned(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), IrqTable::Instance().AssignedCount(ArgU32(info[0])));
}

}  // namespace

void InitIrqTable(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "irqSet", IrqSet);
  Export(env, exports, "irqClear", IrqClear);
  Export(env, exports, "irqDisable", IrqDisable);
  Export(env, exports, "irqCloseAll", IrqCloseAll);
  Export(env, exports, "irqRaise", IrqRaise);
  Export(env, exports, "irqStats", IrqStats);
  Export(env, exports, "irqAssigned", IrqAssigned);
}

}  // namespace agfx
