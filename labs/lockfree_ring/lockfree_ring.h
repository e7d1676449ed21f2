// labs/lockfree_ring/lockfree_ring.h: the contract of the lock-free ring lab.
//
// A single-producer/single-consumer (SPSC) ring buffer in a POSIX shared-memory object, shared by
// two processes: one creates it (SharedRing::Create), the other opens it by name
// (SharedRing::Open), one side attaches as the producer and the other as the consumer. Two
// flavours share one layout: fixed-size slots (SlotProducer/SlotConsumer: every message is
// `slot_size` bytes, e.g. a trivially copyable struct) and variable-length records
// (RecordProducer/RecordConsumer: length-prefixed byte strings). Part 0 is the one-slot mailbox
// (Mailbox*), the smallest lock-free hand-over there is.
//
// You implement lockfree_ring.cc. The layout below (RingHeader) is fixed, so that the tests and
// the tools can read a ring that your code wrote; the handout (README.md) explains every field.
//
//   bazel test //labs/lockfree_ring:lockfree_ring_test          # the public tests
//   programs ring_producer / ring_consumer (the partner files) move messages across an exec.
//
// Thread-safety, for every class below: one object is used by one thread at a time. A ring has
// at most one attached producer and one attached consumer at any moment (that is what makes it
// lock-free with plain loads and stores); they may live in different processes or in different
// threads of one process.
#ifndef IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_H_
#define IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_H_

#include <sys/types.h>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lockfree_ring {

// The cache-line size the layout pads to (x86-64 and most ARM64 cores).
inline constexpr size_t kCacheLineSize = 64;

// What SharedRing::Create writes in RingHeader::magic ("LFRING01" read as a little-endian word),
// and the layout version Open() insists on.
inline constexpr uint64_t kRingMagic = 0x3130474e4952464cULL;
inline constexpr uint32_t kLayoutVersion = 1;

// The largest ring Create() accepts (slots or bytes): 2^30.
inline constexpr uint64_t kMaxCapacity = uint64_t{1} << 30;

// The largest slot Create() accepts, in bytes.
inline constexpr uint32_t kMaxSlotSize = 64 * 1024;

// Records are stored as an 8-byte RecordHeader followed by the bytes, padded to a multiple of
// kRecordAlign; a header whose `size` is kSkipMarker means "the rest of the buffer up to its end
// is unused: the next record starts at offset 0".
inline constexpr uint32_t kRecordAlign = 8;
inline constexpr uint32_t kSkipMarker = 0xffffffffu;
struct RecordHeader {
  uint32_t size;      // bytes of payload that follow, or kSkipMarker
  uint32_t reserved;  // 0; keeps the payload 8-byte aligned
};
static_assert(sizeof(RecordHeader) == kRecordAlign);

// The two flavours of ring.
enum class RingKind : uint32_t {
  kSlots = 1,    // fixed-size slots: capacity slots of slot_size bytes
  kRecords = 2,  // variable-length records in a byte buffer of capacity bytes
};

// The ring's shared header, at offset 0 of the shared-memory object. The data area follows at
// `data_offset` (a multiple of kCacheLineSize): capacity * slot_size bytes for kSlots, capacity
// bytes for kRecords.
//
// The indices are monotonic 64-bit counters, never reduced modulo the capacity: slot
// `index & (capacity - 1)` holds message number `index`, `head - tail` is the number of messages
// (or bytes) in the ring, and all `capacity` slots are usable (no slot is wasted to tell full
// from empty: CURRICULUM LR13). They wrap around only after 2^64 messages, and unsigned
// arithmetic keeps `head - tail` right even then.
//
// Cache lines (CURRICULUM LR8): head is written only by the producer, tail only by the consumer,
// so each sits alone on its own line; a shared line between them would bounce between the two
// cores on every message. The cold line holds what changes only when a side attaches, detaches
// or goes to sleep.
struct RingHeader {
  // Line 0, written by Create() before it publishes `magic` (release), read-only afterwards.
  std::atomic<uint64_t> magic;  // kRingMagic once the rest of the header is valid
  uint32_t version;             // kLayoutVersion
  RingKind kind;                // slots or records
  uint64_t capacity;            // slots (kSlots) or bytes (kRecords); a power of two
  uint32_t slot_size;           // bytes per slot (kSlots); 0 for kRecords
  uint32_t reserved0;           // 0
  uint64_t data_offset;         // where the data area starts, from the start of the object
  uint64_t total_size;          // the object's size in bytes (ftruncate)

