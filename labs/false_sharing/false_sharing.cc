// labs/false_sharing/false_sharing.cc: YOUR implementation of false_sharing.h.
//
// Work through the tasks of README.md in order; each TODO(student) below names its task. Until a
// function is written it returns absl::UnimplementedError, so every test fails at once with a
// message that says what to write. Check your work with
//   ./labctl test false_sharing        (or: bazel test //labs/false_sharing:false_sharing_test)
// The contract, with every error a function must return, is false_sharing.h.
//
// House rules: check every system call on the next line against its own failure value (-1,
// MAP_FAILED; pthread_* return the error) and return ipc::ErrnoError("call", object); join every
// thread and reap every child on every path; wait on flags by spinning with a yield now and
// then, never with usleep; every atomic access says which other access it pairs with.
#include "labs/false_sharing/false_sharing.h"

#include <sched.h>
#include <sys/mman.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/affinity.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace false_sharing {

// Moving and destroying a SharedMapping are given (false_sharing_given.cc); they call Reset().

// Task 1 -----------------------------------------------------------------------------------------

absl::StatusOr<SharedMapping> SharedMapping::Create(size_t bytes) {
  // TODO(student): Task 1: reject 0 bytes; mmap MAP_SHARED|MAP_ANONYMOUS read/write; compare the
  // result with MAP_FAILED (not NULL: FS8) and return ipc::ErrnoError("mmap", "<bytes> bytes").
  (void)bytes;
  return absl::UnimplementedError(
      "TODO(student): Task 1: SharedMapping::Create (mmap MAP_SHARED|MAP_ANONYMOUS, check "
      "MAP_FAILED)");
}

void SharedMapping::Reset() {
  // TODO(student): Task 1: munmap the mapping before forgetting it.
  data_ = nullptr;
  size_ = 0;
}

// Task 2 -----------------------------------------------------------------------------------------

absl::StatusOr<std::atomic<int64_t>*> CounterFor(CounterBlock* block, Layout layout, int worker) {
  // TODO(student): Task 2: the packed or the padded counter of `worker` (see the header).
  (void)block;
  (void)layout;
  (void)worker;
  return absl::UnimplementedError(
      "TODO(student): Task 2: CounterFor (which counter each layout gives a worker)");
}

absl::StatusOr<std::vector<int>> WorkerCpus(int max_workers) {
  // TODO(student): Task 2: min(allowed CPUs, max_workers) CPUs from ipc::AllowedCpus(), one per
  // physical core first (sysfs topology), in increasing order.
  (void)max_workers;
  return absl::UnimplementedError(
      "TODO(student): Task 2: WorkerCpus (min(allowed CPUs, 4), distinct cores first)");
}

// Task 3 -----------------------------------------------------------------------------------------

absl::StatusOr<RunResult> RunThreads(const RunOptions& options) {
  // TODO(student): Task 3: validate; a CounterBlock in a SharedMapping; one pinned thread per CPU
  // that announces itself in `ready`, spins on `go`, counts, records sched_getcpu(); release them
  // together, time from go to the last join, collect the counts.
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 3: RunThreads (pinned threads released by a start flag)");
}

// Task 4 -----------------------------------------------------------------------------------------

absl::StatusOr<RunResult> RunProcesses(const RunOptions& options) {
  // TODO(student): Task 4: the same run with ipc::Child::Fork workers and deadlines.
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 4: RunProcesses (forked workers counting into a shared mapping)");
}

// Task 5 -----------------------------------------------------------------------------------------

absl::StatusOr<Comparison> CompareLayouts(const CompareOptions& options) {
  // TODO(student): Task 5: rounds of two runs, alternating which layout goes first; per-round
  // ratios and their median (ipc::Median).
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 5: CompareLayouts (alternate the order, keep the median ratio)");
}

// Task 6 -----------------------------------------------------------------------------------------

absl::StatusOr<RingResult> RunRing(const RingOptions& options) {
  // TODO(student): Task 6: a producer and a consumer process over a RingBlock; each side writes
  // only its own line of RingControl and reads the other's index only when its cached copy says
  // full or empty.
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 6: RunRing (an SPSC ring between two pinned processes, one line per "
      "side)");
}

}  // namespace false_sharing
