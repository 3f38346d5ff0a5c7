// libFuzzer harness for the vfio-user stream framer (core/framer.{h,cc}).
//
// The input drives a fake peer: it queues messages (mostly well-formed, some
// with hostile sizes) and delivers the byte stream in reads of random length,
// each read carrying a random number of fake fd numbers. After every read the
// harness drains all complete messages and checks them against a model that
// works on absolute stream offsets (no buffer compaction):
//  - every message is the exact next slice of the stream, 16 <= size <= max;
//  - fds go to the last message starting in the bytes received so far;
//  - no message carries more than max_fds fds;
//  - a framing error is reported exactly when the model predicts it, and is
//    sticky;
//  - every fd handed in comes out exactly once (with a message or from
//    Reset/TakeAllFds): nothing leaks, nothing is duplicated;
//  - buffered bytes and buffer capacity stay bounded.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "core/framer.h"

using agfx::Framer;

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "framer_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

namespace {

uint32_t U32At(const std::vector<uint8_t>& s, size_t off) {
  uint32_t v;
  std::memcpy(&v, s.data() + off, 4);
  return v;
}

struct Model {
  uint32_t max_size, max_fds;
  std::vector<uint8_t> stream;  // every byte received so far
  size_t pos = 0;               // absolute start of the next message to pop
  std::map<size_t, std::vector<int>> fds_at;  // absolute message start -> fds
  bool error = false;

