// labs/lockfree_ring/lockfree_ring_test.cc: the public tests of the lock-free ring lab.
//
// They follow the handout's tasks in order: part 0 (the mailbox), the shared ring, slots,
// waiting, a peer that dies, records, and the "find the race" parts. Every test that waits on
// your code waits with a deadline, and checks an UNIMPLEMENTED status before it forks.
//
//   bazel test //labs/lockfree_ring:lockfree_ring_test
//   bazel test //labs/lockfree_ring:lockfree_ring_test --test_arg=--gtest_filter='MailboxTest.*'
//   bazel test --config=tsan //labs/lockfree_ring:lockfree_ring_test   # the data-race checks
//
// Partners: lockfree_ring.h (the contract), ring_producer.cc and ring_consumer.cc (the programs
// the exec test runs), find_the_race.h (the broken rings), README.md (the tasks).
#include "labs/lockfree_ring/lockfree_ring.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/lockfree_ring/find_the_race.h"
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
using ::lockfree_ring::test_util::PauseHere;
using ::lockfree_ring::test_util::ProgramsRun;
using ::lockfree_ring::test_util::RunPrograms;
using ::lockfree_ring::test_util::StreamSlotsAcrossProcesses;
using ::lockfree_ring::test_util::RingTest;
using ::lockfree_ring::test_util::UsePause;

// A polling loop's pause between two looks: spin a little (the other process is usually on the
// other core and about to act), then give the CPU away (it may be waiting for ours).
void Backoff(int* spins) {
  if (++*spins < 64) {
    __builtin_ia32_pause();
  } else {
    ::sched_yield();
  }
}

// ---------------------------------------------------------------------------------------------
// Part 0: the mailbox (CURRICULUM LR1).

using MailboxTest = RingTest;

// LR1: empty -> put -> full -> take -> empty, and the two refusals, with EAGAIN.
TEST_F(MailboxTest, PutThenTakeHandsOverOneMessage) {
  Mailbox box{};
  MailboxMessage in{7, 42, MailboxChecksum(7, 42)};
  ASSERT_THAT(MailboxTryPut(&box, in), IsOk())
      << "an all-zero Mailbox is empty: MailboxTryPut must accept a message (part 0)";
  EXPECT_EQ(box.state.load(), kMailboxFull) << "after a put the flag must say kMailboxFull";
  EXPECT_THAT(MailboxTryPut(&box, in), HasErrno(EAGAIN))
      << "a full mailbox must refuse a second message with EAGAIN (never overwrite it)";
  MailboxMessage out{};
  ASSERT_THAT(MailboxTryTake(&box, &out), IsOk());
  EXPECT_EQ(out.sequence, 7u);
  EXPECT_EQ(out.payload, 42u);
  EXPECT_EQ(box.state.load(), kMailboxEmpty) << "after a take the flag must say kMailboxEmpty";
  EXPECT_THAT(MailboxTryTake(&box, &out), HasErrno(EAGAIN))
      << "an empty mailbox must refuse with EAGAIN";
}

