// solutions/sysv_shm/sysv_shm.cc: the reference implementation of labs/sysv_shm/sysv_shm.h.
//
// System V shared memory done the way 001-003's examples should have done it: keys from a checked
// ftok, IPC_EXCL creation with mode 0600, every call checked against its own failure value,
// segments owned by RAII handles, and every piece of shared state initialised exactly once, by
// the process that won the IPC_EXCL race, before a release store of a ready flag.
//
// Partner files: labs/sysv_shm/sysv_shm.h (the contract), labs/sysv_shm/sysv_shm_test.cc and
// grader/hidden/sysv_shm/ (the tests). Run:
//   bazel test //solutions/sysv_shm:all //grader/hidden/sysv_shm:all
#include "labs/sysv_shm/sysv_shm.h"

#include <sched.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/timing.h"

namespace sysv_shm {
namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "mixed-endian machines are not supported");

std::string KeyText(key_t key) {
  return absl::StrFormat("key 0x%08x", static_cast<unsigned>(key));
}

std::string IdText(int id) { return absl::StrCat("shmid ", id); }

// How often a waiter that cannot block in the kernel on the event it wants (a ready flag, a
// peer's death) looks again.
constexpr absl::Duration kPollStep = absl::Milliseconds(20);

// Waits until `done()` or `deadline` (on the monotonic clock). The other side usually answers
// within microseconds, so: spin a little, then yield the CPU for up to 2 ms (on a busy machine
// the peer may be waiting for our core), then sleep in growing steps so that a slow or absent
// peer costs no CPU. (A futex would sleep exactly until woken, but it needs a 4-byte word, and the
// seed layout's flag is one byte.)
template <typename Pred>
bool WaitUntil(Pred done, absl::Duration deadline) {
  for (int spin = 0; spin < 1000; ++spin) {
    if (done()) return true;
  }
  const absl::Duration yield_until = std::min(deadline, ipc::MonotonicNow() + absl::Milliseconds(2));
  while (ipc::MonotonicNow() < yield_until) {
    if (done()) return true;
    ::sched_yield();
  }
  absl::Duration step = absl::Microseconds(50);
  for (;;) {
    if (done()) return true;
    if (ipc::MonotonicNow() >= deadline) return false;
    struct timespec pause = absl::ToTimespec(step);
    ::nanosleep(&pause, nullptr);  // an early wake-up (EINTR) only means we look again sooner
    step = std::min(step * 2, absl::Milliseconds(1));
  }
}

// Waits on `sem` until `deadline` (monotonic). Returns OK, DEADLINE_EXCEEDED, or sem_clockwait's
// error. EINTR is retried: a signal must not look like a timeout.
absl::Status SemWaitUntil(sem_t* sem, absl::Duration deadline, absl::string_view what) {
  struct timespec until = absl::ToTimespec(deadline);
  for (;;) {
    if (::sem_clockwait(sem, CLOCK_MONOTONIC, &until) == 0) return absl::OkStatus();
    if (errno == EINTR) continue;  // interrupted by a signal: wait again for what is left
    if (errno == ETIMEDOUT) return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what));
    return ipc::ErrnoError("sem_clockwait", what);
  }
}

// The create-or-join step that SharedRing and MutexBlock share. Creates a segment of `size` under
// `key` with IPC_EXCL (then `*created` is true and the caller initialises it), or opens the one
// that exists. Attaches it either way. A segment removed between our two shmget calls is retried.
absl::StatusOr<std::pair<int, void*>> CreateOrJoin(key_t key, size_t size, bool* created) {
  for (;;) {
    int id = ::shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
    if (id != -1) {
      *created = true;
      void* p = ::shmat(id, nullptr, 0);
      if (p == reinterpret_cast<void*>(-1)) {
        absl::Status status = ipc::ErrnoError("shmat", IdText(id));
        ::shmctl(id, IPC_RMID, nullptr);  // ours and useless: do not leak it
        return status;
      }
      return std::make_pair(id, p);
    }
    if (errno != EEXIST) return ipc::ErrnoError("shmget", KeyText(key));
    *created = false;
    id = ::shmget(key, size, 0);
    if (id == -1 && errno == ENOENT) continue;  // removed since our first shmget: try again
    if (id == -1) return ipc::ErrnoError("shmget", KeyText(key));
    void* p = ::shmat(id, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) return ipc::ErrnoError("shmat", IdText(id));
    return std::make_pair(id, p);
  }
}

