// labs/false_sharing/baseline.h: the speed baseline of the false sharing lab. Not yours to change.
//
// The grader's speed item (lab.json "speed") compares your padded run, RunThreads with
// Layout::kPadded, against this: the same pinned threads and the same start flag, counting into
// the notes' PackedCounters. Their ratio is the price of false sharing on the grading machine
// (FS2). Partner: baseline.cc; the hidden Speed.* cases run both.
#ifndef IPC_LABS_LABS_FALSE_SHARING_BASELINE_H_
#define IPC_LABS_LABS_FALSE_SHARING_BASELINE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "labs/false_sharing/false_sharing.h"

namespace false_sharing::baseline {

// RunPackedPinned()
//
// One thread per CPU of `cpus` (1..kMaxWorkers, each pinned with ipc::PinThisThread), released
// together by a start flag, each doing `increments` relaxed fetch_adds on its own counter of one
// PackedCounters. Returns the run as RunThreads() would (layout kPacked). Errors: a CPU that
// cannot be pinned (EINVAL), pthread_create's, INVALID_ARGUMENT for a bad cpus list or
// increments < 1.
absl::StatusOr<RunResult> RunPackedPinned(const std::vector<int>& cpus, int64_t increments);

}  // namespace false_sharing::baseline

#endif  // IPC_LABS_LABS_FALSE_SHARING_BASELINE_H_