// LR1: 10^6 values from one process to another, in order, no loss, no duplicate, none torn.
TEST_F(MailboxTest, HandsOverAMillionValuesBetweenProcessesInOrder) {
  constexpr uint64_t kCount = 1'000'000;
  IPC_ASSERT_OK_AND_ASSIGN(SharedMapping<Mailbox> box, SharedMapping<Mailbox>::Create());
  {  // Fail fast on the skeleton, before forking.
    MailboxMessage probe{};
    ASSERT_THAT(MailboxTryTake(box.get(), &probe), HasErrno(EAGAIN))
        << "MailboxTryTake on an empty mailbox must fail with EAGAIN (part 0)";
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([&]() -> int {
                             for (uint64_t i = 0; i < kCount; ++i) {
                               MailboxMessage m{i, i ^ 0x5555, MailboxChecksum(i, i ^ 0x5555)};
                               for (int spins = 0;; Backoff(&spins)) {
                                 absl::Status put = MailboxTryPut(box.get(), m);
                                 if (put.ok()) break;
                                 if (ipc::ErrnoOf(put) != EAGAIN) return ChildFails(put.ToString());
                               }
                             }
                             return 0;
                           }));
  uint64_t wrong = 0, first_wrong = 0;
  const absl::Duration deadline = ipc::MonotonicNow() + absl::Seconds(60);
  for (uint64_t i = 0; i < kCount; ++i) {
    MailboxMessage m{};
    for (int spins = 0; !MailboxTryTake(box.get(), &m).ok(); Backoff(&spins)) {
      if (spins % 1024 == 1023) {
        ASSERT_LT(ipc::MonotonicNow(), deadline) << "no message " << i << " within the deadline";
      }
    }
    if (m.sequence != i || m.checksum != MailboxChecksum(m.sequence, m.payload)) {
      if (wrong++ == 0) first_wrong = i;
    }
  }
  EXPECT_EQ(wrong, 0u) << "message " << first_wrong << " (and " << wrong - 1
                       << " more) arrived lost, duplicated or torn: copy the message before the "
                          "release store of the flag, and read it after the acquire load (LR1)";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, writer.Wait(absl::Seconds(60)));
  EXPECT_TRUE(status.Succeeded()) << "the writer " << status.ToString();
}

// ---------------------------------------------------------------------------------------------
// Task 1: the shared ring.

using SharedRingTest = RingTest;

TEST_F(SharedRingTest, OpenSeesTheCreatorsHeader) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing created, Create(Slots(256, 24), &name));
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing opened, SharedRing::Open(name));
  EXPECT_EQ(opened.kind(), RingKind::kSlots);
  EXPECT_EQ(opened.capacity(), 256u);
  EXPECT_EQ(opened.slot_size(), 24u);
  RingHeader* header = opened.header();
  EXPECT_EQ(header->magic.load(), kRingMagic) << "Create must store kRingMagic (last)";
  EXPECT_EQ(header->version, kLayoutVersion);
  EXPECT_EQ(header->data_offset % kCacheLineSize, 0u) << "the data area starts on a cache line";
  EXPECT_GE(header->total_size, header->data_offset + 256u * 24u);
  EXPECT_EQ(header->head.load(), 0u);
  EXPECT_EQ(header->tail.load(), 0u);
  EXPECT_NE(created.header(), opened.header()) << "two mappings of one object: two addresses";
}

TEST_F(SharedRingTest, UnlinkRemovesTheName) {
  const std::string name = ipc::UniqueName("ring");
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, SharedRing::Create(name, Slots(64)));
  ASSERT_THAT(SharedRing::Unlink(name), IsOk());
  EXPECT_THAT(ipc::PosixObjectsNamed(name), ::testing::IsEmpty())
      << "after Unlink the name must be gone (shm_unlink)";
  EXPECT_THAT(SharedRing::Open(name), HasErrno(ENOENT));
  EXPECT_THAT(SharedRing::Unlink(name), HasErrno(ENOENT)) << "a second Unlink: ENOENT";
}

TEST_F(SharedRingTest, CreateRejectsACapacityThatIsNotAPowerOfTwo) {
  // LR11: slot i is at index i & (capacity - 1), which needs a power of two.
  EXPECT_THAT(Create(Slots(1000)), StatusIs(absl::StatusCode::kInvalidArgument))
      << "capacity 1000 is not a power of two";
  EXPECT_THAT(Create(Slots(0)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Create(Slots(64, 0)), StatusIs(absl::StatusCode::kInvalidArgument))
      << "a slot of 0 bytes";
  // The leak check (TearDown) fails this test if a refused Create left an object behind.
}

TEST_F(SharedRingTest, CreateFailsWithEexistForATakenName) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing first, Create(Slots(64), &name));
  EXPECT_THAT(SharedRing::Create(name, Slots(64)), HasErrno(EEXIST))
      << "Create must use O_CREAT | O_EXCL: it never takes over another ring";
}

