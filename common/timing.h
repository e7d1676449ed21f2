// common/timing.h: small timing helpers for tests and benchmarks.
//
// Tests never assert absolute times; they use these to bound waits, to measure how much CPU an
// idle process burned, and to compare two measurements taken in the same run.
#ifndef IPC_LABS_COMMON_TIMING_H_
#define IPC_LABS_COMMON_TIMING_H_

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ipc {

// MonotonicNow()
//
// CLOCK_MONOTONIC as a Duration since an arbitrary start: never jumps when the wall clock is set.
absl::Duration MonotonicNow();

// Stopwatch
//
// Measures elapsed monotonic time from construction (or the last Restart()).
class Stopwatch {
 public:
  Stopwatch() : start_(MonotonicNow()) {}
  void Restart() { start_ = MonotonicNow(); }
  absl::Duration Elapsed() const { return MonotonicNow() - start_; }

 private:
  absl::Duration start_;
};

// DeadlineIn()
//
// A `struct timespec` for CLOCK_REALTIME `timeout` from now, as sem_timedwait, mq_timedreceive and
// pthread_mutex_timedlock want. Prefer MonotonicDeadlineIn() where the call takes a clock
// (sem_clockwait, pthread_cond_clockwait): a wall-clock deadline moves when the clock is set.
struct timespec DeadlineIn(absl::Duration timeout);

// MonotonicDeadlineIn()
//
// The same on CLOCK_MONOTONIC.
struct timespec MonotonicDeadlineIn(absl::Duration timeout);

// ProcessCpuTime()
//
// The user plus system CPU time process `pid` has used so far (from /proc/PID/stat). Errors: the
// process does not exist (NOT_FOUND), the file cannot be parsed.
absl::StatusOr<absl::Duration> ProcessCpuTime(pid_t pid);

// ProcessState()
//
// The one-letter scheduler state of `pid` from /proc/PID/stat: 'R' running, 'S' sleeping in a
// wait queue, 'D', 'Z' zombie, 'T' stopped. Errors as ProcessCpuTime().
absl::StatusOr<char> ProcessState(pid_t pid);

// VoluntaryContextSwitches()
//
// How many times process `pid` has given up the CPU of its own accord so far
// (voluntary_ctxt_switches in /proc/PID/status): each is one sleep (a futex wait, a blocking
// read). A waiter that sleeps properly adds a handful while idle; a sleep-polling loop adds
// hundreds a second. Errors: the process does not exist (NOT_FOUND), the field is missing.
absl::StatusOr<uint64_t> VoluntaryContextSwitches(pid_t pid);

// Median()
//
// The median of `samples` (the mean of the middle two for an even count). Requires non-empty.
double Median(std::vector<double> samples);

}  // namespace ipc

#endif  // IPC_LABS_COMMON_TIMING_H_
