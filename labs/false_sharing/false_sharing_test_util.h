// labs/false_sharing/false_sharing_test_util.h: helpers the public and the hidden tests share.
// Not yours to change.
//
// Which CPUs a test runs on, whether an address is mapped, an address-space limit for a child
// that must see mmap fail, and a Comparison turned into a timing_check::Sample. Partner files:
// false_sharing_test_util.cc, timing_check.h, false_sharing_test.cc and the hidden tests.
#ifndef IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_TEST_UTIL_H_
#define IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_TEST_UTIL_H_

#include <vector>

#include "absl/status/statusor.h"
#include "labs/false_sharing/false_sharing.h"
#include "labs/false_sharing/timing_check.h"

namespace false_sharing::test_util {

// Up to kMaxWorkers CPUs this process may use, straight from the kernel (ipc::AllowedCpus): the
// tests that are not about WorkerCpus() do not depend on it, so the tasks can be done in any
// order. Adds a test failure and returns {0} if sched_getaffinity fails.
std::vector<int> Cpus();

// The CPUs the student's WorkerCpus() picks, for the timing tests (pinning is part of what they
// measure). Adds a test failure and returns {} if it fails.
std::vector<int> StudentCpus();

// True if /proc/self/maps lists a mapping that starts at `p`.
bool IsMapped(const void* p);

// Limits this process's address space (RLIMIT_AS) to what it has mapped now, so that the next
// mmap fails with ENOMEM. For forked children only. Returns false if setrlimit failed.
bool LimitAddressSpaceToNow();

// The median ratio of `comparison` and the wall time x workers its runs covered.
timing_check::Sample SampleOf(const Comparison& comparison);

// MeasureRingRatio()
//
// FS7: your RunRing against the notes' ring (broken::RunNotesRing) with the same `options`,
// three rounds per attempt, their items-per-second ratio's median per attempt, measured through
// timing_check::Measure with target timing_check::kRingRatio. Errors: either ring's failure.
absl::StatusOr<timing_check::Measured> MeasureRingRatio(const RingOptions& options);

}  // namespace false_sharing::test_util

#endif  // IPC_LABS_LABS_FALSE_SHARING_FALSE_SHARING_TEST_UTIL_H_
