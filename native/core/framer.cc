#include "core/framer.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace agfx {

namespace {
uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // vfio-user is host byte order (little-endian in practice)
}
}  // namespace

Framer::Framer(uint32_t max_message_size, uint32_t max_fds)
    : max_message_size_(max_message_size), max_fds_(max_fds) {
  buf_.resize(2 * kReadChunk);
}

void Framer::Fail(std::string reason) {
  if (error_.empty()) error_ = reason.empty() ? "framing error" : std::move(reason);
}

uint8_t* Framer::ReadSpace(size_t* len) {
  // Make room: drop dispatched bytes, then grow up to one maximal message.
  if (buf_.size() - data_end_ < kReadChunk && parse_off_ > 0) {
    std::memmove(buf_.data(), buf_.data() + parse_off_, data_end_ - parse_off_);
    for (auto& p : pending_fds_) p.message_start -= parse_off_;
    data_end_ -= parse_off_;
    parse_off_ = 0;
  }
  if (buf_.size() - data_end_ < kReadChunk) buf_.resize(data_end_ + 2 * kReadChunk);
  *len = buf_.size() - data_end_;
  return buf_.data() + data_end_;
}

bool Framer::Commit(size_t n, std::vector<int>&& fds) {
  if (n > buf_.size() - data_end_) n = buf_.size() - data_end_;  // caller bug; never overrun
  data_end_ += n;
  if (!fds.empty()) AttachFds(data_end_, std::move(fds));
  return !failed();
}

bool Framer::Feed(const uint8_t* data, size_t len, std::vector<int> fds) {
  size_t done = 0;
  do {
    size_t room = 0;
    uint8_t* dst = ReadSpace(&room);
    size_t take = std::min(room, len - done);
    if (take) std::memcpy(dst, data + done, take);
    done += take;
    // The fds came with this read: attach them once all its bytes are in.
    if (done < len) {
      Commit(take, {});
    } else {
      return Commit(take, std::move(fds));
    }
  } while (true);
}

// The kernel returns SCM_RIGHTS together with the first byte of the sendmsg()
// that carried them, and ends the read right after that skb. A peer sends one
// message per sendmsg(), so the fds belong to the last message that starts in
// the bytes received so far.
void Framer::AttachFds(size_t new_data_end, std::vector<int>&& fds) {
  size_t pos = parse_off_, last = parse_off_;
  while (pos < new_data_end) {
    last = pos;
    if (new_data_end - pos < 8) break;
    uint32_t size = ReadU32(buf_.data() + pos + 4);
    if (size < kHeaderSize) break;  // Pop reports the framing error
    pos += size;
  }
  size_t total = fds.size();
  if (!pending_fds_.empty() && pending_fds_.back().message_start == last) {
    total += pending_fds_.back().fds.size();
    pending_fds_.back().fds.insert(pending_fds_.back().fds.end(), fds.begin(), fds.end());
  } else {
    pending_fds_.push_back(PendingFds{last, std::move(fds)});
  }
  if (total > max_fds_) {
    Fail("a message carries " + std::to_string(total) + " file descriptors; at most " +
         std::to_string(max_fds_) + " are allowed");
  }
}

Framer::Next Framer::Pop(Message* out) {
  if (failed()) return Next::kError;
  size_t avail = data_end_ - parse_off_;
  if (avail < 8) return Next::kNeedMore;
  uint32_t size = ReadU32(buf_.data() + parse_off_ + 4);
  if (size < kHeaderSize) {
    Fail("bad message size " + std::to_string(size) + " (smaller than the 16-byte header)");
    return Next::kError;
  }
  if (size > max_message_size_) {
    Fail("message of " + std::to_string(size) + " bytes exceeds the " +
         std::to_string(max_message_size_) + "-byte limit");
    return Next::kError;
  }
  if (avail < size) return Next::kNeedMore;

  out->data = buf_.data() + parse_off_;
  out->size = size;
  out->fds.clear();
  if (!pending_fds_.empty() && pending_fds_.front().message_start == parse_off_) {
    out->fds = std::move(pending_fds_.front().fds);
    pending_fds_.erase(pending_fds_.begin());  // ownership moves to the caller
  }
  parse_off_ += size;
  return Next::kMessage;
}

size_t Framer::pending_fd_count() const {
  size_t n = 0;
  for (const auto& p : pending_fds_) n += p.fds.size();
  return n;
}

std::vector<int> Framer::TakeAllFds() {
  std::vector<int> all;
  for (auto& p : pending_fds_) all.insert(all.end(), p.fds.begin(), p.fds.end());
  pending_fds_.clear();
  return all;
}

std::vector<int> Framer::Reset() {
  std::vector<int> fds = TakeAllFds();
  buf_.clear();
  buf_.shrink_to_fit();
  data_end_ = parse_off_ = 0;
  return fds;
}

}  // namespace agfx
