// grader/hidden/semaphores/semaphores_hidden_test.cc: the hidden tests of the semaphores lab.
//
// Students never see this file. It checks what the public tests only sample: stale leftovers of
// every kind (SE5), two channels with several producers and consumers each at once (SE6), the
// three-by-three stress of notes 002 (SE7), EINTR on every blocking call and deadlines kept across
// signals (SE8), cleanup on failure paths (SE9), SEM_UNDO and flags passed through (SE10), and the
// System V creation protocol's failure modes. Like the public tests, each case calls the student's
// code in the test process first, so the skeleton fails every case in milliseconds. Run:
//   bazel test //grader/hidden/semaphores:all                       (the reference)
//   bazel test //grader/hidden/semaphores:student/semaphores_hidden_test  (labs/, the student's)
// Partner files: labs/semaphores/semaphores.h, labs/semaphores/lab.json (the rubric lists these
// cases), labs/semaphores/README.md ("Common mistakes" hints at them without giving them away).
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <set>
#include <string>
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
#include "labs/semaphores/semaphores.h"
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

void LeaveStaleShm(const std::string& name, size_t size) {
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_NE(fd, -1) << "test setup: shm_open(" << name << "): " << std::strerror(errno);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  std::string garbage(size, '\x5a');
  ASSERT_EQ(::pwrite(fd, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(size));
  ASSERT_EQ(::close(fd), 0);
}

// Removes a System V key's set at the end of a test that made it with raw calls.
struct RemoveKeyAtEnd {
  key_t key;
  ~RemoveKeyAtEnd() {
    int id = ::semget(key, 0, 0);
    if (id != -1) ::semctl(id, 0, IPC_RMID);
  }
};

class HiddenTest : public ipc::testing::LeakCheckedTest {};

// ---------------------------------------------------------------------------------------------
// POSIX semaphores
// ---------------------------------------------------------------------------------------------

using HiddenPosixSemaphoreTest = HiddenTest;

TEST_F(HiddenPosixSemaphoreTest, PostAtSemValueMaxIsEOVERFLOW) {
  TestShared<sem_t> sem;
  IPC_ASSERT_OK(InitShared(sem.get(), SEM_VALUE_MAX));
  EXPECT_THAT(Post(sem.get()), HasErrno(EOVERFLOW)) << "sem_post's error must reach the caller";
  IPC_EXPECT_OK(Destroy(sem.get()));
}

TEST_F(HiddenPosixSemaphoreTest, WaitUntilInThePastActsLikeTryWait) {
  TestShared<sem_t> sem;
  IPC_ASSERT_OK(InitShared(sem.get(), 1));
  EXPECT_THAT(WaitUntil(sem.get(), absl::Now() - absl::Seconds(1)), IsOkAndHolds(true));
  ipc::Stopwatch watch;
  EXPECT_THAT(WaitUntil(sem.get(), absl::Now() - absl::Seconds(1)), IsOkAndHolds(false));
  EXPECT_THAT(WaitFor(sem.get(), absl::ZeroDuration()), IsOkAndHolds(false));
  EXPECT_LT(watch.Elapsed(), absl::Seconds(1));
  IPC_EXPECT_OK(Destroy(sem.get()));
}

// SE8: a signal storm during WaitFor neither ends the wait early with an error nor stretches it:
// the deadline is computed once and kept across EINTR. Signals keep coming every 20 ms for up to
// 2 s, so a WaitFor that restarts its 200 ms timeout after each one would wait the full 2 s.
TEST_F(HiddenPosixSemaphoreTest, WaitForKeepsItsDeadlineThroughSignals) {
  struct Shared {
    sem_t sem;
    std::atomic<bool> ready{false};
    std::atomic<bool> done{false};
    std::atomic<int64_t> waited_ms{-1};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK(InitShared(&shared->sem, 0));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             struct sigaction action {};
                             action.sa_handler = [](int) {};
                             action.sa_flags = 0;  // no SA_RESTART
                             if (::sigaction(SIGUSR1, &action, nullptr) == -1) return 10;
                             shared->ready = true;
                             ipc::Stopwatch watch;
                             absl::StatusOr<bool> got =
                                 WaitFor(&shared->sem, absl::Milliseconds(200));
                             shared->waited_ms = absl::ToInt64Milliseconds(watch.Elapsed());
                             shared->done = true;
                             if (!got.ok()) return ipc::ErrnoOf(got.status()) == EINTR ? 3 : 4;
                             return *got ? 5 : 0;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->ready.load(); }));
  for (int i = 0; i < 100 && !shared->done.load(); ++i) {
    IPC_ASSERT_OK(waiter.Kill(SIGUSR1));
    absl::SleepFor(absl::Milliseconds(20));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_EQ(status.code, 0) << "the waiter " << status.ToString()
                            << " (3: WaitFor returned EINTR instead of waiting again)";
  EXPECT_GE(shared->waited_ms.load(), 195) << "WaitFor gave up early after a signal";
  EXPECT_LT(shared->waited_ms.load(), 1000)
      << "WaitFor restarted its full timeout after each signal instead of keeping one deadline";
  IPC_EXPECT_OK(Destroy(&shared->sem));
}

