// labs/mmap_fork/mmap_fork.h: the contract of the mmap_fork lab.
//
// Memory that two processes share without a name: an anonymous MAP_SHARED mapping made before
// fork() (and, for contrast, a MAP_PRIVATE one whose writes stay in the writer), locks that live
// inside such a mapping (a process-shared mutex, a robust mutex that survives its owner's death,
// a process-shared rwlock guarding a key-value cache), and a message log in a file that two
// unrelated processes map. The handout (README.md) explains each part with a diagram; the public
// tests (mmap_fork_test.cc) show how each call is meant to be used; mmap_fork.cc is yours.
//
// Every failing system call comes back as ipc::ErrnoError(call, object) (common/status.h), so a
// caller can read the errno with ipc::ErrnoOf(). Errors that are not a system call's (a key too
// long, a full cache) are absl statuses with the code named in each comment.
#ifndef IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_H_
#define IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_H_

#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mmap_fork {

// ---------------------------------------------------------------------------------------------
// Part 1: mappings (MF1, MF2, MF4, MF14, MF15, MF16)
// ---------------------------------------------------------------------------------------------

// Who sees a write into a mapping.
enum class Sharing {
  // MAP_SHARED: every process that maps the same pages sees every store at once (a child forked
  // after the mmap shares them; for a file, so does every process that maps the file).
  kShared,
  // MAP_PRIVATE: copy-on-write. A store copies the page for the writer alone; a forked child's
  // writes are invisible to the parent, and nothing reaches the file.
  kPrivate,
};

// How MapFile() maps a file.
struct FileMapOptions {
  Sharing sharing = Sharing::kShared;
  // PROT_READ | PROT_WRITE when true, PROT_READ alone when false.
  bool writable = true;
  // madvise(MADV_RANDOM) after mapping: the kernel then reads only the pages that are touched,
  // without read-ahead around them (MF14).
  bool random_access = false;
};

// Mapping
//
// One mmap()ed region that this object owns: the destructor munmap()s it. Move-only (a copy would
// unmap twice). A default-constructed or moved-from Mapping is empty (data() == nullptr).
//
// A Mapping does not own the file descriptor it was made from: the caller may close the fd as
// soon as MapFile() returns, and the mapping stays valid (the kernel keeps the file open).
class Mapping {
 public:
  // Mapping::Anonymous()
  //
  // Maps `bytes` bytes of zeroed memory backed by no file (MAP_ANONYMOUS, fd -1), read/write,
  // shared or private as `sharing` says. A kShared mapping made BEFORE fork() is the same memory
  // in parent and child (MF1); one made after fork() is not shared with anyone.
  // Errors: mmap's, as ipc::ErrnoError("mmap", ...): EINVAL when `bytes` is 0, ENOMEM when the
  // address space cannot hold it.
  static absl::StatusOr<Mapping> Anonymous(size_t bytes, Sharing sharing);

  // Mapping::MapFile()
  //
  // Maps the whole of the open file `fd`: the length comes from fstat()'s st_size, never from a
  // constant (MF15). Pages are read from the file only when touched (MF14).
  // Errors: fstat's (EBADF for a closed fd); INVALID_ARGUMENT carrying errno EINVAL for an empty
  // file (a mapping cannot be empty); mmap's (EACCES when `fd` was opened read-only and
  // options.writable with Sharing::kShared asks to write through to it); madvise's.
  static absl::StatusOr<Mapping> MapFile(int fd, const FileMapOptions& options = {});

  Mapping() = default;
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  // Mapping::data()
  //
  // The first byte of the mapping (page-aligned), or nullptr when empty. Owned by this object:
  // do not munmap it yourself, and do not use it after the Mapping is destroyed.
  void* data() const { return data_; }

  // Mapping::size()
  //
  // The length asked for (Anonymous) or the file's size when mapped (MapFile); 0 when empty.
  size_t size() const { return size_; }

