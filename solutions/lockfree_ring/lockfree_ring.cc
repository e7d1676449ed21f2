// solutions/lockfree_ring/lockfree_ring.cc: the reference implementation of
// labs/lockfree_ring/lockfree_ring.h.
//
// An SPSC ring in POSIX shared memory, in the manner of rigtorp/SPSCQueue: each side owns one
// index (the producer `head`, the consumer `tail`), keeps a private copy of the other side's index
// and reloads it only when that copy says full (empty), so the common case touches no cache line
// the other side writes. Waiting spins briefly, then sleeps on a futex whose word is the low half
// of the index it waits for; the other side calls FUTEX_WAKE only when a sleeper has said so.
//
//   bazel test //solutions/lockfree_ring:all //grader/hidden/lockfree_ring:all
//   bazel run -c opt //solutions/lockfree_ring:bench          # against boost::lockfree
//
// Memory ordering, once for the whole file (CURRICULUM LR15):
//   - The data (slot bytes, record bytes) are plain stores and loads. The producer publishes them
//     with the store of `head` and the consumer sees them after its acquire load of `head`. The
//     consumer frees space with the store of `tail`, made after its last read of that space; the
//     producer's acquire load of `tail` keeps its next writes after those reads.
//   - Acquire/release is all that SPSC needs for the data. The sleep protocol needs one more
//     order: the publisher does "store my index, then load the peer's sleeping flag", the sleeper
//     "store my flag, then load your index" (Dekker's pattern). Release/acquire does not keep a
//     store before a later load: each side could read the other's old value, and the sleeper
//     would sleep through the only wake. The simple fix is seq_cst on all four (on x86-64 the
//     publishing store becomes an XCHG that waits for the cache line: it halved our throughput).
//     We use an asymmetric barrier instead (as liburcu and folly do): the publisher, on every
//     message, only stops the COMPILER from reordering (atomic_signal_fence); the sleeper, once
//     per sleep, calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which runs a full barrier on
//     every CPU that is running a thread of a registered process, the peer included. Either the
//     peer's flag load comes after that barrier (and sees our flag), or it came before, and then
//     so did its index store, which the barrier made visible to the load that follows it. A peer
//     that is not running has been through a context switch, itself a full barrier. Every
//     process that attaches registers once (Linux >= 4.16).
//
// Partner files: labs/lockfree_ring/lockfree_ring.h (the contract), lockfree_ring_test.cc.
#include "labs/lockfree_ring/lockfree_ring.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/status.h"
#include "common/timing.h"

