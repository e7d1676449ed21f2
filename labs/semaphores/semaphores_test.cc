// labs/semaphores/semaphores_test.cc: the public tests of the semaphores lab.
//
// They check semaphores.h task by task (README.md lists which test checks which task) with real
// processes: forked children (ipc::Child::Fork) and the lab's programs (sem_producer,
// sem_consumer, and the broken broken_pc) exec'd as you would run them. Every test fails if it
// leaves a semaphore, a semaphore set or a /dev/shm object behind (LeakCheckedTest). Each test
// first calls your code in the test process and stops if it is unimplemented, so on the skeleton
// the whole suite fails in about a second. Run:
//   ./labctl test semaphores      or   bazel test //labs/semaphores:semaphores_test
// One test:  bazel test //labs/semaphores:semaphores_test --test_arg=--gtest_filter='SemSetTest.*'
// Partner files: semaphores.h (the contract), README.md (the tasks), broken.h (the find-the-bug
// patterns).
#include "labs/semaphores/semaphores.h"

#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ipc_snapshot.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/semaphores/broken.h"
#include "labs/semaphores/semaphores_test_util.h"

namespace semaphores {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::ipc::testing::CapturedOutput;
using ::ipc::testing::IsOkAndHolds;
using ::ipc::testing::WaitAll;
using ::semaphores::test_util::ChannelNamesGuard;
using ::semaphores::test_util::Eventually;
using ::semaphores::test_util::Iota;
using ::semaphores::test_util::LeaveStaleSemaphore;
using ::semaphores::test_util::Numbers;
using ::semaphores::test_util::RunProgram;
using ::semaphores::test_util::SleepsSoon;
using ::semaphores::test_util::TestShared;

constexpr absl::Duration kChildTimeout = absl::Seconds(10);

// The tests' own instruments (none of them is your code) are in semaphores_test_util.h and
// common/testing/testing.h.

class SemaphoresTest : public ipc::testing::LeakCheckedTest {};

// ---------------------------------------------------------------------------------------------
// Task 1: named semaphores (SE4), their errors, and bad input
// ---------------------------------------------------------------------------------------------

using NamedSemaphoreTest = SemaphoresTest;

// SE4: a named semaphore is one kernel object under a name; two handles share its value. The
// name shows up as /dev/shm/sem.NAME until it is unlinked.
TEST_F(NamedSemaphoreTest, CreateThenOpenSharesOneValue) {
  const std::string name = ipc::UniqueName("sem");
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore created, NamedSemaphore::Create(name, 2));
  EXPECT_EQ(created.name(), name);
  ASSERT_NE(created.get(), nullptr);
  EXPECT_EQ(::access(("/dev/shm/sem." + name.substr(1)).c_str(), F_OK), 0)
      << "a named semaphore is the file /dev/shm/sem.NAME on Linux (SE4)";
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore opened, NamedSemaphore::Open(name));
  EXPECT_THAT(TryWait(opened.get(), name), IsOkAndHolds(true));
  EXPECT_THAT(GetValue(created.get(), name), IsOkAndHolds(1))
      << "the opener took one from the same semaphore: Open must sem_open the existing name";
  IPC_EXPECT_OK(opened.Close());
  EXPECT_EQ(opened.get(), nullptr) << "get() is nullptr after Close()";
  IPC_EXPECT_OK(NamedSemaphore::Unlink(name));
  EXPECT_TRUE(ipc::PosixObjectsNamed(name).empty()) << "Unlink must sem_unlink the name (SE4)";
}

// SE4, SE5: Create never reuses a name (O_EXCL): a leftover would keep its old value.
TEST_F(NamedSemaphoreTest, CreateRefusesAnExistingNameWithEEXIST) {
  const std::string name = ipc::UniqueName("sem");
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore first, NamedSemaphore::Create(name, 3));
  EXPECT_THAT(NamedSemaphore::Create(name, 0), HasErrno(EEXIST))
      << "Create must use O_CREAT | O_EXCL: without O_EXCL sem_open opens the old semaphore and "
         "ignores the initial value (SE5)";
  EXPECT_THAT(GetValue(first.get(), name), IsOkAndHolds(3));
  IPC_EXPECT_OK(NamedSemaphore::Unlink(name));
}

TEST_F(NamedSemaphoreTest, OpenOfAMissingNameIsENOENT) {
  const std::string name = ipc::UniqueName("missing");
  EXPECT_THAT(NamedSemaphore::Open(name), HasErrno(ENOENT));
  EXPECT_THAT(NamedSemaphore::Unlink(name), HasErrno(ENOENT));
}

// SE4: after sem_unlink the old handle still works, and the name is free for a new semaphore.
TEST_F(NamedSemaphoreTest, ReopeningAnUnlinkedNameGivesAFreshSemaphore) {
  const std::string name = ipc::UniqueName("sem");
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore old_sem, NamedSemaphore::Create(name, 5));
  IPC_ASSERT_OK(NamedSemaphore::Unlink(name));
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore new_sem, NamedSemaphore::Create(name, 1));
  EXPECT_THAT(GetValue(old_sem.get(), name), IsOkAndHolds(5))
      << "an unlinked semaphore lives on for the handles that have it open";
  EXPECT_THAT(GetValue(new_sem.get(), name), IsOkAndHolds(1))
      << "Create after Unlink must make a new semaphore with the new value";
  IPC_EXPECT_OK(NamedSemaphore::Unlink(name));
}