  // Line 1, written by the producer only.
  // The number of messages (kSlots) or bytes (kRecords) ever published. The consumer may read
  // everything below it; its low 32 bits are the futex word a sleeping consumer waits on.
  alignas(kCacheLineSize) std::atomic<uint64_t> head;

  // Line 2, written by the consumer only.
  // The number of messages (bytes) ever consumed. The producer may overwrite everything below
  // it; its low 32 bits are the futex word a sleeping producer waits on.
  alignas(kCacheLineSize) std::atomic<uint64_t> tail;

  // Line 3, cold: attach, detach and sleep state.
  alignas(kCacheLineSize) std::atomic<int32_t> producer_pid;  // last attached producer; 0: never
  std::atomic<uint32_t> producer_state;                       // a PeerState
  std::atomic<int32_t> consumer_pid;                          // last attached consumer; 0: never
  std::atomic<uint32_t> consumer_state;                       // a PeerState
  std::atomic<uint32_t> consumer_sleeping;  // 1 while the consumer is (about to be) in FUTEX_WAIT
  std::atomic<uint32_t> producer_sleeping;  // 1 while the producer is (about to be) in FUTEX_WAIT
};

// The values of RingHeader::producer_state and consumer_state.
enum class PeerState : uint32_t {
  kNone = 0,      // nobody has attached on this side yet
  kAttached = 1,  // the process producer_pid (consumer_pid) is attached
  kDetached = 2,  // it detached (its handle was destroyed): no more messages (space) will come
};

// The layout, checked (CURRICULUM LR8, LR16). Atomics in memory shared by two processes work
// only if they are lock-free: a lock-based std::atomic would keep its lock in each process's own
// memory, and the two processes would not exclude each other.
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<RingHeader>);
static_assert(offsetof(RingHeader, head) - offsetof(RingHeader, magic) >= kCacheLineSize);
static_assert(offsetof(RingHeader, tail) - offsetof(RingHeader, head) >= kCacheLineSize);
static_assert(offsetof(RingHeader, producer_pid) - offsetof(RingHeader, tail) >= kCacheLineSize);
static_assert(sizeof(RingHeader) == 4 * kCacheLineSize);
// The futex words are the low halves of head and tail, which is where they live on a
// little-endian machine.
static_assert(std::endian::native == std::endian::little);

// What Create() makes.
struct RingOptions {
  RingKind kind = RingKind::kSlots;
  uint64_t capacity = 1024;  // slots (kSlots) or bytes (kRecords); a power of two, >= 2 (records:
                             // >= 64), <= kMaxCapacity
  uint32_t slot_size = 64;   // kSlots: 1..kMaxSlotSize bytes; ignored for kRecords
  uint32_t mode = 0600;      // permission bits of the shared-memory object
  // For tests: head and tail both start here instead of 0, so that a test can cross 2^32 or
  // 2^64 without pushing billions of messages (CURRICULUM LR11). Any value is valid.
  uint64_t initial_index = 0;
};

