// labs/lockfree_ring/lockfree_ring.cc: your implementation of lockfree_ring.h.
//
// Fill in every TODO(student), in the order of the handout's tasks (README.md): part 0 the
// mailbox, then SharedRing, the slot ring, waiting, peer death, and the record ring. Each TODO
// returns UNIMPLEMENTED now, so every test fails at once with a line that says what to write.
//
//   bazel test //labs/lockfree_ring:lockfree_ring_test
//
// Rules (the tests check them): every system call checked on the next line with
// ipc::ErrnoError(call, object); a comment at every atomic operation saying what it orders and
// what it pairs with; head and tail touched only as the header says (the producer writes head,
// the consumer writes tail); Try*() never blocks or sleeps.
#include "labs/lockfree_ring/lockfree_ring.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status.h"
#include "common/timing.h"

namespace lockfree_ring {
namespace internal {

// Marks one side of the ring detached and wakes the peer (declared in lockfree_ring.h; the
// destructors and move assignments in lockfree_ring_given.cc call it).
void DetachSide(std::atomic<uint32_t>* state_word, std::atomic<uint64_t>* peer_wait_index) {
  // TODO(student): store PeerState::kDetached in *state_word, then FUTEX_WAKE the peer that may
  // be sleeping on *peer_wait_index, so that it sees the news at once (task 5).
  (void)state_word;
  (void)peer_wait_index;
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// SharedRing (task 1)

absl::StatusOr<SharedRing> SharedRing::Create(const std::string& name, const RingOptions& options) {
  (void)name;
  (void)options;
  // TODO(student): validate the options, shm_open(O_CREAT | O_EXCL), ftruncate, mmap, construct
  // the header, publish it by storing `magic` last. Remove the object on every error path.
  return absl::UnimplementedError(
      "TODO(student): SharedRing::Create: create, size and map the shared-memory object, fill in "
      "the RingHeader and publish it (task 1)");
}

absl::StatusOr<SharedRing> SharedRing::Open(const std::string& name) {
  (void)name;
  return absl::UnimplementedError(
      "TODO(student): SharedRing::Open: open and map the object, then check magic, version, "
      "kind, capacity and sizes (task 1)");
}

absl::Status SharedRing::Unlink(const std::string& name) {
  (void)name;
  return absl::UnimplementedError(
      "TODO(student): SharedRing::Unlink: shm_unlink the name (task 1)");
}

// ---------------------------------------------------------------------------------------------
// SlotProducer and SlotConsumer (tasks 2-5)

absl::StatusOr<SlotProducer> SlotProducer::Attach(SharedRing& ring) {
  (void)ring;
  return absl::UnimplementedError(
      "TODO(student): SlotProducer::Attach: record this process as the producer (EBUSY if a "
      "live one is attached), then load head and tail into the handle (task 2)");
}

bool SlotProducer::TryPush(const void* slot) {
  (void)slot;
  // TODO(student): full check against cached_tail_ (reload tail only when it says full), copy,
  // testing::BeforePublish(), publish head, wake a sleeping consumer (tasks 2 and 4).
  return false;
}

absl::Status SlotProducer::Push(const void* slot, absl::Duration timeout) {
  (void)slot;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): SlotProducer::Push: TryPush, spin briefly, then sleep on the futex of tail "
      "until there is room; ETIMEDOUT, EPIPE (tasks 4 and 5)");
}

absl::StatusOr<SlotConsumer> SlotConsumer::Attach(SharedRing& ring) {
  (void)ring;
  return absl::UnimplementedError(
      "TODO(student): SlotConsumer::Attach: record this process as the consumer (task 2)");
}

bool SlotConsumer::TryPop(void* slot) {
  (void)slot;
  // TODO(student): empty check against cached_head_ (reload head only when it says empty), copy,
  // publish tail, wake a sleeping producer (tasks 2 and 4).
  return false;
}

absl::Status SlotConsumer::Pop(void* slot, absl::Duration timeout) {
  (void)slot;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): SlotConsumer::Pop: TryPop, spin briefly, then sleep on the futex of head; "
      "ETIMEDOUT, EPIPE when the producer is gone and the ring is empty (tasks 4 and 5)");
}

// ---------------------------------------------------------------------------------------------
// RecordProducer and RecordConsumer (task 6)

absl::StatusOr<RecordProducer> RecordProducer::Attach(SharedRing& ring) {
  (void)ring;
  return absl::UnimplementedError(
      "TODO(student): RecordProducer::Attach: as SlotProducer::Attach, for a record ring (task 6)");
}

absl::StatusOr<bool> RecordProducer::TryPush(absl::string_view record) {
  (void)record;
  return absl::UnimplementedError(
      "TODO(student): RecordProducer::TryPush: EMSGSIZE check, room check, skip marker at the "
      "end of the buffer, header + bytes, publish head (task 6)");
}

absl::Status RecordProducer::Push(absl::string_view record, absl::Duration timeout) {
  (void)record;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): RecordProducer::Push: TryPush, then wait for room as SlotProducer::Push "
      "(task 6)");
}

absl::StatusOr<RecordConsumer> RecordConsumer::Attach(SharedRing& ring) {
  (void)ring;
  return absl::UnimplementedError(
      "TODO(student): RecordConsumer::Attach: as SlotConsumer::Attach, for a record ring (task 6)");
}

absl::StatusOr<bool> RecordConsumer::TryPop(std::string* record) {
  (void)record;
  return absl::UnimplementedError(
      "TODO(student): RecordConsumer::TryPop: read the header (follow a skip marker to offset "
      "0), check its size, copy the bytes, publish tail (task 6)");
}

absl::Status RecordConsumer::Pop(std::string* record, absl::Duration timeout) {
  (void)record;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): RecordConsumer::Pop: TryPop, then wait as SlotConsumer::Pop (task 6)");
}

// ---------------------------------------------------------------------------------------------
// Mailbox (part 0)

absl::Status MailboxTryPut(Mailbox* box, const MailboxMessage& message) {
  (void)box;
  (void)message;
  return absl::UnimplementedError(
      "TODO(student): MailboxTryPut: if the flag says empty, copy the message, then set the flag "
      "full with a release store (part 0)");
}

absl::Status MailboxTryTake(Mailbox* box, MailboxMessage* message) {
  (void)box;
  (void)message;
  return absl::UnimplementedError(
      "TODO(student): MailboxTryTake: if the flag says full (acquire load), copy the message, "
      "then set the flag empty with a release store (part 0)");
}

}  // namespace lockfree_ring