// ---------------------------------------------------------------------------------------------
// Named semaphores
// ---------------------------------------------------------------------------------------------

using HiddenNamedSemaphoreTest = HiddenTest;

TEST_F(HiddenNamedSemaphoreTest, CreateUsesTheModeAndOpenHonoursIt) {
  const std::string name = ipc::UniqueName("mode");
  const mode_t old_umask = ::umask(022);
  auto created = NamedSemaphore::Create(name, 1, 0000);
  ::umask(old_umask);
  IPC_ASSERT_OK(created.status());
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm/sem." + name.substr(1)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0u) << "Create must pass `mode` to sem_open";
  if (::geteuid() == 0) {
    EXPECT_THAT(NamedSemaphore::Open(name), IsOk()) << "root is not bound by file modes";
  } else {
    EXPECT_THAT(NamedSemaphore::Open(name), HasErrno(EACCES));
  }
  IPC_EXPECT_OK(created->Close());
  IPC_EXPECT_OK(created->Close()) << "closing twice is harmless";
  IPC_EXPECT_OK(NamedSemaphore::Unlink(name));
  EXPECT_THAT(NamedSemaphore::Unlink("/a/b"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(HiddenNamedSemaphoreTest, AHandleMovedAwayIsClosedOnce) {
  const std::string name = ipc::UniqueName("move");
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore a, NamedSemaphore::Create(name, 4));
  NamedSemaphore b = std::move(a);
  EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move): the contract says so
  EXPECT_THAT(GetValue(b.get(), name), IsOkAndHolds(4));
  IPC_ASSERT_OK_AND_ASSIGN(NamedSemaphore c, NamedSemaphore::Open(name));
  c = std::move(b);
  EXPECT_THAT(GetValue(c.get(), name), IsOkAndHolds(4));
  IPC_EXPECT_OK(NamedSemaphore::Unlink(name));
}

// ---------------------------------------------------------------------------------------------
// Built from unnamed semaphores
// ---------------------------------------------------------------------------------------------

using HiddenSharedCounterTest = HiddenTest;

// SE1, SE3 at stress size.
TEST_F(HiddenSharedCounterTest, TwoProcessesAddAHundredThousandEachExactly) {
  constexpr int kPerProcess = 100'000;
  IPC_ASSERT_OK_AND_ASSIGN(SharedCounter counter, SharedCounter::Create());
  std::vector<ipc::Child> children;
  for (int c = 0; c < 2; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                               for (int i = 0; i < kPerProcess; ++i) {
                                 if (!counter.Add(1).ok()) return 1;
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << status.ToString();
  }
  EXPECT_THAT(counter.Value(), IsOkAndHolds(2 * kPerProcess));
}

using HiddenBoundedBufferTest = HiddenTest;

// SE7: notes 002's buffer, three producers by three consumers, 10^4 items each.
TEST_F(HiddenBoundedBufferTest, ThreeProducersThreeConsumersTenThousandEach) {
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr uint64_t kPerProducer = 10'000;
  constexpr uint64_t kStop = ~uint64_t{0};
  struct Tally {
    std::atomic<uint32_t> count[kProducers * kPerProducer];
    std::atomic<int> bad{0};
  };
  TestShared<Tally> tally;
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(5));
  std::vector<ipc::Child> producers, consumers;
  for (int c = 0; c < kConsumers; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                               for (;;) {
                                 absl::StatusOr<uint64_t> item = buffer.Take();
                                 if (!item.ok()) return 1;
                                 if (*item == kStop) return 0;
                                 if (*item >= kProducers * kPerProducer) {
                                   tally->bad.fetch_add(1);
                                   continue;
                                 }
                                 tally->count[*item].fetch_add(1);
                               }
                             }));
    consumers.push_back(std::move(child));
  }
  for (int p = 0; p < kProducers; ++p) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, p] {
                               for (uint64_t i = 0; i < kPerProducer; ++i) {
                                 if (!buffer.Put(p * kPerProducer + i).ok()) return 1;
                               }
                               return 0;
                             }));
    producers.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(producers)) {
    ASSERT_TRUE(status.Succeeded()) << "a producer " << status.ToString();
  }
  for (int c = 0; c < kConsumers; ++c) IPC_ASSERT_OK(buffer.Put(kStop));
  for (const ipc::ExitStatus& status : WaitAll(consumers)) {
    ASSERT_TRUE(status.Succeeded()) << "a consumer " << status.ToString();
  }
  int lost = 0, twice = 0;
  for (uint64_t i = 0; i < kProducers * kPerProducer; ++i) {
    uint32_t n = tally->count[i].load();
    lost += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(lost, 0) << "items lost (SE7)";
  EXPECT_EQ(twice, 0) << "items delivered twice (SE7)";
  EXPECT_EQ(tally->bad.load(), 0) << "items nobody put";
}