// SharedRing
//
// One process's mapping of a ring in a POSIX shared-memory object. Move-only; the destructor
// unmaps (it does not remove the name: see Unlink()). Producers and consumers attached to it
// point into this mapping, so the SharedRing must outlive them.
class SharedRing {
 public:
  // SharedRing::Create()
  //
  // Creates the shared-memory object `name` (O_CREAT | O_EXCL, permissions `options.mode`),
  // sizes it for the header plus the data area, maps it, fills in the header and publishes it by
  // storing `magic` last. Errors: INVALID_ARGUMENT (no errno) for a capacity that is not a power
  // of two or out of range, a slot size out of range, or an invalid name; shm_open's (EEXIST if
  // the name exists, EACCES), ftruncate's and mmap's otherwise. On error nothing is left behind.
  static absl::StatusOr<SharedRing> Create(const std::string& name, const RingOptions& options);

  // SharedRing::Open()
  //
  // Opens and maps the ring `name` that another process (or this one) created, and checks its
  // header. Errors: shm_open's (ENOENT if there is no such object, EACCES); EINVAL if the object
  // is not a ring (too small for a header, wrong magic, a size or capacity that disagrees with
  // the header); EPROTO if its layout version is not kLayoutVersion.
  static absl::StatusOr<SharedRing> Open(const std::string& name);

  // SharedRing::Unlink()
  //
  // Removes the name `name` (shm_unlink). Mappings stay valid until they are unmapped; the memory
  // is freed when the last one goes. Errors: shm_unlink's (ENOENT if there is no such object).
  static absl::Status Unlink(const std::string& name);

  SharedRing(SharedRing&& other) noexcept;
  SharedRing& operator=(SharedRing&& other) noexcept;
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;
  ~SharedRing();

  // The name this ring was created or opened with.
  const std::string& name() const { return name_; }

  // The shared header (for the producer and consumer, and for tests that inspect the layout).
  RingHeader* header() const { return static_cast<RingHeader*>(base_); }

  // The data area: header()->data_offset bytes past the header's start.
  std::byte* data() const;

  // The header's kind, capacity and slot size.
  RingKind kind() const;
  uint64_t capacity() const;
  uint32_t slot_size() const;

 private:
  SharedRing(std::string name, void* base, size_t size)
      : name_(std::move(name)), base_(base), size_(size) {}

  std::string name_;
  void* base_ = nullptr;  // the mapping (header at offset 0); nullptr when moved from
  size_t size_ = 0;       // bytes mapped
};

// Counters each side keeps in its own (private) memory: keeping them in the shared header would
// put more hot writes on shared cache lines (CURRICULUM LR8).
struct SideStats {
  uint64_t messages = 0;     // messages pushed (producer) or popped (consumer)
  uint64_t would_block = 0;  // Try*() calls that found the ring full (producer) or empty (consumer)
  uint64_t sleeps = 0;       // FUTEX_WAIT calls made by the blocking calls
  uint64_t wakes = 0;        // FUTEX_WAKE calls made (only when the peer was sleeping)
};

// SlotProducer
//
// The producing end of a kSlots ring. Move-only; the destructor detaches (marks the producer
// kDetached, so that a consumer waiting on an empty ring gets EPIPE instead of waiting forever).
class SlotProducer {
 public:
  // SlotProducer::Attach()
  //
  // Attaches the calling process as `ring`'s producer: records its pid in the header and marks
  // it kAttached. A producer that detached or whose process died may be replaced. Errors:
  // INVALID_ARGUMENT (no errno) if `ring` is not a kSlots ring; EBUSY if a live process is
  // attached as the producer already (one producer only: that is the "SP" of SPSC).
  static absl::StatusOr<SlotProducer> Attach(SharedRing& ring);

  SlotProducer(SlotProducer&& other) noexcept;
  SlotProducer& operator=(SlotProducer&& other) noexcept;
  SlotProducer(const SlotProducer&) = delete;
  SlotProducer& operator=(const SlotProducer&) = delete;
  ~SlotProducer();

  // SlotProducer::TryPush()
  //
  // Copies slot_size bytes from `slot` into the next free slot and publishes it, or returns false
  // at once if the ring is full (nothing is dropped: CURRICULUM LR12). Never blocks and never
  // sleeps (LR7). Wakes the consumer (FUTEX_WAKE) only if it is sleeping.
  // Calls testing::BeforePublish() after the copy and before the new head is published.
  [[nodiscard]] bool TryPush(const void* slot);