// Bad input gets a clear error, before any file is made.
TEST_F(NamedSemaphoreTest, BadNamesAndValuesAreRejectedClearly) {
  EXPECT_THAT(NamedSemaphore::Create("no-leading-slash", 1),
              StatusIs(absl::StatusCode::kInvalidArgument))
      << "check the name yourself: glibc quietly accepts a name without the leading '/'";
  EXPECT_THAT(NamedSemaphore::Create("/two/slashes", 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NamedSemaphore::Create("/", 1), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string too_long = ipc::UniqueName("long") + std::string(260, 'x');
  EXPECT_THAT(NamedSemaphore::Create(too_long, 1), HasErrno(ENAMETOOLONG));
  const std::string name = ipc::UniqueName("big");
  EXPECT_THAT(NamedSemaphore::Create(name, static_cast<unsigned>(SEM_VALUE_MAX) + 1u),
              HasErrno(EINVAL))
      << "an initial value above SEM_VALUE_MAX is EINVAL";
  EXPECT_TRUE(ipc::PosixObjectsNamed(name).empty()) << "a rejected Create must not leave a file";
}

// ---------------------------------------------------------------------------------------------
// Task 2: waiting well: EINTR, trywait, deadlines, and what a blocked process looks like
// ---------------------------------------------------------------------------------------------

using PosixSemaphoreTest = SemaphoresTest;

// sem_trywait: the non-blocking partner of sem_wait. EAGAIN is an answer, not an error.
TEST_F(PosixSemaphoreTest, TryWaitOnZeroReturnsFalseAtOnce) {
  TestShared<sem_t> sem;
  IPC_ASSERT_OK(InitShared(sem.get(), 1));
  EXPECT_THAT(TryWait(sem.get()), IsOkAndHolds(true));
  EXPECT_THAT(TryWait(sem.get()), IsOkAndHolds(false))
      << "on a zero semaphore sem_trywait fails with EAGAIN: return false, not an error";
  IPC_EXPECT_OK(Destroy(sem.get()));
}

// WaitFor uses sem_clockwait on CLOCK_MONOTONIC; WaitUntil takes a wall-clock deadline.
TEST_F(PosixSemaphoreTest, TimedWaitsGiveUpAtTheirDeadline) {
  TestShared<sem_t> sem;
  IPC_ASSERT_OK(InitShared(sem.get(), 0));
  ipc::Stopwatch watch;
  EXPECT_THAT(WaitFor(sem.get(), absl::Milliseconds(100)), IsOkAndHolds(false))
      << "a timeout is `false`, not an error (sem_clockwait's ETIMEDOUT)";
  EXPECT_GE(watch.Elapsed(), absl::Milliseconds(95)) << "WaitFor returned before its timeout";
  watch.Restart();
  EXPECT_THAT(WaitUntil(sem.get(), absl::Now() + absl::Milliseconds(100)), IsOkAndHolds(false));
  EXPECT_GE(watch.Elapsed(), absl::Milliseconds(95)) << "WaitUntil returned before its deadline";
  IPC_ASSERT_OK(Post(sem.get()));
  EXPECT_THAT(WaitFor(sem.get(), absl::Seconds(1)), IsOkAndHolds(true));
  IPC_ASSERT_OK(Post(sem.get()));
  EXPECT_THAT(WaitUntil(sem.get(), absl::Now() + absl::Seconds(1)), IsOkAndHolds(true));
  IPC_EXPECT_OK(Destroy(sem.get()));
}

TEST_F(PosixSemaphoreTest, InitSharedRejectsAValueAboveSemValueMax) {
  TestShared<sem_t> sem;
  EXPECT_THAT(InitShared(sem.get(), static_cast<unsigned>(SEM_VALUE_MAX) + 1u), HasErrno(EINVAL));
}

// SE1: an unnamed semaphore inside shared memory, initialised with pshared=1 before fork, makes
// two processes' increments exact.
TEST_F(PosixSemaphoreTest, TwoProcessesIncrementExactlyUnderAnUnnamedSemaphore) {
  struct Shared {
    sem_t lock;
    int64_t counter = 0;  // guarded by lock
  };
  constexpr int kPerProcess = 100'000;
  TestShared<Shared> shared;
  IPC_ASSERT_OK(InitShared(&shared->lock, 1));
  std::vector<ipc::Child> children;
  for (int c = 0; c < 2; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                               for (int i = 0; i < kPerProcess; ++i) {
                                 if (!Wait(&shared->lock).ok()) return 1;
                                 shared->counter = shared->counter +
                                                   1;  // a read-modify-write the lock must protect
                                 if (!Post(&shared->lock).ok()) return 1;
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "an incrementing child " << status.ToString();
  }
  EXPECT_EQ(shared->counter, 2 * kPerProcess)
      << "updates were lost: is the semaphore initialised with pshared=1 inside the shared "
         "mapping, and do Wait/Post really call sem_wait/sem_post? (SE1)";
  IPC_EXPECT_OK(Destroy(&shared->lock));
}

// SE8: sem_wait fails with EINTR when a signal handler installed without SA_RESTART runs. Wait()
// must wait again, not give up (the notes ignore sem_wait's result entirely).
TEST_F(PosixSemaphoreTest, WaitRetriesAfterASignalHandlerWithoutSaRestart) {
  struct Shared {
    sem_t sem;
    std::atomic<int> handled{0};
    std::atomic<bool> ready{false};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK(InitShared(&shared->sem, 0));
  static std::atomic<int>* handled = nullptr;
  handled = &shared->handled;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             struct sigaction action {};
                             action.sa_handler = [](int) { handled->fetch_add(1); };
                             action.sa_flags =
                                 0;  // no SA_RESTART: the interrupted sem_wait returns EINTR
                             if (::sigaction(SIGUSR1, &action, nullptr) == -1) return 10;
                             shared->ready = true;
                             absl::Status status = Wait(&shared->sem);
                             if (status.ok()) return 0;
                             return ipc::ErrnoOf(status) == EINTR ? 3 : 4;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->ready.load(); }));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(SleepsSoon(waiter.pid())) << "the child should be asleep in sem_wait";
    IPC_ASSERT_OK(waiter.Kill(SIGUSR1));
    ASSERT_TRUE(Eventually([&] { return shared->handled.load() >= i; }))
        << "the child did not run its SIGUSR1 handler";
  }
  absl::SleepFor(absl::Milliseconds(20));
  IPC_ASSERT_OK(Post(&shared->sem));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_EQ(status.code, 0) << "the waiter " << status.ToString()
                            << (status.code == 3 ? ": Wait() returned EINTR. When sem_wait fails "
                                                   "with errno EINTR, call it again (SE8)"
                                                 : "");
  IPC_EXPECT_OK(Destroy(&shared->sem));
}