namespace lockfree_ring {
namespace {

// How a blocking call waits: a short spin (the peer is usually on another core and about to act),
// a few sched_yield()s (on a busy machine the peer may be waiting for our core), then futex
// sleeps of at most kLivenessSlice. A sleeper that slept a whole slice without being woken checks
// whether its peer died: a dead process wakes nobody.
constexpr int kSpins = 256;
constexpr int kYields = 8;
constexpr absl::Duration kLivenessSlice = absl::Milliseconds(50);

// Tells the CPU that we are spinning (frees the pipeline for the other hyperthread).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// The futex word of a 64-bit index: its low 32 bits (little-endian, asserted in the header).
// Only the kernel reads it through this pointer.
uint32_t* FutexWord(std::atomic<uint64_t>* index) { return reinterpret_cast<uint32_t*>(index); }

// Sleeps while the low half of *index equals `expected`, for at most `timeout`; returns true if
// the time ran out. Shared (not FUTEX_PRIVATE_FLAG): the waker is usually another process.
absl::StatusOr<bool> FutexWait(std::atomic<uint64_t>* index, uint32_t expected,
                               absl::Duration timeout, const std::string& name) {
  struct timespec relative = absl::ToTimespec(timeout);
  long rc = ::syscall(SYS_futex, FutexWord(index), FUTEX_WAIT, expected, &relative, nullptr, 0);
  // Woken, timed out, the value had changed already (EAGAIN), or a signal (EINTR): in every case
  // the caller looks again. Anything else (EFAULT, EINVAL) is a broken mapping.
  if (rc == -1 && errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR) {
    return ipc::ErrnoError("futex(FUTEX_WAIT)", name);
  }
  return rc == -1 && errno == ETIMEDOUT;  // true: a whole slice passed with no wake
}

// Wakes the one possible sleeper on *index.
void FutexWake(std::atomic<uint64_t>* index) {
  // The result is the number woken; 0 is fine (the sleeper was already on its way out).
  (void)::syscall(SYS_futex, FutexWord(index), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// Registers this process for MEMBARRIER_CMD_GLOBAL_EXPEDITED (once; every attach checks it), so
// that a sleeping peer's HeavyBarrier() reaches our CPU. Errors: membarrier's (ENOSYS or EINVAL on
// kernels before 4.16; EPERM under a seccomp filter that forbids it).
absl::Status RegisterForHeavyBarrier() {
  static const absl::Status* const registered = [] {
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == -1) {
      return new absl::Status(
          ipc::ErrnoError("membarrier", "MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED"));
    }
    return new absl::Status();
  }();
  return *registered;
}

// The heavy half of the asymmetric barrier: a full memory barrier here and on every CPU running a
// thread of a registered process (see the top of the file). Called once per sleep.
absl::Status HeavyBarrier() {
  if (::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == -1) {
    return ipc::ErrnoError("membarrier", "MEMBARRIER_CMD_GLOBAL_EXPEDITED");
  }
  return absl::OkStatus();
}

// Publishes our new index and wakes the peer if it sleeps on it.
void PublishAndWake(std::atomic<uint64_t>* index, uint64_t value,
                    const std::atomic<uint32_t>& peer_sleeping, SideStats* stats) {
  // Release: the data written before (or the reads done before) are visible to the peer's
  // acquire load of this index before it sees the new value.
  index->store(value, std::memory_order_release);
  // The light half of the asymmetric barrier: the compiler must not move the load below above the
  // store; the CPU's part is done by the sleeper's HeavyBarrier().
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // Relaxed: ordered by the barrier pair; a stale 1 costs one needless FUTEX_WAKE, nothing else.
  if (peer_sleeping.load(std::memory_order_relaxed) != 0) {
    ++stats->wakes;
    FutexWake(index);
  }
}

// Copies one slot; the common sizes become a few inline moves instead of a call to memcpy.
inline void CopySlot(void* to, const void* from, uint32_t size) {
  switch (size) {
    case 8:
      std::memcpy(to, from, 8);
      return;
    case 16:
      std::memcpy(to, from, 16);
      return;
    case 32:
      std::memcpy(to, from, 32);
      return;
    case 64:
      std::memcpy(to, from, 64);
      return;
    default:
      std::memcpy(to, from, size);
  }
}

// True if the side described by (pid, state) has gone: it detached, or it attached and its
// process no longer runs (gone from /proc, or a zombie its parent has not reaped yet).
bool PeerGone(const std::atomic<int32_t>& pid_word, const std::atomic<uint32_t>& state_word) {
  // Acquire: pairs with the release store of the state in Attach()/Detach().
  uint32_t state = state_word.load(std::memory_order_acquire);
  if (state == static_cast<uint32_t>(PeerState::kDetached)) return true;
  if (state != static_cast<uint32_t>(PeerState::kAttached)) return false;  // not there yet
  // Relaxed: the pid was stored before the state we just acquired.
  pid_t pid = pid_word.load(std::memory_order_relaxed);
  absl::StatusOr<char> run_state = ipc::ProcessState(pid);
  if (!run_state.ok()) return absl::IsNotFound(run_state.status());
  return *run_state == 'Z' || *run_state == 'X';
}

// Records the caller as one side of the ring: fails with EBUSY while another live process (or
// another handle in this one) holds that side.
absl::Status AttachSide(const SharedRing& ring, RingKind kind, std::atomic<int32_t>* pid_word,
                        std::atomic<uint32_t>* state_word, absl::string_view side) {
  if (ring.header() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Attach ", side, ": the ring was moved from"));
  }
  if (ring.kind() != kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Attach ", side, " to ", ring.name(), ": the ring holds ",
        ring.kind() == RingKind::kSlots ? "fixed-size slots" : "variable-length records",
        "; use the matching producer/consumer class"));
  }
  IPC_RETURN_IF_ERROR(RegisterForHeavyBarrier());
  const pid_t self = ::getpid();
  for (;;) {
    int32_t old_pid = pid_word->load(std::memory_order_acquire);
    uint32_t state = state_word->load(std::memory_order_acquire);
    if (state == static_cast<uint32_t>(PeerState::kAttached) && !PeerGone(*pid_word, *state_word)) {
      return ipc::WithContext(ipc::ErrnoError(absl::StrCat("Attach ", side), ring.name(), EBUSY),
                              absl::StrCat("process ", old_pid, " is attached as the ", side,
                                           " already (one ", side, " per ring)"));
    }
    // Acq_rel: the winner of two racing attachers is decided here; the loser retries and sees
    // the winner attached.
    if (pid_word->compare_exchange_strong(old_pid, self, std::memory_order_acq_rel)) break;
  }
  // Release: pairs with the acquire load in PeerGone(); our pid is visible before the state.
  state_word->store(static_cast<uint32_t>(PeerState::kAttached), std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace

// Marks one side detached and wakes the other side if it sleeps on `peer_wait_index`, so that it
// sees the news now rather than at its next liveness check. Declared in lockfree_ring.h; the
// destructors and move assignments in labs/lockfree_ring/lockfree_ring_given.cc call it.
void internal::DetachSide(std::atomic<uint32_t>* state_word,
                          std::atomic<uint64_t>* peer_wait_index) {
  // Seq_cst: ordered before the wake below and after every index store we made.
  state_word->store(static_cast<uint32_t>(PeerState::kDetached), std::memory_order_seq_cst);
  FutexWake(peer_wait_index);
}

namespace {

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

uint64_t RoundUpToRecordAlign(uint64_t n) {
  return (n + kRecordAlign - 1) & ~uint64_t{kRecordAlign - 1};
}

absl::Status TimedOut(absl::string_view call, const std::string& name, absl::Duration timeout) {
  return ipc::WithContext(ipc::ErrnoError(call, name, ETIMEDOUT),
                          absl::StrCat("waited ", absl::FormatDuration(timeout)));
}

absl::Status PeerGoneError(absl::string_view call, const std::string& name, absl::string_view who) {
  return ipc::WithContext(ipc::ErrnoError(call, name, EPIPE),
                          absl::StrCat("the ", who, " detached or died"));
}

// The wait loop every blocking call shares. `try_once` makes one non-blocking attempt and
// returns true when done (it may set *error). `peer_index_unchanged` reloads the peer's index
// and returns true if we still cannot proceed, with the futex value to sleep on in *expected.
// We sleep on `wait_index` (the peer's index) with `own_sleeping` set.
template <typename TryOnce, typename PeerIndexUnchanged>
absl::Status WaitLoop(absl::string_view call, const std::string& name, absl::string_view peer,
                      absl::Duration timeout, SideStats* stats, std::atomic<uint64_t>* wait_index,
                      std::atomic<uint32_t>* own_sleeping, const std::atomic<int32_t>& peer_pid,
                      const std::atomic<uint32_t>& peer_state, TryOnce try_once,
                      PeerIndexUnchanged peer_index_unchanged) {
  absl::Status error;
  for (int i = 0; i < kSpins; ++i) {
    if (try_once(&error)) return error;
    CpuRelax();
  }
  for (int i = 0; i < kYields; ++i) {
    if (try_once(&error)) return error;
    ::sched_yield();  // cannot fail on Linux
  }
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  bool slept_a_whole_slice = false;
  for (;;) {
    if (try_once(&error)) return error;
    // A detached peer says so in its state word (cheap); a dead one is looked up in /proc only
    // after a slice without news.
    // Acquire: pairs with the release (seq_cst) store of the state in DetachSide().
    const bool detached =
        peer_state.load(std::memory_order_acquire) == static_cast<uint32_t>(PeerState::kDetached);
    if (detached || (slept_a_whole_slice && PeerGone(peer_pid, peer_state))) {
      // One more try: the peer may have published (or freed) the last of it just before going.
      if (try_once(&error)) return error;
      return PeerGoneError(call, name, peer);
    }
    absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) return TimedOut(call, name, timeout);

    // Announce the sleep, then look again. Relaxed: the heavy barrier orders this store before
    // the load in peer_index_unchanged, here and against the peer's PublishAndWake(): either we
    // see its new index, or it sees our flag (see the top of the file).
    own_sleeping->store(1, std::memory_order_relaxed);
    if (absl::Status barrier = HeavyBarrier(); !barrier.ok()) {
      own_sleeping->store(0, std::memory_order_relaxed);
      return barrier;
    }
    uint32_t expected = 0;
    slept_a_whole_slice = false;
    if (peer_index_unchanged(&expected)) {
      ++stats->sleeps;
      absl::StatusOr<bool> timed_out =
          FutexWait(wait_index, expected, std::min(left, kLivenessSlice), name);
      if (!timed_out.ok()) {
        own_sleeping->store(0, std::memory_order_relaxed);
        return timed_out.status();
      }
      slept_a_whole_slice = *timed_out;
    }
    // Relaxed: a stale 1 costs the peer one needless FUTEX_WAKE, nothing else.
    own_sleeping->store(0, std::memory_order_relaxed);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SharedRing

absl::StatusOr<SharedRing> SharedRing::Create(const std::string& name, const RingOptions& options) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(name, "ring name"));
  if (!IsPowerOfTwo(options.capacity) || options.capacity < 2 || options.capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring capacity ", options.capacity, " must be a power of two in [2, ",
                     kMaxCapacity, "]: the index of message i is i & (capacity - 1)"));
  }
  uint64_t data_size = 0;
  uint32_t slot_size = 0;
  if (options.kind == RingKind::kSlots) {
    if (options.slot_size == 0 || options.slot_size > kMaxSlotSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("slot size ", options.slot_size, " must be in [1, ", kMaxSlotSize, "]"));
    }
    slot_size = options.slot_size;
    data_size = options.capacity * slot_size;
  } else if (options.kind == RingKind::kRecords) {
    if (options.capacity < 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("a record ring needs at least 64 bytes, not ", options.capacity));
    }
    data_size = options.capacity;
  } else {
    return absl::InvalidArgumentError("ring kind must be kSlots or kRecords");
  }
  const uint64_t data_offset = sizeof(RingHeader);
  const uint64_t total_size = data_offset + data_size;

