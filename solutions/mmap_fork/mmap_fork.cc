// solutions/mmap_fork/mmap_fork.cc: the reference implementation of labs/mmap_fork/mmap_fork.h.
//
// Four parts, in the handout's order: Mapping (anonymous and file mappings), the counter behind a
// process-shared robust mutex, the key-value cache behind a process-shared rwlock, and the
// message log in a mapped file. The tests are labs/mmap_fork/mmap_fork_test.cc and
// grader/hidden/mmap_fork/mmap_fork_hidden_test.cc:
//   bazel test //solutions/mmap_fork:all //grader/hidden/mmap_fork:all
#include "labs/mmap_fork/mmap_fork.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace mmap_fork {
namespace {

size_t PageSize() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Part 1: Mapping
// ---------------------------------------------------------------------------------------------

absl::StatusOr<Mapping> Mapping::Anonymous(size_t bytes, Sharing sharing) {
  // No file, fd -1: the pages start zeroed. MAP_SHARED is what lets a child forked later write
  // into the very same pages as the parent (MF1); MAP_PRIVATE gives each process its own
  // copy-on-write copy (MF2).
  int flags = MAP_ANONYMOUS | (sharing == Sharing::kShared ? MAP_SHARED : MAP_PRIVATE);
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (data == MAP_FAILED) return ipc::ErrnoError("mmap", absl::StrCat("anonymous, ", bytes, " bytes"));
  return Mapping(data, bytes, sharing);
}

absl::StatusOr<Mapping> Mapping::MapFile(int fd, const FileMapOptions& options) {
  // The length is the file's, read now: a constant ("map 4 GB") maps past the end of a smaller
  // file, and touching that part raises SIGBUS (MF15).
  struct stat st;
  if (::fstat(fd, &st) == -1) return ipc::ErrnoError("fstat", absl::StrCat("fd ", fd));
  if (st.st_size == 0) {
    return ipc::ErrnoError("mmap", absl::StrCat("fd ", fd, " (an empty file cannot be mapped)"),
                           EINVAL);
  }
  size_t bytes = static_cast<size_t>(st.st_size);
  int prot = PROT_READ | (options.writable ? PROT_WRITE : 0);
  int flags = options.sharing == Sharing::kShared ? MAP_SHARED : MAP_PRIVATE;
  void* data = ::mmap(nullptr, bytes, prot, flags, fd, 0);
  if (data == MAP_FAILED) return ipc::ErrnoError("mmap", absl::StrCat("fd ", fd, ", ", bytes, " bytes"));
  Mapping mapping(data, bytes, options.sharing);  // owns it from here: unmapped on every error path
  if (options.random_access && ::madvise(data, bytes, MADV_RANDOM) == -1) {
    return ipc::ErrnoError("madvise", absl::StrCat("fd ", fd, ", MADV_RANDOM"));
  }
  return mapping;
}

absl::Status Mapping::Sync() const {
  if (data_ == nullptr) return absl::FailedPreconditionError("Sync() on an empty Mapping");
  // MS_SYNC waits until the pages are on disk. Visibility to other processes never needed this:
  // they map the same page-cache pages (MF16).
  if (::msync(data_, size_, MS_SYNC) == -1) return ipc::ErrnoError("msync", "MS_SYNC");
  return absl::OkStatus();
}

absl::StatusOr<size_t> Mapping::ResidentPages() const {
  if (data_ == nullptr) return absl::FailedPreconditionError("ResidentPages() on an empty Mapping");
  size_t page = PageSize();
  std::vector<unsigned char> residency((size_ + page - 1) / page);
  if (::mincore(data_, size_, residency.data()) == -1) return ipc::ErrnoError("mincore", "mapping");
  size_t resident = 0;
  for (unsigned char byte : residency) resident += byte & 1;  // bit 0: in memory; others reserved
  return resident;
}

// ---------------------------------------------------------------------------------------------
// Part 2: the counter
// ---------------------------------------------------------------------------------------------

absl::Status InitCounter(SharedCounter* counter, LockKind kind) {
  pthread_mutexattr_t attr;
  int rc = ::pthread_mutexattr_init(&attr);
  if (rc != 0) return ipc::ErrnoError("pthread_mutexattr_init", "counter", rc);
  // Without PROCESS_SHARED the mutex is for the threads of one process: glibc may then use
  // private futexes, whose waiters in another process are never woken (MF10).
  rc = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0 && kind == LockKind::kRobust) {
    rc = ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc != 0) {
      ::pthread_mutexattr_destroy(&attr);
      return ipc::ErrnoError("pthread_mutexattr_setrobust", "counter", rc);
    }
  } else if (rc != 0) {
    ::pthread_mutexattr_destroy(&attr);
    return ipc::ErrnoError("pthread_mutexattr_setpshared", "counter", rc);
  }
  counter->value = 0;
  counter->staged = 0;
  counter->dirty = 0;
  counter->recoveries = 0;
  rc = ::pthread_mutex_init(&counter->mutex, &attr);
  ::pthread_mutexattr_destroy(&attr);  // the mutex keeps its own copy of the attributes
  if (rc != 0) return ipc::ErrnoError("pthread_mutex_init", "counter", rc);
  return absl::OkStatus();
}

