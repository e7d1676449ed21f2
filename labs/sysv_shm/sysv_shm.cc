// labs/sysv_shm/sysv_shm.cc: YOUR implementation of sysv_shm.h (the only C++ file you hand in).
//
// Work through the tasks in README.md in order; each TODO(student) below names the task and the
// tests that check it. Every system call is checked on the next line against its own failure
// value (shmat's is (void*)-1, ftok's is -1, pthread_* return the error) and turned into
// ipc::ErrnoError("call", object), so the tests can see the exact errno.
//
// Run the public tests:  bazel test //labs/sysv_shm:sysv_shm_test
// Grade yourself:        ./labctl grade sysv_shm
// Partner files: sysv_shm.h (the contract), sysv_shm_test.cc (the tests).
#include "labs/sysv_shm/sysv_shm.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/timing.h"

namespace sysv_shm {

// --- Task 1: keys (KeyTest.*) -----------------------------------------------------------------

absl::StatusOr<key_t> KeyFromPath(const std::string& path, int proj_id) {
  (void)path;
  (void)proj_id;
  return absl::UnimplementedError(
      "TODO(student): KeyFromPath: call ftok, check for -1, return ipc::ErrnoError(\"ftok\", path) "
      "(Task 1)");
}

// --- Task 2: segments (SegmentTest.*, AttachmentTest.*, InspectTest.*) -------------------------

absl::StatusOr<SegmentInfo> StatSegment(int id) {
  (void)id;
  return absl::UnimplementedError(
      "TODO(student): StatSegment: shmctl(id, IPC_STAT) into a SegmentInfo (Task 2)");
}

absl::Status RemoveSegment(int id) {
  (void)id;
  return absl::UnimplementedError("TODO(student): RemoveSegment: shmctl(id, IPC_RMID) (Task 2)");
}

absl::StatusOr<std::string> InspectSegment(int id) {
  (void)id;
  return absl::UnimplementedError(
      "TODO(student): InspectSegment: format StatSegment(id) like `ipcs -m -i` (Task 2)");
}

absl::StatusOr<Attachment> Attachment::Attach(int id, Access access) {
  (void)id;
  (void)access;
  return absl::UnimplementedError(
      "TODO(student): Attachment::Attach: shmat (SHM_RDONLY for kReadOnly), check (void*)-1 "
      "(Task 2)");
}

absl::Status Attachment::Detach() {
  if (data_ == nullptr) return absl::OkStatus();
  return absl::UnimplementedError("TODO(student): Attachment::Detach: shmdt (Task 2)");
}

absl::StatusOr<Segment> Segment::Create(key_t key, size_t size, int mode) {
  (void)key;
  (void)size;
  (void)mode;
  return absl::UnimplementedError(
      "TODO(student): Segment::Create: shmget(key, size, IPC_CREAT | IPC_EXCL | mode) (Task 2)");
}

absl::StatusOr<Segment> Segment::Open(key_t key, size_t size) {
  (void)key;
  (void)size;
  return absl::UnimplementedError(
      "TODO(student): Segment::Open: shmget(key, size, 0), then the real size from IPC_STAT "
      "(Task 2)");
}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    // TODO(student): an owned segment being replaced must be removed first, as in ~Segment().
    id_ = std::exchange(other.id_, -1);
    key_ = other.key_;
    size_ = other.size_;
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Segment::~Segment() {
  // TODO(student): an owned segment is removed here (IPC_RMID), or it leaks (SV8, Task 2).
}

absl::Status Segment::Remove() {
  return absl::UnimplementedError("TODO(student): Segment::Remove (Task 2)");
}

// --- Task 3: the seed record (SeedTest.*) -------------------------------------------------------

absl::Status PublishSeed(void* region, size_t size, Seed seed, absl::Duration timeout) {
  (void)region;
  (void)size;
  (void)seed;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): PublishSeed: wait for flag 0 (acquire), write little-endian fields, flag 1 "
      "(release) (Task 3)");
}

absl::StatusOr<Seed> TakeSeed(void* region, size_t size, absl::Duration timeout) {
  (void)region;
  (void)size;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): TakeSeed: wait for flag 1 (acquire), read the fields, flag 0 (release) "
      "(Task 3)");
}

