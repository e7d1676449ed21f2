// grader/hidden/lockfree_ring/lockfree_ring_hidden_test.cc: the tests students never see.
//
// They go where the public tests stop: counters past 2^32 and 2^64, the cached indices, both
// wait paths under random bursts, a consumer that dies, records at every offset, corrupt
// headers, the threaded variants for ThreadSanitizer, and the speed cases the grader times
// against the mutex baseline (lab.json "speed").
//
//   bazel test //grader/hidden/lockfree_ring:all                       # against the reference
//   bazel test --config=tsan //grader/hidden/lockfree_ring:all
//
// Partner: labs/lockfree_ring/lockfree_ring_test.cc (the public half); the rubric in
// labs/lockfree_ring/lab.json names every case here.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/lockfree_ring/baseline_queue.h"
#include "labs/lockfree_ring/find_the_race.h"
#include "labs/lockfree_ring/lockfree_ring.h"
#include "labs/lockfree_ring/lockfree_ring_test_util.h"
#include "labs/lockfree_ring/stress.h"

namespace lockfree_ring {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using ::lockfree_ring::find_the_race::SharedMapping;
using ::lockfree_ring::stress::SlotMessage;
using ::lockfree_ring::test_util::AwaitFlag;
using ::lockfree_ring::test_util::ChildFails;
using ::lockfree_ring::test_util::IdleReport;
using ::lockfree_ring::test_util::kChildTimeout;
using ::lockfree_ring::test_util::MeasureIdle;
using ::lockfree_ring::test_util::PauseAfterClaim;
using ::lockfree_ring::test_util::PauseControl;
using ::lockfree_ring::test_util::ProgramsRun;
using ::lockfree_ring::test_util::RunPrograms;
using ::lockfree_ring::test_util::StreamSlotsAcrossProcesses;
using ::lockfree_ring::test_util::UsePause;

// The lab's ring fixture (labs/lockfree_ring/lockfree_ring_test_util.h), under the hidden name.
using HiddenRingTest = ::lockfree_ring::test_util::RingTest;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kScale = 10;  // sanitizers are 5-20x slower: fewer messages, same coverage
#else
constexpr uint64_t kScale = 1;
#endif

// ---------------------------------------------------------------------------------------------
// The shared ring.

using HiddenSharedRingTest = HiddenRingTest;

TEST_F(HiddenSharedRingTest, CreateOnATakenNameLeavesTheOtherRingIntact) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing first, Create(Slots(64), &name));
  EXPECT_THAT(SharedRing::Create(name, Slots(128)), HasErrno(EEXIST));
  absl::StatusOr<SharedRing> opened = SharedRing::Open(name);
  ASSERT_THAT(opened, IsOk())
      << "a failed Create must not unlink (or resize) a ring it does not own";
  EXPECT_EQ(opened->capacity(), 64u);
}

TEST_F(HiddenSharedRingTest, OpenRejectsAnObjectThatIsNotARing) {
  for (size_t size : {size_t{100}, size_t{4096}}) {
    const std::string name = ipc::UniqueName("notaring");
    int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_NE(fd, -1) << "shm_open: " << std::strerror(errno);
    raw_.push_back(name);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0) << std::strerror(errno);
    ASSERT_EQ(::close(fd), 0);
    EXPECT_THAT(SharedRing::Open(name), HasErrno(EINVAL))
        << "a " << size << "-byte object of zeros is not a ring: check the size and the magic";
  }
}

TEST_F(HiddenSharedRingTest, OpenRejectsAHeaderThatDisagreesWithTheObject) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64), &name));
  ring.header()->capacity = 1 << 20;  // far more than the object holds
  EXPECT_THAT(SharedRing::Open(name), HasErrno(EINVAL))
      << "trusting the header's capacity would map (and later touch) memory past the object";
  ring.header()->capacity = 48;  // fits, but not a power of two
  EXPECT_THAT(SharedRing::Open(name), HasErrno(EINVAL));
  ring.header()->capacity = 64;
  EXPECT_THAT(SharedRing::Open(name), IsOk());
}