// Waits for the creator's ready flag (acquire: pairs with the release store after initialising).
absl::Status WaitReady(const std::atomic<uint32_t>& ready, absl::Duration timeout, int id,
                       absl::string_view what) {
  absl::Duration deadline = ipc::MonotonicNow() + timeout;
  if (WaitUntil([&] { return ready.load(std::memory_order_acquire) == 1; }, deadline)) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(absl::StrCat(
      what, " (", IdText(id), ") was never marked ready within ", absl::FormatDuration(timeout),
      ": its creator may have died while initialising it; remove it with `ipcrm -m ", id, "`"));
}

// Little-endian encoding, explicit so the layout is the same on every host.
void StoreLe32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t LoadLe32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
void StoreLe64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint64_t LoadLe64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

absl::Status CheckSeedRegion(void* region, size_t size) {
  if (region == nullptr) return absl::InvalidArgumentError("seed region is null");
  if (size < kSeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("seed region is ", size, " bytes; the record needs ", kSeedSize));
  }
  return absl::OkStatus();
}

// Reads all of `fd` that fits into `buffer`, stopping early only at end of file.
absl::StatusOr<size_t> ReadFull(int fd, char* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buffer + done, size - done);
    if (n == -1 && errno == EINTR) continue;  // interrupted: read again
    if (n == -1) return ipc::ErrnoError("read", absl::StrCat("fd ", fd));
    if (n == 0) break;  // end of file
    done += static_cast<size_t>(n);
  }
  return done;
}

absl::Status WriteFull(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n == -1 && errno == EINTR) continue;  // interrupted: write the rest
    if (n == -1) return ipc::ErrnoError("write", absl::StrCat("fd ", fd));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Waits on `sem` until `deadline`, looking every kPollStep whether the peer is still attached.
// `peer_seen` is true once the peer is known to have attached; until then a missing peer is
// not an error (it may not have started yet). Returns ABORTED when a seen peer has gone.
absl::Status WaitForPeer(sem_t* sem, int id, absl::Duration deadline, bool* peer_seen,
                         absl::string_view peer, absl::string_view what) {
  for (;;) {
    absl::Duration step_end = std::min(deadline, ipc::MonotonicNow() + kPollStep);
    absl::Status status = SemWaitUntil(sem, step_end, what);
    if (status.ok() || !absl::IsDeadlineExceeded(status)) return status;
    absl::StatusOr<SegmentInfo> info = StatSegment(id);
    if (!info.ok()) return info.status();
    if (info->nattch >= 2) *peer_seen = true;
    if (*peer_seen && info->nattch < 2) {
      return absl::AbortedError(
          absl::StrCat("the ", peer, " went away (detached or died) while we waited for ", what));
    }
    if (ipc::MonotonicNow() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what, " from the ", peer));
    }
  }
}

}  // namespace

// --- Task 1 -----------------------------------------------------------------------------------

absl::StatusOr<key_t> KeyFromPath(const std::string& path, int proj_id) {
  if ((proj_id & 0xff) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ftok project id ", proj_id, " has low 8 bits 0; ftok uses only those, and 0 is reserved"));
  }
  key_t key = ::ftok(path.c_str(), proj_id);
  if (key == -1) return ipc::ErrnoError("ftok", path);  // SV2: -1 is failure, never a key
  return key;
}

// --- Task 2 -----------------------------------------------------------------------------------

absl::StatusOr<SegmentInfo> StatSegment(int id) {
  struct shmid_ds ds;
  if (::shmctl(id, IPC_STAT, &ds) == -1) return ipc::ErrnoError("shmctl(IPC_STAT)", IdText(id));
  SegmentInfo info;
  info.id = id;
  info.key = ds.shm_perm.__key;
  info.size = ds.shm_segsz;
  info.nattch = static_cast<int>(ds.shm_nattch);
  info.creator_pid = ds.shm_cpid;
  info.last_pid = ds.shm_lpid;
  info.uid = ds.shm_perm.uid;
  info.creator_uid = ds.shm_perm.cuid;
  info.mode = ds.shm_perm.mode & 0777;
  info.removed = (ds.shm_perm.mode & SHM_DEST) != 0;
  return info;
}