// SE12: a process blocked in sem_wait is not running: the scheduler moved it to the semaphore's
// wait queue (state S), and it uses no CPU until a post wakes it.
TEST_F(PosixSemaphoreTest, ABlockedWaiterSleepsAndBurnsNoCpu) {
  TestShared<sem_t> sem;
  IPC_ASSERT_OK(InitShared(sem.get(), 0));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter,
                           ipc::Child::Fork([&] { return Wait(sem.get()).ok() ? 0 : 1; }));
  ASSERT_TRUE(SleepsSoon(waiter.pid()))
      << "a waiter must sleep in sem_wait (state S), not spin on sem_trywait (SE12)";
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_before, ipc::ProcessCpuTime(waiter.pid()));
  absl::SleepFor(absl::Milliseconds(300));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_after, ipc::ProcessCpuTime(waiter.pid()));
  EXPECT_THAT(ipc::ProcessState(waiter.pid()), IsOkAndHolds('S'));
  EXPECT_LT(cpu_after - cpu_before, absl::Milliseconds(50))
      << "the blocked waiter used CPU while it waited: it is polling instead of sleeping (SE12)";
  IPC_ASSERT_OK(Post(sem.get()));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "after the post the waiter " << status.ToString();
  IPC_EXPECT_OK(Destroy(sem.get()));
}

// SE10, POSIX half: a POSIX semaphore has no owner, so when the process holding it is killed
// nothing gives it back. The survivor can only notice: its timed wait times out, and waitpid says
// how the holder died.
TEST_F(PosixSemaphoreTest, AKilledHolderIsDetectedByATimeoutNotUndone) {
  struct Shared {
    sem_t lock;
    std::atomic<bool> held{false};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK(InitShared(&shared->lock, 1));
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child holder, ipc::Child::Fork([&] {
        if (!Wait(&shared->lock).ok()) return 1;
        shared->held = true;
        absl::SleepFor(absl::Seconds(30));  // "inside the critical section" until killed
        return 0;
      }));
  ASSERT_TRUE(Eventually([&] { return shared->held.load(); }));
  IPC_ASSERT_OK(holder.Kill(SIGKILL));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus died, holder.Wait(kChildTimeout));
  EXPECT_EQ(died.kind, ipc::ExitStatus::Kind::kSignaled);
  EXPECT_THAT(WaitFor(&shared->lock, absl::Milliseconds(200)), IsOkAndHolds(false))
      << "nothing undoes a dead holder's sem_wait: the wait must time out (return false), and "
         "not hang (SE10)";
  IPC_EXPECT_OK(Destroy(&shared->lock));
}

// A counting semaphore of N as a limiter: never more than N processes inside at once.
TEST_F(PosixSemaphoreTest, ACountingSemaphoreLetsAtMostNInside) {
  constexpr unsigned kSlots = 3;
  constexpr int kProcesses = 10;
  constexpr int kRounds = 15;
  struct Shared {
    sem_t slots;
    std::atomic<int> inside{0};
    std::atomic<int> most_inside{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK(InitShared(&shared->slots, kSlots));
  std::vector<ipc::Child> children;
  for (int c = 0; c < kProcesses; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child child, ipc::Child::Fork([&] {
          for (int r = 0; r < kRounds; ++r) {
            if (!Wait(&shared->slots).ok()) return 1;
            int now = shared->inside.fetch_add(1) + 1;
            int most = shared->most_inside.load();
            while (now > most && !shared->most_inside.compare_exchange_weak(most, now)) {
            }
            absl::SleepFor(absl::Milliseconds(2));  // work while holding a slot
            shared->inside.fetch_sub(1);
            if (!Post(&shared->slots).ok()) return 1;
          }
          return 0;
        }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "a limited child " << status.ToString();
  }
  EXPECT_LE(shared->most_inside.load(), static_cast<int>(kSlots))
      << "more processes were inside than the semaphore's initial value allows";
  EXPECT_GE(shared->most_inside.load(), 2)
      << "a counting semaphore of 3 should let several in at once, not act as a mutex";
  IPC_EXPECT_OK(Destroy(&shared->slots));
}

// ---------------------------------------------------------------------------------------------
// Task 3: SharedCounter (SE3), BoundedBuffer (SE2, SE7), Barrier
// ---------------------------------------------------------------------------------------------

using SharedCounterTest = SemaphoresTest;

// SE3: the notes' two programs. 002: two processes add 1 ten times each and expect 20. 001 §2.2:
// one adds 1 ten times and the other 2 fifteen times, 40 in all.
TEST_F(SharedCounterTest, ABinarySemaphoreMakesTheNotesTotalsExact) {
  for (auto [first, second, expected] : {std::tuple{std::pair{10, 1}, std::pair{10, 1}, 20},
                                         std::tuple{std::pair{10, 1}, std::pair{15, 2}, 40}}) {
    IPC_ASSERT_OK_AND_ASSIGN(SharedCounter counter, SharedCounter::Create());
    std::vector<ipc::Child> children;
    for (auto [times, delta] : {first, second}) {
      IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&counter, times, delta] {
                                 for (int i = 0; i < times; ++i) {
                                   if (!counter.Add(delta).ok()) return 1;
                                 }
                                 return 0;
                               }));
      children.push_back(std::move(child));
    }
    for (const ipc::ExitStatus& status : WaitAll(children)) {
      EXPECT_TRUE(status.Succeeded()) << "an adding child " << status.ToString();
    }
    EXPECT_THAT(counter.Value(), IsOkAndHolds(expected))
        << "SE3: the counter must live in the shared mapping, guarded by a semaphore of value 1";
  }
}

using BoundedBufferTest = SemaphoresTest;