absl::StatusOr<CounterLock> CounterLock::Acquire(SharedCounter* counter) {
  int rc = ::pthread_mutex_lock(&counter->mutex);
  if (rc == 0) return CounterLock(counter, /*recovered=*/false);
  if (rc != EOWNERDEAD) return ipc::ErrnoError("pthread_mutex_lock", "counter", rc);

  // The previous owner died holding the lock; we hold it now, but the data may be half-updated.
  // Roll a dirty update forward (staged holds the value it was writing), then tell the mutex the
  // state is consistent again. Unlocking without pthread_mutex_consistent() would make every
  // later lock fail with ENOTRECOVERABLE (MF11).
  if (counter->dirty != 0) {
    counter->value = counter->staged;
    counter->dirty = 0;
  }
  ++counter->recoveries;
  rc = ::pthread_mutex_consistent(&counter->mutex);
  if (rc != 0) {
    ::pthread_mutex_unlock(&counter->mutex);
    return ipc::ErrnoError("pthread_mutex_consistent", "counter", rc);
  }
  return CounterLock(counter, /*recovered=*/true);
}

absl::Status AddToCounter(SharedCounter* counter, int64_t delta) {
  IPC_ASSIGN_OR_RETURN(CounterLock lock, CounterLock::Acquire(counter));
  // Three steps, each a single store, kept in this order by the signal fences: a SIGKILL between
  // any two leaves either dirty == 0 with `value` right, or dirty == 1 with `staged` right. The
  // fences restrain only the compiler: the process that reads the fields next takes the mutex,
  // which orders the memory.
  counter->staged = counter->value + delta;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  counter->dirty = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  counter->value = counter->staged;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  counter->dirty = 0;
  return absl::OkStatus();
}

absl::StatusOr<CounterState> ReadCounter(SharedCounter* counter) {
  IPC_ASSIGN_OR_RETURN(CounterLock lock, CounterLock::Acquire(counter));
  return CounterState{counter->value, counter->recoveries};
}