TEST_F(SharedRingTest, OpenFailsWithEnoentForAMissingRing) {
  EXPECT_THAT(SharedRing::Open(ipc::UniqueName("nothing")), HasErrno(ENOENT));
}

TEST_F(SharedRingTest, OpenRejectsAnotherLayoutVersionWithEproto) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64), &name));
  ring.header()->version = kLayoutVersion + 1;
  EXPECT_THAT(SharedRing::Open(name), HasErrno(EPROTO))
      << "Open must check the header's layout version and refuse others with EPROTO";
}

// LR8, LR16: the layout the header fixes (what your code relies on).
TEST_F(SharedRingTest, HeadAndTailSitOnTheirOwnCacheLines) {
  EXPECT_GE(offsetof(RingHeader, tail) - offsetof(RingHeader, head), kCacheLineSize);
  EXPECT_EQ(offsetof(RingHeader, head) % kCacheLineSize, 0u);
  EXPECT_EQ(offsetof(RingHeader, tail) % kCacheLineSize, 0u);
  EXPECT_TRUE(std::atomic<uint64_t>::is_always_lock_free)
      << "an atomic in shared memory must be lock-free, or each process has its own lock (LR16)";
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ring.header()) % kCacheLineSize, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ring.data()) % kCacheLineSize, 0u);
}

// ---------------------------------------------------------------------------------------------
// Task 2: slots.

using SlotRingTest = RingTest;

TEST_F(SlotRingTest, PopsWhatWasPushedInOrder) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(8)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  for (uint64_t i = 0; i < 20; ++i) {  // 20 > 8: the indices go round more than twice
    SlotMessage in = stress::MakeSlotMessage(i, 3);
    ASSERT_TRUE(producer.TryPushValue(in)) << "TryPush " << i << " on a ring with room";
    SlotMessage out{};
    ASSERT_TRUE(consumer.TryPopValue(&out)) << "TryPop " << i << " right after a push";
    EXPECT_TRUE(stress::SlotMessageIs(out, i, 3)) << "message " << i << " came back different";
  }
  EXPECT_EQ(ring.header()->head.load(), 20u) << "head counts messages ever pushed";
  EXPECT_EQ(ring.header()->tail.load(), 20u) << "tail counts messages ever popped";
}

// LR12, LR13: every slot is usable, a full ring refuses (nothing dropped), and frees one slot
// per pop.
TEST_F(SlotRingTest, AllCapacitySlotsAreUsableAndAFullRingRefuses) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  EXPECT_EQ(producer.capacity(), 16u);
  for (uint64_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(i, 1)))
        << "slot " << i
        << " of 16 refused: all 16 slots must be usable (LR13: no wasted slot "
           "with monotonic counters)";
  }
  EXPECT_FALSE(producer.TryPushValue(stress::MakeSlotMessage(16, 1)))
      << "the 17th push must fail: the ring is full (LR12: never overwrite or drop)";
  SlotMessage out{};
  ASSERT_TRUE(consumer.TryPopValue(&out));
  EXPECT_TRUE(stress::SlotMessageIs(out, 0, 1));
  EXPECT_TRUE(producer.TryPushValue(stress::MakeSlotMessage(16, 1))) << "one pop frees one slot";
  for (uint64_t i = 1; i <= 16; ++i) {
    ASSERT_TRUE(consumer.TryPopValue(&out));
    EXPECT_TRUE(stress::SlotMessageIs(out, i, 1)) << "message " << i << " after the refusal";
  }
  EXPECT_FALSE(consumer.TryPopValue(&out)) << "an empty ring: TryPop returns false at once (LR7)";
}