// --- Task 4: file transfer (TransferTest.*) -----------------------------------------------------

absl::Status SendFile(key_t key, int in_fd, const TransferOptions& options) {
  (void)key;
  (void)in_fd;
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): SendFile: create the transfer segment, send blocks with the handshake "
      "(Task 4)");
}

absl::Status ReceiveFile(key_t key, int out_fd, const TransferOptions& options) {
  (void)key;
  (void)out_fd;
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): ReceiveFile: wait for the segment, mark it removed, take blocks in order "
      "(Task 4)");
}

// --- Task 5: the ring (RingTest.*) --------------------------------------------------------------

absl::StatusOr<SharedRing> SharedRing::OpenOrCreate(key_t key, absl::Duration timeout) {
  (void)key;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): SharedRing::OpenOrCreate: IPC_EXCL winner initialises, others wait for "
      "ready (Task 5)");
}

SharedRing& SharedRing::operator=(SharedRing&& other) noexcept {
  if (this != &other) {
    // TODO(student): detach our own attachment first, as in ~SharedRing().
    id_ = std::exchange(other.id_, -1);
    ring_ = std::exchange(other.ring_, nullptr);
  }
  return *this;
}

SharedRing::~SharedRing() {
  // TODO(student): detach (shmdt) if attached; do not remove (Task 5).
}

absl::Status SharedRing::Push(int32_t value, absl::Duration timeout) {
  (void)value;
  (void)timeout;
  return absl::UnimplementedError("TODO(student): SharedRing::Push (Task 5)");
}

absl::StatusOr<int32_t> SharedRing::Pop(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError("TODO(student): SharedRing::Pop (Task 5)");
}

int32_t SharedRing::Count() const {
  return -1;  // TODO(student): the shared count (Task 5); unreachable until OpenOrCreate works
}

absl::Status SharedRing::Remove() {
  return absl::UnimplementedError("TODO(student): SharedRing::Remove (Task 5)");
}

// --- Task 6: the mutex block (MutexBlockTest.*) -------------------------------------------------

absl::StatusOr<MutexBlock> MutexBlock::OpenOrCreate(key_t key, absl::Duration timeout) {
  (void)key;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MutexBlock::OpenOrCreate: PTHREAD_PROCESS_SHARED mutex and condvar, "
      "initialised once (Task 6)");
}

MutexBlock& MutexBlock::operator=(MutexBlock&& other) noexcept {
  if (this != &other) {
    // TODO(student): detach our own attachment first, as in ~MutexBlock().
    id_ = std::exchange(other.id_, -1);
    block_ = std::exchange(other.block_, nullptr);
  }
  return *this;
}

MutexBlock::~MutexBlock() {
  // TODO(student): detach (shmdt) if attached; do not remove (Task 6).
}

absl::Status MutexBlock::Lock() {
  return absl::UnimplementedError("TODO(student): MutexBlock::Lock (Task 6)");
}

absl::Status MutexBlock::Unlock() {
  return absl::UnimplementedError("TODO(student): MutexBlock::Unlock (Task 6)");
}

absl::StatusOr<bool> MutexBlock::TryLock() {
  return absl::UnimplementedError("TODO(student): MutexBlock::TryLock (Task 6)");
}

absl::Status MutexBlock::AddLocked(int64_t times) {
  (void)times;
  return absl::UnimplementedError(
      "TODO(student): MutexBlock::AddLocked: lock, ++counter, unlock, `times` times (Task 6)");
}

absl::StatusOr<int64_t> MutexBlock::Value() {
  return absl::UnimplementedError("TODO(student): MutexBlock::Value (Task 6)");
}

absl::Status MutexBlock::Send(absl::string_view message, absl::Duration timeout) {
  (void)message;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MutexBlock::Send: wait until the mailbox is empty, then fill it (Task 6)");
}

absl::StatusOr<std::string> MutexBlock::Receive(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MutexBlock::Receive: wait until the mailbox is full, then empty it (Task 6)");
}

absl::Status MutexBlock::Remove() {
  return absl::UnimplementedError("TODO(student): MutexBlock::Remove (Task 6)");
}

}  // namespace sysv_shm