  // Phase 1: the object, exclusively ours until the header is published.
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, options.mode);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  auto fail = [&](absl::Status status) {
    ::close(fd);  // best effort on the error path; the status already says what went wrong
    ::shm_unlink(name.c_str());
    return status;
  };
  if (::ftruncate(fd, static_cast<off_t>(total_size)) == -1) {
    return fail(ipc::ErrnoError("ftruncate", name));
  }
  void* base = ::mmap(nullptr, total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail(ipc::ErrnoError("mmap", name));
  if (::close(fd) == -1) {
    absl::Status status = ipc::ErrnoError("close", name);
    ::munmap(base, total_size);
    ::shm_unlink(name.c_str());
    return status;
  }

  // Phase 2: the header. The memory is zero (ftruncate); construct the header object in it,
  // fill in the read-only line, and publish it with `magic` last.
  RingHeader* header = new (base) RingHeader();
  header->version = kLayoutVersion;
  header->kind = options.kind;
  header->capacity = options.capacity;
  header->slot_size = slot_size;
  header->data_offset = data_offset;
  header->total_size = total_size;
  // Relaxed: nobody can use the ring before magic is published below.
  header->head.store(options.initial_index, std::memory_order_relaxed);
  header->tail.store(options.initial_index, std::memory_order_relaxed);
  // Release: pairs with the acquire load in Open(); every field above is visible first.
  header->magic.store(kRingMagic, std::memory_order_release);
  return SharedRing(name, base, total_size);
}