  // Mapping::sharing()
  Sharing sharing() const { return sharing_; }

  // Mapping::Sync()
  //
  // msync(MS_SYNC): writes the mapping's dirty pages to its file and waits until they are on
  // disk. Needed for durability only (before telling a user "saved"); other processes that map
  // the file see every store at once without it (MF16). On an anonymous mapping it is a no-op
  // that succeeds. Errors: FAILED_PRECONDITION when empty; msync's.
  absl::Status Sync() const;

  // Mapping::ResidentPages()
  //
  // How many of the mapping's pages are in memory now, by mincore(). For a file mapping this
  // counts pages of the file in the page cache, touched through this mapping or not.
  // Errors: FAILED_PRECONDITION when empty; mincore's.
  absl::StatusOr<size_t> ResidentPages() const;

 private:
  Mapping(void* data, size_t size, Sharing sharing) : data_(data), size_(size), sharing_(sharing) {}
  void Unmap();

  void* data_ = nullptr;
  size_t size_ = 0;
  Sharing sharing_ = Sharing::kShared;
};

// ---------------------------------------------------------------------------------------------
// Part 2: a counter behind a process-shared, robust mutex (MF10, MF11, MF18)
// ---------------------------------------------------------------------------------------------

// Which mutex InitCounter() makes.
enum class LockKind {
  // PTHREAD_PROCESS_SHARED: usable by every process that maps the counter (MF10).
  kProcessShared,
  // PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST: when the owner dies holding it, the next
  // locker gets EOWNERDEAD instead of waiting forever (MF11).
  kRobust,
};

// SharedCounter
//
// A counter that lives in MAP_SHARED memory (place it with placement new or a cast into a
// Mapping made before fork). Plain data: every field is read and written only with `mutex` held.
//
// Updates use a two-step protocol so that a holder killed half-way leaves enough behind to
// repair the state (MF11): AddToCounter() writes the new value to `staged` and sets `dirty`,
// then copies `staged` into `value` and clears `dirty`. A dead holder left either dirty == 0
// (`value` is right) or dirty == 1 (`staged` holds the value it was writing): the repair rolls
// forward by copying `staged` into `value`.
struct SharedCounter {
  pthread_mutex_t mutex;  // guards every field below; made by InitCounter()
  int64_t value;          // the counter
  int64_t staged;         // the value being written while dirty == 1
  uint32_t dirty;         // 1 between writing `staged` and copying it to `value`
  uint32_t recoveries;    // how many times a dead holder's update was repaired
};

// InitCounter()
//
// Initialises `counter` (value 0, no recoveries) and its mutex as `kind` says. Call it once, in
// one process, before any other process uses the counter; `counter` must be in MAP_SHARED memory
// for other processes to see it. Errors: pthread_mutexattr_* and pthread_mutex_init's, as
// ipc::ErrnoError(call, "counter", returned_code).
absl::Status InitCounter(SharedCounter* counter, LockKind kind);

// CounterLock
//
// Holds `counter->mutex` from Acquire() until destruction (RAII). Move-only.
class CounterLock {
 public:
  // CounterLock::Acquire()
  //
  // Locks the counter's mutex, waiting as long as needed. When the previous owner died holding a
  // robust mutex (pthread_mutex_lock returns EOWNERDEAD), repairs the counter (rolls a dirty
  // update forward, counts one recovery), marks the mutex consistent with
  // pthread_mutex_consistent() and returns a lock whose recovered() is true.
  // Errors: pthread_mutex_lock's (ENOTRECOVERABLE when an earlier owner unlocked it without
  // marking it consistent); pthread_mutex_consistent's.
  static absl::StatusOr<CounterLock> Acquire(SharedCounter* counter);

  CounterLock(CounterLock&& other) noexcept;
  CounterLock& operator=(CounterLock&& other) noexcept;
  CounterLock(const CounterLock&) = delete;
  CounterLock& operator=(const CounterLock&) = delete;
  ~CounterLock();