absl::Status RemoveSegment(int id) {
  if (::shmctl(id, IPC_RMID, nullptr) == -1) return ipc::ErrnoError("shmctl(IPC_RMID)", IdText(id));
  return absl::OkStatus();
}

absl::StatusOr<std::string> InspectSegment(int id) {
  IPC_ASSIGN_OR_RETURN(SegmentInfo info, StatSegment(id));
  return absl::StrFormat("shmid=%d key=0x%08x bytes=%u nattch=%d perms=%04o cpid=%d lpid=%d "
                         "uid=%u cuid=%u dest=%s",
                         info.id, static_cast<unsigned>(info.key), info.size, info.nattch,
                         info.mode, info.creator_pid, info.last_pid, info.uid, info.creator_uid,
                         info.removed ? "yes" : "no");
}

absl::StatusOr<Attachment> Attachment::Attach(int id, Access access) {
  IPC_ASSIGN_OR_RETURN(SegmentInfo info, StatSegment(id));
  const bool read_only = access == Access::kReadOnly;
  void* p = ::shmat(id, nullptr, read_only ? SHM_RDONLY : 0);
  if (p == reinterpret_cast<void*>(-1)) {  // shmat's failure value is (void*)-1, not nullptr
    return ipc::ErrnoError(read_only ? "shmat(SHM_RDONLY)" : "shmat", IdText(id));
  }
  return Attachment(p, info.size, id, read_only);
}

absl::Status Attachment::Detach() {
  if (data_ == nullptr) return absl::OkStatus();
  void* p = std::exchange(data_, nullptr);
  if (::shmdt(p) == -1) return ipc::ErrnoError("shmdt", IdText(id_));
  return absl::OkStatus();
}

absl::StatusOr<Segment> Segment::Create(key_t key, size_t size, int mode) {
  int id = ::shmget(key, size, IPC_CREAT | IPC_EXCL | (mode & 0777));
  if (id == -1) {
    return ipc::ErrnoError("shmget(IPC_CREAT|IPC_EXCL)",
                           key == IPC_PRIVATE ? std::string("IPC_PRIVATE") : KeyText(key));
  }
  return Segment(id, key, size, /*owned=*/true);
}

absl::StatusOr<Segment> Segment::Open(key_t key, size_t size) {
  int id = ::shmget(key, size, 0);
  if (id == -1) return ipc::ErrnoError("shmget", KeyText(key));
  Segment segment(id, key, size, /*owned=*/false);
  IPC_ASSIGN_OR_RETURN(SegmentInfo info, segment.Stat());
  segment.size_ = info.size;  // the real size, whatever the caller asked for (SV5)
  return segment;
}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    if (owned_ && id_ >= 0) ::shmctl(id_, IPC_RMID, nullptr);  // best effort, as the destructor
    id_ = std::exchange(other.id_, -1);
    key_ = other.key_;
    size_ = other.size_;
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Segment::~Segment() {
  // EINVAL/EIDRM (somebody removed it already) is fine: gone is what we wanted.
  if (owned_ && id_ >= 0) ::shmctl(id_, IPC_RMID, nullptr);
}

absl::Status Segment::Remove() {
  owned_ = false;
  return RemoveSegment(id_);
}

// --- Task 3 -----------------------------------------------------------------------------------