TEST_F(SlotRingTest, ASecondProducerGetsEbusy) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(16)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer first, SlotProducer::Attach(ring));
  EXPECT_THAT(SlotProducer::Attach(ring), HasErrno(EBUSY))
      << "one producer per ring: that is what makes plain loads and stores enough";
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  EXPECT_THAT(SlotConsumer::Attach(ring), HasErrno(EBUSY));
  EXPECT_THAT(RecordProducer::Attach(ring), StatusIs(absl::StatusCode::kInvalidArgument))
      << "a slot ring is not a record ring";
}

// LR14: 10^6 messages from a forked producer to the parent, in order and intact.
TEST_F(SlotRingTest, AMillionMessagesCrossTwoProcessesInOrder) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(1024)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  EXPECT_THAT(StreamSlotsAcrossProcesses(ring, consumer, 1'000'000, 11, absl::Seconds(10)), IsOk())
      << "Copy, THEN publish head (release); load head (acquire), THEN copy (LR14)";
}

// LR10: the ring used by two programs that only share its name (fork + exec, not threads).
TEST_F(SlotRingTest, ProgramsMoveMessagesAcrossExec) {
  std::string name;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(256), &name));
  const std::vector<std::string> common = {"--name=" + name, "--kind=slots", "--count=200000",
                                           "--seed=5"};
  IPC_ASSERT_OK_AND_ASSIGN(const ProgramsRun run, RunPrograms(common));
  const ipc::ExitStatus& produced = run.produced;
  const ipc::ExitStatus& consumed = run.consumed;
  EXPECT_TRUE(produced.Succeeded())
      << "ring_producer " << produced.ToString() << " (its stderr above says why)";
  EXPECT_TRUE(consumed.Succeeded())
      << "ring_consumer " << consumed.ToString()
      << " (exit 2: a wrong message; 3: no EPIPE once the producer was gone; see its stderr)";
}

// ---------------------------------------------------------------------------------------------
// Tasks 3-4: waiting.

using WaitTest = RingTest;

// LR3: a consumer waiting on an empty ring sleeps on a futex: almost no CPU, few wake-ups (a
// sleep-polling loop wakes hundreds of times a second), and it still gets the message.
TEST_F(WaitTest, AnIdleConsumerSleepsAndWakesOnPush) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotProducer producer, SlotProducer::Attach(ring));
  {
    IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer probe, SlotConsumer::Attach(ring));
    SlotMessage m;
    ASSERT_THAT(probe.Pop(&m, absl::Milliseconds(1)), HasErrno(ETIMEDOUT))
        << "Pop on an empty ring must time out with ETIMEDOUT (task 3)";
  }
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child child, ipc::Child::Fork([&]() -> int {
        absl::StatusOr<SlotConsumer> consumer = SlotConsumer::Attach(ring);
        if (!consumer.ok()) return ChildFails(consumer.status().ToString());
        SlotMessage m;
        absl::Status popped = consumer->Pop(&m, absl::Seconds(15));
        if (!popped.ok()) return ChildFails(popped.ToString());
        return stress::SlotMessageIs(m, 99, 2) ? 0 : ChildFails("popped the wrong message");
      }));
  absl::SleepFor(absl::Milliseconds(100));  // let it attach, spin and fall asleep
  const absl::Duration idle = absl::Milliseconds(600);
  IPC_ASSERT_OK_AND_ASSIGN(const IdleReport report, MeasureIdle(child.pid(), idle));
  const double cpu_share = report.cpu_share;
  const uint64_t wakeups = report.wakeups;
  EXPECT_LT(cpu_share, 0.05) << "the idle consumer used " << cpu_share * 100
                             << "% of a CPU: spin only briefly, then FUTEX_WAIT on head (LR3)";
  EXPECT_LT(wakeups, 60u) << "the idle consumer woke " << wakeups << " times in "
                          << absl::FormatDuration(idle)
                          << ": that is sleep-polling. Sleep on the futex until the producer "
                             "wakes you (a slow liveness check, e.g. every 50 ms, is fine) (LR3)";
  SlotMessage m = stress::MakeSlotMessage(99, 2);
  ASSERT_TRUE(producer.TryPushValue(m));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << "the sleeping consumer " << status.ToString()
                                  << ": after the push it must wake (FUTEX_WAKE) and pop";
}