  // SlotProducer::Push()
  //
  // Like TryPush(), but waits while the ring is full: spins briefly, then sleeps on a futex until
  // the consumer frees a slot. Errors: DEADLINE_EXCEEDED with ETIMEDOUT when `timeout` passes;
  // EPIPE when the consumer detached or its process died while the ring was full (the message is
  // not pushed).
  absl::Status Push(const void* slot, absl::Duration timeout = absl::InfiniteDuration());

  // SlotProducer::TryPushValue()
  //
  // TryPush() of a trivially copyable value whose size is the ring's slot size (checked with a
  // debug assert; a mismatch is a programming error).
  template <typename T>
  [[nodiscard]] bool TryPushValue(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "slots hold trivially copyable values");
    return TryPush(&value);
  }

  // The ring's capacity in slots (all of them usable) and slot size.
  uint64_t capacity() const { return mask_ + 1; }
  uint32_t slot_size() const { return slot_size_; }

  // This side's counters.
  const SideStats& stats() const { return stats_; }

 private:
  SlotProducer() = default;
  friend class SlotConsumer;

  RingHeader* header_ = nullptr;  // nullptr when moved from
  std::byte* slots_ = nullptr;    // the data area
  std::string name_;              // for error messages
  uint64_t mask_ = 0;             // capacity - 1
  uint32_t slot_size_ = 0;
  uint64_t head_ = 0;         // our own index: the next message number to write
  uint64_t cached_tail_ = 0;  // the last tail we loaded; reloaded only when we look full
  SideStats stats_;
};

// SlotConsumer
//
// The consuming end of a kSlots ring. Move-only; the destructor detaches (a producer waiting on a
// full ring then gets EPIPE).
class SlotConsumer {
 public:
  // SlotConsumer::Attach()
  //
  // Attaches the calling process as `ring`'s consumer. Errors as SlotProducer::Attach() (EBUSY
  // when a live consumer is attached).
  static absl::StatusOr<SlotConsumer> Attach(SharedRing& ring);

  SlotConsumer(SlotConsumer&& other) noexcept;
  SlotConsumer& operator=(SlotConsumer&& other) noexcept;
  SlotConsumer(const SlotConsumer&) = delete;
  SlotConsumer& operator=(const SlotConsumer&) = delete;
  ~SlotConsumer();

  // SlotConsumer::TryPop()
  //
  // Copies the oldest message (slot_size bytes) into `slot` and frees its slot, or returns false
  // at once if the ring is empty. Never blocks. Wakes the producer only if it is sleeping.
  [[nodiscard]] bool TryPop(void* slot);

  // SlotConsumer::Pop()
  //
  // Like TryPop(), but waits while the ring is empty: spins briefly, then sleeps on a futex until
  // the producer publishes. Errors: DEADLINE_EXCEEDED with ETIMEDOUT when `timeout` passes; EPIPE
  // when the ring is empty and the producer detached or its process died (CURRICULUM LR18):
  // every message it published is still delivered first.
  absl::Status Pop(void* slot, absl::Duration timeout = absl::InfiniteDuration());

  // SlotConsumer::TryPopValue()
  //
  // TryPop() into a trivially copyable value of the ring's slot size.
  template <typename T>
  [[nodiscard]] bool TryPopValue(T* value) {
    static_assert(std::is_trivially_copyable_v<T>, "slots hold trivially copyable values");
    return TryPop(value);
  }

  uint64_t capacity() const { return mask_ + 1; }
  uint32_t slot_size() const { return slot_size_; }
  const SideStats& stats() const { return stats_; }

 private:
  SlotConsumer() = default;

