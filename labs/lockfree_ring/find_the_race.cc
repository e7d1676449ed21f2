// labs/lockfree_ring/find_the_race.cc: the broken rings and mailboxes of find_the_race.h, and
// their fixes. The broken code is kept as the course notes published it, on purpose; the comments
// mark where it goes wrong. Partner: the FindTheRace* tests in lockfree_ring_test.cc.
#include "labs/lockfree_ring/find_the_race.h"

#include <sys/mman.h>

#include <cstring>
#include <thread>

#include "common/status.h"

namespace lockfree_ring::find_the_race {
namespace {

void AfterClaim(uint64_t position) {
  // Relaxed: the hook is installed before any producer starts.
  if (AfterClaimHook hook = after_claim_hook.load(std::memory_order_relaxed)) hook(position);
}

}  // namespace

RaceMessage MakeRaceMessage(uint64_t producer, uint64_t sequence) {
  RaceMessage message{};
  message.producer = producer;
  message.sequence = sequence;
  message.checksum = MailboxChecksum(producer, sequence);
  return message;
}

// ---------------------------------------------------------------------------------------------
// The notes' CAS ring, as published (seq_cst everywhere, as there).

bool NotesCasRing::TryPush(const RaceMessage& message) {
  uint32_t slot;
  for (;;) {
    if (count.load() >= kSlots) return false;  // LR6: "room" is checked here ...
    uint32_t h = head.load();
    // ... and claimed here: two producers can both pass the check above with one slot left.
    if (head.compare_exchange_weak(h, (h + 1) % kSlots)) {
      slot = h;
      break;
    }
  }
  AfterClaim(slot);
  // LR5: the slot is already claimed, and a consumer that trusts `count` (bumped by another
  // producer) may read it before this copy lands.
  std::memcpy(slots[slot], &message, sizeof message);
  count.fetch_add(1);
  pushes.fetch_add(1);  // LR8: stats on the hot line, written by every producer
  return true;
}

bool NotesCasRing::TryPop(RaceMessage* message) {
  uint32_t slot;
  for (;;) {
    if (count.load() == 0) return false;  // "something is there" -- but not necessarily at tail
    uint32_t t = tail.load();
    if (tail.compare_exchange_weak(t, (t + 1) % kSlots)) {
      slot = t;
      break;
    }
  }
  std::memcpy(message, slots[slot], sizeof *message);
  count.fetch_sub(1);
  pops.fetch_add(1);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Vyukov's bounded MPMC ring.

SequencedRing::SequencedRing() : head(0), tail(0) {
  // Relaxed: the ring is constructed before any other process or thread can see it.
  for (uint64_t i = 0; i < kSlots; ++i) slots[i].sequence.store(i, std::memory_order_relaxed);
}

bool SequencedRing::TryPush(const RaceMessage& message) {
  // Relaxed: head only hands out positions; the slot's sequence carries the ordering.
  uint64_t position = head.load(std::memory_order_relaxed);
  Slot* slot;
  for (;;) {
    slot = &slots[position % kSlots];
    // Acquire: pairs with the consumer's release store of sequence = position (freed), so its
    // read of the old message is done before we overwrite it.
    uint64_t sequence = slot->sequence.load(std::memory_order_acquire);
    int64_t turn = static_cast<int64_t>(sequence - position);
    if (turn == 0) {
      // Our turn: claim the position. Relaxed: the claim orders no data, the sequence store does.
      if (head.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) break;
    } else if (turn < 0) {
      return false;  // the slot still holds an unread message from kSlots positions ago: full
    } else {
      position = head.load(std::memory_order_relaxed);  // another producer took it; look again
    }
  }
  AfterClaim(position);
  slot->message = message;
  // Publish: pairs with the consumer's acquire load of sequence. The slot says "written" only
  // after the message is in it, so a pause between claim and write delays, never corrupts.
  slot->sequence.store(position + 1, std::memory_order_release);
  return true;
}

bool SequencedRing::TryPop(RaceMessage* message) {
  uint64_t position = tail.load(std::memory_order_relaxed);  // as head in TryPush
  Slot* slot;
  for (;;) {
    slot = &slots[position % kSlots];
    // Acquire: pairs with the producer's release store of sequence = position + 1.
    uint64_t sequence = slot->sequence.load(std::memory_order_acquire);
    int64_t turn = static_cast<int64_t>(sequence - (position + 1));
    if (turn == 0) {
      if (tail.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) break;
    } else if (turn < 0) {
      return false;  // not written yet (empty, or claimed and still being written)
    } else {
      position = tail.load(std::memory_order_relaxed);
    }
  }
  *message = slot->message;
  // Free the slot for position + kSlots; pairs with the producer's acquire load of sequence.
  slot->sequence.store(position + kSlots, std::memory_order_release);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The mailboxes.

bool NotesMailbox::TryPut(const MailboxMessage& m) {
  if (flag != 0) return false;
  message = m;  // LR2: nothing keeps these stores before the flag store below (compiler or CPU)
  flag = 1;
  return true;
}

bool NotesMailbox::TryTake(MailboxMessage* m) {
  if (flag != 1) return false;
  *m = message;  // ... nor these loads after the flag load above
  flag = 0;
  return true;
}

bool RelaxedMailbox::TryPut(const MailboxMessage& m) {
  // LR15: relaxed is atomic but orders nothing: the message may become visible after the flag.
  if (flag.load(std::memory_order_relaxed) != 0) return false;
  message = m;
  flag.store(1, std::memory_order_relaxed);
  return true;
}

bool RelaxedMailbox::TryTake(MailboxMessage* m) {
  if (flag.load(std::memory_order_relaxed) != 1) return false;
  *m = message;
  flag.store(0, std::memory_order_relaxed);
  return true;
}

namespace {

template <typename Box>
bool Put(Box* box, const MailboxMessage& m) {
  return box->TryPut(m);
}
template <typename Box>
bool Take(Box* box, MailboxMessage* m) {
  return box->TryTake(m);
}
template <>
bool Put<Mailbox>(Mailbox* box, const MailboxMessage& m) {
  return MailboxTryPut(box, m).ok();
}
template <>
bool Take<Mailbox>(Mailbox* box, MailboxMessage* m) {
  return MailboxTryTake(box, m).ok();
}

}  // namespace

template <typename Box>
uint64_t HandOverWithThreads(uint64_t count) {
  Box box{};
  uint64_t bad = 0;
  std::thread writer([&box, count] {
    for (uint64_t i = 0; i < count; ++i) {
      MailboxMessage m{i, i * 7, MailboxChecksum(i, i * 7)};
      while (!Put(&box, m)) std::this_thread::yield();
    }
  });
  for (uint64_t i = 0; i < count; ++i) {
    MailboxMessage m{};
    while (!Take(&box, &m)) std::this_thread::yield();
    if (m.sequence != i || m.checksum != MailboxChecksum(m.sequence, m.payload)) ++bad;
  }
  writer.join();
  return bad;
}

template uint64_t HandOverWithThreads<NotesMailbox>(uint64_t);
template uint64_t HandOverWithThreads<RelaxedMailbox>(uint64_t);
template uint64_t HandOverWithThreads<Mailbox>(uint64_t);

// ---------------------------------------------------------------------------------------------

absl::StatusOr<void*> MapSharedAnonymous(size_t bytes) {
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return ipc::ErrnoError("mmap", "MAP_SHARED | MAP_ANONYMOUS");
  return memory;
}

void UnmapSharedAnonymous(void* address, size_t bytes) {
  // munmap fails only for arguments we never pass; a destructor has nobody to tell.
  ::munmap(address, bytes);
}

}  // namespace lockfree_ring::find_the_race