  // CounterLock::recovered()
  //
  // True if Acquire() found the previous owner dead and repaired the counter.
  bool recovered() const { return recovered_; }

  // CounterLock::counter()
  //
  // The locked counter (its fields may be read and written while this lock lives).
  SharedCounter* counter() const { return counter_; }

 private:
  CounterLock(SharedCounter* counter, bool recovered) : counter_(counter), recovered_(recovered) {}

  SharedCounter* counter_ = nullptr;
  bool recovered_ = false;
};

// AddToCounter()
//
// Adds `delta` under the mutex, with the staged/dirty protocol described at SharedCounter.
// Errors: CounterLock::Acquire()'s.
absl::Status AddToCounter(SharedCounter* counter, int64_t delta);

// What ReadCounter() returns.
struct CounterState {
  int64_t value = 0;
  uint32_t recoveries = 0;
};

// ReadCounter()
//
// Reads the value and the recovery count under the mutex. Errors: CounterLock::Acquire()'s.
absl::StatusOr<CounterState> ReadCounter(SharedCounter* counter);

// RaceOnCounter()
//
// Forks `children` child processes (ipc::Child) that each add 1 to `counter` `iterations` times,
// while this process adds 2 `iterations` times; then waits for every child (at most `timeout`
// each) and reaps it, so no zombie is left on any path (MF18). On success the counter has grown
// by (children + 2) * iterations. `counter` must be initialised and in MAP_SHARED memory.
// Errors: INVALID_ARGUMENT for children < 1 or iterations < 0; fork's (EAGAIN at the process
// limit); INTERNAL naming the child when a child fails, dies or times out (the others are still
// reaped); AddToCounter()'s.
absl::Status RaceOnCounter(SharedCounter* counter, int children, int iterations,
                           absl::Duration timeout);

// ---------------------------------------------------------------------------------------------
// Part 3: a key-value cache behind a process-shared rwlock (MF12, MF13)
// ---------------------------------------------------------------------------------------------

inline constexpr size_t kMaxKeyBytes = 63;     // a key is 1..63 bytes (64 with the NUL)
inline constexpr size_t kMaxValueBytes = 255;  // a value is 0..255 bytes (256 with the NUL)

// One fixed-size slot of the cache. Guarded by CacheHeader::lock.
struct CacheEntry {
  char key[kMaxKeyBytes + 1];      // NUL-terminated when state == kCacheLive
  char value[kMaxValueBytes + 1];  // value_length bytes, then a NUL
  uint32_t value_length;
  uint32_t state;      // kCacheEmpty, kCacheLive or kCacheErased (a tombstone)
  int64_t expires_ns;  // CLOCK_MONOTONIC deadline in nanoseconds; INT64_MAX: never expires
};
inline constexpr uint32_t kCacheEmpty = 0;
inline constexpr uint32_t kCacheLive = 1;
inline constexpr uint32_t kCacheErased = 2;

// The start of a cache region; `capacity` CacheEntry follow it directly.
struct CacheHeader {
  // 0 until someone starts initialising, 1 while it does, 2 when the region is ready. Only the
  // process whose compare-and-swap moves it from 0 to 1 initialises (MF13); the ready store is a
  // release that pairs with the acquire load of every later SharedCache::Attach().
  std::atomic<uint32_t> init_state;
  uint32_t capacity;      // number of entries; written once, before init_state becomes 2
  pthread_rwlock_t lock;  // PTHREAD_PROCESS_SHARED; guards `live` and every entry
  uint64_t live;          // entries in state kCacheLive (expired or not)
};
static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "init_state must work across processes, so it cannot hide a lock");

class ReadView;
class WriteBatch;