TEST_F(HiddenSharedRingTest, CreateRejectsBadRecordRingsAndLeavesNothing) {
  EXPECT_THAT(Create(Records(48)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(Records(16)), StatusIs(absl::StatusCode::kInvalidArgument))
      << "a record ring of 16 bytes cannot hold a header and a byte";
  EXPECT_THAT(Create(Slots(uint64_t{1} << 40)), StatusIs(absl::StatusCode::kInvalidArgument))
      << "more than kMaxCapacity";
  EXPECT_THAT(SharedRing::Create("no-slash", Slots(64)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// Slots.

using HiddenSlotRingTest = HiddenRingTest;

// Fills, checks full, drains, several times, starting from `start`.
void FillAndDrain(SlotProducer& producer, SlotConsumer& consumer, uint64_t rounds) {
  uint64_t next_in = 0, next_out = 0;
  for (uint64_t round = 0; round < rounds; ++round) {
    for (uint64_t i = 0; i < producer.capacity(); ++i) {
      ASSERT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(next_in++, 8)))
          << "round " << round << ", slot " << i << ": refused though not full";
    }
    ASSERT_FALSE(producer.TryPushValue(stress::MakeSlotMessage(next_in, 8)))
        << "round " << round << ": a full ring accepted one more";
    SlotMessage m;
    for (uint64_t i = 0; i < producer.capacity(); ++i) {
      ASSERT_TRUE(consumer.TryPopValue(&m)) << "round " << round << ": lost message " << next_out;
      ASSERT_TRUE(stress::SlotMessageIs(m, next_out, 8)) << "message " << next_out;
      ++next_out;
    }
    ASSERT_FALSE(consumer.TryPopValue(&m)) << "round " << round << ": empty ring popped";
  }
}

// LR11: the counters are 64-bit and monotonic; crossing 2^32 changes nothing (a 32-bit index, or
// a futex word compared wrongly, breaks here).
TEST_F(HiddenSlotRingTest, CountersCrossTwoToThe32) {
  const uint64_t start = (uint64_t{1} << 32) - 20;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16, sizeof(SlotMessage), start)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  FillAndDrain(producer, consumer, 4);
  EXPECT_EQ(ring.header()->head.load(), start + 64) << "head must be a 64-bit message count";
}

// LR11: and past 2^64, where head < tail as numbers but head - tail is still the fill level.
TEST_F(HiddenSlotRingTest, CountersWrapPastTwoToThe64) {
  const uint64_t start = ~uint64_t{0} - 20;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16, sizeof(SlotMessage), start)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  FillAndDrain(producer, consumer, 4);
  EXPECT_EQ(ring.header()->tail.load(), start + 64);
}

// LR11 across processes, with the sleeping paths crossing 2^32 (the futex word is the low half).
TEST_F(HiddenSlotRingTest, ProcessesCrossTwoToThe32WhileSleeping) {
  const uint64_t start = (uint64_t{1} << 32) - 50;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(8, sizeof(SlotMessage), start)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child child, ipc::Child::Fork([&]() -> int {
        absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
        if (!producer.ok()) return ChildFails(producer.status().ToString());
        for (uint64_t i = 0; i < 100; ++i) {
          if (i % 10 == 0) absl::SleepFor(absl::Milliseconds(3));  // the consumer falls asleep
          SlotMessage m = stress::MakeSlotMessage(i, 6);
          absl::Status pushed = producer->Push(&m, absl::Seconds(10));
          if (!pushed.ok()) return ChildFails(pushed.ToString());
        }
        return 0;
      }));
  for (uint64_t i = 0; i < 100; ++i) {
    SlotMessage m;
    ASSERT_THAT(consumer.Pop(&m, absl::Seconds(10)), IsOk()) << "message " << i;
    ASSERT_TRUE(stress::SlotMessageIs(m, i, 6)) << "message " << i;
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

// The common case touches no line the other side writes: TryPush trusts its cached tail while
// that says there is room, TryPop its cached head while that says there is data. Proven by
// lying in the shared index: a side that rereads it every time believes the lie.
TEST_F(HiddenSlotRingTest, TheCommonCaseTrustsTheCachedIndex) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  ASSERT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(0, 1)));
  ASSERT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(1, 1)));
  SlotMessage m;
  ASSERT_TRUE(consumer.TryPopValue(&m));  // loads head (2) into the consumer's cache
  RingHeader* header = ring.header();
  const uint64_t real_tail = header->tail.load();
  header->tail.store(header->head.load() - 16);  // the lie: "full"
  EXPECT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(2, 1)))
      << "TryPush reloaded tail though its cached tail said there was room: keep a cached copy "
         "of the consumer's index and reload it only when the cache says full";
  header->tail.store(real_tail);
  const uint64_t real_head = header->head.load();
  header->head.store(real_tail);  // the lie: "empty"
  EXPECT_TRUE(consumer.TryPopValue(&m))
      << "TryPop reloaded head though its cached head said a message was there";
  header->head.store(real_head);
  EXPECT_TRUE(stress::SlotMessageIs(m, 1, 1));
}