TEST_F(HiddenBoundedBufferTest, CapacityOneIsAStrictHandOff) {
  constexpr int kItems = 2000;
  struct Shared {
    std::atomic<int> produced{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(1));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer, ipc::Child::Fork([&] {
                             for (int i = 1; i <= kItems; ++i) {
                               if (!buffer.Put(static_cast<uint64_t>(i)).ok()) return 1;
                               shared->produced = i;
                             }
                             return 0;
                           }));
  int most_ahead = 0;
  bool in_order = true;
  for (int taken = 1; taken <= kItems; ++taken) {
    IPC_ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> item, buffer.TakeFor(absl::Seconds(5)));
    ASSERT_TRUE(item.has_value()) << "no item after " << taken - 1;
    in_order &= *item == static_cast<uint64_t>(taken);
    most_ahead = std::max(most_ahead, shared->produced.load() - taken);
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
  EXPECT_TRUE(in_order);
  EXPECT_LE(most_ahead, 1) << "with one slot the producer may be at most one item ahead (SE2)";
}

TEST_F(HiddenBoundedBufferTest, TakeForGetsAnItemThatArrivesDuringTheWait) {
  IPC_ASSERT_OK_AND_ASSIGN(BoundedBuffer buffer, BoundedBuffer::Create(3));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer, ipc::Child::Fork([&] {
                             absl::SleepFor(absl::Milliseconds(100));
                             return buffer.Put(42).ok() ? 0 : 1;
                           }));
  EXPECT_THAT(buffer.TakeFor(absl::Seconds(5)), IsOkAndHolds(::testing::Optional(42u)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded());
}