TEST_F(BoundedBufferTest, CreateRejectsACapacityOfZeroOrAboveTheMaximum) {
  EXPECT_THAT(BoundedBuffer::Create(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BoundedBuffer::Create(BoundedBuffer::kMaxCapacity + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BoundedBufferTest, TryPutFailsWhenFullAndTakeForTimesOutWhenEmpty) {
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(2));
  EXPECT_EQ(buffer.capacity(), 2u);
  EXPECT_THAT(buffer.TryPut(7), IsOkAndHolds(true));
  EXPECT_THAT(buffer.TryPut(8), IsOkAndHolds(true));
  EXPECT_THAT(buffer.TryPut(9), IsOkAndHolds(false))
      << "a full buffer: \"empty\" is 0, so sem_trywait on it fails with EAGAIN -> false";
  EXPECT_THAT(buffer.Take(), IsOkAndHolds(7u)) << "items come out in the order they went in";
  EXPECT_THAT(buffer.TakeFor(absl::Milliseconds(50)), IsOkAndHolds(::testing::Optional(8u)));
  EXPECT_THAT(buffer.TakeFor(absl::Milliseconds(50)), IsOkAndHolds(::testing::Eq(std::nullopt)))
      << "TakeFor on an empty buffer returns nullopt at its timeout";
}

// SE2, SE13 (the fix): a slow consumer still gets every item, in order, because the producer
// waits on "empty" when it is `capacity` items ahead: it is never more than that ahead.
TEST_F(BoundedBufferTest, ASlowConsumerGetsEveryItemAndTheProducerIsNeverMoreThanNAhead) {
  constexpr size_t kCapacity = 5;
  constexpr int kItems = 100;
  struct Shared {
    std::atomic<int> produced{0};  // items whose Put has returned
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(kCapacity));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer, ipc::Child::Fork([&] {
                             for (int i = 1; i <= kItems; ++i) {
                               if (!buffer.Put(static_cast<uint64_t>(i)).ok()) return 1;
                               shared->produced = i;
                             }
                             return 0;
                           }));
  std::vector<uint64_t> received;
  int most_ahead = 0;
  for (int taken = 0; taken < kItems; ++taken) {
    absl::SleepFor(absl::Milliseconds(1));  // the consumer is the slow side
    absl::StatusOr<std::optional<uint64_t>> item = buffer.TakeFor(absl::Seconds(5));
    ASSERT_THAT(item, IsOk());
    ASSERT_TRUE(item->has_value()) << "no item within 5 s after " << taken << " items";
    received.push_back(**item);
    most_ahead = std::max(most_ahead, shared->produced.load() - (taken + 1));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the producer " << status.ToString();
  EXPECT_THAT(received, ElementsAreArray(Iota(1, kItems)))
      << "every item exactly once and in order (SE2)";
  EXPECT_LE(most_ahead, static_cast<int>(kCapacity))
      << "the producer got more than `capacity` items ahead: does Put wait on \"empty\"? (SE2)";
}

// Several producers and consumers: every item delivered exactly once (a tally per item and a
// checksum), and each consumer sees each producer's items in increasing order (the buffer is FIFO).
class BoundedBufferStressTest : public SemaphoresTest,
                                public ::testing::WithParamInterface<std::pair<int, int>> {};

TEST_P(BoundedBufferStressTest, EveryItemIsDeliveredExactlyOnce) {
  const auto [producers, consumers] = GetParam();
  constexpr uint64_t kPerProducer = 10'000;
  constexpr uint64_t kStop = ~uint64_t{0};
  struct Tally {
    std::atomic<uint32_t> count[4 * kPerProducer];
    std::atomic<uint64_t> sum{0};
    std::atomic<int> out_of_order{0};
  };
  TestShared<Tally> tally;
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(8));
  std::vector<ipc::Child> consumer_children, producer_children;
  for (int c = 0; c < consumers; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                               uint64_t last_seq[4] = {0, 0, 0, 0};
                               for (;;) {
                                 absl::StatusOr<uint64_t> item = buffer.Take();
                                 if (!item.ok()) return 1;
                                 if (*item == kStop) return 0;
                                 const uint64_t p = *item >> 32,
                                                seq = *item & 0xffffffffu;  // seq counts from 1
                                 if (p >= 4 || seq == 0 || seq > kPerProducer) return 2;
                                 if (seq <= last_seq[p]) tally->out_of_order.fetch_add(1);
                                 last_seq[p] = seq;
                                 tally->count[p * kPerProducer + seq - 1].fetch_add(1);
                                 tally->sum.fetch_add(*item);
                               }
                             }));
    consumer_children.push_back(std::move(child));
  }
  for (int p = 0; p < producers; ++p) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, p] {
                               for (uint64_t seq = 1; seq <= kPerProducer; ++seq) {
                                 if (!buffer.Put((static_cast<uint64_t>(p) << 32) | seq).ok())
                                   return 1;
                               }
                               return 0;
                             }));
    producer_children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(producer_children)) {
    ASSERT_TRUE(status.Succeeded()) << "a producer " << status.ToString();
  }
  for (int c = 0; c < consumers; ++c) IPC_ASSERT_OK(buffer.Put(kStop));  // one stop per consumer
  for (const ipc::ExitStatus& status : WaitAll(consumer_children)) {
    ASSERT_TRUE(status.Succeeded())
        << "a consumer " << status.ToString() << " (code 2: it took an item nobody put)";
  }
  uint64_t expected_sum = 0;
  int missing = 0, duplicated = 0;
  for (uint64_t p = 0; p < static_cast<uint64_t>(producers); ++p) {
    for (uint64_t seq = 1; seq <= kPerProducer; ++seq) {
      expected_sum += (p << 32) | seq;
      uint32_t n = tally->count[p * kPerProducer + seq - 1].load();
      if (n == 0) ++missing;
      if (n > 1) ++duplicated;
    }
  }
  EXPECT_EQ(missing, 0) << "items were lost: is the slot written and the index moved while "
                           "holding the mutex, and \"full\" posted only after that? (SE7)";
  EXPECT_EQ(duplicated, 0) << "items were taken twice: two consumers read the same slot (SE7)";
  EXPECT_EQ(tally->sum.load(), expected_sum) << "checksum of the items received";
  EXPECT_EQ(tally->out_of_order.load(), 0) << "a consumer saw a producer's items out of order";
}

INSTANTIATE_TEST_SUITE_P(ProducersByConsumers, BoundedBufferStressTest,
                         ::testing::Values(std::pair{1, 1}, std::pair{1, 4}, std::pair{4, 1},
                                           std::pair{4, 4}),
                         [](const auto& info) {
                           return absl::StrCat(info.param.first, "Producers", info.param.second,
                                               "Consumers");
                         });