// LR3: FUTEX_WAKE only when the peer sleeps (no system call per message), and a real one when
// it does.
TEST_F(HiddenSlotRingTest, WakesOnlyASleepingPeer) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(32)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  {
    IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
    FillAndDrain(producer, consumer, 3);
    EXPECT_EQ(producer.stats().wakes, 0u) << "nobody slept, yet the producer called FUTEX_WAKE";
    EXPECT_EQ(consumer.stats().wakes, 0u);
    EXPECT_EQ(producer.stats().messages, 96u) << "stats().messages counts pushes";
    EXPECT_EQ(consumer.stats().messages, 96u);
    EXPECT_EQ(producer.stats().would_block, 3u) << "one refused push per round";
  }
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child child, ipc::Child::Fork([&]() -> int {
        absl::StatusOr<SlotConsumer> consumer = SlotConsumer::Attach(ring);
        if (!consumer.ok()) return ChildFails(consumer.status().ToString());
        SlotMessage m;
        absl::Status popped = consumer->Pop(&m, absl::Seconds(10));
        if (!popped.ok()) return ChildFails(popped.ToString());
        return consumer->stats().sleeps >= 1 ? 0 : ChildFails("Pop returned without sleeping");
      }));
  // Wait until the consumer is asleep in the kernel (state S in /proc, three samples in a row), not
  // for a fixed time: under load a fixed sleep can end before the consumer has even attached.
  int asleep = 0;
  for (ipc::Stopwatch watch; asleep < 3 && watch.Elapsed() < absl::Seconds(5);) {
    absl::StatusOr<char> state = ipc::ProcessState(child.pid());
    asleep = state.ok() && *state == 'S' ? asleep + 1 : 0;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(asleep, 3) << "the consumer never went to sleep on an empty ring within 5 s";
  ASSERT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(0, 0)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
  EXPECT_EQ(producer.stats().wakes, 1u)
      << "the consumer was asleep: the push must have woken it with FUTEX_WAKE";
}

TEST_F(HiddenSlotRingTest, AProducerReplacesOneThatDiedOrDetached) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             ::raise(SIGKILL);
                             return 0;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_EQ(status.kind, ipc::ExitStatus::Kind::kSignaled);
  {
    absl::StatusOr<SlotProducer> second = SlotProducer::Attach(ring);
    ASSERT_THAT(second, IsOk()) << "the first producer died: its place is free";
  }
  absl::StatusOr<SlotProducer> third = SlotProducer::Attach(ring);
  ASSERT_THAT(third, IsOk())
      << "the second producer detached (its handle was destroyed): its place is free";
  EXPECT_THAT(SlotProducer::Attach(ring), HasErrno(EBUSY));
}