using HiddenBarrierTest = HiddenTest;

// A 2-party barrier is a rendezvous: neither side gets a round ahead of the other.
TEST_F(HiddenBarrierTest, TwoPartiesMeetEveryRound) {
  constexpr int kRounds = 2000;
  struct Shared {
    std::atomic<int> round[2];
    std::atomic<int> ahead{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(Barrier barrier, Barrier::Create(2));
  std::vector<ipc::Child> children;
  for (int me = 0; me < 2; ++me) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, me] {
                               for (int r = 1; r <= kRounds; ++r) {
                                 shared->round[me] = r;
                                 if (!barrier.ArriveAndWait().ok()) return 1;
                                 if (shared->round[1 - me].load() < r) shared->ahead.fetch_add(1);
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << status.ToString();
  }
  EXPECT_EQ(shared->ahead.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// NamedChannel
// ---------------------------------------------------------------------------------------------

using HiddenNamedChannelTest = HiddenTest;

// SE5: every one of the four objects is left over with values that would break a reuse: a mutex
// of 0 (everyone would block), no free slots, three phantom items, and a buffer of garbage.
TEST_F(HiddenNamedChannelTest, EveryLeftoverOfACrashedRunIsReplaced) {
  const std::string prefix = ipc::UniqueName("crashed");
  ChannelNamesGuard guard(prefix);
  const ChannelNames names = ChannelNamesFor(prefix);
  LeaveStaleSemaphore(names.mutex, 0);
  LeaveStaleSemaphore(names.empty, 0);
  LeaveStaleSemaphore(names.full, 3);
  LeaveStaleShm(names.buffer, 100);
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel channel, NamedChannel::Create(prefix, 5));
  CapturedOutput out;
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child consumer,
      RunProgram("sem_consumer", {"--prefix=" + prefix, "--items=10"}, out.fd()));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer,
                           RunProgram("sem_producer", {"--prefix=" + prefix, "--items=10"}));
  std::vector<ipc::Child> programs;
  programs.push_back(std::move(producer));
  programs.push_back(std::move(consumer));
  for (const ipc::ExitStatus& status : WaitAll(programs, absl::Seconds(4))) {
    EXPECT_TRUE(status.Succeeded())
        << "a program " << status.ToString() << " (timed out: it blocked on a leftover semaphore)";
  }
  EXPECT_THAT(Numbers(out), ElementsAreArray(Iota(1, 10))) << "SE5";
  IPC_EXPECT_OK(NamedChannel::Unlink(prefix));
}

// SE6: two channels at once, each with two producer and two consumer programs.
TEST_F(HiddenNamedChannelTest, TwoChannelsWithTwoProducersAndTwoConsumersEachStayApart) {
  constexpr int kPerProducer = 500;
  const std::string prefixes[2] = {ipc::UniqueName("one"), ipc::UniqueName("two")};
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel first, NamedChannel::Create(prefixes[0], 4));
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel second, NamedChannel::Create(prefixes[1], 4));
  CapturedOutput outs[2][2];
  std::vector<ipc::Child> children;
  for (int ch = 0; ch < 2; ++ch) {
    for (int k = 0; k < 2; ++k) {
      IPC_ASSERT_OK_AND_ASSIGN(
          ipc::Child consumer,
          RunProgram("sem_consumer",
                     {"--prefix=" + prefixes[ch], absl::StrCat("--items=", kPerProducer)},
                     outs[ch][k].fd()));
      children.push_back(std::move(consumer));
      const int first_item = 100'000 * (ch + 1) + 10'000 * k;
      IPC_ASSERT_OK_AND_ASSIGN(ipc::Child producer,
                               RunProgram("sem_producer", {"--prefix=" + prefixes[ch],
                                                           absl::StrCat("--items=", kPerProducer),
                                                           absl::StrCat("--first=", first_item)}));
      children.push_back(std::move(producer));
    }
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << "a program " << status.ToString();
  }
  for (int ch = 0; ch < 2; ++ch) {
    std::multiset<uint64_t> got;
    for (int k = 0; k < 2; ++k) {
      for (uint64_t item : Numbers(outs[ch][k])) got.insert(item);
    }
    std::multiset<uint64_t> want;
    for (int k = 0; k < 2; ++k) {
      for (uint64_t item : Iota(100'000 * (ch + 1) + 10'000 * k, kPerProducer)) want.insert(item);
    }
    EXPECT_TRUE(got == want) << "channel " << ch
                             << " did not receive exactly its own producers' items (SE6)";
  }
  IPC_EXPECT_OK(NamedChannel::Unlink(prefixes[0]));
  IPC_EXPECT_OK(NamedChannel::Unlink(prefixes[1]));
}