TEST_F(WaitTest, ABlockedProducerContinuesWhenTheConsumerFreesASlot) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(4)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             for (uint64_t i = 0; i < 12;
                                  ++i) {  // 12 > 4: it must block twice on a full ring
                               SlotMessage m = stress::MakeSlotMessage(i, 4);
                               absl::Status pushed = producer->Push(&m, absl::Seconds(15));
                               if (!pushed.ok()) return ChildFails(pushed.ToString());
                             }
                             return 0;
                           }));
  for (uint64_t i = 0; i < 12; ++i) {
    if (i % 4 == 0) absl::SleepFor(absl::Milliseconds(50));  // let the producer fill up and sleep
    SlotMessage m;
    ASSERT_THAT(consumer.Pop(&m, absl::Seconds(15)), IsOk());
    EXPECT_TRUE(stress::SlotMessageIs(m, i, 4)) << "message " << i;
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the producer " << status.ToString()
                                  << ": Push on a full ring must sleep until TryPop wakes it";
}

// ---------------------------------------------------------------------------------------------
// Task 5: a peer that dies (CURRICULUM LR18).

using PeerLossTest = RingTest;

TEST_F(PeerLossTest, AConsumerGetsEpipeWhenItsProducerIsKilled) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(64)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             SlotMessage m = stress::MakeSlotMessage(0, 9);
                             if (!producer->TryPushValue(m))
                               return ChildFails("TryPush on an empty ring failed");
                             ::raise(SIGKILL);  // dies without detaching: no destructor runs
                             return 0;
                           }));
  SlotMessage m;
  ASSERT_THAT(consumer.Pop(&m, absl::Seconds(10)), IsOk())
      << "the message the producer pushed before it died must still arrive";
  EXPECT_TRUE(stress::SlotMessageIs(m, 0, 9));
  ipc::Stopwatch watch;
  EXPECT_THAT(consumer.Pop(&m, absl::Seconds(10)), HasErrno(EPIPE))
      << "the producer was killed (its pid is in the header, its process is a zombie now): Pop "
         "must notice and fail with EPIPE, not wait for the full timeout (LR18)";
  EXPECT_LT(watch.Elapsed(), absl::Seconds(5)) << "noticing the death took too long";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_EQ(status.kind, ipc::ExitStatus::Kind::kSignaled) << status.ToString();
}

// ---------------------------------------------------------------------------------------------
// Task 6: records.

using RecordRingTest = RingTest;

TEST_F(RecordRingTest, PopsRecordsOfEverySizeAcrossTheEnd) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(256)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(RecordConsumer consumer, RecordConsumer::Attach(ring));
  EXPECT_EQ(producer.MaxRecordSize(), 120u);
  std::string out;
  for (size_t size = 0; size <= producer.MaxRecordSize(); ++size) {  // wraps the buffer often
    std::string record(size, static_cast<char>('a' + size % 26));
    IPC_ASSERT_OK_AND_ASSIGN(bool pushed, producer.TryPush(record));
    ASSERT_TRUE(pushed) << "a " << size << "-byte record into an empty ring must fit, at any "
                        << "offset: use the skip marker when it does not fit before the end";
    IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
    ASSERT_TRUE(popped);
    ASSERT_EQ(out, record) << "record of " << size << " bytes";
  }
  IPC_ASSERT_OK_AND_ASSIGN(bool popped, consumer.TryPop(&out));
  EXPECT_FALSE(popped) << "the ring is empty now";
}