TEST_F(HiddenSlotRingTest, MovedHandlesKeepWorkingAndDetachOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  SlotProducer moved = std::move(producer);
  ASSERT_TRUE(moved.TryPushValue(stress::MakeSlotMessage(0, 1)));
  SlotConsumer moved_consumer = std::move(consumer);
  SlotMessage m;
  ASSERT_TRUE(moved_consumer.TryPopValue(&m));
  EXPECT_EQ(ring.header()->producer_state.load(), static_cast<uint32_t>(PeerState::kAttached))
      << "moving a handle must not detach it";
}

// ---------------------------------------------------------------------------------------------
// Stress across processes (no loss, no duplicate, no reorder, no torn copy).

using HiddenStressTest = HiddenRingTest;

// The stress size: 10^7 sequenced, checksummed messages from a forked producer to the
// test process through a small ring (so it wraps ~150,000 times and both sides wait often), with
// no loss, no duplicate, no reorder and no torn copy (LR11, LR14). Sanitizer builds send 10^6.
TEST_F(HiddenStressTest, TenMillionSlotMessagesAcrossProcesses) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  EXPECT_THAT(
      StreamSlotsAcrossProcesses(ring, consumer, 10'000'000 / kScale, 23, absl::Seconds(30)),
      IsOk());
}

// Both sides pause at random, so the ring is by turns empty (the consumer sleeps) and full (the
// producer sleeps): every wait path runs thousands of times.
TEST_F(HiddenStressTest, SlotsWithRandomBurstsAcrossProcesses) {
  const uint64_t kCount = 1'000'000 / kScale;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child child, ipc::Child::Fork([&]() -> int {
        absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
        if (!producer.ok()) return ChildFails(producer.status().ToString());
        std::mt19937_64 random(1);
        for (uint64_t i = 0; i < kCount; ++i) {
          if (random() % 50000 == 0) absl::SleepFor(absl::Microseconds(200));
          SlotMessage m = stress::MakeSlotMessage(i, 21);
          absl::Status pushed = producer->Push(&m, absl::Seconds(10));
          if (!pushed.ok()) return ChildFails(absl::StrCat("push ", i, ": ", pushed.ToString()));
        }
        return 0;
      }));
  std::mt19937_64 random(2);
  SlotMessage m;
  for (uint64_t i = 0; i < kCount; ++i) {
    if (random() % 50000 == 0) absl::SleepFor(absl::Microseconds(200));
    ASSERT_THAT(consumer.Pop(&m, absl::Seconds(10)), IsOk()) << "message " << i;
    ASSERT_TRUE(stress::SlotMessageIs(m, i, 21))
        << "message " << i << " is wrong (got sequence " << m.sequence << ")";
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

TEST_F(HiddenStressTest, RecordsOfRandomSizesAcrossProcesses) {
  const uint64_t kCount = 300'000 / kScale;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(1 << 16)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  const size_t max_size = 1000;  // 8..1000 bytes: dozens in flight, wrapping every ~130
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child child, ipc::Child::Fork([&]() -> int {
        absl::StatusOr<RecordProducer> producer = RecordProducer::Attach(ring);
        if (!producer.ok()) return ChildFails(producer.status().ToString());
        for (uint64_t i = 0; i < kCount; ++i) {
          absl::Status pushed =
              producer->Push(stress::MakeRecord(i, 3, max_size), absl::Seconds(10));
          if (!pushed.ok()) return ChildFails(absl::StrCat("push ", i, ": ", pushed.ToString()));
        }
        return 0;
      }));
  std::string record;
  for (uint64_t i = 0; i < kCount; ++i) {
    ASSERT_THAT(consumer.Pop(&record, absl::Seconds(10)), IsOk()) << "record " << i;
    ASSERT_EQ(record, stress::MakeRecord(i, 3, max_size)) << "record " << i;
  }
  ASSERT_THAT(consumer.Pop(&record, absl::Seconds(10)), HasErrno(EPIPE))
      << "after the last record the producer exited: EPIPE";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

TEST_F(HiddenStressTest, RecordProgramsAcrossExec) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(8192), &name));
  const std::vector<std::string> common = {"--name=" + name, "--kind=records",
                                           absl::StrCat("--count=", 200'000 / kScale), "--seed=9"};
  IPC_ASSERT_OK_AND_ASSIGN(const ProgramsRun run, RunPrograms(common));
  const ipc::ExitStatus& produced = run.produced;
  const ipc::ExitStatus& consumed = run.consumed;
  EXPECT_TRUE(produced.Succeeded()) << "ring_producer " << produced.ToString();
  EXPECT_TRUE(consumed.Succeeded()) << "ring_consumer " << consumed.ToString();
}

// The threaded variants: producer and consumer are threads sharing one mapping, so that
// ThreadSanitizer (--config=tsan) sees every access and checks the memory ordering.
TEST_F(HiddenStressTest, ThreadedSlotRingIsRaceFree) {
  const uint64_t kCount = 200'000 / kScale;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  std::atomic<uint64_t> push_errors{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kCount; ++i) {
      SlotMessage m = stress::MakeSlotMessage(i, 31);
      if (!producer.Push(&m, absl::Seconds(10)).ok()) push_errors.fetch_add(1);
    }
  });
  uint64_t wrong = 0;
  SlotMessage m;
  for (uint64_t i = 0; i < kCount; ++i) {
    if (!consumer.Pop(&m, absl::Seconds(10)).ok() || !stress::SlotMessageIs(m, i, 31)) ++wrong;
  }
  writer.join();
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(push_errors.load(), 0u);
}