absl::StatusOr<SharedRing> SharedRing::Open(const std::string& name) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(name, "ring name"));
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd == -1) return ipc::ErrnoError("shm_open", name);
  struct stat st;
  if (::fstat(fd, &st) == -1) {
    absl::Status status = ipc::ErrnoError("fstat", name);
    ::close(fd);
    return status;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(RingHeader)) {
    ::close(fd);
    return ipc::WithContext(ipc::ErrnoError("SharedRing::Open", name, EINVAL),
                            absl::StrCat("the object has ", size,
                                         " bytes, too few for a ring "
                                         "header: is it a ring?"));
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    absl::Status status = ipc::ErrnoError("mmap", name);
    ::close(fd);
    return status;
  }
  if (::close(fd) == -1) {
    absl::Status status = ipc::ErrnoError("close", name);
    ::munmap(base, size);
    return status;
  }
  SharedRing ring(name, base, size);  // unmaps on every error return below

  // The header was constructed by the creator (possibly another process).
  RingHeader* header = std::launder(static_cast<RingHeader*>(base));
  auto invalid = [&](int err, absl::string_view why) {
    return ipc::WithContext(ipc::ErrnoError("SharedRing::Open", name, err), why);
  };
  // Acquire: pairs with the release store in Create(); the fields below are then complete.
  if (header->magic.load(std::memory_order_acquire) != kRingMagic) {
    return invalid(EINVAL, "no ring magic in the header: not a ring, or not initialised yet");
  }
  if (header->version != kLayoutVersion) {
    return invalid(EPROTO, absl::StrCat("layout version ", header->version, ", this code reads ",
                                        kLayoutVersion));
  }
  uint64_t data_size = 0;
  if (header->kind == RingKind::kSlots) {
    if (header->slot_size == 0 || header->slot_size > kMaxSlotSize) {
      return invalid(EINVAL, absl::StrCat("bad slot size ", header->slot_size));
    }
    data_size = header->capacity * header->slot_size;
  } else if (header->kind == RingKind::kRecords) {
    data_size = header->capacity;
  } else {
    return invalid(EINVAL, "unknown ring kind");
  }
  if (!IsPowerOfTwo(header->capacity) || header->capacity > kMaxCapacity) {
    return invalid(EINVAL, absl::StrCat("capacity ", header->capacity, " is not a power of two"));
  }
  if (header->data_offset != sizeof(RingHeader) || header->total_size != size ||
      header->data_offset + data_size != size) {
    return invalid(EINVAL, absl::StrCat("the header describes ", header->data_offset, " + ",
                                        data_size, " bytes, the object has ", size));
  }
  return ring;
}