absl::Status RaceOnCounter(SharedCounter* counter, int children, int iterations,
                           absl::Duration timeout) {
  if (children < 1 || iterations < 0) {
    return absl::InvalidArgumentError(absl::StrCat("RaceOnCounter needs children >= 1 and ",
                                                   "iterations >= 0; got ", children, " and ",
                                                   iterations));
  }
  // Start every child first, so they all contend with the parent. An ipc::Child that goes out of
  // scope unreaped is killed and reaped, so an early return leaves no zombie either (MF18).
  std::vector<ipc::Child> workers;
  for (int i = 0; i < children; ++i) {
    IPC_ASSIGN_OR_RETURN(ipc::Child child, ipc::Child::Fork([counter, iterations] {
      for (int n = 0; n < iterations; ++n) {
        absl::Status status = AddToCounter(counter, 1);
        if (!status.ok()) {
          std::fprintf(stderr, "child %d: %s\n", ::getpid(), status.ToString().c_str());
          return 1;
        }
      }
      return 0;
    }));
    workers.push_back(std::move(child));
  }
  absl::Status result;
  for (int n = 0; n < iterations && result.ok(); ++n) result = AddToCounter(counter, 2);

  // Reap every child, even after a failure, and report the first problem.
  for (size_t i = 0; i < workers.size(); ++i) {
    pid_t pid = workers[i].pid();
    absl::StatusOr<ipc::ExitStatus> exit = workers[i].Wait(timeout);
    if (!exit.ok()) {
      if (result.ok()) result = exit.status();
    } else if (!exit->Succeeded() && result.ok()) {
      result = absl::InternalError(
          absl::StrCat("counter child ", i, " (pid ", pid, ") ", exit->ToString()));
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Part 3: the cache
// ---------------------------------------------------------------------------------------------
namespace {

CacheEntry* Entries(CacheHeader* header) { return reinterpret_cast<CacheEntry*>(header + 1); }

int64_t NowNs() { return absl::ToInt64Nanoseconds(ipc::MonotonicNow()); }

// FNV-1a: the same in every process and every build, unlike a seeded hash.
uint64_t HashKey(absl::string_view key) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

absl::Status ValidateKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("cache key is empty");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("cache key is ", key.size(),
                                                   " bytes; the limit is ", kMaxKeyBytes));
  }
  if (key.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("cache key contains a NUL byte");
  }
  return absl::OkStatus();
}

bool Expired(const CacheEntry& entry, int64_t now) { return entry.expires_ns <= now; }

bool KeyIs(const CacheEntry& entry, absl::string_view key) {
  return entry.state == kCacheLive && ::strnlen(entry.key, sizeof entry.key) == key.size() &&
         std::memcmp(entry.key, key.data(), key.size()) == 0;
}

// The entry holding `key` (live, expired or not), or nullptr. Linear probing from the key's home
// slot; an empty slot ends the chain, tombstones do not.
CacheEntry* FindEntry(CacheHeader* header, absl::string_view key) {
  uint32_t capacity = header->capacity;
  CacheEntry* entries = Entries(header);
  size_t home = HashKey(key) % capacity;
  for (size_t probe = 0; probe < capacity; ++probe) {
    CacheEntry& entry = entries[(home + probe) % capacity];
    if (entry.state == kCacheEmpty) return nullptr;
    if (KeyIs(entry, key)) return &entry;
  }
  return nullptr;
}

// Requires the read (or write) lock.
absl::StatusOr<std::string> GetLocked(CacheHeader* header, absl::string_view key) {
  IPC_RETURN_IF_ERROR(ValidateKey(key));
  const CacheEntry* entry = FindEntry(header, key);
  if (entry == nullptr || Expired(*entry, NowNs())) {
    return absl::NotFoundError(absl::StrCat("cache key \"", key, "\" is not in the cache",
                                            entry == nullptr ? "" : " (expired)"));
  }
  return std::string(entry->value, entry->value_length);
}

// Requires the write lock.
absl::Status SetLocked(CacheHeader* header, absl::string_view key, absl::string_view value,
                       absl::Duration ttl) {
  IPC_RETURN_IF_ERROR(ValidateKey(key));
  if (value.size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat("cache value is ", value.size(),
                                                   " bytes; the limit is ", kMaxValueBytes));
  }
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("cache ttl must be positive; got ",
                                                   absl::FormatDuration(ttl)));
  }
  int64_t now = NowNs();
  CacheEntry* entry = FindEntry(header, key);
  if (entry == nullptr) {
    // A new key: the first reusable slot on its chain (a tombstone or an expired entry), else the
    // empty slot that ends the chain.
    uint32_t capacity = header->capacity;
    CacheEntry* entries = Entries(header);
    size_t home = HashKey(key) % capacity;
    for (size_t probe = 0; probe < capacity && entry == nullptr; ++probe) {
      CacheEntry& candidate = entries[(home + probe) % capacity];
      if (candidate.state != kCacheLive || Expired(candidate, now)) entry = &candidate;
    }
    if (entry == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cache is full: all ", capacity,
                                                       " entries hold live keys"));
    }
    if (entry->state != kCacheLive) ++header->live;
    std::memset(entry->key, 0, sizeof entry->key);
    std::memcpy(entry->key, key.data(), key.size());
    entry->state = kCacheLive;
  }
  std::memcpy(entry->value, value.data(), value.size());
  entry->value[value.size()] = '\0';
  entry->value_length = static_cast<uint32_t>(value.size());
  entry->expires_ns = ttl == absl::InfiniteDuration() ||
                              absl::ToInt64Nanoseconds(ttl) > std::numeric_limits<int64_t>::max() - now
                          ? std::numeric_limits<int64_t>::max()
                          : now + absl::ToInt64Nanoseconds(ttl);
  return absl::OkStatus();
}