TEST_F(HiddenStressTest, ThreadedRecordRingIsRaceFree) {
  const uint64_t kCount = 100'000 / kScale;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(16384)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  const size_t max_size = 500;
  std::atomic<uint64_t> push_errors{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kCount; ++i) {
      if (!producer.Push(stress::MakeRecord(i, 4, max_size), absl::Seconds(10)).ok()) {
        push_errors.fetch_add(1);
      }
    }
  });
  uint64_t wrong = 0;
  std::string record;
  for (uint64_t i = 0; i < kCount; ++i) {
    if (!consumer.Pop(&record, absl::Seconds(10)).ok() ||
        record != stress::MakeRecord(i, 4, max_size)) {
      ++wrong;
    }
  }
  writer.join();
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(push_errors.load(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Waiting and peers.

using HiddenWaitTest = HiddenRingTest;

// LR3, LR7: the mirror image of the public idle-consumer test.
TEST_F(HiddenWaitTest, AProducerOnAFullRingSleeps) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(4)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             for (uint64_t i = 0; i < 5; ++i) {  // the fifth blocks
                               SlotMessage m = stress::MakeSlotMessage(i, 1);
                               absl::Status pushed = producer->Push(&m, absl::Seconds(15));
                               if (!pushed.ok()) return ChildFails(pushed.ToString());
                             }
                             return 0;
                           }));
  absl::SleepFor(absl::Milliseconds(150));
  IPC_ASSERT_OK_AND_ASSIGN(const IdleReport report,
                           MeasureIdle(child.pid(), absl::Milliseconds(600)));
  const uint64_t wakeups = report.wakeups;
  EXPECT_LT(report.cpu_share, 0.05)
      << "a producer waiting on a full ring must sleep on the futex of tail, not spin";
  EXPECT_LT(wakeups, 60u) << "the waiting producer woke " << wakeups << " times: sleep-polling";
  SlotMessage m;
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_THAT(consumer.Pop(&m, absl::Seconds(10)), IsOk());
    EXPECT_TRUE(stress::SlotMessageIs(m, i, 1));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

TEST_F(HiddenWaitTest, PushTimesOutWithEtimedoutOnAFullRing) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(2)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  SlotMessage m = stress::MakeSlotMessage(0, 0);
  ASSERT_THAT(producer.Push(&m, absl::Seconds(1)), IsOk());
  ASSERT_THAT(producer.Push(&m, absl::Seconds(1)), IsOk());
  ipc::Stopwatch watch;
  EXPECT_THAT(producer.Push(&m, absl::Milliseconds(200)), HasErrno(ETIMEDOUT));
  EXPECT_GE(watch.Elapsed(), absl::Milliseconds(190)) << "Push gave up before its timeout";
  EXPECT_THAT(producer.Push(&m, absl::ZeroDuration()), HasErrno(ETIMEDOUT))
      << "a zero timeout is one attempt";
}

