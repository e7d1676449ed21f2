// labs/lockfree_ring/lockfree_ring_test_util.h: helpers that the public tests
// (lockfree_ring_test.cc) and the grader's hidden tests of this lab share, so that both run one
// copy of them: the ring fixture, the child's failure report, a flag wait, and the pause that
// the "find the race" schedules put a producer in.
//
// Built by labs/lockfree_ring/BUILD as :test_util (testonly, compiled against lockfree_ring.h).
// Partner: lockfree_ring_test_util.cc.
#ifndef IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_TEST_UTIL_H_
#define IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_TEST_UTIL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "labs/lockfree_ring/lockfree_ring.h"
#include "labs/lockfree_ring/stress.h"

namespace lockfree_ring::test_util {

// How long a test waits for a child process before Child::Wait kills it.
inline constexpr absl::Duration kChildTimeout = absl::Seconds(20);

// StreamSlotsAcrossProcesses()
//
// Forks a producer that attaches to `ring` and pushes `count` sequenced, checksummed messages
// (stress::MakeSlotMessage(i, seed)); this process pops them through `consumer`. Each Push and
// Pop waits at most `wait`. Returns OK when every message arrived in order and intact and the
// producer exited 0; otherwise a status naming the first message that was lost, duplicated,
// reordered or torn (with the trip around the ring it happened on), the failed Pop, or how the
// producer ended.
absl::Status StreamSlotsAcrossProcesses(SharedRing& ring, SlotConsumer& consumer, uint64_t count,
                                        uint64_t seed, absl::Duration wait);

// ChildFails()
//
// Reports a failure from inside a forked child (gtest assertions do not cross fork) on stderr,
// with the child's pid, and returns the exit code to return from the child: 1.
int ChildFails(const std::string& what);

// AwaitFlag()
//
// Yields the CPU until `flag` becomes non-zero (acquire load, pairs with the release store that
// raises it) or `timeout` passes. Returns whether the flag rose.
bool AwaitFlag(const std::atomic<uint32_t>& flag, absl::Duration timeout);

// IdleReport
//
// How a process behaved while the test left it alone: the share of one CPU it used and how many
// times it went to sleep of its own accord (each voluntary context switch is one wake-up and
// sleep again; a futex sleeper adds a handful, a sleep-polling loop hundreds a second).
struct IdleReport {
  double cpu_share = 0;  // CPU time used / `window`
  uint64_t wakeups = 0;  // voluntary context switches during `window`
};

// MeasureIdle()
//
// Sleeps for `window` and reports what process `pid` did meanwhile (ipc::ProcessCpuTime and
// ipc::VoluntaryContextSwitches before and after). Errors: those of the two readers (NOT_FOUND
// if the process is gone).
absl::StatusOr<IdleReport> MeasureIdle(pid_t pid, absl::Duration window);

// ProgramsRun
//
// How the two lab programs of one exec run ended.
struct ProgramsRun {
  ipc::ExitStatus produced;  // ring_producer
  ipc::ExitStatus consumed;  // ring_consumer
};

// RunPrograms()
//
// Execs ring_consumer, then ring_producer (found beside the test binary), both with `args`
// (argv[1] onward: --name, --kind, --count, --seed), and waits for both (kChildTimeout each; a
// program still running then is killed). Errors: an exec or wait failing.
absl::StatusOr<ProgramsRun> RunPrograms(const std::vector<std::string>& args);

// RingTest
//
// The lab's fixture: leak-checked, and it removes every ring a test made with Create() (through
// the student's SharedRing::Unlink, which must succeed) and every raw object a test named in
// raw_ (shm_unlink, errors ignored) before the leak check runs.
class RingTest : public ipc::testing::LeakCheckedTest {
 protected:
  void TearDown() override;

  // Creates a ring under a fresh ipc::UniqueName and remembers to unlink it; its name goes to
  // *name_out if given. Errors: those of SharedRing::Create.
  absl::StatusOr<SharedRing> Create(const RingOptions& options, std::string* name_out = nullptr);

  // The options of a slot ring of `capacity` slots of `slot_size` bytes whose indices start at
  // `initial_index`.
  static RingOptions Slots(uint64_t capacity, uint32_t slot_size = sizeof(stress::SlotMessage),
                           uint64_t initial_index = 0);

  // The options of a record ring of `capacity` bytes.
  static RingOptions Records(uint64_t capacity);

  std::vector<std::string> created_;  // rings made by Create(): removed with SharedRing::Unlink
  std::vector<std::string> raw_;      // objects a test made itself with shm_open
};

// PauseControl
//
// Lives in memory shared by the test and a producer child (find_the_race::SharedMapping): the
// child raises `paused` when it reaches a hook and waits (at most 10 s) until the parent raises
// `release`. Both flags are set with release stores and read with acquire loads.
struct PauseControl {
  std::atomic<uint32_t> paused{0};   // the child reached the hook
  std::atomic<uint32_t> release{0};  // the parent lets it go on
};

// UsePause()
//
// Makes PauseHere() and PauseAfterClaim() use `pause` (call before fork; the child's hooks read
// it). Not owned.
void UsePause(PauseControl* pause);

// PauseHere()
//
// Raises `paused` of the PauseControl given to UsePause() and waits for `release`: a
// testing::before_publish_hook.
void PauseHere();

// PauseAfterClaim()
//
// PauseHere() with the signature of find_the_race::after_claim_hook.
void PauseAfterClaim(uint64_t);

}  // namespace lockfree_ring::test_util

#endif  // IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_TEST_UTIL_H_
