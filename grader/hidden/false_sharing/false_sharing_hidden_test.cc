// grader/hidden/false_sharing/false_sharing_hidden_test.cc: the hidden tests of the false sharing
// lab.
//
// The same tasks as the public tests, checked harder: sizes and moves of the mapping, the
// address-space limit the grader itself imposes, four workers or a one-CPU machine, no thread or
// child left behind on any path (deadlines included), a million ring items, and the speed item's
// two cases (Speed.Student and Speed.Baseline, which the grader runs alternately and compares:
// lab.json "speed"). Built against the student library and the reference (tools/lab.bzl):
//   bazel test //grader/hidden/false_sharing:all
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/affinity.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/false_sharing/baseline.h"
#include "labs/false_sharing/broken.h"
#include "labs/false_sharing/false_sharing.h"
#include "labs/false_sharing/false_sharing_test_util.h"
#include "labs/false_sharing/timing_check.h"

namespace false_sharing {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using test_util::Cpus;
using test_util::IsMapped;
using test_util::MeasureRingRatio;
using test_util::StudentCpus;
using ::testing::ElementsAreArray;
using timing_check::kSanitized;

constexpr absl::Duration kChildTimeout = absl::Seconds(10);

using HiddenSharedMappingTest = ipc::testing::LeakCheckedTest;
using HiddenCounterForTest = ipc::testing::LeakCheckedTest;
using HiddenWorkerCpusTest = ipc::testing::LeakCheckedTest;
using HiddenRunThreadsTest = ipc::testing::LeakCheckedTest;
using HiddenRunProcessesTest = ipc::testing::LeakCheckedTest;
using HiddenCompareTest = ipc::testing::LeakCheckedTest;
using HiddenRingTest = ipc::testing::LeakCheckedTest;
using HiddenFindTheBugTest = ipc::testing::LeakCheckedTest;
using Speed = ipc::testing::LeakCheckedTest;

// The number of threads of this process (entries of /proc/self/task).
int ThreadCount() {
  int n = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
    ::closedir(dir);
  }
  return n;
}

// True if this process has no child left, reaped or not.
bool NoChildren() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

// ---------------------------------------------------------------------------------------------
// Task 1.

TEST_F(HiddenSharedMappingTest, AnOddSizeIsKeptAndItsLastByteIsUsable) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping mapping, SharedMapping::Create(5000));
  EXPECT_EQ(mapping.size(), 5000u) << "size() is what was asked for";
  mapping.As<char>()[4999] = 'x';
  EXPECT_EQ(mapping.As<char>()[4999], 'x');
}

TEST_F(HiddenSharedMappingTest, MoveAssignmentUnmapsWhatItReplaces) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping a, SharedMapping::Create(4096));
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping b, SharedMapping::Create(4096));
  void* old = a.data();
  void* kept = b.data();
  a = std::move(b);
  EXPECT_EQ(a.data(), kept);
  EXPECT_FALSE(IsMapped(old)) << "the mapping a held before the assignment must be unmapped";
  EXPECT_TRUE(IsMapped(kept));
}