using HiddenPeerLossTest = HiddenRingTest;

// LR18, the other way round.
TEST_F(HiddenPeerLossTest, AProducerGetsEpipeWhenItsConsumerIsKilled) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(4)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotConsumer> consumer = SlotConsumer::Attach(ring);
                             if (!consumer.ok()) return ChildFails(consumer.status().ToString());
                             ::raise(SIGSTOP);  // wait, attached, until the parent kills it
                             return 0;
                           }));
  SlotMessage m = stress::MakeSlotMessage(0, 0);
  for (int i = 0; i < 4; ++i) ASSERT_THAT(producer.Push(&m, absl::Seconds(5)), IsOk());
  // Wait for the consumer to be attached (stopped), then kill it.
  for (int i = 0; i < 500; ++i) {
    absl::StatusOr<char> state = ipc::ProcessState(child.pid());
    if (state.ok() && *state == 'T') break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  IPC_ASSERT_OK(child.Kill(SIGKILL));
  ipc::Stopwatch watch;
  EXPECT_THAT(producer.Push(&m, absl::Seconds(10)), HasErrno(EPIPE))
      << "the consumer was killed while the ring was full: Push must fail with EPIPE (LR18)";
  EXPECT_LT(watch.Elapsed(), absl::Seconds(5));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_EQ(status.kind, ipc::ExitStatus::Kind::kSignaled);
}

TEST_F(HiddenPeerLossTest, TheConsumerDrainsEverythingBeforeEpipe) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             for (uint64_t i = 0; i < 10; ++i) {
                               if (!producer->TryPushValue(stress::MakeSlotMessage(i, 2)))
                                 return ChildFails("full?");
                             }
                             return 0;  // detaches on the way out
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << status.ToString();
  SlotMessage m;
  for (uint64_t i = 0; i < 10; ++i) {
    ASSERT_THAT(consumer.Pop(&m, absl::Seconds(5)), IsOk())
        << "message " << i << " was published before the producer left: deliver it first";
    EXPECT_TRUE(stress::SlotMessageIs(m, i, 2));
  }
  EXPECT_THAT(consumer.Pop(&m, absl::Seconds(5)), HasErrno(EPIPE));
}

// ---------------------------------------------------------------------------------------------
// Records.

using HiddenRecordRingTest = HiddenRingTest;

TEST_F(HiddenRecordRingTest, TheLargestRecordFitsAtEveryOffset) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(512)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  const std::string largest(producer.MaxRecordSize(), 'L');
  std::string out;
  for (size_t shift = 0; shift < 512; shift += 8) {
    // Moves the indices to `shift` bytes past the end of the last large record: empty records
    // take 8 bytes each.
    for (size_t moved = 0; moved < shift; moved += 8) {
      IPC_ASSERT_OK_AND_ASSIGN(bool pushed, producer.TryPush(""));
      ASSERT_TRUE(pushed);
      IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
      ASSERT_TRUE(popped);
    }
    IPC_ASSERT_OK_AND_ASSIGN(bool pushed, producer.TryPush(largest));
    ASSERT_TRUE(pushed) << "at offset " << (ring.header()->head.load() & 511)
                        << ", MaxRecordSize() bytes must fit into an empty ring";
    IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
    ASSERT_TRUE(popped);
    ASSERT_EQ(out, largest);
  }
}

TEST_F(HiddenRecordRingTest, EmptyRecordsAreRecordsToo) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(64)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  for (int i = 0; i < 8; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(bool pushed, producer.TryPush(""));
    ASSERT_TRUE(pushed) << "an empty record takes one header (8 bytes): 8 fit in 64";
  }
  IPC_ASSERT_OK_AND_ASSIGN(bool ninth, producer.TryPush(""));
  EXPECT_FALSE(ninth);
  std::string out = "not empty";
  for (int i = 0; i < 8; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
    ASSERT_TRUE(popped);
    EXPECT_EQ(out, "");
  }
}

