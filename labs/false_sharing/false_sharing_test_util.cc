// labs/false_sharing/false_sharing_test_util.cc: see false_sharing_test_util.h.
#include "labs/false_sharing/false_sharing_test_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/affinity.h"
#include "common/status.h"
#include "common/timing.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"
#include "labs/false_sharing/broken.h"

namespace false_sharing::test_util {

std::vector<int> Cpus() {
  absl::StatusOr<std::vector<int>> allowed = ipc::AllowedCpus();
  if (!allowed.ok() || allowed->empty()) {
    ADD_FAILURE() << "sched_getaffinity failed: " << allowed.status();
    return {0};
  }
  allowed->resize(std::min<size_t>(allowed->size(), kMaxWorkers));
  return *allowed;
}

std::vector<int> StudentCpus() {
  absl::StatusOr<std::vector<int>> cpus = WorkerCpus();
  EXPECT_THAT(cpus, ipc::testing::IsOk()) << "WorkerCpus() is Task 2";
  return cpus.ok() && !cpus->empty() ? *cpus : std::vector<int>{};
}

bool IsMapped(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const std::string start = absl::StrCat(absl::Hex(reinterpret_cast<uintptr_t>(p)), "-");
  for (std::string line; std::getline(maps, line);) {
    if (line.rfind(start, 0) == 0) return true;
  }
  return false;
}

bool LimitAddressSpaceToNow() {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t now = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE);
  struct rlimit limit = {now, now};
  return ::setrlimit(RLIMIT_AS, &limit) == 0;
}

timing_check::Sample SampleOf(const Comparison& comparison) {
  timing_check::Sample sample{comparison.median_ratio, absl::ZeroDuration()};
  for (const RunResult& r : comparison.runs) sample.busy_wall += r.elapsed * r.counts.size();
  return sample;
}

absl::StatusOr<timing_check::Measured> MeasureRingRatio(const RingOptions& options) {
  return timing_check::Measure(
      RUSAGE_CHILDREN,
      [&]() -> absl::StatusOr<timing_check::Sample> {
        std::vector<double> ratios;
        timing_check::Sample sample;
        for (int round = 0; round < 3; ++round) {
          IPC_ASSIGN_OR_RETURN(RingResult notes, broken::RunNotesRing(options));
          IPC_ASSIGN_OR_RETURN(RingResult mine, RunRing(options));
          ratios.push_back(mine.items_per_second() / notes.items_per_second());
          sample.busy_wall += 2 * (notes.elapsed + mine.elapsed);
        }
        sample.ratio = ipc::Median(ratios);
        return sample;
      },
      timing_check::kRingRatio);
}

}  // namespace false_sharing::test_util
