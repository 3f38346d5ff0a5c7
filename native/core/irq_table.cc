#include "core/irq_table.h"

#include <unistd.h>

#include <cerrno>

namespace agfx {

IrqTable::Notifier::~Notifier() { ::close(fd); }

IrqTable& IrqTable::Instance() {
  static IrqTable instance;
  return instance;
}

int IrqTable::Set(uint32_t index, uint32_t start, const std::vector<int>& fds) {
  if (index >= kIrqIndexCount) return EINVAL;
  if (start >= kMaxVectors || fds.size() > kMaxVectors - start) return EINVAL;
  // An interrupt fd must be an eventfd or a pipe/FIFO: writing into anything
  // else would corrupt it. Check them all before taking any.
  std::vector<platform::NotifierKind> kinds(fds.size());
  for (size_t i = 0; i < fds.size(); ++i)
    if (int err = platform::ClassifyNotifier(fds[i], &kinds[i])) return err;
  for (int fd : fds)
    if (int err = platform::SetNonBlocking(fd)) return err;
  std::vector<Slot> incoming(fds.size()), replaced;
  for (size_t i = 0; i < fds.size(); ++i) incoming[i] = std::make_shared<const Notifier>(fds[i], kinds[i]);
  {
    std::lock_guard lock(mu_);
    auto& v = slots_[index];
    if (v.size() < start + fds.size()) v.resize(start + fds.size());
    for (size_t i = 0; i < incoming.size(); ++i) {
      replaced.push_back(std::move(v[start + i]));
      v[start + i] = std::move(incoming[i]);
    }
  }
  return 0;  // `replaced` closes its fds here, outside the lock (or later, after a raise in flight)
}

int IrqTable::Clear(uint32_t index, uint32_t start, uint32_t count) {
  if (index >= kIrqIndexCount) return EINVAL;
  std::vector<Slot> cleared;
  std::lock_guard lock(mu_);
  auto& v = slots_[index];
  // start + count, not count: libvfio-user's irqs_disable got this wrong.
  for (uint64_t i = start; i < uint64_t(start) + count && i < v.size(); ++i) cleared.push_back(std::move(v[i]));
  return 0;
}

void IrqTable::Disable(uint32_t index) {
  if (index >= kIrqIndexCount) return;
  std::vector<Slot> old;
  std::lock_guard lock(mu_);
  old.swap(slots_[index]);
}

void IrqTable::CloseAll() {
  for (uint32_t i = 0; i < kIrqIndexCount; ++i) Disable(i);
}

bool IrqTable::Raise(uint32_t vector) {
  size_t stat = vector < raised_.size() ? vector : raised_.size() - 1;
  raised_[stat].fetch_add(1, std::memory_order_relaxed);
  Slot target;
  {
    std::lock_guard lock(mu_);
    for (uint32_t index : {kIrqMsix, kIrqMsi}) {
      auto& v = slots_[index];
      if (vector < v.size() && v[vector]) {
        target = v[vector];
        break;
      }
    }
  }
  // The write happens without the lock: the fd is the peer's (a full one
  // reports "pending" at once, it is non-blocking), and a SET_IRQS replacing
  // it meanwhile only drops the table's reference.
  bool ok = target && platform::Notify(target->fd, target->kind);
  (ok ? delivered_ : dropped_)[stat].fetch_add(1, std::memory_order_relaxed);
  return ok;
}

IrqTable::VectorStats IrqTable::Stats(uint32_t vector) const {
  size_t i = vector < raised_.size() ? vector : raised_.size() - 1;
  return {raised_[i].load(), delivered_[i].load(), dropped_[i].load()};
}

uint32_t IrqTable::AssignedCount(uint32_t index) const {
  if (index >= kIrqIndexCount) return 0;
  std::lock_guard lock(mu_);
  uint32_t n = 0;
  for (auto& s : slots_[index]) n += s != nullptr;
  return n;
}

}  // namespace agfx