absl::Status PublishSeed(void* region, size_t size, Seed seed, absl::Duration timeout) {
  IPC_RETURN_IF_ERROR(CheckSeedRegion(region, size));
  auto* bytes = static_cast<unsigned char*>(region);
  std::atomic_ref<unsigned char> flag(bytes[kSeedFlagOffset]);
  // Wait for empty; acquire pairs with TakeSeed's release store of 0, so the reader is done
  // reading the old numbers before we overwrite them.
  if (!WaitUntil([&] { return flag.load(std::memory_order_acquire) == 0; },
                 ipc::MonotonicNow() + timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "PublishSeed: the previous record was not taken within ", absl::FormatDuration(timeout)));
  }
  StoreLe32(bytes + kSeedInt32Offset, static_cast<uint32_t>(seed.value));
  StoreLe64(bytes + kSeedFloat64Offset, std::bit_cast<uint64_t>(seed.real));
  // Publish; pairs with the acquire load in TakeSeed: both numbers are visible before "full" is.
  flag.store(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<Seed> TakeSeed(void* region, size_t size, absl::Duration timeout) {
  IPC_RETURN_IF_ERROR(CheckSeedRegion(region, size));
  auto* bytes = static_cast<unsigned char*>(region);
  std::atomic_ref<unsigned char> flag(bytes[kSeedFlagOffset]);
  // Acquire pairs with PublishSeed's release store of 1.
  if (!WaitUntil([&] { return flag.load(std::memory_order_acquire) == 1; },
                 ipc::MonotonicNow() + timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("TakeSeed: nothing was published within ", absl::FormatDuration(timeout)));
  }
  Seed seed;
  seed.value = static_cast<int32_t>(LoadLe32(bytes + kSeedInt32Offset));
  seed.real = std::bit_cast<double>(LoadLe64(bytes + kSeedFloat64Offset));
  // Hand the slot back; pairs with the acquire load in PublishSeed.
  flag.store(0, std::memory_order_release);
  return seed;
}

// --- Task 4 -----------------------------------------------------------------------------------

absl::Status SendFile(key_t key, int in_fd, const TransferOptions& options) {
  // Phase 1: create, attach and initialise the segment, then say it is ready. The Segment owns
  // removal, so every return below removes it (the Attachment, declared later, detaches first).
  IPC_ASSIGN_OR_RETURN(Segment segment, Segment::Create(key, sizeof(TransferLayout), 0600));
  IPC_ASSIGN_OR_RETURN(Attachment attachment, segment.Attach(Access::kReadWrite));
  auto* xfer = static_cast<TransferLayout*>(attachment.data());
  if (::sem_init(&xfer->block_ready, /*pshared=*/1, 0) == -1) {
    return ipc::ErrnoError("sem_init", "block_ready");
  }
  if (::sem_init(&xfer->slot_free, /*pshared=*/1, 1) == -1) {
    return ipc::ErrnoError("sem_init", "slot_free");
  }
  // Pairs with the acquire load in ReceiveFile: the semaphores are initialised before "ready".
  xfer->ready.store(1, std::memory_order_release);

  // Phase 2: one block per turn. Wait for the slot to be free (the reader has copied the last
  // block out), fill it, hand it over. The end of the file is a block of length 0, sent like any
  // other, so the reader needs no second signal.
  bool reader_seen = false;
  for (uint64_t sequence = 0;; ++sequence) {
    IPC_RETURN_IF_ERROR(WaitForPeer(&xfer->slot_free, segment.id(),
                                    ipc::MonotonicNow() + options.timeout, &reader_seen, "reader",
                                    absl::StrCat("the slot for block ", sequence)));
    // The slot came back after block 0 was handed over: the reader took it, so it is attached.
    if (sequence > 0) reader_seen = true;
    if (options.block_delay > absl::ZeroDuration()) absl::SleepFor(options.block_delay);
    IPC_ASSIGN_OR_RETURN(size_t length, ReadFull(in_fd, xfer->data, kTransferBlockSize));
    xfer->sequence = sequence;
    xfer->length = static_cast<uint32_t>(length);
    if (::sem_post(&xfer->block_ready) == -1) return ipc::ErrnoError("sem_post", "block_ready");
    if (length == 0) break;
  }

  // Phase 3: wait until the reader has taken the end block; only then may the segment go.
  return WaitForPeer(&xfer->slot_free, segment.id(), ipc::MonotonicNow() + options.timeout,
                     &reader_seen, "reader", "the acknowledgement of the end of the file");
}

absl::Status ReceiveFile(key_t key, int out_fd, const TransferOptions& options) {
  // Phase 1: wait for the writer's segment (it may start after us: SV10), attach, and mark it
  // for removal at once. From here on the kernel frees it when both of us have detached, even
  // if either is killed.
  absl::Duration deadline = ipc::MonotonicNow() + options.timeout;
  absl::StatusOr<Segment> found = Segment::Open(key, sizeof(TransferLayout));
  while (!found.ok() && absl::IsNotFound(found.status()) && ipc::MonotonicNow() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    found = Segment::Open(key, sizeof(TransferLayout));
  }
  if (!found.ok()) {
    if (absl::IsNotFound(found.status())) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no writer created ", KeyText(key), " within ", absl::FormatDuration(options.timeout),
          " (", found.status().message(), ")"));
    }
    return found.status();
  }
  IPC_ASSIGN_OR_RETURN(Attachment attachment, found->Attach(Access::kReadWrite));
  IPC_RETURN_IF_ERROR(found->Remove());
  auto* xfer = static_cast<TransferLayout*>(attachment.data());
  IPC_RETURN_IF_ERROR(WaitReady(xfer->ready, options.timeout, found->id(), "the transfer segment"));

  // Phase 2: take blocks in order until the end block. The writer is attached (it made the
  // segment), so from the start a missing writer means it died.
  bool writer_seen = true;
  for (uint64_t expected = 0;; ++expected) {
    IPC_RETURN_IF_ERROR(WaitForPeer(&xfer->block_ready, found->id(),
                                    ipc::MonotonicNow() + options.timeout, &writer_seen, "writer",
                                    absl::StrCat("block ", expected)));
    if (xfer->sequence != expected) {
      return absl::AbortedError(absl::StrCat("block ", expected, " expected, block ",
                                             xfer->sequence, " arrived: a block was lost or repeated"));
    }
    const uint32_t length = xfer->length;
    if (length > kTransferBlockSize) {
      return absl::AbortedError(absl::StrCat("block ", expected, " claims ", length, " bytes"));
    }
    IPC_RETURN_IF_ERROR(WriteFull(out_fd, xfer->data, length));
    // Give the slot back only after the data is out of it.
    if (::sem_post(&xfer->slot_free) == -1) return ipc::ErrnoError("sem_post", "slot_free");
    if (length == 0) return absl::OkStatus();
  }
}

