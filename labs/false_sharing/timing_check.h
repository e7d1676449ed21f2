// labs/false_sharing/timing_check.h: how the lab's tests measure a ratio honestly. Not yours to
// change; read it to see why a timing test of yours passed, failed or was skipped.
//
// A ratio of two throughputs means something only if the workers really ran at the same time, on
// their own cores. On a shared machine another process can take a core away half-way through a
// run; then the "packed" threads take turns instead of fighting over the line, and the ratio says
// nothing about false sharing. So each measurement also records how much CPU the workers got,
// as a fraction of (wall time x workers): the co-run fraction. A measurement below
// kMinCoRunFraction is repeated, and after kAttempts disturbed attempts the test is skipped with
// a message that says why, instead of failing a student for a busy machine (FS4). An undisturbed
// attempt that misses the expected ratio is repeated too: one clean measurement must show it. Sanitizers
// slow every access 5-20x and measure themselves, so timing tests skip under them.
//
// Partner files: false_sharing_test.cc and the hidden tests use these helpers.
#ifndef IPC_LABS_LABS_FALSE_SHARING_TIMING_CHECK_H_
#define IPC_LABS_LABS_FALSE_SHARING_TIMING_CHECK_H_

#include <sched.h>
#include <sys/resource.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace false_sharing::timing_check {

// True under --config=asan, tsan or ubsan: timing tests skip, and so do the tests that crash a
// child on purpose (a sanitizer reports the bad access itself, or reserves so much address space
// that RLIMIT_AS cannot be used).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || defined(IPCLABS_UBSAN)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// A measurement whose workers got less than this share of their cores is repeated.
inline constexpr double kMinCoRunFraction = 0.8;
inline constexpr int kAttempts = 6;

// The ring comparison (FS7) is smaller than the counters' in the unoptimised build the tests and
// the grader use: every index access is a real load or store there, for both rings alike. The
// reference measured 1.25x to 1.4x with the cores to itself (7x with -c opt); a ring whose hot
// fields share a line stays at 1.0x.
inline constexpr double kRingRatio = 1.2;

// The user + system CPU time of this process (RUSAGE_SELF: all its threads) or of its reaped
// children (RUSAGE_CHILDREN).
inline absl::Duration CpuTime(int who) {
  struct rusage usage {};
  if (::getrusage(who, &usage) == -1) return absl::ZeroDuration();  // cannot fail for these `who`
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

// One measurement: a ratio, and the wall time x workers it covered (for the co-run fraction).
struct Sample {
  double ratio = 0;
  absl::Duration busy_wall;  // the sum over runs of elapsed x workers
};

// The outcome of Measure(): a ratio from an undisturbed attempt, or the reason there is none.
struct Measured {
  std::optional<double> ratio;
  std::string skip_reason;  // set when ratio is empty
  std::string log;          // one line per attempt, for the failure message
};

// Measure()
//
// Calls `measure` up to kAttempts times. An attempt whose workers got at least kMinCoRunFraction
// of their cores (as counted by getrusage(`who`)) is undisturbed; the first undisturbed attempt
// that reaches `target` is returned at once. Otherwise the best undisturbed ratio is returned
// (the test's assertion then fails, with every attempt in the log), or, when no attempt was
// undisturbed, a skip reason. One clean measurement that shows the effect is enough: noise on a
// shared machine only ever hides false sharing, it does not create a 1.5x gap between two
// layouts that behave alike. `measure` returns the ratio and busy_wall; an error stops at once
// and is returned as is.
inline absl::StatusOr<Measured> Measure(int who,
                                        const std::function<absl::StatusOr<Sample>()>& measure,
                                        double target = 1.5) {
  Measured out;
  double best_fraction = 0;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    const absl::Duration cpu_before = CpuTime(who);
    absl::StatusOr<Sample> sample = measure();
    if (!sample.ok()) return sample.status();
    const absl::Duration cpu = CpuTime(who) - cpu_before;
    const double fraction =
        sample->busy_wall > absl::ZeroDuration() ? absl::FDivDuration(cpu, sample->busy_wall) : 0;
    best_fraction = std::max(best_fraction, fraction);
    absl::StrAppendFormat(&out.log, "attempt %d: ratio %.2f, workers had %.0f%% of their cores\n",
                          attempt, sample->ratio, 100 * fraction);
    if (fraction >= kMinCoRunFraction) {
      if (!out.ratio || sample->ratio > *out.ratio) out.ratio = sample->ratio;
      if (*out.ratio >= target) return out;
    }
  }
  if (out.ratio) return out;
  out.skip_reason = absl::StrFormat(
      "this machine is too busy to measure false sharing: in %d attempts the workers never had "
      "more than %.0f%% of their cores (at least %.0f%% is needed for the threads to really run "
      "at the same time). Rerun on a quiet machine (FS4).\n%s",
      kAttempts, 100 * best_fraction, 100 * kMinCoRunFraction, out.log);
  return out;
}

// AffinityGuard
//
// Restricts the calling thread (and the threads it creates afterwards) to `cpus` until the guard
// goes out of scope, then restores the old mask. Tests use it to play a smaller machine.
class AffinityGuard {
 public:
  explicit AffinityGuard(const std::vector<int>& cpus) {
    CPU_ZERO(&saved_);
    ok_ = ::sched_getaffinity(0, sizeof saved_, &saved_) == 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus) CPU_SET(cpu, &set);
    ok_ = ok_ && ::sched_setaffinity(0, sizeof set, &set) == 0;
  }
  AffinityGuard(const AffinityGuard&) = delete;
  AffinityGuard& operator=(const AffinityGuard&) = delete;
  ~AffinityGuard() { ::sched_setaffinity(0, sizeof saved_, &saved_); }

  // True if the mask was set.
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_;
  bool ok_ = false;
};

}  // namespace false_sharing::timing_check

#endif  // IPC_LABS_LABS_FALSE_SHARING_TIMING_CHECK_H_