// SE9: a Create that fails part-way leaves nothing behind. With this prefix the buffer's name fits
// but no semaphore name does (sem_open adds "sem.").
TEST_F(HiddenNamedChannelTest, AFailedCreateLeavesNothingBehind) {
  std::string prefix = ipc::UniqueName("long");
  prefix += std::string(248 - prefix.size(), 'x');  // 247 characters after the slash
  EXPECT_THAT(NamedChannel::Create(prefix, 5), HasErrno(ENAMETOOLONG));
  EXPECT_TRUE(ipc::PosixObjectsNamed(ChannelNamesFor(prefix).buffer).empty())
      << "Create made the buffer, then failed on a semaphore, and did not shm_unlink it (SE9)";
}

TEST_F(HiddenNamedChannelTest, OpenRejectsAnObjectThatIsNotAChannel) {
  const std::string prefix = ipc::UniqueName("foreign");
  // The student's Create must work first: the test depends on nothing it did not check.
  IPC_ASSERT_OK_AND_ASSIGN(NamedChannel real, NamedChannel::Create(prefix, 2));
  IPC_ASSERT_OK(NamedChannel::Unlink(prefix));
  ChannelNamesGuard guard(prefix);
  const ChannelNames names = ChannelNamesFor(prefix);
  LeaveStaleShm(names.buffer, 100);
  LeaveStaleSemaphore(names.mutex, 1);
  LeaveStaleSemaphore(names.empty, 2);
  LeaveStaleSemaphore(names.full, 0);
  EXPECT_THAT(NamedChannel::Open(prefix), StatusIs(absl::StatusCode::kDataLoss))
      << "a 100-byte object of garbage is not a channel: check its size (fstat) and header";
}

// ---------------------------------------------------------------------------------------------
// System V
// ---------------------------------------------------------------------------------------------

using HiddenSemSetTest = HiddenTest;

// SE8: semop is never restarted after a signal handler, whatever SA_RESTART says.
TEST_F(HiddenSemSetTest, OpRetriesAfterASignal) {
  struct Shared {
    std::atomic<bool> ready{false};
    std::atomic<int> handled{0};
  };
  TestShared<Shared> shared;
  static std::atomic<int>* handled = nullptr;
  handled = &shared->handled;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             struct sigaction action {};
                             action.sa_handler = [](int) { handled->fetch_add(1); };
                             action.sa_flags = SA_RESTART;  // does not help semop
                             if (::sigaction(SIGUSR1, &action, nullptr) == -1) return 10;
                             shared->ready = true;
                             absl::Status status = set.Op({{0, -1, 0}});
                             if (status.ok()) return 0;
                             return ipc::ErrnoOf(status) == EINTR ? 3 : 4;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->ready.load(); }));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(SleepsSoon(waiter.pid()));
    IPC_ASSERT_OK(waiter.Kill(SIGUSR1));
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer defers a handler until the next call it intercepts, and it does not
    // intercept semop: the handler runs only after Op returns. The child was asleep in semop
    // (state S) when the signal came, so semop was interrupted all the same.
    absl::SleepFor(absl::Milliseconds(20));