// Requires the write lock.
absl::Status EraseLocked(CacheHeader* header, absl::string_view key) {
  IPC_RETURN_IF_ERROR(ValidateKey(key));
  CacheEntry* entry = FindEntry(header, key);
  if (entry == nullptr || Expired(*entry, NowNs())) {
    return absl::NotFoundError(absl::StrCat("cache key \"", key, "\" is not in the cache"));
  }
  entry->state = kCacheErased;  // a tombstone keeps the probe chains behind it intact
  --header->live;
  return absl::OkStatus();
}

void Unlock(CacheHeader* header) {
  int rc = ::pthread_rwlock_unlock(&header->lock);
  if (rc != 0) std::fprintf(stderr, "pthread_rwlock_unlock(cache): %s\n", std::strerror(rc));
}

}  // namespace

absl::StatusOr<SharedCache> SharedCache::Attach(const Mapping& mapping, size_t capacity) {
  if (capacity == 0 || capacity > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("cache capacity must be 1..2^32-1; got ",
                                                   capacity));
  }
  if (mapping.data() == nullptr || mapping.size() < RegionBytes(capacity)) {
    return absl::InvalidArgumentError(absl::StrCat("a cache of ", capacity, " entries needs ",
                                                   RegionBytes(capacity), " bytes; the mapping has ",
                                                   mapping.size()));
  }
  if (mapping.sharing() != Sharing::kShared) {
    return absl::FailedPreconditionError(
        "a cache in a MAP_PRIVATE mapping is seen by this process alone: map it kShared");
  }
  auto* header = static_cast<CacheHeader*>(mapping.data());

  // One-time initialisation (MF13): only the winner of 0 -> 1 builds the table and the lock, so
  // a later Attach() can never reset a lock that another process holds.
  uint32_t expected = 0;
  if (header->init_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    header->capacity = static_cast<uint32_t>(capacity);
    header->live = 0;
    std::memset(Entries(header), 0, capacity * sizeof(CacheEntry));
    pthread_rwlockattr_t attr;
    int rc = ::pthread_rwlockattr_init(&attr);
    if (rc != 0) {
      header->init_state.store(0, std::memory_order_release);  // let someone else try
      return ipc::ErrnoError("pthread_rwlockattr_init", "cache", rc);
    }
    rc = ::pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    // glibc's default kind lets readers that keep coming starve the writer for good.
    if (rc == 0) {
      rc = ::pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    }
    if (rc == 0) rc = ::pthread_rwlock_init(&header->lock, &attr);
    ::pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
      header->init_state.store(0, std::memory_order_release);
      return ipc::ErrnoError("pthread_rwlock_init (PTHREAD_PROCESS_SHARED)", "cache", rc);
    }
    // Publish; pairs with the acquire load below in every other Attach().
    header->init_state.store(2, std::memory_order_release);
  } else {
    // Someone else initialises (or did): wait for its release store. Initialising takes
    // microseconds, so yielding is enough; the deadline only guards against a crashed initialiser.
    absl::Duration deadline = ipc::MonotonicNow() + absl::Seconds(5);
    while (header->init_state.load(std::memory_order_acquire) != 2) {
      if (ipc::MonotonicNow() > deadline) {
        return absl::DeadlineExceededError("the cache region was never initialised");
      }
      ::sched_yield();
    }
    if (header->capacity != capacity) {
      return absl::FailedPreconditionError(absl::StrCat("the cache region holds ",
                                                        header->capacity, " entries, not ",
                                                        capacity));
    }
  }
  return SharedCache(header);
}