// FS8: the grader limits each case's memory; under RLIMIT_AS, Create fails cleanly with ENOMEM.
TEST_F(HiddenSharedMappingTest, UnderAnAddressSpaceLimitCreateFailsWithEnomem) {
  if (kSanitized)
    GTEST_SKIP() << "under a sanitizer: it reserves terabytes of address space (no RLIMIT_AS) "
                    "and reports the bad write itself";
  ASSERT_THAT(SharedMapping::Create(4096), IsOk()) << "Task 1 first";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([] {
                             if (!test_util::LimitAddressSpaceToNow()) return 3;
                             absl::StatusOr<SharedMapping> mapping = SharedMapping::Create(1 << 20);
                             if (mapping.ok()) return 4;
                             return ipc::ErrnoOf(mapping.status()) == ENOMEM ? 0 : 5;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "expected ENOMEM from mmap, as an ipc::ErrnoError: "
                                  << status.ToString();
}

TEST_F(HiddenSharedMappingTest, TwoChildrenForkedAfterCreateSeeEachOthersWrites) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping mapping, SharedMapping::CreateFor<CounterBlock>());
  CounterBlock* block = mapping.As<CounterBlock>();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([block] {
                             block->padded.slot[0].count.store(7, std::memory_order_release);
                             return 0;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus w, writer.Wait(kChildTimeout));
  ASSERT_TRUE(w.Succeeded());
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child reader, ipc::Child::Fork([block] {
        return block->padded.slot[0].count.load(std::memory_order_acquire) == 7 ? 0 : 1;
      }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus r, reader.Wait(kChildTimeout));
  EXPECT_TRUE(r.Succeeded()) << "a sibling must see the first child's write: MAP_SHARED";
}

// ---------------------------------------------------------------------------------------------
// Task 2.

TEST_F(HiddenCounterForTest, EveryWorkerOfEveryLayoutHasItsOwnCounter) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping mapping, SharedMapping::CreateFor<CounterBlock>());
  CounterBlock* block = mapping.As<CounterBlock>();
  for (Layout layout : {Layout::kPacked, Layout::kPadded, Layout::kThreadLocal}) {
    std::set<void*> seen;
    for (int i = 0; i < kMaxWorkers; ++i) {
      IPC_ASSERT_OK_AND_ASSIGN(std::atomic<int64_t> * c, CounterFor(block, layout, i));
      seen.insert(c);
      EXPECT_GE(reinterpret_cast<char*>(c), reinterpret_cast<char*>(block));
      EXPECT_LT(reinterpret_cast<char*>(c), reinterpret_cast<char*>(block + 1))
          << "every counter lies inside the block";
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(kMaxWorkers)) << LayoutName(layout);
  }
}

// FS4, FS1: on a machine with hyperthreads, one CPU per physical core comes first.
TEST_F(HiddenWorkerCpusTest, DistinctPhysicalCoresComeFirst) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> allowed, ipc::AllowedCpus());
  auto core_of = [](int cpu) {
    const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu", cpu, "/topology/");
    long package = -1, core = -1;
    std::ifstream(dir + "physical_package_id") >> package;
    std::ifstream(dir + "core_id") >> core;
    return package < 0 || core < 0 ? std::make_pair(-1L - cpu, -1L) : std::make_pair(package, core);
  };
  std::set<std::pair<long, long>> cores;
  for (int cpu : allowed) cores.insert(core_of(cpu));
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> cpus, WorkerCpus());
  std::set<std::pair<long, long>> chosen;
  for (int cpu : cpus) chosen.insert(core_of(cpu));
  EXPECT_EQ(chosen.size(), std::min(cores.size(), cpus.size()))
      << "two hyperthreads of one core share its L1: pick distinct cores while there are some";
}

TEST_F(HiddenWorkerCpusTest, OneWorkerAskedGivesTheFirstAllowedCpu) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> allowed, ipc::AllowedCpus());
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> one, WorkerCpus(1));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(std::count(allowed.begin(), allowed.end(), one[0]));
}

// ---------------------------------------------------------------------------------------------
// Task 3.

TEST_F(HiddenRunThreadsTest, AMillionIncrementsPerWorkerAreExact) {
  RunOptions options;
  options.cpus = Cpus();
  options.increments = 1'000'000;
  for (Layout layout : {Layout::kPacked, Layout::kPadded, Layout::kThreadLocal}) {
    options.layout = layout;
    IPC_ASSERT_OK_AND_ASSIGN(RunResult result, RunThreads(options));
    EXPECT_THAT(result.counts,
                ElementsAreArray(std::vector<int64_t>(options.cpus.size(), 1'000'000)))
        << LayoutName(layout);
    EXPECT_EQ(result.total(), static_cast<int64_t>(1'000'000 * options.cpus.size()));
  }
}

TEST_F(HiddenRunThreadsTest, OneWorkerOnOneCpu) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> allowed, ipc::AllowedCpus());
  RunOptions options;
  options.cpus = {allowed.back()};
  options.increments = 5000;
  IPC_ASSERT_OK_AND_ASSIGN(RunResult result, RunThreads(options));
  EXPECT_THAT(result.counts, ElementsAreArray({int64_t{5000}}));
  EXPECT_THAT(result.ran_on, ElementsAreArray({allowed.back()}));
}

TEST_F(HiddenRunThreadsTest, AFailedRunLeavesNoThreadBehind) {
  const int before = ThreadCount();
  RunOptions options;
  options.cpus = {Cpus().front(), CPU_SETSIZE + 7};
  EXPECT_THAT(RunThreads(options), HasErrno(EINVAL));
  EXPECT_EQ(ThreadCount(), before) << "every thread started must be joined on the error path";
  options.cpus = Cpus();
  IPC_ASSERT_OK_AND_ASSIGN(RunResult ok, RunThreads(options));
  EXPECT_EQ(ThreadCount(), before) << "and on the success path";
}

