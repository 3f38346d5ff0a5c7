#include "core/irq_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>


namespace agfx {

namespace {

// An interrupt fd must be an eventfd (Linux) or a pipe/FIFO (hosts without
// eventfd); writing 8 bytes into anything else would corrupt it.
int ClassifyFd(int fd, bool* is_eventfd) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return EBADF;
  if (S_ISFIFO(st.st_mode)) {
    *is_eventfd = false;
    return 0;
  }
#ifdef __linux__
  char link[64], target[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n > 0) {
    target[n] = 0;
    if (std::strcmp(target, "anon_inode:[eventfd]") == 0) {
      *is_eventfd = true;
      return 0;
    }
  }
#endif
  return EINVAL;
}

}  // namespace

IrqTable& IrqTable::Instance() {
  static IrqTable instance;
  return instance;
}

int IrqTable::Set(uint32_t index, uint32_t start, const std::vector<int>& fds) {
  if (index >= kIrqIndexCount) return EINVAL;
  if (start >= kMaxVectors || fds.size() > kMaxVectors - start) return EINVAL;
  std::vector<Slot> incoming(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    int err = ClassifyFd(fds[i], &incoming[i].is_eventfd);
    if (err) return err;
    incoming[i].fd = fds[i];
  }
  std::lock_guard lock(mu_);
  auto& v = slots_[index];
  if (v.size() < start + fds.size()) v.resize(start + fds.size());
  for (size_t i = 0; i < incoming.size(); ++i) {
    if (v[start + i].fd >= 0) ::close(v[start + i].fd);
    v[start + i] = incoming[i];
  }
  return 0;
}

int IrqTable::Clear(uint32_t index, uint32_t start, uint32_t count) {
  if (index >= kIrqIndexCount) return EINVAL;
  std::lock_guard lock(mu_);
  auto& v = slots_[index];
  // start + count, not count: libvfio-user's irqs_disable got this wrong.
  for (uint64_t i = start; i < uint64_t(start) + count && i < v.size(); ++i) {
    if (v[i].fd >= 0) ::close(v[i].fd);
    v[i].fd = -1;
  }
  return 0;
}

void IrqTable::Disable(uint32_t index) {
  if (index >= kIrqIndexCount) return;
  std::lock_guard lock(mu_);
  for (auto& s : slots_[index])
    if (s.fd >= 0) ::close(s.fd);
  slots_[index].clear();
}

void IrqTable::CloseAll() {
  for (uint32_t i = 0; i < kIrqIndexCount; ++i) Disable(i);
}

bool IrqTable::SignalLocked(const Slot& s) {
  if (s.is_eventfd) {
    uint64_t one = 1;
    return ::write(s.fd, &one, sizeof one) == sizeof one || errno == EAGAIN;
  }
  char one = 1;
  return ::write(s.fd, &one, 1) == 1 || errno == EAGAIN;
}

bool IrqTable::Raise(uint32_t vector) {
  size_t stat = vector < raised_.size() ? vector : raised_.size() - 1;
  raised_[stat].fetch_add(1, std::memory_order_relaxed);
  bool ok = false;
  {
    std::lock_guard lock(mu_);
    for (uint32_t index : {kIrqMsix, kIrqMsi}) {
      auto& v = slots_[index];
      if (vector < v.size() && v[vector].fd >= 0) {
        ok = SignalLocked(v[vector]);
        break;
      }
    }
  }
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
  for (auto& s : slots_[index]) n += s.fd >= 0;
  return n;
}

}  // namespace agfx