using BarrierTest = SemaphoresTest;

// No process leaves round r before every process has reached round r; the barrier is reusable.
TEST_F(BarrierTest, NoProcessLeavesARoundBeforeAllHaveArrived) {
  constexpr int kParties = 4;
  constexpr int kRounds = 200;
  struct Shared {
    std::atomic<int> round[kParties];
    std::atomic<int> early{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(Barrier barrier, Barrier::Create(kParties));
  std::vector<ipc::Child> children;
  for (int me = 0; me < kParties; ++me) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, me] {
                               for (int r = 1; r <= kRounds; ++r) {
                                 shared->round[me] = r;
                                 if (!barrier.ArriveAndWait().ok()) return 1;
                                 for (int other = 0; other < kParties; ++other) {
                                   if (shared->round[other].load() < r) shared->early.fetch_add(1);
                                 }
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "a party " << status.ToString()
                                    << " (timed out: the barrier lost a wake-up between rounds)";
  }
  EXPECT_EQ(shared->early.load(), 0)
      << "a process left the barrier before another had arrived in the same round";
  EXPECT_THAT(Barrier::Create(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// Task 4: NamedChannel between exec'd programs (SE4, SE5, SE6, SE9)
// ---------------------------------------------------------------------------------------------

using NamedChannelTest = SemaphoresTest;

TEST_F(NamedChannelTest, ProducerAndConsumerProgramsDeliverTenItemsInOrder) {
  const std::string prefix = ipc::UniqueName("chan");
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel channel, NamedChannel::Create(prefix, 5));
  EXPECT_EQ(channel.capacity(), 5u);
  CapturedOutput out;
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child consumer,
      RunProgram("sem_consumer", {"--prefix=" + prefix, "--items=10"}, out.fd()));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer,
                           RunProgram("sem_producer", {"--prefix=" + prefix, "--items=10"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus produced, producer.Wait(kChildTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus consumed, consumer.Wait(kChildTimeout));
  EXPECT_TRUE(produced.Succeeded())
      << "sem_producer " << produced.ToString() << " (its stderr says why)";
  EXPECT_TRUE(consumed.Succeeded()) << "sem_consumer " << consumed.ToString();
  EXPECT_THAT(Numbers(out), ElementsAreArray(Iota(1, 10)));
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix));
  for (const std::string& name : {ChannelNamesFor(prefix).mutex, ChannelNamesFor(prefix).buffer}) {
    EXPECT_TRUE(ipc::PosixObjectsNamed(name).empty())
        << name << " is still there after Unlink (SE4, SE9)";
  }
}

TEST_F(NamedChannelTest, OpenBeforeCreateIsENOENT) {
  const std::string prefix = ipc::UniqueName("chan");
  EXPECT_THAT(NamedChannel::Open(prefix), HasErrno(ENOENT));
  EXPECT_THAT(NamedChannel::Create("no-slash", 5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NamedChannel::Create(prefix, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix)) << "Unlink skips names that do not exist";
}

// Find the bug, SE5: a "/full" left at 3 by a crashed run. The notes' code (broken_pc: O_CREAT
// without O_EXCL) reuses it and its consumer takes three items that nobody produced. Your Create
// must notice the leftover and start fresh: the consumer then gets exactly 1..10.
TEST_F(NamedChannelTest, FindTheBugStaleSemaphoresFromACrashedRun) {
  // Your channel first: if it is unimplemented, the test stops before running any program.
  const std::string prefix = ipc::UniqueName("stale");
  ChannelNamesGuard guard(prefix);
  LeaveStaleSemaphore(ChannelNamesFor(prefix).full, 3);
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel channel, NamedChannel::Create(prefix, 5));
  CapturedOutput out;
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child consumer,
      RunProgram("sem_consumer", {"--prefix=" + prefix, "--items=10"}, out.fd()));
  absl::SleepFor(absl::Milliseconds(50));  // let the consumer find the stale items, if any
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer,
                           RunProgram("sem_producer", {"--prefix=" + prefix, "--items=10"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus produced, producer.Wait(kChildTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus consumed, consumer.Wait(kChildTimeout));
  EXPECT_TRUE(produced.Succeeded()) << "sem_producer " << produced.ToString();
  EXPECT_TRUE(consumed.Succeeded()) << "sem_consumer " << consumed.ToString();
  EXPECT_THAT(Numbers(out), ElementsAreArray(Iota(1, 10)))
      << "a leftover \"full\" of 3 was reused: Create must use O_EXCL and, on EEXIST, unlink the "
         "leftover and create it again (SE5)";
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix));

  // The notes' version under the same conditions.
  const std::string broken_prefix = ipc::UniqueName("stale");
  ChannelNamesGuard broken_guard(broken_prefix);
  LeaveStaleSemaphore(ChannelNamesFor(broken_prefix).full, 3);
  {
    CapturedOutput out;
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child consumer,
        RunProgram("broken_pc", {"--role=consumer", "--prefix=" + broken_prefix, "--items=3"},
                   out.fd()));
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, consumer.Wait(kChildTimeout));
    ASSERT_TRUE(status.Succeeded()) << "broken_pc " << status.ToString();
    EXPECT_THAT(Numbers(out), ElementsAre(0u, 0u, 0u))
        << "the broken consumer should have taken three phantom items without any producer";
  }
}