// LR12: a full record ring refuses without dropping; everything comes out.
TEST_F(HiddenRecordRingTest, AFullRecordRingRefusesAndKeepsEverything) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(1024)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  int pushed_count = 0;
  for (;;) {
    IPC_ASSERT_OK_AND_ASSIGN(bool pushed,
                             producer.TryPush(absl::StrFormat("record-%04d", pushed_count)));
    if (!pushed) break;
    ++pushed_count;
    ASSERT_LT(pushed_count, 1000) << "1024 bytes cannot hold 1000 records";
  }
  EXPECT_EQ(pushed_count, 1024 / 24)
      << "each record is an 8-byte header plus 11 bytes padded to 16; the last 16 bytes of the "
         "buffer are too few for one (it would need the skip marker and 24 more bytes)";
  std::string out;
  for (int i = 0; i < pushed_count; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
    ASSERT_TRUE(popped) << "record " << i << " was dropped";
    EXPECT_EQ(out, absl::StrFormat("record-%04d", i));
  }
}

TEST_F(HiddenRecordRingTest, ACorruptRecordHeaderIsDataLossNotAnOverrun) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(256)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  RecordHeader bogus{100000, 0};
  std::memcpy(ring.data(), &bogus, sizeof bogus);
  ring.header()->head.store(16);  // "published" 16 bytes
  std::string out;
  EXPECT_THAT(consumer.TryPop(&out), StatusIs(absl::StatusCode::kDataLoss))
      << "a header that claims 100000 bytes in a 256-byte ring must not be copied (LR9)";
}

// ---------------------------------------------------------------------------------------------
// Find the race, LR6: the notes' ring overwrites an unread slot; the sequenced ring cannot.

using HiddenFindTheRaceTest = HiddenRingTest;
using find_the_race::MakeRaceMessage;
using find_the_race::RaceMessage;

// 63 unread messages; producer 1 passes the room check and claims the last slot, then pauses
// before it counts; producer 2 passes the same check (count is still 63) and claims slot 0,
// which holds an unread message.
template <typename Ring>
void RunLastSlotSchedule(Ring* ring, std::vector<RaceMessage>* popped, bool* second_accepted) {
  IPC_ASSERT_OK_AND_ASSIGN(auto pause, SharedMapping<PauseControl>::Create());
  UsePause(pause.get());
  for (uint64_t i = 1; i <= 63; ++i) ASSERT_TRUE(ring->TryPush(MakeRaceMessage(3, i)));
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child producer1, ipc::Child::Fork([&]() -> int {
        find_the_race::after_claim_hook.store(&PauseAfterClaim);
        return ring->TryPush(MakeRaceMessage(1, 1)) ? 0 : ChildFails("producer 1: push failed");
      }));
  ASSERT_TRUE(AwaitFlag(pause->paused, absl::Seconds(10))) << "producer 1 never claimed";
  *second_accepted = ring->TryPush(MakeRaceMessage(2, 1));
  pause->release.store(1, std::memory_order_release);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer1.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << status.ToString();
  RaceMessage m;
  while (popped->size() < 70 && ring->TryPop(&m)) popped->push_back(m);
}

TEST_F(HiddenFindTheRaceTest, TheNotesCasRingOverwritesAnUnreadSlot) {
  IPC_ASSERT_OK_AND_ASSIGN(auto ring, SharedMapping<find_the_race::NotesCasRing>::Create());
  std::vector<RaceMessage> popped;
  bool second_accepted = false;
  RunLastSlotSchedule(ring.get(), &popped, &second_accepted);
  EXPECT_TRUE(second_accepted) << "count said 63 < 64: producer 2 claimed a 65th slot (LR6)";
  bool first_survived = false;
  for (const RaceMessage& m : popped) first_survived |= m.producer == 3 && m.sequence == 1;
  EXPECT_FALSE(first_survived) << "the unread message in slot 0 should have been overwritten";
}