  RingHeader* header_ = nullptr;  // nullptr when moved from
  std::byte* slots_ = nullptr;
  std::string name_;
  uint64_t mask_ = 0;
  uint32_t slot_size_ = 0;
  uint64_t tail_ = 0;         // our own index: the next message number to read
  uint64_t cached_head_ = 0;  // the last head we loaded; reloaded only when we look empty
  SideStats stats_;
};

// RecordProducer
//
// The producing end of a kRecords ring: variable-length records, each an 8-byte RecordHeader
// plus its bytes padded to kRecordAlign, contiguous in the buffer. A record that does not fit
// before the end of the buffer is preceded by a skip marker and written at offset 0 (the handout
// explains why: every record can be read in place, at the cost of at most half the buffer).
// Move-only; the destructor detaches.
class RecordProducer {
 public:
  // RecordProducer::Attach()
  //
  // As SlotProducer::Attach(), for a kRecords ring.
  static absl::StatusOr<RecordProducer> Attach(SharedRing& ring);

  RecordProducer(RecordProducer&& other) noexcept;
  RecordProducer& operator=(RecordProducer&& other) noexcept;
  RecordProducer(const RecordProducer&) = delete;
  RecordProducer& operator=(const RecordProducer&) = delete;
  ~RecordProducer();

  // RecordProducer::MaxRecordSize()
  //
  // The largest record (payload bytes) this ring accepts: capacity / 2 - sizeof(RecordHeader).
  // Any record up to this size fits once the consumer has caught up, wherever the indices are.
  size_t MaxRecordSize() const { return (mask_ + 1) / 2 - sizeof(RecordHeader); }

  // RecordProducer::TryPush()
  //
  // Copies `record` into the ring and publishes it: true if pushed, false at once if there is not
  // enough room now. Never blocks. Errors: EMSGSIZE (a status made by ipc::ErrnoError) if
  // record.size() > MaxRecordSize(): it would never fit, and copying it would overrun the buffer
  // (LR9). Calls testing::BeforePublish() after the copy and before the new head is published.
  [[nodiscard]] absl::StatusOr<bool> TryPush(absl::string_view record);

  // RecordProducer::Push()
  //
  // Like TryPush(), but waits for room as SlotProducer::Push() does. Errors: EMSGSIZE as
  // TryPush(); ETIMEDOUT and EPIPE as SlotProducer::Push().
  absl::Status Push(absl::string_view record, absl::Duration timeout = absl::InfiniteDuration());

  uint64_t capacity() const { return mask_ + 1; }
  const SideStats& stats() const { return stats_; }

 private:
  RecordProducer() = default;

  RingHeader* header_ = nullptr;
  std::byte* buffer_ = nullptr;
  std::string name_;
  uint64_t mask_ = 0;
  uint64_t head_ = 0;         // bytes ever written by us (published or about to be)
  uint64_t cached_tail_ = 0;  // the last tail we loaded
  SideStats stats_;
};

// RecordConsumer
//
// The consuming end of a kRecords ring. Move-only; the destructor detaches.
class RecordConsumer {
 public:
  // RecordConsumer::Attach()
  //
  // As SlotConsumer::Attach(), for a kRecords ring.
  static absl::StatusOr<RecordConsumer> Attach(SharedRing& ring);

  RecordConsumer(RecordConsumer&& other) noexcept;
  RecordConsumer& operator=(RecordConsumer&& other) noexcept;
  RecordConsumer(const RecordConsumer&) = delete;
  RecordConsumer& operator=(const RecordConsumer&) = delete;
  ~RecordConsumer();

  // RecordConsumer::TryPop()
  //
  // Replaces *record with the oldest record and frees its space: true if one was popped, false
  // at once if the ring is empty. Never blocks. Errors: DATA_LOSS (no errno) if the ring holds a
  // record header that cannot be right (a size larger than the ring): the producer is broken.
  [[nodiscard]] absl::StatusOr<bool> TryPop(std::string* record);