// LR9: a record larger than the ring is an error, not an overrun (ASan checks the overrun).
TEST_F(RecordRingTest, AnOversizeRecordFailsWithEmsgsize) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Records(128)));
  IPC_ASSERT_OK_AND_ASSIGN(RecordProducer producer, RecordProducer::Attach(ring));
  std::string big(producer.MaxRecordSize() + 1, 'x');
  EXPECT_THAT(producer.TryPush(big), HasErrno(EMSGSIZE))
      << "a record of MaxRecordSize() + 1 bytes never fits: say so (LR9)";
  EXPECT_THAT(producer.Push(std::string(1000, 'y'), absl::Seconds(1)), HasErrno(EMSGSIZE))
      << "Push must not wait for room that can never come";
}

// ---------------------------------------------------------------------------------------------
// Find the race (CURRICULUM LR2, LR4, LR5, LR6, LR15).

using FindTheRaceTest = RingTest;
using find_the_race::MakeRaceMessage;
using find_the_race::NotesCasRing;
using find_the_race::RaceMessage;
using find_the_race::SequencedRing;

// Runs the schedule of LR5 on a ring type: producer 1 (a child) claims a slot and pauses before
// writing it; producer 2 (this process) pushes; the consumer (this process) pops. Returns what
// the consumer got while producer 1 was paused, and after it was released.
template <typename Ring>
void RunClaimThenWriteSchedule(Ring* ring, PauseControl* pause, std::vector<RaceMessage>* during,
                               std::vector<RaceMessage>* after) {
  UsePause(pause);
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child producer1, ipc::Child::Fork([&]() -> int {
        find_the_race::after_claim_hook.store(&PauseAfterClaim);
        return ring->TryPush(MakeRaceMessage(1, 1)) ? 0 : ChildFails("producer 1: push failed");
      }));
  ASSERT_TRUE(AwaitFlag(pause->paused, absl::Seconds(10))) << "producer 1 never claimed a slot";
  ASSERT_TRUE(ring->TryPush(MakeRaceMessage(2, 1))) << "producer 2: push failed";
  RaceMessage m;
  while (during->size() < 2 && ring->TryPop(&m)) during->push_back(m);
  pause->release.store(1, std::memory_order_release);  // pairs with the acquire in PauseHere()
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, producer1.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << "producer 1 " << status.ToString();
  while (after->size() < 2 && ring->TryPop(&m)) after->push_back(m);
}

bool IsIntact(const RaceMessage& m) {
  return m.sequence != 0 && m.checksum == MailboxChecksum(m.producer, m.sequence);
}

// LR4, LR5: the notes' ring hands the consumer a slot that producer 1 claimed and has not
// written. This test passes when the broken ring misbehaves, deterministically.
TEST_F(FindTheRaceTest, TheNotesCasRingHandsOutAClaimedButUnwrittenSlot) {
  IPC_ASSERT_OK_AND_ASSIGN(auto ring, SharedMapping<NotesCasRing>::Create());
  IPC_ASSERT_OK_AND_ASSIGN(auto pause, SharedMapping<PauseControl>::Create());
  std::vector<RaceMessage> during, after;
  RunClaimThenWriteSchedule(ring.get(), pause.get(), &during, &after);
  ASSERT_FALSE(during.empty())
      << "the consumer trusted count (bumped by producer 2) and should have popped slot 0";
  EXPECT_FALSE(IsIntact(during[0]))
      << "slot 0 was claimed by producer 1 but not written yet: the consumer got garbage";
  bool producer1_arrived = false;
  for (const RaceMessage& m : after) producer1_arrived |= IsIntact(m) && m.producer == 1;
  EXPECT_FALSE(producer1_arrived) << "producer 1's message landed in a slot already consumed";
}