// --- Task 5 -----------------------------------------------------------------------------------

absl::StatusOr<SharedRing> SharedRing::OpenOrCreate(key_t key, absl::Duration timeout) {
  bool created = false;
  IPC_ASSIGN_OR_RETURN(auto id_and_address, CreateOrJoin(key, sizeof(RingLayout), &created));
  SharedRing ring(id_and_address.first, static_cast<RingLayout*>(id_and_address.second));
  RingLayout* r = ring.ring_;
  if (created) {
    // Only the IPC_EXCL winner initialises (SV9): a restarted producer must not reset the
    // semaphores and indexes under a consumer that is using them.
    if (::sem_init(&r->empty, /*pshared=*/1, kRingCapacity) == -1) {
      absl::Status status = ipc::ErrnoError("sem_init", "empty");
      (void)ring.Remove();
      return status;
    }
    if (::sem_init(&r->full, /*pshared=*/1, 0) == -1) {
      absl::Status status = ipc::ErrnoError("sem_init", "full");
      (void)ring.Remove();
      return status;
    }
    r->head = 0;
    r->tail = 0;
    r->count.store(0, std::memory_order_relaxed);
    // Pairs with the acquire load in WaitReady: everything above is visible before "ready".
    r->ready.store(1, std::memory_order_release);
    return ring;
  }
  IPC_RETURN_IF_ERROR(WaitReady(r->ready, timeout, ring.id_, "the ring"));
  return ring;
}

SharedRing& SharedRing::operator=(SharedRing&& other) noexcept {
  if (this != &other) {
    if (ring_ != nullptr) ::shmdt(ring_);
    id_ = std::exchange(other.id_, -1);
    ring_ = std::exchange(other.ring_, nullptr);
  }
  return *this;
}

SharedRing::~SharedRing() {
  if (ring_ != nullptr) ::shmdt(ring_);  // detach only: the ring outlives us (Remove() ends it)
}