TEST_F(HiddenFindTheRaceTest, TheSequencedRingRefusesInsteadOfOverwriting) {
  IPC_ASSERT_OK_AND_ASSIGN(auto ring, SharedMapping<find_the_race::SequencedRing>::Create());
  std::vector<RaceMessage> popped;
  bool second_accepted = true;
  RunLastSlotSchedule(ring.get(), &popped, &second_accepted);
  EXPECT_FALSE(second_accepted) << "slot 0's sequence says it is unread: the ring is full";
  ASSERT_EQ(popped.size(), 64u);
  for (uint64_t i = 0; i < 63; ++i) {
    EXPECT_EQ(popped[i].producer, 3u);
    EXPECT_EQ(popped[i].sequence, i + 1);
  }
  EXPECT_EQ(popped[63].producer, 1u);
}

// ---------------------------------------------------------------------------------------------
// Speed: the grader runs Speed.Student and Speed.Baseline alternately and grades the ratio of
// their msgs_per_sec (lab.json "speed"). Same messages (8 bytes), same processes (a forked
// producer, the test process consuming), same capacity.

using Speed = HiddenRingTest;
constexpr uint64_t kSpeedMessages = 1'000'000 / kScale;
constexpr uint64_t kSpeedCapacity = 1024;

void ReportThroughput(absl::Duration elapsed) {
  const double per_second = static_cast<double>(kSpeedMessages) / absl::ToDoubleSeconds(elapsed);
  std::printf("IPCLABS_METRIC msgs_per_sec=%.0f\n", per_second);
  std::fflush(stdout);
  ::testing::Test::RecordProperty("msgs_per_sec", absl::StrCat(static_cast<int64_t>(per_second)));
}

TEST_F(Speed, Student) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(kSpeedCapacity, sizeof(uint64_t))));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(auto start, SharedMapping<std::atomic<uint32_t>>::Create());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             while (start->load(std::memory_order_acquire) == 0)
                               ::sched_yield();  // released below
                             for (uint64_t i = 0; i < kSpeedMessages; ++i) {
                               absl::Status pushed = producer->Push(&i, absl::Seconds(10));
                               if (!pushed.ok()) return ChildFails(pushed.ToString());
                             }
                             return 0;
                           }));
  ipc::Stopwatch watch;
  start->store(1, std::memory_order_release);  // pairs with the child's acquire load
  uint64_t value = 0, wrong = 0;
  for (uint64_t i = 0; i < kSpeedMessages; ++i) {
    ASSERT_THAT(consumer.Pop(&value, absl::Seconds(10)), IsOk()) << "message " << i;
    wrong += value != i;
  }
  const absl::Duration elapsed = watch.Elapsed();
  EXPECT_EQ(wrong, 0u) << "a fast ring that loses messages scores nothing";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << status.ToString();
  ReportThroughput(elapsed);
}

TEST_F(Speed, Baseline) {
  const std::string name = ipc::UniqueName("baseline");
  IPC_ASSERT_OK_AND_ASSIGN(baseline::MutexQueue queue,
                           baseline::MutexQueue::Create(name, kSpeedCapacity, sizeof(uint64_t)));
  raw_.push_back(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto start, SharedMapping<std::atomic<uint32_t>>::Create());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             while (start->load(std::memory_order_acquire) == 0) ::sched_yield();
                             for (uint64_t i = 0; i < kSpeedMessages; ++i) {
                               absl::Status pushed = queue.Push(&i, absl::Seconds(10));
                               if (!pushed.ok()) return ChildFails(pushed.ToString());
                             }
                             return 0;
                           }));
  ipc::Stopwatch watch;
  start->store(1, std::memory_order_release);
  uint64_t value = 0, wrong = 0;
  for (uint64_t i = 0; i < kSpeedMessages; ++i) {
    ASSERT_THAT(queue.Pop(&value, absl::Seconds(10)), IsOk()) << "message " << i;
    wrong += value != i;
  }
  const absl::Duration elapsed = watch.Elapsed();
  EXPECT_EQ(wrong, 0u);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << status.ToString();
  ReportThroughput(elapsed);
}

}  // namespace
}  // namespace lockfree_ring