absl::Status SharedRing::Unlink(const std::string& name) {
  if (::shm_unlink(name.c_str()) == -1) return ipc::ErrnoError("shm_unlink", name);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// SlotProducer

absl::StatusOr<SlotProducer> SlotProducer::Attach(SharedRing& ring) {
  IPC_RETURN_IF_ERROR(AttachSide(ring, RingKind::kSlots, &ring.header()->producer_pid,
                                 &ring.header()->producer_state, "producer"));
  SlotProducer producer;
  producer.header_ = ring.header();
  producer.slots_ = ring.data();
  producer.name_ = ring.name();
  producer.mask_ = ring.capacity() - 1;
  producer.slot_size_ = ring.slot_size();
  // Relaxed for our own index (only we write it). Acquire for the consumer's: pairs with its
  // release of tail, so the slots it freed are really free.
  producer.head_ = ring.header()->head.load(std::memory_order_relaxed);
  producer.cached_tail_ = ring.header()->tail.load(std::memory_order_acquire);
  return producer;
}

bool SlotProducer::TryPush(const void* slot) {
  // Full by our cached tail? Only then read the consumer's line. `head_ - tail` is the fill
  // level even when the counters wrap past 2^64 (unsigned arithmetic).
  if (head_ - cached_tail_ > mask_) {
    // Acquire: pairs with the consumer's store of tail in TryPop(); its reads of the slots we are
    // about to overwrite happened before.
    cached_tail_ = header_->tail.load(std::memory_order_acquire);
    if (head_ - cached_tail_ > mask_) {
      ++stats_.would_block;
      return false;  // full: the caller decides (LR12: nothing is dropped silently)
    }
  }
  // Write first, publish second (LR5): the consumer cannot see this slot until head moves.
  CopySlot(slots_ + (head_ & mask_) * slot_size_, slot, slot_size_);
  testing::BeforePublish();
  ++head_;
  // Publish the slot; pairs with the acquire load of head in SlotConsumer::TryPop().
  PublishAndWake(&header_->head, head_, header_->consumer_sleeping, &stats_);
  ++stats_.messages;
  return true;
}

absl::Status SlotProducer::Push(const void* slot, absl::Duration timeout) {
  if (TryPush(slot)) return absl::OkStatus();  // the common case: no loop, no clock
  return WaitLoop(
      "SlotProducer::Push", name_, "consumer", timeout, &stats_, &header_->tail,
      &header_->producer_sleeping, header_->consumer_pid, header_->consumer_state,
      [&](absl::Status*) { return TryPush(slot); },
      [&](uint32_t* expected) {
        // Acquire: pairs with the consumer's publishing store; ordered after our flag by the
        // heavy barrier in WaitLoop.
        uint64_t tail = header_->tail.load(std::memory_order_acquire);
        *expected = static_cast<uint32_t>(tail);
        return head_ - tail > mask_;  // still full: sleep until tail moves
      });
}

// ---------------------------------------------------------------------------------------------
// SlotConsumer

absl::StatusOr<SlotConsumer> SlotConsumer::Attach(SharedRing& ring) {
  IPC_RETURN_IF_ERROR(AttachSide(ring, RingKind::kSlots, &ring.header()->consumer_pid,
                                 &ring.header()->consumer_state, "consumer"));
  SlotConsumer consumer;
  consumer.header_ = ring.header();
  consumer.slots_ = ring.data();
  consumer.name_ = ring.name();
  consumer.mask_ = ring.capacity() - 1;
  consumer.slot_size_ = ring.slot_size();
  // Relaxed for our own index; acquire for the producer's (pairs with its publishing store).
  consumer.tail_ = ring.header()->tail.load(std::memory_order_relaxed);
  consumer.cached_head_ = ring.header()->head.load(std::memory_order_acquire);
  return consumer;
}

bool SlotConsumer::TryPop(void* slot) {
  if (tail_ == cached_head_) {
    // Acquire: pairs with the producer's publishing store of head; the slot bytes it wrote
    // before that store are visible to the copy below.
    cached_head_ = header_->head.load(std::memory_order_acquire);
    if (tail_ == cached_head_) {
      ++stats_.would_block;
      return false;
    }
  }
  CopySlot(slot, slots_ + (tail_ & mask_) * slot_size_, slot_size_);
  ++tail_;
  // Free the slot; pairs with the acquire load of tail in SlotProducer::TryPush(): our copy above
  // is done before the producer may overwrite the slot.
  PublishAndWake(&header_->tail, tail_, header_->producer_sleeping, &stats_);
  ++stats_.messages;
  return true;
}

absl::Status SlotConsumer::Pop(void* slot, absl::Duration timeout) {
  if (TryPop(slot)) return absl::OkStatus();
  return WaitLoop(
      "SlotConsumer::Pop", name_, "producer", timeout, &stats_, &header_->head,
      &header_->consumer_sleeping, header_->producer_pid, header_->producer_state,
      [&](absl::Status*) { return TryPop(slot); },
      [&](uint32_t* expected) {
        // Acquire: pairs with the producer's publishing store; ordered after our flag by the
        // heavy barrier in WaitLoop.
        uint64_t head = header_->head.load(std::memory_order_acquire);
        *expected = static_cast<uint32_t>(head);
        return head == tail_;  // still empty: sleep until head moves
      });
}

// ---------------------------------------------------------------------------------------------
// RecordProducer

absl::StatusOr<RecordProducer> RecordProducer::Attach(SharedRing& ring) {
  IPC_RETURN_IF_ERROR(AttachSide(ring, RingKind::kRecords, &ring.header()->producer_pid,
                                 &ring.header()->producer_state, "producer"));
  RecordProducer producer;
  producer.header_ = ring.header();
  producer.buffer_ = ring.data();
  producer.name_ = ring.name();
  producer.mask_ = ring.capacity() - 1;
  producer.head_ = ring.header()->head.load(std::memory_order_relaxed);         // our own index
  producer.cached_tail_ = ring.header()->tail.load(std::memory_order_acquire);  // as TryPush
  return producer;
}

absl::StatusOr<bool> RecordProducer::TryPush(absl::string_view record) {
  if (record.size() > MaxRecordSize()) {
    return ipc::WithContext(ipc::ErrnoError("RecordProducer::TryPush", name_, EMSGSIZE),
                            absl::StrCat("a record of ", record.size(),
                                         " bytes; this ring takes at most ", MaxRecordSize()));
  }
  const uint64_t capacity = mask_ + 1;
  const uint64_t need = sizeof(RecordHeader) + RoundUpToRecordAlign(record.size());
  const uint64_t offset = head_ & mask_;
  const uint64_t to_end = capacity - offset;  // >= 8: offsets are multiples of 8
  // A record never straddles the end: if it does not fit before the end, the rest of the buffer
  // is skipped and the record starts at offset 0.
  const uint64_t skip = need > to_end ? to_end : 0;
  if (head_ + skip + need - cached_tail_ > capacity) {
    // Acquire: pairs with the consumer's store of tail; its reads of that space are done.
    cached_tail_ = header_->tail.load(std::memory_order_acquire);
    if (head_ + skip + need - cached_tail_ > capacity) {
      ++stats_.would_block;
      return false;
    }
  }
  uint64_t write_at = offset;
  if (skip != 0) {
    const RecordHeader marker{kSkipMarker, 0};
    std::memcpy(buffer_ + offset, &marker, sizeof marker);
    write_at = 0;
  }
  const RecordHeader header{static_cast<uint32_t>(record.size()), 0};
  std::memcpy(buffer_ + write_at, &header, sizeof header);
  std::memcpy(buffer_ + write_at + sizeof header, record.data(), record.size());
  testing::BeforePublish();
  head_ += skip + need;
  // Publish the marker and the record together; pairs with the acquire load of head in
  // RecordConsumer::TryPop().
  PublishAndWake(&header_->head, head_, header_->consumer_sleeping, &stats_);
  ++stats_.messages;
  return true;
}

absl::Status RecordProducer::Push(absl::string_view record, absl::Duration timeout) {
  absl::StatusOr<bool> first = TryPush(record);
  if (!first.ok() || *first) return first.status();
  const uint64_t capacity = mask_ + 1;
  const uint64_t need = sizeof(RecordHeader) + RoundUpToRecordAlign(record.size());
  return WaitLoop(
      "RecordProducer::Push", name_, "consumer", timeout, &stats_, &header_->tail,
      &header_->producer_sleeping, header_->consumer_pid, header_->consumer_state,
      [&](absl::Status* error) {
        absl::StatusOr<bool> pushed = TryPush(record);
        if (!pushed.ok()) *error = pushed.status();
        return !pushed.ok() || *pushed;
      },
      [&](uint32_t* expected) {
        // Acquire: pairs with the consumer's publishing store; ordered after our flag by the
        // heavy barrier in WaitLoop.
        uint64_t tail = header_->tail.load(std::memory_order_acquire);
        *expected = static_cast<uint32_t>(tail);
        const uint64_t to_end = capacity - (head_ & mask_);
        const uint64_t skip = need > to_end ? to_end : 0;
        return head_ + skip + need - tail > capacity;  // still no room
      });
}

// ---------------------------------------------------------------------------------------------
// RecordConsumer

absl::StatusOr<RecordConsumer> RecordConsumer::Attach(SharedRing& ring) {
  IPC_RETURN_IF_ERROR(AttachSide(ring, RingKind::kRecords, &ring.header()->consumer_pid,
                                 &ring.header()->consumer_state, "consumer"));
  RecordConsumer consumer;
  consumer.header_ = ring.header();
  consumer.buffer_ = ring.data();
  consumer.name_ = ring.name();
  consumer.mask_ = ring.capacity() - 1;
  consumer.tail_ = ring.header()->tail.load(std::memory_order_relaxed);         // our own index
  consumer.cached_head_ = ring.header()->head.load(std::memory_order_acquire);  // as TryPop
  return consumer;
}

absl::StatusOr<bool> RecordConsumer::TryPop(std::string* record) {
  if (tail_ == cached_head_) {
    // Acquire: pairs with the producer's publishing store of head.
    cached_head_ = header_->head.load(std::memory_order_acquire);
    if (tail_ == cached_head_) {
      ++stats_.would_block;
      return false;
    }
  }
  const uint64_t capacity = mask_ + 1;
  uint64_t offset = tail_ & mask_;
  uint64_t skip = 0;
  RecordHeader header;
  std::memcpy(&header, buffer_ + offset, sizeof header);
  if (header.size == kSkipMarker) {
    // The producer published the marker together with the record at offset 0.
    skip = capacity - offset;
    offset = 0;
    std::memcpy(&header, buffer_, sizeof header);
  }
  const uint64_t need = sizeof(RecordHeader) + RoundUpToRecordAlign(header.size);
  // Everything between tail_ and the head we loaded was published; a record must lie inside it.
  if (header.size > capacity / 2 - sizeof(RecordHeader) || cached_head_ - tail_ < skip + need) {
    return absl::DataLossError(
        absl::StrCat("ring ", name_, ": a record header at offset ", offset, " says ", header.size,
                     " bytes, more than the ring holds: the producer wrote outside its records"));
  }
  record->assign(reinterpret_cast<const char*>(buffer_ + offset + sizeof header), header.size);
  tail_ += skip + need;
  // Free the space; pairs with the acquire load of tail in RecordProducer::TryPush(): our copy is
  // done before the producer may overwrite it.
  PublishAndWake(&header_->tail, tail_, header_->producer_sleeping, &stats_);
  ++stats_.messages;
  return true;
}

absl::Status RecordConsumer::Pop(std::string* record, absl::Duration timeout) {
  absl::StatusOr<bool> first = TryPop(record);
  if (!first.ok() || *first) return first.status();
  return WaitLoop(
      "RecordConsumer::Pop", name_, "producer", timeout, &stats_, &header_->head,
      &header_->consumer_sleeping, header_->producer_pid, header_->producer_state,
      [&](absl::Status* error) {
        absl::StatusOr<bool> popped = TryPop(record);
        if (!popped.ok()) *error = popped.status();
        return !popped.ok() || *popped;
      },
      [&](uint32_t* expected) {
        // Acquire: pairs with the producer's publishing store; ordered after our flag by the
        // heavy barrier in WaitLoop.
        uint64_t head = header_->head.load(std::memory_order_acquire);
        *expected = static_cast<uint32_t>(head);
        return head == tail_;
      });
}

// ---------------------------------------------------------------------------------------------
// Mailbox (part 0)

absl::Status MailboxTryPut(Mailbox* box, const MailboxMessage& message) {
  // Built once: a full box is the common answer of a polling writer, and it must stay cheap.
  static const absl::Status* const kFull = new absl::Status(
      ipc::WithContext(ipc::ErrnoError("MailboxTryPut", "", EAGAIN), "the mailbox is full"));
  // Acquire: pairs with the reader's release store of kMailboxEmpty; its copy of the previous
  // message is complete before we overwrite it.
  if (box->state.load(std::memory_order_acquire) != kMailboxEmpty) return *kFull;
  box->message = message;
  // Release: publishes the message; pairs with the acquire load in MailboxTryTake(). The
  // message's bytes are visible before the flag says full (LR2: a plain byte gives no such order).
  box->state.store(kMailboxFull, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status MailboxTryTake(Mailbox* box, MailboxMessage* message) {
  static const absl::Status* const kEmpty = new absl::Status(
      ipc::WithContext(ipc::ErrnoError("MailboxTryTake", "", EAGAIN), "the mailbox is empty"));
  // Acquire: pairs with the writer's release store of kMailboxFull.
  if (box->state.load(std::memory_order_acquire) != kMailboxFull) return *kEmpty;
  *message = box->message;
  // Release: our copy is done before the writer may write the next message.
  box->state.store(kMailboxEmpty, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace lockfree_ring
