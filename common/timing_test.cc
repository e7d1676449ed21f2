// Tests of common/timing.h.
#include "common/timing.h"

#include <unistd.h>

#include "common/process.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

TEST(MedianTest, OddAndEvenCounts) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({7}), 7);
}

TEST(StopwatchTest, NeverRunsBackwards) {
  Stopwatch watch;
  absl::Duration first = watch.Elapsed();
  ::usleep(1000);
  EXPECT_GE(watch.Elapsed(), first + absl::Milliseconds(1));
}

TEST(DeadlineTest, LiesInTheFuture) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  struct timespec deadline = MonotonicDeadlineIn(absl::Seconds(2));
  EXPECT_GE(deadline.tv_sec, now.tv_sec + 1);
  EXPECT_LT(deadline.tv_nsec, 1'000'000'000);
}

TEST(ProcessStatsTest, ASleepingChildIsInStateSAndUsesNoCpu) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] {
                             for (;;) ::pause();
                             return 0;
                           }));
  ::usleep(50'000);
  IPC_ASSERT_OK_AND_ASSIGN(char state, ProcessState(child.pid()));
  EXPECT_EQ(state, 'S');
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu, ProcessCpuTime(child.pid()));
  EXPECT_LT(cpu, absl::Milliseconds(50));
}

TEST(ProcessStatsTest, ABusyProcessAccumulatesCpu) {
  Stopwatch watch;
  volatile unsigned sink = 0;
  while (watch.Elapsed() < absl::Milliseconds(100)) sink = sink + 1;
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu, ProcessCpuTime(::getpid()));
  EXPECT_GT(cpu, absl::ZeroDuration());
}

TEST(ProcessStatsTest, AMissingProcessIsNotFound) {
  EXPECT_THAT(ProcessState(0x7ffffff0), testing::HasErrno(ENOENT));
}

}  // namespace
}  // namespace ipc

namespace ipc {
namespace {

// A child asleep in a loop of short sleeps gives up the CPU each time: its count grows.
TEST(VoluntaryContextSwitchesTest, CountsASleepersWakeUps) {
  absl::StatusOr<Child> child = Child::Fork([] {
    for (int i = 0; i < 1000; ++i) ::usleep(1000);
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<uint64_t> before = VoluntaryContextSwitches(child->pid());
  ASSERT_TRUE(before.ok()) << before.status();
  ::usleep(200 * 1000);
  absl::StatusOr<uint64_t> after = VoluntaryContextSwitches(child->pid());
  ASSERT_TRUE(after.ok()) << after.status();
  // ~200 sleeps of 1 ms in 200 ms; on a loaded machine far fewer run, but never none.
  EXPECT_GT(*after, *before) << "a process that sleeps must add voluntary context switches";
  // ~Child kills and reaps the sleeper.
}

TEST(VoluntaryContextSwitchesTest, AMissingProcessIsNotFound) {
  absl::StatusOr<uint64_t> switches = VoluntaryContextSwitches(0x7ffffff0);
  EXPECT_EQ(switches.status().code(), absl::StatusCode::kNotFound) << switches.status();
}

}  // namespace
}  // namespace ipc
