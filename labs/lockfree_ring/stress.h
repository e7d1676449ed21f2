// labs/lockfree_ring/stress.h: the messages the stress tests and the programs send, with
// sequence numbers and checksums, so that a receiver can prove no loss, no duplicate, no
// reordering and no torn copy. Shared by lockfree_ring_test.cc, ring_producer.cc,
// ring_consumer.cc and the hidden tests; not yours to edit.
#ifndef IPC_LABS_LABS_LOCKFREE_RING_STRESS_H_
#define IPC_LABS_LABS_LOCKFREE_RING_STRESS_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "labs/lockfree_ring/lockfree_ring.h"

namespace lockfree_ring::stress {

// A fixed-size message for slot rings: one cache line.
struct SlotMessage {
  uint64_t sequence;
  uint64_t payload[6];
  uint64_t checksum;  // of sequence and payload
};
static_assert(sizeof(SlotMessage) == 64);

inline uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

inline SlotMessage MakeSlotMessage(uint64_t sequence, uint64_t seed) {
  SlotMessage m{};
  m.sequence = sequence;
  uint64_t sum = Mix(sequence ^ seed);
  for (int i = 0; i < 6; ++i) {
    m.payload[i] = Mix(sequence * 7 + static_cast<uint64_t>(i) + seed);
    sum = Mix(sum ^ m.payload[i]);
  }
  m.checksum = sum;
  return m;
}

// True if `m` is message number `expected` exactly as MakeSlotMessage made it.
inline bool SlotMessageIs(const SlotMessage& m, uint64_t expected, uint64_t seed) {
  SlotMessage want = MakeSlotMessage(expected, seed);
  return std::memcmp(&m, &want, sizeof m) == 0;
}

// A variable-length record for record rings: 8 bytes of sequence number, then bytes derived from
// it; its length is a pseudo-random function of (sequence, seed), from 8 to max_size.
inline std::string MakeRecord(uint64_t sequence, uint64_t seed, size_t max_size) {
  size_t size = 8 + static_cast<size_t>(Mix(sequence + seed * 31) % (max_size - 7));
  std::string record(size, '\0');
  std::memcpy(record.data(), &sequence, 8);
  uint64_t x = Mix(sequence ^ (seed << 1));
  for (size_t i = 8; i < size; ++i) {
    record[i] = static_cast<char>(x >> ((i % 8) * 8));
    if (i % 8 == 7) x = Mix(x);
  }
  return record;
}

}  // namespace lockfree_ring::stress

#endif  // IPC_LABS_LABS_LOCKFREE_RING_STRESS_H_