// SharedCache
//
// A fixed-capacity key -> value map in a MAP_SHARED region, for many processes at once: many
// readers together, or one writer alone (a process-shared pthread_rwlock_t). Keys are 1..63
// bytes, values 0..255 bytes, every entry has a time to live. A SharedCache is a view: it owns
// no kernel object and does not own the Mapping, which must outlive it. Copyable (a copy is the
// same view).
class SharedCache {
 public:
  // SharedCache::RegionBytes()
  //
  // The bytes a region for `capacity` entries needs (the header, then the entries).
  static size_t RegionBytes(size_t capacity);

  // SharedCache::Attach()
  //
  // Uses `mapping` as a cache of `capacity` entries. The first Attach() on a region initialises
  // it (an empty table and the process-shared rwlock); every later one, in any process, only
  // waits until it is ready and never initialises it again, so a lock held elsewhere stays held
  // (MF13). Errors: INVALID_ARGUMENT when capacity is 0 or the mapping is smaller than
  // RegionBytes(capacity); FAILED_PRECONDITION when the mapping is Sharing::kPrivate (no other
  // process would see the cache) or the region was initialised with another capacity;
  // pthread_rwlockattr_* and pthread_rwlock_init's.
  //
  // The rwlock prefers writers (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP): glibc's default
  // lets a steady stream of readers starve the writer forever. The price: a process must not take
  // the read lock twice (a writer waiting between the two would deadlock it).
  static absl::StatusOr<SharedCache> Attach(const Mapping& mapping, size_t capacity);

  // SharedCache::Set()
  //
  // Stores key -> value, replacing any old value; the entry expires `ttl` from now
  // (absl::InfiniteDuration(): never). Expired entries are reused for new keys.
  // Errors: INVALID_ARGUMENT when the key is empty or longer than kMaxKeyBytes, the value is
  // longer than kMaxValueBytes, or ttl <= 0 (the message says which and by how much);
  // RESOURCE_EXHAUSTED when the key is new and every entry holds a live, unexpired key;
  // the rwlock's errors.
  absl::Status Set(absl::string_view key, absl::string_view value, absl::Duration ttl);

  // SharedCache::Get()
  //
  // Returns the last committed value of `key`. Errors: NOT_FOUND when it is absent or expired;
  // INVALID_ARGUMENT for a key Set() would refuse; the rwlock's errors.
  absl::StatusOr<std::string> Get(absl::string_view key);

  // SharedCache::Erase()
  //
  // Removes `key`. Errors: NOT_FOUND when absent or expired; as Get().
  absl::Status Erase(absl::string_view key);

  // SharedCache::Size()
  //
  // The number of live, unexpired entries. Errors: the rwlock's.
  absl::StatusOr<size_t> Size();

  // SharedCache::BeginRead() / TryBeginRead()
  //
  // Take the read lock and return a view that holds it: any number of processes may read at
  // once, never while a writer holds the lock. BeginRead() waits; TryBeginRead() returns
  // ipc::ErrnoError("pthread_rwlock_tryrdlock", "cache", EBUSY) when a writer holds it.
  absl::StatusOr<ReadView> BeginRead();
  absl::StatusOr<ReadView> TryBeginRead();

  // SharedCache::BeginWrite() / TryBeginWrite()
  //
  // Take the write lock (alone: no reader, no other writer) and return a batch that holds it.
  // Readers see all of a batch's changes or none of them: the batch commits when it is
  // destroyed. TryBeginWrite() returns EBUSY (pthread_rwlock_trywrlock) when anyone holds it.
  absl::StatusOr<WriteBatch> BeginWrite();
  absl::StatusOr<WriteBatch> TryBeginWrite();

 private:
  explicit SharedCache(CacheHeader* header) : header_(header) {}
  friend class ReadView;
  friend class WriteBatch;

  CacheHeader* header_ = nullptr;
};

// ReadView
//
// Holds the cache's read lock until destruction. Move-only.
class ReadView {
 public:
  ReadView(ReadView&& other) noexcept;
  ReadView& operator=(ReadView&& other) noexcept;
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;
  ~ReadView();