absl::StatusOr<ReadView> SharedCache::BeginRead() {
  int rc = ::pthread_rwlock_rdlock(&header_->lock);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlock_rdlock", "cache", rc);
  return ReadView(header_);
}

absl::StatusOr<ReadView> SharedCache::TryBeginRead() {
  int rc = ::pthread_rwlock_tryrdlock(&header_->lock);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlock_tryrdlock", "cache", rc);
  return ReadView(header_);
}

absl::StatusOr<WriteBatch> SharedCache::BeginWrite() {
  int rc = ::pthread_rwlock_wrlock(&header_->lock);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlock_wrlock", "cache", rc);
  return WriteBatch(header_);
}

absl::StatusOr<WriteBatch> SharedCache::TryBeginWrite() {
  int rc = ::pthread_rwlock_trywrlock(&header_->lock);
  if (rc != 0) return ipc::ErrnoError("pthread_rwlock_trywrlock", "cache", rc);
  return WriteBatch(header_);
}

absl::Status SharedCache::Set(absl::string_view key, absl::string_view value, absl::Duration ttl) {
  IPC_ASSIGN_OR_RETURN(WriteBatch batch, BeginWrite());
  return batch.Set(key, value, ttl);
}

absl::StatusOr<std::string> SharedCache::Get(absl::string_view key) {
  IPC_ASSIGN_OR_RETURN(ReadView view, BeginRead());
  return view.Get(key);
}

absl::Status SharedCache::Erase(absl::string_view key) {
  IPC_ASSIGN_OR_RETURN(WriteBatch batch, BeginWrite());
  return batch.Erase(key);
}

absl::StatusOr<size_t> SharedCache::Size() {
  IPC_ASSIGN_OR_RETURN(ReadView view, BeginRead());
  int64_t now = NowNs();
  size_t live = 0;
  const CacheEntry* entries = Entries(header_);
  for (uint32_t i = 0; i < header_->capacity; ++i) {
    live += entries[i].state == kCacheLive && !Expired(entries[i], now);
  }
  return live;
}

ReadView& ReadView::operator=(ReadView&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) Unlock(header_);
    header_ = std::exchange(other.header_, nullptr);
  }
  return *this;
}

ReadView::~ReadView() {
  if (header_ != nullptr) Unlock(header_);
}

absl::StatusOr<std::string> ReadView::Get(absl::string_view key) const {
  return GetLocked(header_, key);
}

WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)) {}

WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) Unlock(header_);
    header_ = std::exchange(other.header_, nullptr);
  }
  return *this;
}

WriteBatch::~WriteBatch() {
  if (header_ != nullptr) Unlock(header_);  // the commit: readers may look again
}

absl::Status WriteBatch::Set(absl::string_view key, absl::string_view value, absl::Duration ttl) {
  return SetLocked(header_, key, value, ttl);
}

absl::StatusOr<std::string> WriteBatch::Get(absl::string_view key) const {
  return GetLocked(header_, key);
}

absl::Status WriteBatch::Erase(absl::string_view key) { return EraseLocked(header_, key); }