// Find the bug, SE6: two runs that use the same names share one buffer. broken_pc run twice under
// one prefix (the notes' fixed "/full", "/pc_buf", ...): run B's consumer takes run A's items.
// Channels under different prefixes are independent, even with both running at once.
TEST_F(NamedChannelTest, FindTheBugTwoRunsUnderTheSameNames) {
  const std::string prefix_a = ipc::UniqueName("run-a"), prefix_b = ipc::UniqueName("run-b");
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel channel_a, NamedChannel::Create(prefix_a, 5));
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel channel_b, NamedChannel::Create(prefix_b, 5));
  CapturedOutput out_a, out_b;
  std::vector<ipc::Child> children;
  for (auto [prefix, first, out] :
       {std::tuple{prefix_a, "1", &out_a}, std::tuple{prefix_b, "1001", &out_b}}) {
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child consumer,
        RunProgram("sem_consumer", {"--prefix=" + prefix, "--items=200"}, out->fd()));
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer,
                             RunProgram("sem_producer", {"--prefix=" + prefix, "--items=200",
                                                         std::string("--first=") + first}));
    children.push_back(std::move(consumer));
    children.push_back(std::move(producer));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "a program " << status.ToString();
  }
  EXPECT_THAT(Numbers(out_a), ElementsAreArray(Iota(1, 200)))
      << "channel A got foreign items (SE6)";
  EXPECT_THAT(Numbers(out_b), ElementsAreArray(Iota(1001, 200)))
      << "channel B got foreign items (SE6)";
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix_a));
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix_b));

  // The notes' version: two runs under one set of names.
  const std::string shared_prefix = ipc::UniqueName("generic");
  ChannelNamesGuard broken_guard(shared_prefix);
  {
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child run_a, RunProgram("broken_pc", {"--role=producer", "--prefix=" + shared_prefix,
                                                   "--items=3", "--first=100"}));
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus a, run_a.Wait(kChildTimeout));
    ASSERT_TRUE(a.Succeeded()) << "broken_pc producer " << a.ToString();
    CapturedOutput out;
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child run_b,
        RunProgram("broken_pc", {"--role=consumer", "--prefix=" + shared_prefix, "--items=3"},
                   out.fd()));
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus b, run_b.Wait(kChildTimeout));
    ASSERT_TRUE(b.Succeeded()) << "broken_pc consumer " << b.ToString();
    EXPECT_THAT(Numbers(out), ElementsAre(100u, 101u, 102u))
        << "run B's consumer should have received run A's items";
  }
}

// Find the bug, SE13: notes 003 §4.2 "hand over" values through one int under a semaphore of
// value 1. The reader is slower, so it misses values: mutual exclusion is not a hand-off. The
// same 100 values through your BoundedBuffer, read just as slowly, all arrive.
TEST_F(BoundedBufferTest, FindTheBugAMutexAloneDropsItemsABoundedBufferDoesNot) {
  constexpr int kItems = 100;
  // Your buffer first: if it is unimplemented, the test stops here without forking.
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(5));
  IPC_ASSERT_OK_AND_ASSIGN(
      std::vector<int> seen,
      broken::MutexOnlyTransfer(kItems, absl::Milliseconds(1), absl::Milliseconds(4)));
  EXPECT_LT(seen.size(), static_cast<size_t>(kItems))
      << "the reader polls 4x slower than the writer writes, so it cannot have seen every value";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer, ipc::Child::Fork([&] {
                             for (int i = 1; i <= kItems; ++i) {
                               absl::SleepFor(absl::Milliseconds(1));
                               if (!buffer.Put(static_cast<uint64_t>(i)).ok()) return 1;
                             }
                             return 0;
                           }));
  std::vector<uint64_t> received;
  for (int i = 0; i < kItems; ++i) {
    absl::SleepFor(absl::Milliseconds(4));
    IPC_ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> item, buffer.TakeFor(absl::Seconds(5)));
    ASSERT_TRUE(item.has_value()) << "no item within 5 s after " << i << " items";
    received.push_back(*item);
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the producer " << status.ToString();
  EXPECT_THAT(received, ElementsAreArray(Iota(1, kItems)))
      << "with empty/full semaphores the writer waits for the reader: nothing may be lost (SE13)";
}

// ---------------------------------------------------------------------------------------------
// Task 5: System V semaphore sets
// ---------------------------------------------------------------------------------------------

using SemSetTest = SemaphoresTest;

// semget + SETALL + the marking semop; IPC_STAT shows what the kernel recorded.
TEST_F(SemSetTest, CreateSetsEveryValueAndStatShowsTheSet) {
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {3, 0, 7}));
  EXPECT_EQ(set.size(), 3);
  EXPECT_TRUE(set.created());
  EXPECT_THAT(set.GetAll(), IsOkAndHolds(ElementsAre(3, 0, 7)));
  EXPECT_THAT(set.GetValue(2), IsOkAndHolds(7));
  IPC_ASSERT_OK(set.SetValue(1, 4));
  EXPECT_THAT(set.GetValue(1), IsOkAndHolds(4)) << "SETVAL needs a correct union semun";
  IPC_ASSERT_OK(set.SetAll({1, 2, 3}));
  EXPECT_THAT(set.GetAll(), IsOkAndHolds(ElementsAre(1, 2, 3)));
  IPC_ASSERT_OK_AND_ASSIGN(struct semid_ds ds, set.Stat());
  EXPECT_EQ(ds.sem_nsems, 3u);
  EXPECT_EQ(static_cast<unsigned>(ds.sem_perm.mode & 0777), 0600u)
      << "the default mode is 0600, not the notes' 0666";
  EXPECT_EQ(ds.sem_perm.uid, ::geteuid());
  EXPECT_NE(ds.sem_otime, 0) << "Create must finish with a semop so that sem_otime says "
                                "\"initialised\" (see CreateOrOpen)";
  EXPECT_THAT(set.GetValue(3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(set.SetValue(0, 40000), HasErrno(ERANGE)) << "a System V semaphore holds 0..32767";
}

TEST_F(SemSetTest, CreateRefusesAKeyInUseAndOpenFindsIt) {
  const key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(key, {1}));
  EXPECT_THAT(SemSet::Create(key, {1}), HasErrno(EEXIST)) << "create with IPC_CREAT | IPC_EXCL";
  IPC_ASSERT_OK_AND_ASSIGN(SemSet opened, SemSet::Open(key));
  EXPECT_EQ(opened.id(), set.id());
  EXPECT_EQ(opened.size(), 1) << "Open reads the size from IPC_STAT";
  EXPECT_FALSE(opened.created());
  EXPECT_THAT(SemSet::Open(ipc::UniqueSysvKey()), HasErrno(ENOENT));
}