  // ReadView::Get()
  //
  // As SharedCache::Get(), under the lock this view holds.
  absl::StatusOr<std::string> Get(absl::string_view key) const;

 private:
  friend class SharedCache;
  explicit ReadView(CacheHeader* header) : header_(header) {}
  CacheHeader* header_ = nullptr;
};

// WriteBatch
//
// Holds the cache's write lock until destruction, which commits every change made through it.
// Move-only.
class WriteBatch {
 public:
  WriteBatch(WriteBatch&& other) noexcept;
  WriteBatch& operator=(WriteBatch&& other) noexcept;
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;
  ~WriteBatch();

  // WriteBatch::Set() / Get() / Erase()
  //
  // As the SharedCache calls of the same name, under the lock this batch holds.
  absl::Status Set(absl::string_view key, absl::string_view value, absl::Duration ttl);
  absl::StatusOr<std::string> Get(absl::string_view key) const;
  absl::Status Erase(absl::string_view key);

 private:
  friend class SharedCache;
  explicit WriteBatch(CacheHeader* header) : header_(header) {}
  CacheHeader* header_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Part 4: a message log in a mapped file (MF5, MF6, MF7, MF8, MF16)
// ---------------------------------------------------------------------------------------------

inline constexpr size_t kLogSlots = 100;     // the ring holds at most 100 unread messages
inline constexpr size_t kLogSlotBytes = 64;  // one message per 64-byte slot
inline constexpr size_t kMaxMessageBytes = kLogSlotBytes - sizeof(uint32_t);  // 60

// The values of LogFile::state. Only a kLogReady file is fresh; anything else at the path (a
// file a reader already took, an abandoned one, a file of another format) is stale (MF8).
inline constexpr uint32_t kLogReady = 0x4d464c31;      // "MFL1": built, waiting for its reader
inline constexpr uint32_t kLogTaken = 0x4d464c32;      // "MFL2": a reader has claimed it
inline constexpr uint32_t kLogAbandoned = 0x4d464c30;  // "MFL0": its writer gave up, never closed

// One slot of the ring.
struct LogSlot {
  uint32_t length;                  // bytes used in `bytes`, or kEndOfLog
  char bytes[kMaxMessageBytes];     // the message (not NUL-terminated)
};
inline constexpr uint32_t kEndOfLog = 0xffffffff;  // the length of the writer's last slot
static_assert(sizeof(LogSlot) == kLogSlotBytes, "a slot is exactly 64 bytes");

// The file's layout, from its first byte. The file is exactly FileBytes() long, derived from
// sizeof(LogFile), never a hand-written constant (MF6).
//
// Each index has exactly one writer (MF7): the writer process alone moves write_index, the
// reader alone moves read_index. Neither side reads the other's index: the two semaphores count
// for them, and sem_post()/sem_wait() order the slot's bytes before the index that publishes it.
struct LogFile {
  std::atomic<uint32_t> state;  // 0 while built, then kLogReady, then kLogTaken or kLogAbandoned
  uint32_t reserved;            // keeps the semaphores 8-byte aligned
  sem_t items;                  // pshared; messages written and not yet read
  sem_t free_slots;             // pshared; slots the writer may fill (starts at kLogSlots)
  uint64_t write_index;         // written only by the writer: messages sent so far
  uint64_t read_index;          // written only by the reader: messages received so far
  LogSlot slots[kLogSlots];     // message i lives in slots[i % kLogSlots]
};

// MessageLog
//
// One end of a single-writer, single-reader message ring in a file that both processes map with
// MAP_SHARED. The writer Create()s the file and Send()s; the reader Open()s it and Receive()s.
// Either may start first. Messages arrive in order, each exactly once.
//
// The file name is only a meeting point: the reader claims the file (state kLogReady ->
// kLogTaken) and unlinks the name as soon as it has mapped it, so a complete run leaves no file
// behind (MF8). The messages live in the file, not in the writer: a writer may Close() and exit
// before its reader starts, and the reader still gets everything. A writer destroyed without
// Close() (an error path) marks the file kLogAbandoned and unlinks the name; a reader that had
// already taken it then times out in Receive(). Move-only; the destructor unmaps.
class MessageLog {
 public:
  // MessageLog::FileBytes()
  //
  // The size of a log file: sizeof(LogFile).
  static constexpr size_t FileBytes() { return sizeof(LogFile); }