absl::Status SharedRing::Push(int32_t value, absl::Duration timeout) {
  IPC_RETURN_IF_ERROR(SemWaitUntil(&ring_->empty, ipc::MonotonicNow() + timeout, "a free ring slot"));
  ring_->items[ring_->head] = value;
  ring_->head = (ring_->head + 1) % kRingCapacity;  // head: producer only, no lock needed
  // A statistic both sides change: atomic, so no update is lost (SV11). Relaxed is enough because
  // the semaphores, not count, order the items.
  ring_->count.fetch_add(1, std::memory_order_relaxed);
  // sem_post is a release: the item is visible before the consumer's sem_wait returns.
  if (::sem_post(&ring_->full) == -1) return ipc::ErrnoError("sem_post", "full");
  return absl::OkStatus();
}

absl::StatusOr<int32_t> SharedRing::Pop(absl::Duration timeout) {
  IPC_RETURN_IF_ERROR(SemWaitUntil(&ring_->full, ipc::MonotonicNow() + timeout, "a ring item"));
  int32_t value = ring_->items[ring_->tail];
  ring_->tail = (ring_->tail + 1) % kRingCapacity;  // tail: consumer only
  ring_->count.fetch_sub(1, std::memory_order_relaxed);  // see Push
  if (::sem_post(&ring_->empty) == -1) return ipc::ErrnoError("sem_post", "empty");
  return value;
}

int32_t SharedRing::Count() const {
  return ring_->count.load(std::memory_order_relaxed);  // a snapshot; see Push
}

absl::Status SharedRing::Remove() { return RemoveSegment(id_); }

// --- Task 6 -----------------------------------------------------------------------------------

absl::StatusOr<MutexBlock> MutexBlock::OpenOrCreate(key_t key, absl::Duration timeout) {
  bool created = false;
  IPC_ASSIGN_OR_RETURN(auto id_and_address, CreateOrJoin(key, sizeof(MutexBlockLayout), &created));
  MutexBlock block(id_and_address.first, static_cast<MutexBlockLayout*>(id_and_address.second));
  MutexBlockLayout* b = block.block_;
  if (!created) {
    // Never initialise again (SV15): another process may hold the mutex right now.
    IPC_RETURN_IF_ERROR(WaitReady(b->ready, timeout, block.id_, "the mutex block"));
    return block;
  }
  auto fail = [&block](absl::string_view call, int err) {
    absl::Status status = ipc::ErrnoError(call, "mutex block", err);
    (void)block.Remove();
    return status;
  };
  // pthread_* calls return the error instead of setting errno.
  pthread_mutexattr_t mutex_attr;
  if (int err = ::pthread_mutexattr_init(&mutex_attr); err != 0) return fail("pthread_mutexattr_init", err);
  int err = ::pthread_mutexattr_setpshared(&mutex_attr, PTHREAD_PROCESS_SHARED);
  if (err == 0) err = ::pthread_mutex_init(&b->mutex, &mutex_attr);
  ::pthread_mutexattr_destroy(&mutex_attr);
  if (err != 0) return fail("pthread_mutex_init(PTHREAD_PROCESS_SHARED)", err);
  pthread_condattr_t cond_attr;
  if (err = ::pthread_condattr_init(&cond_attr); err != 0) return fail("pthread_condattr_init", err);
  err = ::pthread_condattr_setpshared(&cond_attr, PTHREAD_PROCESS_SHARED);
  if (err == 0) err = ::pthread_cond_init(&b->changed, &cond_attr);
  ::pthread_condattr_destroy(&cond_attr);
  if (err != 0) return fail("pthread_cond_init(PTHREAD_PROCESS_SHARED)", err);
  b->counter = 0;
  b->full = 0;
  b->length = 0;
  // Pairs with the acquire load in WaitReady.
  b->ready.store(1, std::memory_order_release);
  return block;
}

MutexBlock& MutexBlock::operator=(MutexBlock&& other) noexcept {
  if (this != &other) {
    if (block_ != nullptr) ::shmdt(block_);
    id_ = std::exchange(other.id_, -1);
    block_ = std::exchange(other.block_, nullptr);
  }
  return *this;
}