// Several operations in one semop happen together or not at all; IPC_NOWAIT and semtimedop give
// up instead of sleeping.
TEST_F(SemSetTest, OneSemopAppliesAllItsOperationsOrNone) {
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {1, 0}));
  EXPECT_THAT(set.TryOp({{0, -1, 0}, {1, -1, 0}}), IsOkAndHolds(false))
      << "semaphore 1 is 0, so the pair cannot happen now: IPC_NOWAIT -> EAGAIN -> false";
  EXPECT_THAT(set.GetValue(0), IsOkAndHolds(1)) << "a failed semop changes nothing";
  ipc::Stopwatch watch;
  EXPECT_THAT(set.OpFor({{0, -1, 0}, {1, -1, 0}}, absl::Milliseconds(100)), IsOkAndHolds(false));
  EXPECT_GE(watch.Elapsed(), absl::Milliseconds(95)) << "semtimedop returned before its timeout";
  IPC_ASSERT_OK(set.Op({{1, 1, 0}}));
  EXPECT_THAT(set.TryOp({{0, -1, 0}, {1, -1, 0}}), IsOkAndHolds(true));
  EXPECT_THAT(set.GetAll(), IsOkAndHolds(ElementsAre(0, 0)));
}

// GETNCNT counts the processes asleep in semop; IPC_RMID wakes them with EIDRM.
TEST_F(SemSetTest, RemovingASetWakesItsWaiterWithEIDRM) {
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             absl::Status status = set.Op({{0, -1, 0}});
                             if (status.ok()) return 2;
                             return ipc::ErrnoOf(status) == EIDRM ? 0 : 3;
                           }));
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<int> waiting = set.WaitingCount(0);
    return waiting.ok() && *waiting == 1;
  })) << "GETNCNT should count the child blocked in semop";
  IPC_ASSERT_OK(set.Remove());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_EQ(status.code, 0) << "the waiter " << status.ToString()
                            << " (code 3: Op returned an error other than EIDRM; timed out: it "
                               "hung, or retried EIDRM as if it were EINTR)";
  EXPECT_THAT(set.Remove(), ::testing::Not(IsOk())) << "the set is gone already";
}

// SE10, System V half: SEM_UNDO records each change, and the kernel reverses it when the process
// exits, however it exits: the next process gets in.
TEST_F(SemSetTest, SemUndoGivesAKilledHoldersSemaphoreBack) {
  struct Shared {
    std::atomic<bool> held{false};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {1}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child holder, ipc::Child::Fork([&] {
                             if (!set.Op({{0, -1, SEM_UNDO}}).ok()) return 1;
                             shared->held = true;
                             absl::SleepFor(absl::Seconds(30));
                             return 0;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->held.load(); }));
  EXPECT_THAT(set.GetValue(0), IsOkAndHolds(0));
  IPC_ASSERT_OK(holder.Kill(SIGKILL));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus died, holder.Wait(kChildTimeout));
  EXPECT_EQ(died.kind, ipc::ExitStatus::Kind::kSignaled);
  EXPECT_THAT(set.OpFor({{0, -1, 0}}, absl::Seconds(2)), IsOkAndHolds(true))
      << "the killed holder took the semaphore with SEM_UNDO, so the kernel must have given it "
         "back: does Op pass each sembuf's sem_flg through? (SE10)";
}

// The creation race made deterministic: the test plays a slow creator that has called semget but
// not yet initialised the set. Openers must wait for sem_otime != 0; one that goes ahead counts its
// arrival on an uninitialised set, and the creator's SETALL then wipes that arrival out.
TEST_F(SemSetTest, OpenersWaitUntilASlowCreatorHasInitialisedTheSet) {
  constexpr int kOpeners = 4;
  const key_t key = ipc::UniqueSysvKey();
  struct RemoveKey {
    key_t key;
    ~RemoveKey() {
      int id = ::semget(key, 0, 0);
      if (id != -1) ::semctl(id, 0, IPC_RMID);
    }
  } remove_key{key};
  {
    // Your CreateOrOpen on a free key first: it must create and initialise.
    IPC_ASSERT_OK_AND_ASSIGN(SemSet fresh, SemSet::CreateOrOpen(key, {1, 0}));
    ASSERT_TRUE(fresh.created()) << "the first CreateOrOpen of a free key creates the set";
    EXPECT_THAT(fresh.GetAll(), IsOkAndHolds(ElementsAre(1, 0)));
    IPC_ASSERT_OK(fresh.Remove());
  }
  // Step 1 of a creator, by hand: the set exists, all zeros, sem_otime == 0.
  const int id = ::semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_NE(id, -1) << "test setup: semget: " << std::strerror(errno);
  std::vector<ipc::Child> openers;
  for (int c = 0; c < kOpeners; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child child, ipc::Child::Fork([key] {
          absl::StatusOr<SemSet> set = SemSet::CreateOrOpen(key, {1, 0}, 0600, absl::Seconds(5));
          if (!set.ok()) return 1;
          if (set->created()) return 2;
          return set->Op({{1, 1, 0}}).ok() ? 0 : 3;  // "I have arrived"
        }));
    openers.push_back(std::move(child));
  }
  absl::SleepFor(absl::Milliseconds(150));  // the openers run while the creator is "slow"
  // Step 2 of the creator: SETALL, then the marking semop that sets sem_otime.
  union semun {
    int val;
    struct semid_ds* buf;
    unsigned short* array;
  } arg;
  unsigned short values[2] = {1, 0};
  arg.array = values;
  ASSERT_EQ(::semctl(id, 0, SETALL, arg), 0) << std::strerror(errno);
  struct sembuf mark[2] = {{0, -1, 0}, {0, 1, 0}};
  ASSERT_EQ(::semop(id, mark, 2), 0) << std::strerror(errno);
  for (const ipc::ExitStatus& status : WaitAll(openers)) {
    EXPECT_EQ(status.code, 0) << "an opener " << status.ToString()
                              << " (1: CreateOrOpen failed; 2: it claimed to have created a set "
                                 "that existed; 3: its semop failed)";
  }
  EXPECT_EQ(::semctl(id, 1, GETVAL), kOpeners)
      << "arrivals were wiped out by the creator's SETALL: an opener used the set before it was "
         "initialised. Wait (poll IPC_STAT) until sem_otime != 0";
}