  // MessageLog::Create()
  //
  // The writer's end. Builds a fresh log under a temporary name in the same directory (created
  // with O_EXCL, mode 0600, sized FileBytes(), semaphores initialised, state set to kLogReady
  // last), then rename()s it onto `path`: a reader never sees a half-built file, and a stale
  // file left at `path` by an earlier run is replaced in one step (MF8).
  // Errors: open's, ftruncate's, mmap's, sem_init's, rename's, each naming the path; the
  // temporary file is removed on every error path.
  static absl::StatusOr<MessageLog> Create(const std::string& path);

  // MessageLog::Open()
  //
  // The reader's end. Waits (up to `timeout`) until `path` names a fresh log, skipping a missing
  // file and stale ones (the wrong size, or a state other than kLogReady); maps it, claims it by
  // a compare-and-swap of state from kLogReady to kLogTaken, then unlinks `path` if it still
  // names that file. Errors: DEADLINE_EXCEEDED when no fresh log appeared in time; open's,
  // fstat's, mmap's for other failures.
  static absl::StatusOr<MessageLog> Open(const std::string& path, absl::Duration timeout);

  MessageLog(MessageLog&& other) noexcept;
  MessageLog& operator=(MessageLog&& other) noexcept;
  MessageLog(const MessageLog&) = delete;
  MessageLog& operator=(const MessageLog&) = delete;
  ~MessageLog();

  // MessageLog::Send()
  //
  // Writer only. Copies `message` into the next slot, waiting (up to `timeout`) while all
  // kLogSlots slots are unread. No sleeping, no polling: it blocks in sem_clockwait().
  // Errors: INVALID_ARGUMENT when message is longer than kMaxMessageBytes; DEADLINE_EXCEEDED
  // when no slot freed in time; FAILED_PRECONDITION on a reader's end or after Close().
  absl::Status Send(absl::string_view message, absl::Duration timeout);

  // MessageLog::Receive()
  //
  // Reader only. Returns the next message, waiting (up to `timeout`) until there is one.
  // Errors: OUT_OF_RANGE after the writer's Close() once every message was read (end of log);
  // DEADLINE_EXCEEDED when nothing arrived in time; FAILED_PRECONDITION on a writer's end.
  absl::StatusOr<std::string> Receive(absl::Duration timeout);

  // MessageLog::Sync()
  //
  // msync(MS_SYNC) of the whole file, for durability (MF16): not needed for the reader to see
  // the messages. Errors: msync's.
  absl::Status Sync() const;

  // MessageLog::Close()
  //
  // Writer only. Sends the end-of-log mark (waiting up to `timeout` for a slot); after it, Send()
  // fails. The file stays until its reader takes it (see the class comment). Errors: as Send().
  absl::Status Close(absl::Duration timeout);

 private:
  MessageLog(Mapping mapping, std::string path, bool writer, dev_t dev, ino_t ino)
      : mapping_(std::move(mapping)), path_(std::move(path)), writer_(writer), dev_(dev),
        ino_(ino) {}
  LogFile* file() const { return static_cast<LogFile*>(mapping_.data()); }
  void UnlinkIfOurs();

  Mapping mapping_;
  std::string path_;     // where the writer published the file
  bool writer_ = false;  // which end this is
  bool closed_ = false;  // the writer called Close()
  dev_t dev_ = 0;        // the file's identity, to unlink only our own file
  ino_t ino_ = 0;
};

}  // namespace mmap_fork

#endif  // IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_H_