// ---------------------------------------------------------------------------------------------
// Part 4: the message log
// ---------------------------------------------------------------------------------------------
namespace {

// The layout fits the file by construction (MF6): the notes sized and mapped 4,096 bytes for a
// 6,412-byte struct, and memset ran off the end of the mapping.
static_assert(MessageLog::FileBytes() == sizeof(LogFile));
static_assert(alignof(LogFile) <= 4096, "mmap returns page-aligned memory");

// Waits on `sem` for at most `timeout`, blocking in the kernel (no polling, no sleeps: MF7).
absl::Status WaitSemaphore(sem_t* sem, absl::Duration timeout, const char* what) {
  struct timespec deadline = ipc::MonotonicDeadlineIn(timeout);
  while (::sem_clockwait(sem, CLOCK_MONOTONIC, &deadline) == -1) {
    if (errno == EINTR) continue;  // a signal interrupted the wait: the deadline still holds
    if (errno == ETIMEDOUT) {
      return absl::DeadlineExceededError(
          absl::StrCat("message log: waited ", absl::FormatDuration(timeout), " for ", what));
    }
    return ipc::ErrnoError("sem_clockwait", what);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MessageLog> MessageLog::Create(const std::string& path) {
  // Build the whole file under a private name, then publish it with rename(): readers see either
  // no file, the old file, or a complete fresh one (MF8).
  std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) return ipc::ErrnoError("open", temp);
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  };
  if (::ftruncate(fd, FileBytes()) == -1) return fail(ipc::ErrnoError("ftruncate", temp));
  struct stat st;
  if (::fstat(fd, &st) == -1) return fail(ipc::ErrnoError("fstat", temp));
  absl::StatusOr<Mapping> mapping = Mapping::MapFile(fd, {});
  if (!mapping.ok()) return fail(ipc::WithContext(mapping.status(), temp));

  LogFile* file = static_cast<LogFile*>(mapping->data());  // zero-filled by ftruncate
  if (::sem_init(&file->items, /*pshared=*/1, 0) == -1) {
    return fail(ipc::ErrnoError("sem_init", temp + " (items)"));
  }
  if (::sem_init(&file->free_slots, /*pshared=*/1, kLogSlots) == -1) {
    return fail(ipc::ErrnoError("sem_init", temp + " (free_slots)"));
  }
  file->write_index = 0;
  file->read_index = 0;
  // Last: pairs with the acquire load in Open(), so a reader that sees kLogReady sees the
  // initialised semaphores too.
  file->state.store(kLogReady, std::memory_order_release);

  if (::rename(temp.c_str(), path.c_str()) == -1) return fail(ipc::ErrnoError("rename", path));
  ::close(fd);  // the mapping keeps the file open
  return MessageLog(*std::move(mapping), path, /*writer=*/true, st.st_dev, st.st_ino);
}

absl::StatusOr<MessageLog> MessageLog::Open(const std::string& path, absl::Duration timeout) {
  // Poll for the file: a rendezvous done once per run, not per message. A stale file (closed by
  // its writer, or the wrong size) is skipped until a fresh one replaces it (MF8).
  absl::Duration deadline = ipc::MonotonicNow() + timeout;
  for (;; absl::SleepFor(absl::Milliseconds(1))) {
    if (ipc::MonotonicNow() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no fresh message log appeared at ", path,
                                                      " within ", absl::FormatDuration(timeout),
                                                      ": is the writer running?"));
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd == -1) {
      if (errno == ENOENT) continue;  // the writer has not published it yet
      return ipc::ErrnoError("open", path);
    }
    struct stat st;
    if (::fstat(fd, &st) == -1) {
      absl::Status status = ipc::ErrnoError("fstat", path);
      ::close(fd);
      return status;
    }
    if (static_cast<size_t>(st.st_size) != FileBytes()) {
      ::close(fd);
      continue;  // not a log of this layout: stale
    }
    absl::StatusOr<Mapping> mapping = Mapping::MapFile(fd, {});
    ::close(fd);  // the mapping keeps the file open
    if (!mapping.ok()) return ipc::WithContext(mapping.status(), path);
    auto* file = static_cast<LogFile*>(mapping->data());
    // Claim the log: only one reader may take it, and a taken or abandoned file is stale. The
    // acquire pairs with the release store of kLogReady in Create(), so the semaphores that
    // Create() initialised are visible here.
    uint32_t ready = kLogReady;
    if (!file->state.compare_exchange_strong(ready, kLogTaken, std::memory_order_acq_rel)) {
      continue;  // stale: wait for a fresh one to replace it
    }