  // RecordConsumer::Pop()
  //
  // Like TryPop(), but waits as SlotConsumer::Pop() does. Errors: ETIMEDOUT, EPIPE (empty and the
  // producer gone), DATA_LOSS.
  absl::Status Pop(std::string* record, absl::Duration timeout = absl::InfiniteDuration());

  uint64_t capacity() const { return mask_ + 1; }
  const SideStats& stats() const { return stats_; }

 private:
  RecordConsumer() = default;

  RingHeader* header_ = nullptr;
  std::byte* buffer_ = nullptr;
  std::string name_;
  uint64_t mask_ = 0;
  uint64_t tail_ = 0;
  uint64_t cached_head_ = 0;
  SideStats stats_;
};

// Part 0: the mailbox (CURRICULUM LR1).
//
// One message handed from a writer to a reader through one slot and a flag: the writer writes
// only when the flag says empty, then sets it full; the reader reads only when it is full, then
// sets it empty. Lives in memory both sides map (MAP_SHARED), zero-initialised (empty).
struct MailboxMessage {
  uint64_t sequence;  // 0, 1, 2, ...
  uint64_t payload;   // any value
  uint64_t checksum;  // MailboxChecksum(sequence, payload), so a torn read shows
};

// The flag values.
inline constexpr uint32_t kMailboxEmpty = 0;
inline constexpr uint32_t kMailboxFull = 1;

struct Mailbox {
  std::atomic<uint32_t> state;  // kMailboxEmpty or kMailboxFull; all zero bytes is empty
  uint32_t reserved;
  MailboxMessage message;  // valid while state is kMailboxFull
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// MailboxChecksum()
//
// A checksum of one message's fields (not a secure hash: it only makes torn messages show).
inline uint64_t MailboxChecksum(uint64_t sequence, uint64_t payload) {
  uint64_t x = sequence * 0x9e3779b97f4a7c15ULL ^ (payload + 0x632be59bd9b4e019ULL);
  x ^= x >> 29;
  return x * 0xbf58476d1ce4e5b9ULL;
}

// MailboxTryPut()
//
// If `box` is empty, copies `message` into it and marks it full (in that order, as seen by the
// reader in another process), and returns OK. Errors: UNAVAILABLE with EAGAIN if it is full.
absl::Status MailboxTryPut(Mailbox* box, const MailboxMessage& message);

// MailboxTryTake()
//
// If `box` is full, copies its message into *message and marks it empty, and returns OK.
// Errors: UNAVAILABLE with EAGAIN if it is empty.
absl::Status MailboxTryTake(Mailbox* box, MailboxMessage* message);

namespace internal {

// DetachSide()
//
// Marks one side of a ring detached (stores PeerState::kDetached in *state_word) and wakes the
// peer if it sleeps on the futex of *peer_wait_index, so that it sees the news at once (task 5,
// CURRICULUM LR18). Yours to write, in lockfree_ring.cc; the handles' destructors and move
// assignments (lockfree_ring_given.cc, given) call it. Not for users of the ring.
void DetachSide(std::atomic<uint32_t>* state_word, std::atomic<uint64_t>* peer_wait_index);

}  // namespace internal

namespace testing {

// BeforePublishHook: a function the tests install to pause a producer between writing a message
// and publishing it ("find the race", CURRICULUM LR5). nullptr (the default) does nothing.
using BeforePublishHook = void (*)();
inline std::atomic<BeforePublishHook> before_publish_hook{nullptr};

// BeforePublish()
//
// Calls the installed hook, if any. Every TryPush (slots and records) calls it exactly once per
// message it pushes, after the message's bytes are in the ring and before the store that
// publishes them to the consumer.
inline void BeforePublish() {
  // Relaxed: the hook pointer is set before the producer starts and is not tied to any data.
  if (BeforePublishHook hook = before_publish_hook.load(std::memory_order_relaxed)) hook();
}

}  // namespace testing

}  // namespace lockfree_ring

#endif  // IPC_LABS_LABS_LOCKFREE_RING_LOCKFREE_RING_H_