MutexBlock::~MutexBlock() {
  if (block_ != nullptr) ::shmdt(block_);  // detach only: Remove() ends the block
}

absl::Status MutexBlock::Lock() {
  if (int err = ::pthread_mutex_lock(&block_->mutex); err != 0) {
    return ipc::ErrnoError("pthread_mutex_lock", "mutex block", err);
  }
  return absl::OkStatus();
}

absl::Status MutexBlock::Unlock() {
  if (int err = ::pthread_mutex_unlock(&block_->mutex); err != 0) {
    return ipc::ErrnoError("pthread_mutex_unlock", "mutex block", err);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> MutexBlock::TryLock() {
  int err = ::pthread_mutex_trylock(&block_->mutex);
  if (err == EBUSY) return false;
  if (err != 0) return ipc::ErrnoError("pthread_mutex_trylock", "mutex block", err);
  return true;
}

absl::Status MutexBlock::AddLocked(int64_t times) {
  for (int64_t i = 0; i < times; ++i) {
    // One lock per increment: an uncontended lock is one atomic instruction; only when the other
    // process holds it does glibc call futex() to sleep (SV13).
    IPC_RETURN_IF_ERROR(Lock());
    ++block_->counter;
    IPC_RETURN_IF_ERROR(Unlock());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MutexBlock::Value() {
  IPC_RETURN_IF_ERROR(Lock());
  int64_t value = block_->counter;
  IPC_RETURN_IF_ERROR(Unlock());
  return value;
}

namespace {

// Waits on `cond` until `ready()` with the mutex held, or until `deadline`. Returns with the mutex
// still held either way (pthread_cond_clockwait re-takes it).
template <typename Pred>
absl::Status CondWaitUntil(pthread_cond_t* cond, pthread_mutex_t* mutex, Pred ready,
                           absl::Duration deadline, absl::string_view what) {
  struct timespec until = absl::ToTimespec(deadline);
  while (!ready()) {
    int err = ::pthread_cond_clockwait(cond, mutex, CLOCK_MONOTONIC, &until);
    if (err == ETIMEDOUT && !ready()) {
      return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", what));
    }
    if (err != 0 && err != ETIMEDOUT) return ipc::ErrnoError("pthread_cond_clockwait", what, err);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MutexBlock::Send(absl::string_view message, absl::Duration timeout) {
  if (message.size() > kMaxMessage) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", message.size(),
                                                   " bytes; the mailbox holds ", kMaxMessage));
  }
  absl::Duration deadline = ipc::MonotonicNow() + timeout;
  IPC_RETURN_IF_ERROR(Lock());
  // The hand-off (SV14): wait until the previous message was received, so none is overwritten.
  absl::Status status = CondWaitUntil(
      &block_->changed, &block_->mutex, [this] { return block_->full == 0; }, deadline,
      "the mailbox to be emptied");
  if (status.ok()) {
    std::memcpy(block_->message, message.data(), message.size());
    block_->length = static_cast<uint32_t>(message.size());
    block_->full = 1;
    ::pthread_cond_broadcast(&block_->changed);  // cannot fail on an initialised condvar
  }
  IPC_RETURN_IF_ERROR(Unlock());
  return status;
}

absl::StatusOr<std::string> MutexBlock::Receive(absl::Duration timeout) {
  absl::Duration deadline = ipc::MonotonicNow() + timeout;
  IPC_RETURN_IF_ERROR(Lock());
  absl::Status status = CondWaitUntil(
      &block_->changed, &block_->mutex, [this] { return block_->full == 1; }, deadline,
      "a message");
  std::string message;
  if (status.ok()) {
    message.assign(block_->message, std::min<size_t>(block_->length, kMaxMessage));
    block_->full = 0;
    ::pthread_cond_broadcast(&block_->changed);  // wake the sender waiting for an empty box
  }
  IPC_RETURN_IF_ERROR(Unlock());
  if (!status.ok()) return status;
  return message;
}

absl::Status MutexBlock::Remove() { return RemoveSegment(id_); }

}  // namespace sysv_shm