  // Same attachment rule, on absolute offsets.
  void Attach(std::vector<int> fds) {
    size_t p = pos, last = pos, end = stream.size();
    while (p < end) {
      last = p;
      if (end - p < 8) break;
      uint32_t size = U32At(stream, p + 4);
      if (size < Framer::kHeaderSize) break;
      p += size;
    }
    auto& v = fds_at[last];
    v.insert(v.end(), fds.begin(), fds.end());
    if (v.size() > max_fds) error = true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const uint32_t kSizes[] = {16, 17, 24, 64, 4096, 65536, 1u << 20, 0xffffffffu};
  uint32_t max_size = kSizes[in.ConsumeIntegralInRange<size_t>(0, 6)];
  uint32_t max_fds = in.ConsumeIntegralInRange<uint32_t>(0, 20);
  bool zero_copy = in.ConsumeBool();

  Framer framer(max_size, max_fds);
  Model model{max_size, max_fds};
  std::vector<uint8_t> unsent;  // queued by the peer, not read yet
  int next_fd = 1000;           // fake fd numbers, never opened or closed
  std::multiset<int> out_fds;
  size_t reads = 0;

  while (in.remaining_bytes() > 0 && reads < 256) {
    uint8_t op = in.ConsumeIntegral<uint8_t>() % 4;
    if (op <= 1) {
      // Queue a message: header with a size that is usually right.
      uint32_t body = in.ConsumeIntegralInRange<uint32_t>(0, op == 0 ? 64 : 70000);
      uint32_t declared = Framer::kHeaderSize + body;
      uint8_t how = in.ConsumeIntegral<uint8_t>();
      if (how < 16) declared = in.ConsumeIntegral<uint32_t>();  // hostile size
      uint8_t hdr[16] = {0};
      uint16_t id = in.ConsumeIntegral<uint16_t>();
      std::memcpy(hdr, &id, 2);
      std::memcpy(hdr + 4, &declared, 4);
      unsent.insert(unsent.end(), hdr, hdr + sizeof hdr);
      unsent.insert(unsent.end(), body, uint8_t(id));
    } else if (op == 2) {
      // Raw bytes straight from the input.
      auto raw = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 64));
      unsent.insert(unsent.end(), raw.begin(), raw.end());
    } else {
      // One read of up to kReadChunk bytes with some fds.
      if (unsent.empty()) continue;
      size_t n = in.ConsumeIntegralInRange<size_t>(1, std::min(unsent.size(), Framer::kReadChunk));
      if (in.ConsumeBool()) n = std::min(unsent.size(), Framer::kReadChunk);
      size_t nfds = in.ConsumeIntegralInRange<size_t>(0, 4);
      if (nfds == 4) nfds = in.ConsumeIntegralInRange<size_t>(0, 64);
      std::vector<int> fds;
      for (size_t k = 0; k < nfds; ++k) fds.push_back(next_fd++);
      ++reads;

      bool was_failed = framer.failed();
      bool ok;
      if (zero_copy) {
        size_t room = 0;
        uint8_t* dst = framer.ReadSpace(&room);
        CHECK(room >= Framer::kReadChunk);
        std::memcpy(dst, unsent.data(), n);
        ok = framer.Commit(n, std::vector<int>(fds));
      } else {
        ok = framer.Feed(unsent.data(), n, fds);
      }
      model.stream.insert(model.stream.end(), unsent.begin(), unsent.begin() + n);
      unsent.erase(unsent.begin(), unsent.begin() + n);
      if (!model.error && !fds.empty()) model.Attach(fds);
      if (was_failed) CHECK(!ok);
      CHECK(ok == !model.error);

      // Drain complete messages.
      for (;;) {
        Framer::Message m;
        Framer::Next r = framer.Pop(&m);
        if (r == Framer::Next::kError) {
          CHECK(framer.failed() && !framer.error().empty());
          if (!model.error) {
            // Only a bad size at the next message start may fail here.
            CHECK(model.stream.size() - model.pos >= 8);
            uint32_t s = U32At(model.stream, model.pos + 4);
            CHECK(s < Framer::kHeaderSize || s > max_size);
            model.error = true;
          }
          Framer::Message again;
          CHECK(framer.Pop(&again) == Framer::Next::kError);  // sticky
          break;
        }
        if (r == Framer::Next::kNeedMore) {
          CHECK(!model.error);
          size_t avail = model.stream.size() - model.pos;
          CHECK(framer.buffered() == avail);
          if (avail >= 8) {
            uint32_t s = U32At(model.stream, model.pos + 4);
            CHECK(s >= Framer::kHeaderSize && s <= max_size && avail < s);
          }
          break;
        }
        CHECK(!model.error);
        CHECK(m.size >= Framer::kHeaderSize && m.size <= max_size);
        CHECK(model.pos + m.size <= model.stream.size());
        CHECK(U32At(model.stream, model.pos + 4) == m.size);
        CHECK(std::memcmp(m.data, model.stream.data() + model.pos, m.size) == 0);
        CHECK(m.fds.size() <= max_fds);
        auto it = model.fds_at.find(model.pos);
        std::vector<int> expect = it == model.fds_at.end() ? std::vector<int>{} : it->second;
        if (it != model.fds_at.end()) model.fds_at.erase(it);
        CHECK(m.fds == expect);
        out_fds.insert(m.fds.begin(), m.fds.end());
        // Nothing may stay attached to a message that has been handed out.
        CHECK(model.fds_at.empty() || model.fds_at.begin()->first > model.pos);
        model.pos += m.size;
      }
      if (!framer.failed()) {
        CHECK(framer.buffered() < std::max<size_t>(8, max_size));
        // One maximal message plus read room; Feed copies whole reads.
        CHECK(framer.capacity() <= size_t(max_size) + 4 * Framer::kReadChunk);
      }
    }
  }

  // Conservation: every fd handed in comes out exactly once.
  size_t pending = framer.pending_fd_count();
  std::vector<int> rest = framer.Reset();
  CHECK(rest.size() == pending);
  out_fds.insert(rest.begin(), rest.end());
  CHECK(out_fds.size() == size_t(next_fd - 1000));
  int expect = 1000;
  for (int fd : out_fds) CHECK(fd == expect++);
  CHECK(framer.buffered() == 0 && framer.pending_fd_count() == 0);
  return 0;
}
