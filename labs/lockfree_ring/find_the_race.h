// labs/lockfree_ring/find_the_race.h: the broken patterns of the "find the race" parts, shipped
// as they were published, next to what fixes them. Not yours to edit: read it, run the tests
// that break it (FindTheRace* in lockfree_ring_test.cc), and explain in ANSWERS.md.
//
//   NotesCasRing     the "lock-free" CAS ring of the course notes (CURRICULUM LR4): 64 slots of
//                    64 bytes, head and tail advanced by compare-exchange, a separate count. It
//                    claims a slot before it writes it (LR5) and checks for room apart from the
//                    claim (LR6).
//   SequencedRing    the same multi-producer/multi-consumer job done right (Dmitry Vyukov's
//                    bounded MPMC queue): every slot carries a sequence number that says whose
//                    turn it is, and a slot is published by its own sequence store, after the
//                    write.
//   NotesMailbox     the notes' one-slot mailbox whose flag is a plain (volatile) byte (LR2).
//   RelaxedMailbox   the mailbox with an atomic flag used only with memory_order_relaxed (LR15).
//
// All of them live in memory the caller maps MAP_SHARED (SharedMapping below) before it forks.
#ifndef IPC_LABS_LABS_LOCKFREE_RING_FIND_THE_RACE_H_
#define IPC_LABS_LABS_LOCKFREE_RING_FIND_THE_RACE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "absl/status/statusor.h"
#include "labs/lockfree_ring/lockfree_ring.h"

namespace lockfree_ring::find_the_race {

// One message of the MPMC rings: 56 bytes, so that a slot with its sequence is one cache line.
struct RaceMessage {
  uint64_t producer;  // which producer sent it
  uint64_t sequence;  // that producer's message number, from 1 (0 marks a slot never written)
  uint64_t checksum;  // MailboxChecksum(producer, sequence)
  uint64_t filler[4];
};
static_assert(sizeof(RaceMessage) == 56);

// MakeRaceMessage()
//
// A message with its checksum filled in.
RaceMessage MakeRaceMessage(uint64_t producer, uint64_t sequence);

// The hook a test installs to pause a producer between claiming a slot and writing it (both
// rings call it there). nullptr: no pause.
using AfterClaimHook = void (*)(uint64_t position);
inline std::atomic<AfterClaimHook> after_claim_hook{nullptr};

// NotesCasRing
//
// The course notes' ring, kept as published (CURRICULUM LR4-LR8): do not copy it.
struct NotesCasRing {
  static constexpr uint32_t kSlots = 64;
  static constexpr uint32_t kSlotSize = 64;

  std::atomic<uint32_t> head;   // next slot to claim for writing (LR8: on one line with ...)
  std::atomic<uint32_t> tail;   // ... the next slot to claim for reading ...
  std::atomic<uint32_t> count;  // ... and the number of "full" slots, which consumers trust
  uint32_t reserved;
  std::atomic<uint64_t> pushes, pops;  // stats, on the same hot line
  alignas(64) unsigned char slots[kSlots][kSlotSize];

  // NotesCasRing::TryPush()
  //
  // The notes' push: check count < kSlots (LR6: a separate step from the claim), claim a slot by
  // a CAS on head, call the hook, THEN copy the message in and increment count (LR5: the slot
  // was claimed, and counted by nobody, while still empty). False if count says full.
  bool TryPush(const RaceMessage& message);

  // NotesCasRing::TryPop()
  //
  // The notes' pop: if count > 0, claim a slot by a CAS on tail and copy it out, trusting that
  // count > 0 means THIS slot was written. False if count says empty.
  bool TryPop(RaceMessage* message);
};

// SequencedRing
//
// A correct bounded MPMC ring (Vyukov). Slot i's sequence is i while it is free for the producer
// that claims position i, i + 1 once that producer has written it, and i + kSlots once the
// consumer has read it (free for position i + kSlots). Construct it in shared memory; the
// constructor sets the sequences.
struct SequencedRing {
  static constexpr uint64_t kSlots = 64;
  struct alignas(64) Slot {
    std::atomic<uint64_t> sequence;
    RaceMessage message;
  };
  static_assert(sizeof(Slot) == 64);

  SequencedRing();

  alignas(64) std::atomic<uint64_t> head;  // next position to claim for writing
  alignas(64) std::atomic<uint64_t> tail;  // next position to claim for reading
  Slot slots[kSlots];

  // SequencedRing::TryPush()
  //
  // Claims the next position if its slot is free (sequence == position), calls the hook, writes
  // the message and publishes it by storing sequence = position + 1. False when full.
  bool TryPush(const RaceMessage& message);

  // SequencedRing::TryPop()
  //
  // Claims the next position if its slot has been published (sequence == position + 1), reads
  // it, and frees it by storing sequence = position + kSlots. False when empty, including when
  // the next slot is claimed but not yet written: it never skips ahead.
  bool TryPop(RaceMessage* message);
};

// NotesMailbox: the notes' mailbox (LR2). The flag is an ordinary byte (volatile, so that a
// polling loop rereads it), and nothing orders the message against it.
struct NotesMailbox {
  volatile uint8_t flag;  // 0 empty, 1 full
  MailboxMessage message;
  bool TryPut(const MailboxMessage& message);
  bool TryTake(MailboxMessage* message);
};

// RelaxedMailbox: an atomic flag, but every access relaxed (LR15): atomic, yet it orders nothing.
struct RelaxedMailbox {
  std::atomic<uint32_t> flag;
  MailboxMessage message;
  bool TryPut(const MailboxMessage& message);
  bool TryTake(MailboxMessage* message);
};

// HandOverWithThreads()
//
// Hands `count` messages from a writer thread to a reader thread through a mailbox of type Box
// (NotesMailbox, RelaxedMailbox, or lockfree_ring::Mailbox through the student's MailboxTryPut
// and MailboxTryTake) and returns how many the reader got wrong (bad checksum or out of order).
// For ThreadSanitizer: the two threads share one address space, so it sees every access.
template <typename Box>
uint64_t HandOverWithThreads(uint64_t count);

// SharedMapping<T>
//
// A T constructed in an anonymous MAP_SHARED mapping: a fork()ed child shares it with its
// parent. Move-only; the destructor destroys the T and unmaps (in each process that has it).
template <typename T>
class SharedMapping {
 public:
  // SharedMapping::Create()
  //
  // Maps sizeof(T) bytes (rounded up to pages) and constructs a T there. Errors: mmap's.
  static absl::StatusOr<SharedMapping> Create();

  SharedMapping(SharedMapping&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  SharedMapping& operator=(SharedMapping&&) = delete;
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping();

  T* get() const { return object_; }
  T* operator->() const { return object_; }

 private:
  explicit SharedMapping(T* object) : object_(object) {}
  T* object_ = nullptr;
};

// Helpers behind SharedMapping (they wrap mmap and munmap).
absl::StatusOr<void*> MapSharedAnonymous(size_t bytes);
void UnmapSharedAnonymous(void* address, size_t bytes);

template <typename T>
absl::StatusOr<SharedMapping<T>> SharedMapping<T>::Create() {
  absl::StatusOr<void*> memory = MapSharedAnonymous(sizeof(T));
  if (!memory.ok()) return memory.status();
  return SharedMapping(new (*memory) T());
}

template <typename T>
SharedMapping<T>::~SharedMapping() {
  if (object_ == nullptr) return;
  object_->~T();
  UnmapSharedAnonymous(object_, sizeof(T));
}

}  // namespace lockfree_ring::find_the_race

#endif  // IPC_LABS_LABS_LOCKFREE_RING_FIND_THE_RACE_H_