// Many processes race to create-or-open one key, then each counts its arrival with a semop. With
// create-then-initialise in two steps an initialisation can wipe out an early arrival; CreateOrOpen
// makes the others wait for sem_otime, so all arrivals count and exactly one process created.
TEST_F(SemSetTest, ManyProcessesRacingToCreateOrOpenOneKeyAllSeeItInitialised) {
  constexpr int kProcesses = 16;
  constexpr int kRounds = 30;
  struct Shared {
    std::atomic<bool> go{false};
    std::atomic<int> creators{0};
    int64_t counter = 0;  // guarded by semaphore 0
  };
  TestShared<Shared> shared;
  const key_t key = ipc::UniqueSysvKey();
  ASSERT_THAT(SemSet::Open(key), HasErrno(ENOENT)) << "the key must be free before the race";
  struct RemoveKey {
    key_t key;
    ~RemoveKey() {
      int id = ::semget(key, 0, 0);
      if (id != -1) ::semctl(id, 0, IPC_RMID);
    }
  } remove_key{key};
  std::vector<ipc::Child> children;
  for (int c = 0; c < kProcesses; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                               while (!shared->go.load()) ::sched_yield();
                               absl::StatusOr<SemSet> set = SemSet::CreateOrOpen(key, {1, 0});
                               if (!set.ok()) return 1;
                               if (set->created()) shared->creators.fetch_add(1);
                               if (!set->Op({{1, 1, 0}}).ok()) return 2;  // "I have arrived"
                               for (int r = 0; r < kRounds; ++r) {
                                 if (!set->Op({{0, -1, SEM_UNDO}}).ok()) return 3;
                                 shared->counter = shared->counter + 1;
                                 if (!set->Op({{0, 1, SEM_UNDO}}).ok()) return 3;
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  shared->go = true;
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "a racing child " << status.ToString()
                                    << " (1: CreateOrOpen failed, 2/3: a semop failed)";
  }
  EXPECT_EQ(shared->creators.load(), 1) << "exactly one process may create the set (IPC_EXCL)";
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Open(key));
  EXPECT_THAT(set.GetValue(1), IsOkAndHolds(kProcesses))
      << "arrivals were lost: a process used the set before its creator initialised it, and "
         "SETALL wiped that out; openers must wait until sem_otime != 0";
  EXPECT_THAT(set.GetValue(0), IsOkAndHolds(1));
  EXPECT_EQ(shared->counter, int64_t{kProcesses} * kRounds) << "semaphore 0 failed as a mutex";
  IPC_EXPECT_OK(set.Remove());
}

// Find the bug: the dining philosophers. The naive philosopher (broken.h) takes one fork per semop;
// once all five hold their left fork, all five wait forever for their right one. TakeForks takes
// both in one semop, and five philosophers then eat as often as they like.
TEST_F(SemSetTest, FindTheBugNaivePhilosophersDeadlockAtomicOnesEat) {
  constexpr int kSeats = 5;
  constexpr int kMeals = 200;
  struct Shared {
    std::atomic<int> holding_left{0};
    std::atomic<bool> eating[kSeats];
    std::atomic<int> neighbours_ate_together{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet forks,
                           SemSet::Create(IPC_PRIVATE, std::vector<unsigned short>(kSeats, 1)));
  {
    std::vector<ipc::Child> naive;
    for (int seat = 0; seat < kSeats; ++seat) {
      IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, seat] {
                                 absl::Status status = broken::NaiveTakeForks(forks, seat, [&] {
                                   shared->holding_left.fetch_add(1);
                                   while (shared->holding_left.load() < kSeats)
                                     absl::SleepFor(absl::Milliseconds(1));
                                 });
                                 return status.ok() ? 0 : 1;
                               }));
      naive.push_back(std::move(child));
    }
    ASSERT_TRUE(Eventually([&] {
      int waiting = 0;
      for (int seat = 0; seat < kSeats; ++seat) waiting += forks.WaitingCount(seat).value_or(0);
      return waiting == kSeats;
    })) << "all five naive philosophers should end up waiting for their right fork";
    absl::SleepFor(absl::Milliseconds(200));
    for (ipc::Child& child : naive) {
      EXPECT_THAT(child.TryWait(), StatusIs(absl::StatusCode::kUnavailable))
          << "a naive philosopher finished: the deadlock should hold them all";
    }
    for (ipc::Child& child : naive) IPC_ASSERT_OK(child.Kill(SIGKILL));
    for (ipc::Child& child : naive) IPC_ASSERT_OK(child.Wait(kChildTimeout).status());
  }
  ASSERT_THAT(forks.GetAll(), IsOkAndHolds(ElementsAre(1, 1, 1, 1, 1)))
      << "SEM_UNDO should have given the killed philosophers' forks back: does Op pass each "
         "sembuf's sem_flg through?";

  std::vector<ipc::Child> philosophers;
  for (int seat = 0; seat < kSeats; ++seat) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, seat] {
                               for (int meal = 0; meal < kMeals; ++meal) {
                                 if (!TakeForks(forks, seat).ok()) return 1;
                                 shared->eating[seat] = true;
                                 if (shared->eating[(seat + 1) % kSeats] ||
                                     shared->eating[(seat + kSeats - 1) % kSeats]) {
                                   shared->neighbours_ate_together.fetch_add(1);
                                 }
                                 shared->eating[seat] = false;
                                 if (!PutForks(forks, seat).ok()) return 1;
                               }
                               return 0;
                             }));
    philosophers.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(philosophers)) {
    EXPECT_TRUE(status.Succeeded()) << "a philosopher " << status.ToString()
                                    << " (timed out: TakeForks must take both forks in ONE semop)";
  }
  EXPECT_EQ(shared->neighbours_ate_together.load(), 0) << "two neighbours held the same fork";
  EXPECT_THAT(forks.GetAll(), IsOkAndHolds(ElementsAre(1, 1, 1, 1, 1)));
  EXPECT_THAT(TakeForks(forks, kSeats), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace semaphores