#else
    ASSERT_TRUE(Eventually([&] { return shared->handled.load() >= i; }));
#endif
  }
  IPC_ASSERT_OK(set.Op({{0, 1, 0}}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_EQ(status.code, 0) << status.ToString() << " (3: Op returned EINTR)";
}

// SE9: a Create whose SETALL fails removes the set it made.
TEST_F(HiddenSemSetTest, AFailedCreateRemovesTheSet) {
  const key_t key = ipc::UniqueSysvKey();
  RemoveKeyAtEnd cleanup{key};
  EXPECT_THAT(SemSet::Create(key, {1, 40000}), HasErrno(ERANGE));
  EXPECT_EQ(::semget(key, 0, 0), -1) << "the set of a failed Create is still there (SE9)";
  EXPECT_THAT(SemSet::Create(key, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(HiddenSemSetTest, CreateOrOpenGivesUpOnASetNobodyInitialised) {
  const key_t key = ipc::UniqueSysvKey();
  RemoveKeyAtEnd cleanup{key};
  // Check the student's code on a free key first (a fresh set: created, initialised).
  {
    IPC_ASSERT_OK_AND_ASSIGN(SemSet fresh, SemSet::CreateOrOpen(key, {2}));
    EXPECT_TRUE(fresh.created());
    EXPECT_THAT(fresh.GetValue(0), IsOkAndHolds(2));
    IPC_ASSERT_OK(fresh.Remove());
  }
  // A creator that died between semget and its initialisation: sem_otime stays 0.
  ASSERT_NE(::semget(key, 1, IPC_CREAT | IPC_EXCL | 0600), -1) << std::strerror(errno);
  ipc::Stopwatch watch;
  EXPECT_THAT(SemSet::CreateOrOpen(key, {1}, 0600, absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(watch.Elapsed(), absl::Seconds(3)) << "CreateOrOpen must give up at init_timeout";
  EXPECT_THAT(SemSet::CreateOrOpen(key, {1, 1}, 0600, absl::Milliseconds(200)), HasErrno(EINVAL))
      << "an existing set of another size is EINVAL";
}

// SE10: flags are the caller's. Without SEM_UNDO a killed holder's decrement stays.
TEST_F(HiddenSemSetTest, WithoutSemUndoAKilledHoldersDecrementStays) {
  struct Shared {
    std::atomic<bool> held{false};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {1}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child holder, ipc::Child::Fork([&] {
                             if (!set.Op({{0, -1, 0}}).ok()) return 1;
                             shared->held = true;
                             absl::SleepFor(absl::Seconds(30));
                             return 0;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->held.load(); }));
  IPC_ASSERT_OK(holder.Kill(SIGKILL));
  IPC_ASSERT_OK(holder.Wait(kChildTimeout).status());
  EXPECT_THAT(set.TryOp({{0, -1, 0}}), IsOkAndHolds(false))
      << "Op must pass sem_flg through as given, not add SEM_UNDO itself";
}

TEST_F(HiddenSemSetTest, OpForReportsEIDRMWhenTheSetIsRemoved) {
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {0, 0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             absl::StatusOr<bool> got = set.OpFor({{1, -1, 0}}, absl::Seconds(8));
                             if (got.ok()) return 2;
                             return ipc::ErrnoOf(got.status()) == EIDRM ? 0 : 3;
                           }));
  ASSERT_TRUE(Eventually([&] { return set.WaitingCount(1).value_or(0) == 1; }));
  IPC_ASSERT_OK(set.Remove());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(absl::Seconds(5)));
  EXPECT_EQ(status.code, 0) << status.ToString() << " (2: it returned a result; 3: not EIDRM)";
}

// SE12 for System V: a process blocked in semop sleeps (state S) and burns no CPU.
TEST_F(HiddenSemSetTest, ABlockedSemopSleeps) {
  IPC_ASSERT_OK_AND_ASSIGN(SemSet set, SemSet::Create(IPC_PRIVATE, {0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child waiter, ipc::Child::Fork([&] {
                             return set.Op({{0, -1, 0}}).ok() ? 0 : 1;
                           }));
  ASSERT_TRUE(SleepsSoon(waiter.pid()));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration before, ipc::ProcessCpuTime(waiter.pid()));
  absl::SleepFor(absl::Milliseconds(200));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration after, ipc::ProcessCpuTime(waiter.pid()));
  EXPECT_LT(after - before, absl::Milliseconds(40))
      << "the waiter polls instead of sleeping (SE12)";
  IPC_ASSERT_OK(set.Op({{0, 1, 0}}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, waiter.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded());
}

using HiddenDiningTest = HiddenTest;

// SE10 in TakeForks: a philosopher killed while eating gives both forks back (SEM_UNDO).
TEST_F(HiddenDiningTest, AKilledPhilosopherGivesBothForksBack) {
  struct Shared {
    std::atomic<bool> eating{false};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet forks, SemSet::Create(IPC_PRIVATE, {1, 1, 1}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child philosopher, ipc::Child::Fork([&] {
                             if (!TakeForks(forks, 2).ok()) return 1;
                             shared->eating = true;
                             absl::SleepFor(absl::Seconds(30));
                             return 0;
                           }));
  ASSERT_TRUE(Eventually([&] { return shared->eating.load(); }));
  EXPECT_THAT(forks.GetAll(), IsOkAndHolds(ElementsAre(0, 1, 0)))
      << "seat 2 of 3 uses forks 2 and 0";
  IPC_ASSERT_OK(philosopher.Kill(SIGKILL));
  IPC_ASSERT_OK(philosopher.Wait(kChildTimeout).status());
  EXPECT_THAT(forks.GetAll(), IsOkAndHolds(ElementsAre(1, 1, 1)))
      << "TakeForks must use SEM_UNDO so that a dead philosopher's forks come back";
}

TEST_F(HiddenDiningTest, FivePhilosophersEatTwoThousandMealsWithoutSharingAFork) {
  constexpr int kSeats = 5;
  constexpr int kMeals = 2000;
  struct Shared {
    std::atomic<int> eating[kSeats];
    std::atomic<int> clashes{0};
  };
  TestShared<Shared> shared;
  IPC_ASSERT_OK_AND_ASSIGN(SemSet forks,
                           SemSet::Create(IPC_PRIVATE, std::vector<unsigned short>(kSeats, 1)));
  std::vector<ipc::Child> children;
  for (int seat = 0; seat < kSeats; ++seat) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&, seat] {
                               for (int meal = 0; meal < kMeals; ++meal) {
                                 if (!TakeForks(forks, seat).ok()) return 1;
                                 shared->eating[seat] = 1;
                                 if (shared->eating[(seat + 1) % kSeats] ||
                                     shared->eating[(seat + kSeats - 1) % kSeats]) {
                                   shared->clashes.fetch_add(1);
                                 }
                                 shared->eating[seat] = 0;
                                 if (!PutForks(forks, seat).ok()) return 1;
                               }
                               return 0;
                             }));
    children.push_back(std::move(child));
  }
  for (const ipc::ExitStatus& status : WaitAll(children)) {
    EXPECT_TRUE(status.Succeeded()) << status.ToString();
  }
  EXPECT_EQ(shared->clashes.load(), 0);
  EXPECT_THAT(forks.GetAll(), IsOkAndHolds(ElementsAre(1, 1, 1, 1, 1)));
  IPC_ASSERT_OK_AND_ASSIGN(SemSet one, SemSet::Create(IPC_PRIVATE, {1}));
  EXPECT_THAT(TakeForks(one, 0), StatusIs(absl::StatusCode::kInvalidArgument))
      << "one fork is not a table";
}

}  // namespace
}  // namespace semaphores
