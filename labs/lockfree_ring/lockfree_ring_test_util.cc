// labs/lockfree_ring/lockfree_ring_test_util.cc: the helpers of lockfree_ring_test_util.h, shared
// by the public and the hidden tests of the lock-free ring lab.
#include "labs/lockfree_ring/lockfree_ring_test_util.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/names.h"
#include "common/status.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockfree_ring::test_util {
namespace {

PauseControl* g_pause = nullptr;  // set by UsePause() before fork; the child's hooks use it

}  // namespace

absl::Status StreamSlotsAcrossProcesses(SharedRing& ring, SlotConsumer& consumer, uint64_t count,
                                        uint64_t seed, absl::Duration wait) {
  IPC_ASSIGN_OR_RETURN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                         absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                         if (!producer.ok()) return ChildFails(producer.status().ToString());
                         for (uint64_t i = 0; i < count; ++i) {
                           stress::SlotMessage m = stress::MakeSlotMessage(i, seed);
                           absl::Status pushed = producer->Push(&m, wait);
                           if (!pushed.ok()) {
                             return ChildFails(absl::StrCat("push ", i, ": ", pushed.ToString()));
                           }
                         }
                         return 0;
                       }));
  stress::SlotMessage m;
  const uint64_t slots = consumer.capacity();
  for (uint64_t i = 0; i < count; ++i) {
    absl::Status popped = consumer.Pop(&m, wait);
    if (!popped.ok()) return ipc::WithContext(popped, absl::StrCat("pop ", i, " of ", count));
    if (!stress::SlotMessageIs(m, i, seed)) {
      return absl::DataLossError(absl::StrCat(
          "message ", i, " of ", count, " is not the one pushed (sequence ", m.sequence,
          "): lost, duplicated, reordered or torn, on trip ", i / slots, " around the ring"));
    }
  }
  IPC_ASSIGN_OR_RETURN(ipc::ExitStatus status, child.Wait(wait + kChildTimeout));
  if (!status.Succeeded()) {
    return absl::InternalError(absl::StrCat("the producer ", status.ToString()));
  }
  return absl::OkStatus();
}

int ChildFails(const std::string& what) {
  std::fprintf(stderr, "child %d: %s\n", ::getpid(), what.c_str());
  std::fflush(stderr);
  return 1;
}

bool AwaitFlag(const std::atomic<uint32_t>& flag, absl::Duration timeout) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  // Acquire: pairs with the release store that raises the flag.
  while (flag.load(std::memory_order_acquire) == 0) {
    if (ipc::MonotonicNow() > deadline) return false;
    ::sched_yield();
  }
  return true;
}

absl::StatusOr<IdleReport> MeasureIdle(pid_t pid, absl::Duration window) {
  IPC_ASSIGN_OR_RETURN(const absl::Duration cpu_before, ipc::ProcessCpuTime(pid));
  IPC_ASSIGN_OR_RETURN(const uint64_t switches_before, ipc::VoluntaryContextSwitches(pid));
  absl::SleepFor(window);
  IPC_ASSIGN_OR_RETURN(const absl::Duration cpu_after, ipc::ProcessCpuTime(pid));
  IPC_ASSIGN_OR_RETURN(const uint64_t switches_after, ipc::VoluntaryContextSwitches(pid));
  return IdleReport{absl::FDivDuration(cpu_after - cpu_before, window),
                    switches_after - switches_before};
}

absl::StatusOr<ProgramsRun> RunPrograms(const std::vector<std::string>& args) {
  std::vector<std::string> consumer_args = {"ring_consumer"};
  consumer_args.insert(consumer_args.end(), args.begin(), args.end());
  std::vector<std::string> producer_args = {"ring_producer"};
  producer_args.insert(producer_args.end(), args.begin(), args.end());
  IPC_ASSIGN_OR_RETURN(
      ipc::Child consumer,
      ipc::Child::Exec(ipc::testing::ProgramPath("ring_consumer"), consumer_args));
  IPC_ASSIGN_OR_RETURN(
      ipc::Child producer,
      ipc::Child::Exec(ipc::testing::ProgramPath("ring_producer"), producer_args));
  ProgramsRun run;
  IPC_ASSIGN_OR_RETURN(run.produced, producer.Wait(kChildTimeout));
  IPC_ASSIGN_OR_RETURN(run.consumed, consumer.Wait(kChildTimeout));
  return run;
}

void RingTest::TearDown() {
  for (const std::string& name : created_) {
    EXPECT_THAT(SharedRing::Unlink(name), ipc::testing::IsOk())
        << "SharedRing::Unlink(" << name << ") failed: is it shm_unlink? (task 1)";
  }
  // Objects the test made itself; already gone is fine, so the result is not checked.
  for (const std::string& name : raw_) ::shm_unlink(name.c_str());
  LeakCheckedTest::TearDown();
}

absl::StatusOr<SharedRing> RingTest::Create(const RingOptions& options, std::string* name_out) {
  std::string name = ipc::UniqueName("ring");
  absl::StatusOr<SharedRing> ring = SharedRing::Create(name, options);
  if (ring.ok()) created_.push_back(name);
  if (name_out != nullptr) *name_out = name;
  return ring;
}

RingOptions RingTest::Slots(uint64_t capacity, uint32_t slot_size, uint64_t initial_index) {
  RingOptions options;
  options.kind = RingKind::kSlots;
  options.capacity = capacity;
  options.slot_size = slot_size;
  options.initial_index = initial_index;
  return options;
}

RingOptions RingTest::Records(uint64_t capacity) {
  RingOptions options;
  options.kind = RingKind::kRecords;
  options.capacity = capacity;
  return options;
}

void UsePause(PauseControl* pause) { g_pause = pause; }

void PauseHere() {
  // Release: pairs with the parent's AwaitFlag; acquire on `release` (in AwaitFlag) pairs with
  // the parent's release store.
  g_pause->paused.store(1, std::memory_order_release);
  AwaitFlag(g_pause->release, absl::Seconds(10));
}

void PauseAfterClaim(uint64_t) { PauseHere(); }

}  // namespace lockfree_ring::test_util