    MessageLog log(*std::move(mapping), path, /*writer=*/false, st.st_dev, st.st_ino);
    log.UnlinkIfOurs();  // both ends have it mapped: the name has done its job
    return log;
  }
}

void MessageLog::UnlinkIfOurs() {
  // Remove the name only if it still names our file: a newer writer may have replaced it.
  struct stat st;
  if (::stat(path_.c_str(), &st) == -1) return;  // already gone (ENOENT): nothing to do
  if (st.st_dev != dev_ || st.st_ino != ino_) return;
  if (::unlink(path_.c_str()) == -1 && errno != ENOENT) std::perror(("unlink " + path_).c_str());
}

absl::Status MessageLog::Send(absl::string_view message, absl::Duration timeout) {
  if (mapping_.data() == nullptr || !writer_ || closed_) {
    return absl::FailedPreconditionError("Send() needs an open writer's end (from Create())");
  }
  if (message.size() > kMaxMessageBytes) {
    return absl::InvalidArgumentError(absl::StrCat("message is ", message.size(),
                                                   " bytes; a slot holds ", kMaxMessageBytes));
  }
  LogFile* log = file();
  IPC_RETURN_IF_ERROR(WaitSemaphore(&log->free_slots, timeout, "a free slot"));
  LogSlot& slot = log->slots[log->write_index % kLogSlots];
  std::memcpy(slot.bytes, message.data(), message.size());
  slot.length = static_cast<uint32_t>(message.size());
  ++log->write_index;  // ours alone: the reader never reads it
  // Publish the slot; pairs with the sem_clockwait on items in Receive().
  if (::sem_post(&log->items) == -1) return ipc::ErrnoError("sem_post", path_ + " (items)");
  return absl::OkStatus();
}

absl::StatusOr<std::string> MessageLog::Receive(absl::Duration timeout) {
  if (mapping_.data() == nullptr || writer_) {
    return absl::FailedPreconditionError("Receive() needs a reader's end (from Open())");
  }
  LogFile* log = file();
  IPC_RETURN_IF_ERROR(WaitSemaphore(&log->items, timeout, "a message"));
  const LogSlot& slot = log->slots[log->read_index % kLogSlots];
  if (slot.length == kEndOfLog) {
    // Leave the mark in place and put its count back, so every later Receive() ends too.
    if (::sem_post(&log->items) == -1) return ipc::ErrnoError("sem_post", path_ + " (items)");
    return absl::OutOfRangeError("end of the message log: the writer closed it");
  }
  std::string message(slot.bytes, std::min<size_t>(slot.length, kMaxMessageBytes));
  ++log->read_index;  // ours alone: the writer never reads it
  // Hand the slot back; pairs with the sem_clockwait on free_slots in Send().
  if (::sem_post(&log->free_slots) == -1) {
    return ipc::ErrnoError("sem_post", path_ + " (free_slots)");
  }
  return message;
}

absl::Status MessageLog::Sync() const {
  if (mapping_.data() == nullptr) return absl::FailedPreconditionError("Sync() on a moved-from log");
  return mapping_.Sync();
}

absl::Status MessageLog::Close(absl::Duration timeout) {
  if (mapping_.data() == nullptr || !writer_ || closed_) {
    return absl::FailedPreconditionError("Close() needs an open writer's end (from Create())");
  }
  LogFile* log = file();
  IPC_RETURN_IF_ERROR(WaitSemaphore(&log->free_slots, timeout, "a slot for the end mark"));
  log->slots[log->write_index % kLogSlots].length = kEndOfLog;
  ++log->write_index;
  closed_ = true;
  // Publish the end mark; the file stays until its reader takes it, which unlinks the name.
  if (::sem_post(&log->items) == -1) return ipc::ErrnoError("sem_post", path_ + " (items)");
  return absl::OkStatus();
}

}  // namespace mmap_fork