// LR5, LR6: the same schedule on the sequenced ring: the consumer waits for slot 0 instead of
// taking it unwritten, and both messages arrive exactly once, in claim order.
TEST_F(FindTheRaceTest, TheSequencedRingWaitsForTheClaimedSlot) {
  IPC_ASSERT_OK_AND_ASSIGN(auto ring, SharedMapping<SequencedRing>::Create());
  IPC_ASSERT_OK_AND_ASSIGN(auto pause, SharedMapping<PauseControl>::Create());
  std::vector<RaceMessage> during, after;
  RunClaimThenWriteSchedule(ring.get(), pause.get(), &during, &after);
  EXPECT_TRUE(during.empty()) << "nothing may be popped while slot 0 is claimed but unwritten";
  ASSERT_EQ(after.size(), 2u);
  EXPECT_TRUE(IsIntact(after[0]) && after[0].producer == 1);
  EXPECT_TRUE(IsIntact(after[1]) && after[1].producer == 2);
}

// LR5: your ring, paused between writing a message and publishing it: the consumer must see
// nothing yet, then the whole message.
TEST_F(FindTheRaceTest, YourRingShowsNothingBeforeItPublishes) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, Create(Slots(8)));
  IPC_ASSERT_OK_AND_ASSIGN(SlotConsumer consumer, SlotConsumer::Attach(ring));
  IPC_ASSERT_OK_AND_ASSIGN(auto pause, SharedMapping<PauseControl>::Create());
  UsePause(pause.get());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<SlotProducer> producer = SlotProducer::Attach(ring);
                             if (!producer.ok()) return ChildFails(producer.status().ToString());
                             testing::before_publish_hook.store(&PauseHere);
                             return producer->TryPushValue(stress::MakeSlotMessage(5, 5))
                                        ? 0
                                        : ChildFails("push failed");
                           }));
  ASSERT_TRUE(AwaitFlag(pause->paused, absl::Seconds(10)))
      << "TryPush never called testing::BeforePublish(): call it after the copy, before the "
         "store that publishes head";
  SlotMessage m{};
  EXPECT_FALSE(consumer.TryPopValue(&m))
      << "the producer is paused before publishing, yet the consumer popped a message "
         "(sequence "
      << m.sequence << "): head was published before the slot was written (LR5)";
  pause->release.store(1, std::memory_order_release);
  ASSERT_THAT(consumer.Pop(&m, absl::Seconds(10)), IsOk());
  EXPECT_TRUE(stress::SlotMessageIs(m, 5, 5));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the producer " << status.ToString();
}

// LR2, LR15: ThreadSanitizer sees the races in the notes' mailbox (plain byte flag) and in the
// relaxed-only one, and none in yours. Only meaningful under --config=tsan: otherwise skipped.
#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

using FindTheRaceDeathTest = FindTheRaceTest;

TEST_F(FindTheRaceDeathTest, TsanFlagsTheNotesMailboxAndTheRelaxedOne) {
  if (!kTsan) GTEST_SKIP() << "run with --config=tsan to see the data races (LR2, LR15)";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(find_the_race::HandOverWithThreads<find_the_race::NotesMailbox>(1000),
              ::testing::ExitedWithCode(66), "data race")
      << "LR2: a plain byte flag orders nothing: TSan must report a data race";
  EXPECT_EXIT(find_the_race::HandOverWithThreads<find_the_race::RelaxedMailbox>(1000),
              ::testing::ExitedWithCode(66), "data race")
      << "LR15: relaxed atomics order nothing either";
}

TEST_F(FindTheRaceTest, YourMailboxHandsOverBetweenThreadsWithoutARace) {
  {
    Mailbox probe{};
    MailboxMessage m{};
    ASSERT_THAT(MailboxTryTake(&probe, &m), HasErrno(EAGAIN)) << "part 0 first";
  }
  // Under --config=tsan, a race in your mailbox aborts this test with TSan's report.
  EXPECT_EQ(find_the_race::HandOverWithThreads<Mailbox>(kTsan ? 20'000 : 200'000), 0u)
      << "messages arrived out of order or torn";
}

}  // namespace
}  // namespace lockfree_ring
