// labs/false_sharing/broken.h: the course notes' code (001 §3.1, §4.1), as it was written. Not
// yours to fix.
//
// Each function reproduces a defect the notes shipped and that we observed on the project
// machine (2 vCPUs). The "find the bug" tests run them next to your code: the notes' version
// misbehaves, deterministically where the defect is a crash or a miscount, measurably where it
// is a matter of speed, while yours does not. Explain why in ANSWERS.md; the code stays as it is.
//
// Partner files: broken.cc (the code), false_sharing_test.cc (the tests that expose it),
// README.md ("Find the bug").
#ifndef IPC_LABS_LABS_FALSE_SHARING_BROKEN_H_
#define IPC_LABS_LABS_FALSE_SHARING_BROKEN_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "labs/false_sharing/false_sharing.h"

namespace false_sharing::broken {

// MapCountersUnchecked()
//
// 001 §4.1: `counters = mmap(NULL, sizeof(*counters), PROT_READ | PROT_WRITE, MAP_SHARED |
// MAP_ANONYMOUS, -1, 0);` and straight on to `counters->count[i] = 0`. Returns mmap's value as
// it is, including MAP_FAILED ((void*)-1), which the caller then writes through (FS8). Never
// unmaps: the notes did not either.
CounterBlock* MapCountersUnchecked();

// NotesHarnessResult
//
// What the notes' harness did.
struct NotesHarnessResult {
  int threads = 0;         // always 4: NUM_THREADS
  int64_t total = 0;       // the sum of the four counters
  int ran_on[4] = {};      // the CPU each thread was on when it stopped
  absl::Duration elapsed;  // from setting start to joining the last thread
  double ops_per_second() const {
    const double s = absl::ToDoubleSeconds(elapsed);
    return s > 0 ? static_cast<double>(total) / s : 0;
  }
};

// RunNotesHarness()
//
// 001 §4.1's benchmark: NUM_THREADS (4) threads whatever the machine has, never pinned, each
// waiting for a start flag with `while (!start) usleep(1);`, then incrementing its counter of the
// notes' 32-byte struct until a stop flag (which sits right after the counters, in their line) is
// set `duration` later (the notes ran 5 s). The counters are PackedCounters, as in the notes
// (FS2, FS4, FS6). Errors: pthread_create's.
absl::StatusOr<NotesHarnessResult> RunNotesHarness(absl::Duration duration);

// NotesRingControl
//
// 001 §3.1's ring header: head, tail, count and four statistics side by side, one 56-byte struct
// in one cache line. Both sides write `count` on every item, the producer writes tail and its
// statistics, the consumer writes head and its statistics, and all of it is the same line (FS7,
// LR8).
struct NotesRingControl {
  std::atomic<uint64_t> head;   // written by the consumer
  std::atomic<uint64_t> tail;   // written by the producer
  std::atomic<uint64_t> count;  // written by both, on every item
  uint64_t pushes;              // producer statistics
  uint64_t pops;                // consumer statistics
  uint64_t full_polls;          // producer statistics
  uint64_t empty_polls;         // consumer statistics
};
static_assert(sizeof(NotesRingControl) == 56, "the notes' seven 8-byte fields, no padding");
static_assert(offsetof(NotesRingControl, tail) - offsetof(NotesRingControl, head) == 8,
              "head and tail 8 bytes apart: one line");

// NotesRingBlock
//
// The notes' ring as it sits in a SharedMapping: the control block, then the slots.
struct NotesRingBlock {
  alignas(kCacheLineSize) NotesRingControl control;
  alignas(kCacheLineSize) uint64_t slots[kRingCapacity];
  StartFlags flags;
  alignas(kCacheLineSize) uint64_t checksum;
};

// RunNotesRing()
//
// The notes' ring between two forked processes, driven exactly like RunRing() (same options,
// same pinning, start flag, backoff and result), so that the only difference is the control
// block: the producer waits while count == capacity, writes the slot, stores tail and increments
// count; the consumer waits while count == 0, reads the slot, stores head and decrements count.
// Correct, and slow: every item moves the one control line between the two cores several times.
// Errors: as RunRing().
absl::StatusOr<RingResult> RunNotesRing(const RingOptions& options);

}  // namespace false_sharing::broken

#endif  // IPC_LABS_LABS_FALSE_SHARING_BROKEN_H_