// ---------------------------------------------------------------------------------------------
// Task 4.

TEST_F(HiddenRunProcessesTest, HalfAMillionIncrementsPerProcessAreExact) {
  RunOptions options;
  options.cpus = Cpus();
  options.increments = 500'000;
  for (Layout layout : {Layout::kPacked, Layout::kPadded, Layout::kThreadLocal}) {
    options.layout = layout;
    IPC_ASSERT_OK_AND_ASSIGN(RunResult result, RunProcesses(options));
    EXPECT_THAT(result.counts, ElementsAreArray(std::vector<int64_t>(options.cpus.size(), 500'000)))
        << LayoutName(layout);
    EXPECT_THAT(result.ran_on, ElementsAreArray(options.cpus));
    EXPECT_GT(result.elapsed, absl::ZeroDuration());
  }
  EXPECT_TRUE(NoChildren()) << "every worker reaped";
}

TEST_F(HiddenRunProcessesTest, ADeadlineKillsTheWorkersAndSaysSo) {
  RunOptions options;
  options.cpus = Cpus();
  options.increments = int64_t{1} << 40;  // hours of work
  options.timeout = absl::Milliseconds(300);
  ipc::Stopwatch watch;
  EXPECT_THAT(RunProcesses(options), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(watch.Elapsed(), absl::Seconds(5)) << "give up at options.timeout";
  EXPECT_TRUE(NoChildren()) << "a worker outlived RunProcesses: kill and reap on every path";
}

// ---------------------------------------------------------------------------------------------
// Task 5.

TEST_F(HiddenCompareTest, OneRoundRunsTheBaselineFirst) {
  CompareOptions options;
  options.baseline = Layout::kPadded;
  options.candidate = Layout::kThreadLocal;
  options.cpus = Cpus();
  options.increments = 1000;
  options.rounds = 1;
  IPC_ASSERT_OK_AND_ASSIGN(Comparison c, CompareLayouts(options));
  ASSERT_EQ(c.runs.size(), 2u);
  EXPECT_EQ(c.runs[0].layout, Layout::kPadded);
  EXPECT_EQ(c.runs[1].layout, Layout::kThreadLocal);
  ASSERT_EQ(c.ratios.size(), 1u);
  EXPECT_DOUBLE_EQ(c.median_ratio, c.ratios[0]);
}

TEST_F(HiddenCompareTest, ProcessesOptionRunsForkedWorkers) {
  CompareOptions options;
  options.cpus = Cpus();
  options.increments = 20'000;
  options.rounds = 3;
  options.processes = true;
  const absl::Duration children_before = timing_check::CpuTime(RUSAGE_CHILDREN);
  IPC_ASSERT_OK_AND_ASSIGN(Comparison c, CompareLayouts(options));
  ASSERT_EQ(c.runs.size(), 6u);
  for (const RunResult& r : c.runs) {
    EXPECT_EQ(r.total(), static_cast<int64_t>(20'000 * options.cpus.size()));
  }
  EXPECT_GT(timing_check::CpuTime(RUSAGE_CHILDREN), children_before)
      << "processes = true must count in forked workers (RunProcesses)";
  EXPECT_TRUE(NoChildren());
}

// FS5: a local sum published once beats an atomic per increment.
TEST_F(HiddenCompareTest, ThreadLocalBeatsPaddedAtomicsBetweenProcesses) {
  if (kSanitized) GTEST_SKIP() << "timing under a sanitizer measures the sanitizer";
  CompareOptions options;
  options.baseline = Layout::kPadded;
  options.candidate = Layout::kThreadLocal;
  options.cpus = StudentCpus();
  // Long enough that forking and reaping the workers (in `elapsed`) is small beside the work.
  options.increments = 10'000'000;
  options.rounds = 3;
  options.processes = true;
  IPC_ASSERT_OK_AND_ASSIGN(
      timing_check::Measured measured,
      timing_check::Measure(RUSAGE_CHILDREN, [&]() -> absl::StatusOr<timing_check::Sample> {
        IPC_ASSIGN_OR_RETURN(Comparison c, CompareLayouts(options));
        return test_util::SampleOf(c);
      }));
  if (!measured.ratio) GTEST_SKIP() << measured.skip_reason;
  EXPECT_GE(*measured.ratio, 1.5) << "kThreadLocal must add to a local variable and store once "
                                     "at the end (FS5)\n"
                                  << measured.log;
}

// FS2 between processes: the line bounces between processes exactly as between threads.
TEST_F(HiddenCompareTest, PaddedBeatsPackedBetweenProcesses) {
  if (kSanitized) GTEST_SKIP() << "timing under a sanitizer measures the sanitizer";
  CompareOptions options;
  options.cpus = StudentCpus();
  ASSERT_FALSE(options.cpus.empty()) << "WorkerCpus() is Task 2";
  if (options.cpus.size() < 2) GTEST_SKIP() << "only one CPU: nothing to share a line with (FS4)";
  options.increments = 2'000'000;
  options.processes = true;
  IPC_ASSERT_OK_AND_ASSIGN(
      timing_check::Measured measured,
      timing_check::Measure(RUSAGE_CHILDREN, [&]() -> absl::StatusOr<timing_check::Sample> {
        IPC_ASSIGN_OR_RETURN(Comparison c, CompareLayouts(options));
        return test_util::SampleOf(c);
      }));
  if (!measured.ratio) GTEST_SKIP() << measured.skip_reason;
  EXPECT_GE(*measured.ratio, 1.5) << measured.log;
}

// ---------------------------------------------------------------------------------------------
// Task 6.

TEST_F(HiddenRingTest, AMillionItemsArriveAndTheStatisticsAddUp) {
  const std::vector<int> cpus = Cpus();
  RingOptions options;
  options.producer_cpu = cpus.front();
  options.consumer_cpu = cpus.back();
  options.items = 1'000'000;
  IPC_ASSERT_OK_AND_ASSIGN(RingResult result, RunRing(options));
  EXPECT_EQ(result.checksum, 1'000'000ull * 999'999 / 2);
  EXPECT_EQ(result.pushes, 1'000'000u);
  EXPECT_EQ(result.pops, 1'000'000u);
  EXPECT_TRUE(NoChildren());
}

TEST_F(HiddenRingTest, FewerItemsThanSlotsAndExactlyOneRingful) {
  const std::vector<int> cpus = Cpus();
  for (uint64_t items : {uint64_t{1}, uint64_t{3}, kRingCapacity, kRingCapacity + 1}) {
    RingOptions options;
    options.producer_cpu = cpus.front();
    options.consumer_cpu = cpus.back();
    options.items = items;
    IPC_ASSERT_OK_AND_ASSIGN(RingResult result, RunRing(options));
    EXPECT_EQ(result.checksum, items * (items - 1) / 2) << items << " items";
  }
}

TEST_F(HiddenRingTest, ADeadlineKillsBothSides) {
  const std::vector<int> cpus = Cpus();
  RingOptions options;
  options.producer_cpu = cpus.front();
  options.consumer_cpu = cpus.back();
  options.items = uint64_t{1} << 40;
  options.timeout = absl::Milliseconds(300);
  ipc::Stopwatch watch;
  EXPECT_THAT(RunRing(options), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(watch.Elapsed(), absl::Seconds(5));
  EXPECT_TRUE(NoChildren()) << "neither side may outlive RunRing";
}

// FS7 again, in the hidden suite: the producer on the first CPU and the consumer on the second.
TEST_F(HiddenRingTest, SeparateLinesBeatTheNotesRing) {
  if (kSanitized) GTEST_SKIP() << "timing under a sanitizer measures the sanitizer";
  const std::vector<int> cpus = StudentCpus();
  ASSERT_FALSE(cpus.empty()) << "WorkerCpus() is Task 2";
  if (cpus.size() < 2) GTEST_SKIP() << "only one CPU: the two sides never run at the same time";
  RingOptions options;
  options.producer_cpu = cpus[0];
  options.consumer_cpu = cpus[1];
  options.items = 300'000;
  IPC_ASSERT_OK_AND_ASSIGN(timing_check::Measured measured, MeasureRingRatio(options));
  if (!measured.ratio) GTEST_SKIP() << measured.skip_reason;
  EXPECT_GE(*measured.ratio, timing_check::kRingRatio) << measured.log;
}

// ---------------------------------------------------------------------------------------------
// Find the bug, harder.

// FS4: on one CPU the notes still start four threads, all on that CPU; yours starts one.
TEST_F(HiddenFindTheBugTest, OnOneCpuTheNotesStillStartFourThreads) {
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> allowed, ipc::AllowedCpus());
  timing_check::AffinityGuard guard({allowed.front()});
  ASSERT_TRUE(guard.ok());
  IPC_ASSERT_OK_AND_ASSIGN(broken::NotesHarnessResult notes,
                           broken::RunNotesHarness(absl::Milliseconds(10)));
  EXPECT_EQ(notes.threads, 4);
  for (int cpu : notes.ran_on) EXPECT_EQ(cpu, allowed.front());
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<int> cpus, WorkerCpus());
  EXPECT_THAT(cpus, ElementsAreArray({allowed.front()})) << "one CPU, one worker";
}

// FS8: the notes die on the first write; the student's code reports and carries on.
TEST_F(HiddenFindTheBugTest, UnderTheLimitTheNotesCrashAndRunThreadsReportsEnomem) {
  if (kSanitized)
    GTEST_SKIP() << "under a sanitizer: it reserves terabytes of address space (no RLIMIT_AS) "
                    "and reports the bad write itself";
  ASSERT_THAT(SharedMapping::Create(4096), IsOk()) << "Task 1 first";
  const std::vector<int> cpus = Cpus();
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child notes, ipc::Child::Fork([] {
        ::signal(SIGSEGV, SIG_DFL);  // die of the signal itself, not in a sanitizer's handler
        if (!test_util::LimitAddressSpaceToNow()) return 3;
        broken::MapCountersUnchecked()->flags.go.store(1);
        return 0;
      }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus notes_status, notes.Wait(kChildTimeout));
  EXPECT_EQ(notes_status.signal, SIGSEGV) << notes_status.ToString();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child mine, ipc::Child::Fork([&cpus] {
                             if (!test_util::LimitAddressSpaceToNow()) return 3;
                             RunOptions options;
                             options.cpus = cpus;
                             absl::StatusOr<RunResult> result = RunThreads(options);
                             if (result.ok()) return 4;
                             // ENOMEM from the mapping, or EAGAIN from pthread_create if threads
                             // come first.
                             const std::optional<int> err = ipc::ErrnoOf(result.status());
                             return err == ENOMEM || err == EAGAIN ? 0 : 5;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus mine_status, mine.Wait(kChildTimeout));
  EXPECT_TRUE(mine_status.Succeeded())
      << "RunThreads must pass the failure up as an ipc::ErrnoError (ENOMEM from mmap, or "
         "EAGAIN from pthread_create) (exit 0); 4: it succeeded; 5: another error; otherwise it "
         "crashed: "
      << mine_status.ToString();
}

// ---------------------------------------------------------------------------------------------
// Speed (lab.json "speed"): the grader runs Speed.Student and Speed.Baseline alternately and
// grades the ratio of their ops_per_sec: your padded run against the notes' packed layout, the
// same pinned threads and start flag (baseline.h). Timing alone is not graded here: both cases
// check their counts, so a fast wrong answer scores nothing.

constexpr int64_t kSpeedIncrements = 4'000'000;

void ReportOpsPerSecond(const RunResult& result) {
  std::printf("IPCLABS_METRIC ops_per_sec=%.0f\n", result.ops_per_second());
  std::fflush(stdout);
  ::testing::Test::RecordProperty("ops_per_sec",
                                  absl::StrCat(static_cast<int64_t>(result.ops_per_second())));
}

TEST_F(Speed, Student) {
  const std::vector<int> cpus = Cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "only one CPU: false sharing cannot be measured (FS4)";
  RunOptions options;
  options.layout = Layout::kPadded;
  options.cpus = cpus;
  options.increments = kSpeedIncrements;
  IPC_ASSERT_OK_AND_ASSIGN(RunResult result, RunThreads(options));
  ASSERT_EQ(result.total(), kSpeedIncrements * static_cast<int64_t>(cpus.size()));
  ReportOpsPerSecond(result);
}

TEST_F(Speed, Baseline) {
  const std::vector<int> cpus = Cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "only one CPU: false sharing cannot be measured (FS4)";
  IPC_ASSERT_OK_AND_ASSIGN(RunResult result, baseline::RunPackedPinned(cpus, kSpeedIncrements));
  ASSERT_EQ(result.total(), kSpeedIncrements * static_cast<int64_t>(cpus.size()));
  ReportOpsPerSecond(result);
}

}  // namespace
}  // namespace false_sharing
