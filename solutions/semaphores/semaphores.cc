// solutions/semaphores/semaphores.cc: the reference implementation of labs/semaphores/semaphores.h.
//
// What a student's semaphores.cc should end up like: every call checked on the next line, EINTR
// retried where the contract says so, every kernel object owned by exactly one RAII type, and
// every failure path undoing what it had done. Run its tests with
//   bazel test //solutions/semaphores:all //grader/hidden/semaphores:all
// Partner files: labs/semaphores/semaphores.h (the contract), labs/semaphores/README.md.
#include "labs/semaphores/semaphores.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <new>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/fd.h"
#include "common/names.h"
#include "common/status.h"
#include "common/timing.h"

namespace semaphores {
namespace {

// The longest name sem_open accepts after the slash: it makes the file "sem.NAME" in /dev/shm,
// and a file name has at most NAME_MAX characters.
constexpr size_t kMaxSemNameLength = NAME_MAX - 4;

// Checks the shape of a POSIX semaphore name; the length is sem_open's to judge, but we report it
// the same way glibc would (ENAMETOOLONG) instead of letting it be truncated or misparsed.
absl::Status CheckSemName(const std::string& name, absl::string_view call) {
  if (name.size() > 1 && name.size() - 1 > kMaxSemNameLength) {
    return ipc::ErrnoError(call, name, ENAMETOOLONG);
  }
  return ipc::ValidatePosixName(name, "semaphore name");
}

// An anonymous shared mapping big enough for one T, with a T constructed in it. Children forked
// afterwards see the same memory.
template <typename T>
absl::StatusOr<T*> MapShared(absl::string_view what) {
  void* memory =
      ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return ipc::ErrnoError("mmap", what);
  return new (memory) T();
}

template <typename T>
void UnmapShared(T* shared) {
  shared->~T();
  ::munmap(shared, sizeof(T));  // cannot fail for a mapping we made ourselves
}

// Initialises `count` unnamed semaphores; on failure destroys the ones already made.
absl::Status InitAll(std::initializer_list<std::pair<sem_t*, unsigned>> sems,
                     absl::string_view label) {
  std::vector<sem_t*> done;
  for (const auto& [sem, value] : sems) {
    absl::Status status = InitShared(sem, value, label);
    if (!status.ok()) {
      for (sem_t* made : done) ::sem_destroy(made);
      return status;
    }
    done.push_back(sem);
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Part 1: POSIX semaphores
// ---------------------------------------------------------------------------------------------

absl::Status Wait(sem_t* sem, absl::string_view label) {
  while (::sem_wait(sem) == -1) {
    if (errno == EINTR) continue;  // a signal handler ran while we slept: sleep again (SE8)
    return ipc::ErrnoError("sem_wait", label);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> TryWait(sem_t* sem, absl::string_view label) {
  while (::sem_trywait(sem) == -1) {
    if (errno == EAGAIN) return false;  // the value is 0: the answer, not a failure
    if (errno == EINTR) continue;
    return ipc::ErrnoError("sem_trywait", label);
  }
  return true;
}

absl::StatusOr<bool> WaitFor(sem_t* sem, absl::Duration timeout, absl::string_view label) {
  if (timeout <= absl::ZeroDuration()) return TryWait(sem, label);
  // One absolute deadline on the monotonic clock, computed once: a retry after EINTR waits only
  // for what is left, and setting the wall clock cannot move it.
  const struct timespec deadline = ipc::MonotonicDeadlineIn(timeout);
  while (::sem_clockwait(sem, CLOCK_MONOTONIC, &deadline) == -1) {
    if (errno == ETIMEDOUT) return false;
    if (errno == EINTR) continue;  // interrupted: wait again until the same deadline
    return ipc::ErrnoError("sem_clockwait", label);
  }
  return true;
}

absl::StatusOr<bool> WaitUntil(sem_t* sem, absl::Time deadline, absl::string_view label) {
  if (deadline <= absl::Now()) return TryWait(sem, label);
  const struct timespec abs_deadline = absl::ToTimespec(deadline);  // CLOCK_REALTIME
  while (::sem_timedwait(sem, &abs_deadline) == -1) {
    if (errno == ETIMEDOUT) return false;
    if (errno == EINTR) continue;
    return ipc::ErrnoError("sem_timedwait", label);
  }
  return true;
}

absl::Status Post(sem_t* sem, absl::string_view label) {
  if (::sem_post(sem) == -1) return ipc::ErrnoError("sem_post", label);
  return absl::OkStatus();
}

absl::StatusOr<int> GetValue(sem_t* sem, absl::string_view label) {
  int value = 0;
  if (::sem_getvalue(sem, &value) == -1) return ipc::ErrnoError("sem_getvalue", label);
  return value;
}

absl::Status InitShared(sem_t* sem, unsigned value, absl::string_view label) {
  if (::sem_init(sem, /*pshared=*/1, value) == -1) return ipc::ErrnoError("sem_init", label);
  return absl::OkStatus();
}

absl::Status Destroy(sem_t* sem, absl::string_view label) {
  if (::sem_destroy(sem) == -1) return ipc::ErrnoError("sem_destroy", label);
  return absl::OkStatus();
}

absl::StatusOr<NamedSemaphore> NamedSemaphore::Create(const std::string& name, unsigned value,
                                                      mode_t mode) {
  IPC_RETURN_IF_ERROR(CheckSemName(name, "sem_open"));
  if (value > static_cast<unsigned>(SEM_VALUE_MAX))
    return ipc::ErrnoError("sem_open", name, EINVAL);
  // O_EXCL: a leftover semaphore of the same name would keep its old value and ignore `value`.
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, mode, value);
  if (sem == SEM_FAILED) return ipc::ErrnoError("sem_open", name);
  return NamedSemaphore(sem, name);
}

absl::StatusOr<NamedSemaphore> NamedSemaphore::Open(const std::string& name) {
  IPC_RETURN_IF_ERROR(CheckSemName(name, "sem_open"));
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) return ipc::ErrnoError("sem_open", name);
  return NamedSemaphore(sem, name);
}

absl::Status NamedSemaphore::Unlink(const std::string& name) {
  IPC_RETURN_IF_ERROR(CheckSemName(name, "sem_unlink"));
  if (::sem_unlink(name.c_str()) == -1) return ipc::ErrnoError("sem_unlink", name);
  return absl::OkStatus();
}

absl::Status NamedSemaphore::Close() {
  if (sem_ == nullptr) return absl::OkStatus();
  sem_t* sem = std::exchange(sem_, nullptr);
  if (::sem_close(sem) == -1) return ipc::ErrnoError("sem_close", name_);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Part 2: unnamed semaphores in anonymous shared memory
// ---------------------------------------------------------------------------------------------

struct SharedCounter::Shared {
  sem_t lock;         // binary semaphore (starts at 1); guards value
  int64_t value = 0;  // guarded by lock
};

absl::StatusOr<SharedCounter> SharedCounter::Create() {
  IPC_ASSIGN_OR_RETURN(Shared * shared, MapShared<Shared>("SharedCounter"));
  absl::Status status = InitShared(&shared->lock, 1, "SharedCounter lock");
  if (!status.ok()) {
    UnmapShared(shared);
    return status;
  }
  return SharedCounter(shared);
}

SharedCounter::~SharedCounter() {
  if (shared_ == nullptr) return;
  ::sem_destroy(&shared_->lock);  // nobody waits on it any more: its users have exited
  UnmapShared(std::exchange(shared_, nullptr));
}

absl::Status SharedCounter::Add(int64_t delta) {
  IPC_RETURN_IF_ERROR(Wait(&shared_->lock, "SharedCounter lock"));
  shared_->value += delta;  // the critical section: sem_wait/sem_post order it with other processes
  return Post(&shared_->lock, "SharedCounter lock");
}

absl::StatusOr<int64_t> SharedCounter::Value() {
  IPC_RETURN_IF_ERROR(Wait(&shared_->lock, "SharedCounter lock"));
  int64_t value = shared_->value;
  IPC_RETURN_IF_ERROR(Post(&shared_->lock, "SharedCounter lock"));
  return value;
}

struct BoundedBuffer::Shared {
  sem_t mutex;  // binary; guards head, tail and slots
  sem_t empty;  // free slots: starts at capacity; Put waits on it, Take posts it
  sem_t full;   // filled slots: starts at 0; Take waits on it, Put posts it
  // mutex must be held when using these:
  size_t head = 0;  // next slot to take
  size_t tail = 0;  // next slot to fill
  uint64_t slots[kMaxCapacity];
};

absl::StatusOr<BoundedBuffer> BoundedBuffer::Create(size_t capacity) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("BoundedBuffer capacity ", capacity, " is not in 1..", kMaxCapacity));
  }
  IPC_ASSIGN_OR_RETURN(Shared * shared, MapShared<Shared>("BoundedBuffer"));
  absl::Status status = InitAll(
      {{&shared->mutex, 1}, {&shared->empty, static_cast<unsigned>(capacity)}, {&shared->full, 0}},
      "BoundedBuffer");
  if (!status.ok()) {
    UnmapShared(shared);
    return status;
  }
  return BoundedBuffer(shared, capacity);
}

BoundedBuffer::~BoundedBuffer() {
  if (shared_ == nullptr) return;
  ::sem_destroy(&shared_->mutex);
  ::sem_destroy(&shared_->empty);
  ::sem_destroy(&shared_->full);
  UnmapShared(std::exchange(shared_, nullptr));
}

absl::Status BoundedBuffer::Put(uint64_t item) {
  // Claim a free slot first, then the mutex: the other order would hold the mutex while sleeping
  // on "empty", and the consumer that would free a slot could never get in.
  IPC_RETURN_IF_ERROR(Wait(&shared_->empty, "BoundedBuffer empty"));
  IPC_RETURN_IF_ERROR(Wait(&shared_->mutex, "BoundedBuffer mutex"));
  shared_->slots[shared_->tail] = item;
  shared_->tail = (shared_->tail + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(&shared_->mutex, "BoundedBuffer mutex"));
  return Post(&shared_->full, "BoundedBuffer full");  // publish: one more item to take
}

absl::StatusOr<bool> BoundedBuffer::TryPut(uint64_t item) {
  IPC_ASSIGN_OR_RETURN(bool claimed, TryWait(&shared_->empty, "BoundedBuffer empty"));
  if (!claimed) return false;
  IPC_RETURN_IF_ERROR(Wait(&shared_->mutex, "BoundedBuffer mutex"));
  shared_->slots[shared_->tail] = item;
  shared_->tail = (shared_->tail + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(&shared_->mutex, "BoundedBuffer mutex"));
  IPC_RETURN_IF_ERROR(Post(&shared_->full, "BoundedBuffer full"));
  return true;
}

absl::StatusOr<uint64_t> BoundedBuffer::Take() {
  IPC_RETURN_IF_ERROR(Wait(&shared_->full, "BoundedBuffer full"));
  IPC_RETURN_IF_ERROR(Wait(&shared_->mutex, "BoundedBuffer mutex"));
  uint64_t item = shared_->slots[shared_->head];
  shared_->head = (shared_->head + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(&shared_->mutex, "BoundedBuffer mutex"));
  IPC_RETURN_IF_ERROR(Post(&shared_->empty, "BoundedBuffer empty"));  // one more free slot
  return item;
}

absl::StatusOr<std::optional<uint64_t>> BoundedBuffer::TakeFor(absl::Duration timeout) {
  IPC_ASSIGN_OR_RETURN(bool got, WaitFor(&shared_->full, timeout, "BoundedBuffer full"));
  if (!got) return std::nullopt;
  IPC_RETURN_IF_ERROR(Wait(&shared_->mutex, "BoundedBuffer mutex"));
  uint64_t item = shared_->slots[shared_->head];
  shared_->head = (shared_->head + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(&shared_->mutex, "BoundedBuffer mutex"));
  IPC_RETURN_IF_ERROR(Post(&shared_->empty, "BoundedBuffer empty"));
  return item;
}

struct Barrier::Shared {
  sem_t mutex;       // binary; guards count
  sem_t turnstile1;  // phase 1 gate: the last to arrive posts it `parties` times
  sem_t turnstile2;  // phase 2 gate: the last to leave phase 1 posts it `parties` times
  unsigned parties = 0;
  unsigned count = 0;  // guarded by mutex
};

absl::StatusOr<Barrier> Barrier::Create(unsigned parties) {
  if (parties == 0) return absl::InvalidArgumentError("Barrier needs at least one party");
  IPC_ASSIGN_OR_RETURN(Shared * shared, MapShared<Shared>("Barrier"));
  shared->parties = parties;
  absl::Status status =
      InitAll({{&shared->mutex, 1}, {&shared->turnstile1, 0}, {&shared->turnstile2, 0}}, "Barrier");
  if (!status.ok()) {
    UnmapShared(shared);
    return status;
  }
  return Barrier(shared);
}

Barrier::~Barrier() {
  if (shared_ == nullptr) return;
  ::sem_destroy(&shared_->mutex);
  ::sem_destroy(&shared_->turnstile1);
  ::sem_destroy(&shared_->turnstile2);
  UnmapShared(std::exchange(shared_, nullptr));
}

absl::Status Barrier::ArriveAndWait() {
  Shared& b = *shared_;
  // Phase 1: count in; the last to arrive opens turnstile1 once for every party.
  IPC_RETURN_IF_ERROR(Wait(&b.mutex, "Barrier mutex"));
  if (++b.count == b.parties) {
    for (unsigned i = 0; i < b.parties; ++i)
      IPC_RETURN_IF_ERROR(Post(&b.turnstile1, "Barrier turnstile1"));
  }
  IPC_RETURN_IF_ERROR(Post(&b.mutex, "Barrier mutex"));
  IPC_RETURN_IF_ERROR(Wait(&b.turnstile1, "Barrier turnstile1"));
  // Phase 2: count out; the last opens turnstile2. Without this second gate a fast process could
  // run into the next round and pass turnstile1 on a post meant for a slow one of this round.
  IPC_RETURN_IF_ERROR(Wait(&b.mutex, "Barrier mutex"));
  if (--b.count == 0) {
    for (unsigned i = 0; i < b.parties; ++i)
      IPC_RETURN_IF_ERROR(Post(&b.turnstile2, "Barrier turnstile2"));
  }
  IPC_RETURN_IF_ERROR(Post(&b.mutex, "Barrier mutex"));
  return Wait(&b.turnstile2, "Barrier turnstile2");
}

// ---------------------------------------------------------------------------------------------
// Part 3: NamedChannel
// ---------------------------------------------------------------------------------------------

struct NamedChannel::Shared {
  static constexpr uint64_t kMagic = 0x53454d4348414e31;  // "SEMCHAN1"
  uint64_t magic = 0;     // written last by Create: Open refuses an object without it
  uint64_t capacity = 0;  // fixed at creation
  // The "mutex" semaphore must be held when using these:
  uint64_t head = 0;  // next slot to take
  uint64_t tail = 0;  // next slot to fill
  uint64_t slots[kMaxCapacity];
};

namespace {

// sem_open(O_CREAT | O_EXCL) that replaces a leftover instead of trusting it (SE5).
absl::StatusOr<sem_t*> CreateFreshSemaphore(const std::string& name, unsigned value) {
  for (int attempt = 0;; ++attempt) {
    sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
    if (sem != SEM_FAILED) return sem;
    if (errno != EEXIST || attempt == 1) return ipc::ErrnoError("sem_open", name);
    // A crashed run left it, with whatever value it had then: remove it and create it anew.
    if (::sem_unlink(name.c_str()) == -1 && errno != ENOENT) {
      return ipc::ErrnoError("sem_unlink", name);
    }
  }
}

absl::StatusOr<int> CreateFreshShm(const std::string& name) {
  for (int attempt = 0;; ++attempt) {
    int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd != -1) return fd;
    if (errno != EEXIST || attempt == 1) return ipc::ErrnoError("shm_open", name);
    if (::shm_unlink(name.c_str()) == -1 && errno != ENOENT)
      return ipc::ErrnoError("shm_unlink", name);
  }
}

absl::StatusOr<sem_t*> OpenSemaphore(const std::string& name) {
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) return ipc::ErrnoError("sem_open", name);
  return sem;
}

}  // namespace

void NamedChannel::Reset() {
  for (sem_t** sem : {&mutex_, &empty_, &full_}) {
    if (*sem != nullptr) ::sem_close(std::exchange(*sem, nullptr));
  }
  if (shared_ != nullptr) ::munmap(std::exchange(shared_, nullptr), map_size_);
  map_size_ = 0;
}

absl::StatusOr<NamedChannel> NamedChannel::Create(const std::string& prefix, size_t capacity) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(prefix, "NamedChannel prefix"));
  if (capacity == 0 || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("NamedChannel capacity ", capacity, " is not in 1..", kMaxCapacity));
  }
  static_assert(sizeof(Shared) == 4 * 8 + kMaxCapacity * 8,
                "the buffer layout is shared by separately built programs: no padding");
  const ChannelNames names = ChannelNamesFor(prefix);
  NamedChannel channel;
  channel.prefix_ = prefix;
  channel.capacity_ = capacity;
  // On any failure: close what we hold (channel's destructor) and unlink every name we created,
  // so a failed Create leaves nothing behind (SE9).
  std::vector<std::string> created;
  auto fail = [&created](absl::Status status) {
    for (const std::string& name : created) {
      if (name == created.front()) {
        ::shm_unlink(name.c_str());  // the buffer is always created first
      } else {
        ::sem_unlink(name.c_str());
      }
    }
    return status;
  };

  // The buffer first, header complete before any semaphore exists: a process that can open all
  // four names sees a ready channel.
  absl::StatusOr<int> created_fd = CreateFreshShm(names.buffer);
  if (!created_fd.ok()) return fail(created_fd.status());
  created.push_back(names.buffer);
  ipc::UniqueFd fd(*created_fd);
  channel.map_size_ = sizeof(Shared);
  if (::ftruncate(fd.get(), static_cast<off_t>(channel.map_size_)) == -1) {
    return fail(ipc::ErrnoError("ftruncate", names.buffer));
  }
  void* memory =
      ::mmap(nullptr, channel.map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) return fail(ipc::ErrnoError("mmap", names.buffer));
  channel.shared_ = new (memory) Shared();
  // The mapping keeps the object alive; the descriptor is no longer needed.
  if (absl::Status closed = fd.Close(names.buffer); !closed.ok()) return fail(closed);
  channel.shared_->capacity = capacity;
  channel.shared_->magic = Shared::kMagic;

  const std::pair<const std::string*, unsigned> sems[] = {
      {&names.mutex, 1}, {&names.empty, static_cast<unsigned>(capacity)}, {&names.full, 0}};
  sem_t** handles[] = {&channel.mutex_, &channel.empty_, &channel.full_};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<sem_t*> sem = CreateFreshSemaphore(*sems[i].first, sems[i].second);
    if (!sem.ok()) return fail(sem.status());
    created.push_back(*sems[i].first);
    *handles[i] = *sem;
  }
  return channel;
}

absl::StatusOr<NamedChannel> NamedChannel::Open(const std::string& prefix) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(prefix, "NamedChannel prefix"));
  const ChannelNames names = ChannelNamesFor(prefix);
  NamedChannel channel;
  channel.prefix_ = prefix;

  ipc::UniqueFd fd(::shm_open(names.buffer.c_str(), O_RDWR, 0));
  if (fd.get() == -1) return ipc::ErrnoError("shm_open", names.buffer);
  struct stat st;
  if (::fstat(fd.get(), &st) == -1) return ipc::ErrnoError("fstat", names.buffer);
  if (static_cast<size_t>(st.st_size) != sizeof(Shared)) {
    return absl::DataLossError(absl::StrCat(names.buffer, " is ", st.st_size,
                                            " bytes; a NamedChannel buffer is ", sizeof(Shared)));
  }
  void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) return ipc::ErrnoError("mmap", names.buffer);
  channel.shared_ = static_cast<Shared*>(memory);
  channel.map_size_ = sizeof(Shared);
  IPC_RETURN_IF_ERROR(fd.Close(names.buffer));
  if (channel.shared_->magic != Shared::kMagic || channel.shared_->capacity == 0 ||
      channel.shared_->capacity > kMaxCapacity) {
    return absl::DataLossError(absl::StrCat(names.buffer, " does not hold a NamedChannel header"));
  }
  channel.capacity_ = channel.shared_->capacity;
  IPC_ASSIGN_OR_RETURN(channel.mutex_, OpenSemaphore(names.mutex));
  IPC_ASSIGN_OR_RETURN(channel.empty_, OpenSemaphore(names.empty));
  IPC_ASSIGN_OR_RETURN(channel.full_, OpenSemaphore(names.full));
  return channel;
}

absl::Status NamedChannel::Unlink(const std::string& prefix) {
  IPC_RETURN_IF_ERROR(ipc::ValidatePosixName(prefix, "NamedChannel prefix"));
  const ChannelNames names = ChannelNamesFor(prefix);
  absl::Status first;
  for (const std::string* name : {&names.mutex, &names.empty, &names.full}) {
    if (::sem_unlink(name->c_str()) == -1 && errno != ENOENT && first.ok()) {
      first = ipc::ErrnoError("sem_unlink", *name);
    }
  }
  if (::shm_unlink(names.buffer.c_str()) == -1 && errno != ENOENT && first.ok()) {
    first = ipc::ErrnoError("shm_unlink", names.buffer);
  }
  return first;
}

absl::Status NamedChannel::Put(uint64_t item) {
  IPC_RETURN_IF_ERROR(Wait(empty_, prefix_ + ".empty"));
  IPC_RETURN_IF_ERROR(Wait(mutex_, prefix_ + ".mutex"));
  shared_->slots[shared_->tail] = item;
  shared_->tail = (shared_->tail + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(mutex_, prefix_ + ".mutex"));
  return Post(full_, prefix_ + ".full");
}

absl::StatusOr<uint64_t> NamedChannel::Take() {
  IPC_RETURN_IF_ERROR(Wait(full_, prefix_ + ".full"));
  IPC_RETURN_IF_ERROR(Wait(mutex_, prefix_ + ".mutex"));
  uint64_t item = shared_->slots[shared_->head];
  shared_->head = (shared_->head + 1) % capacity_;
  IPC_RETURN_IF_ERROR(Post(mutex_, prefix_ + ".mutex"));
  IPC_RETURN_IF_ERROR(Post(empty_, prefix_ + ".empty"));
  return item;
}

// ---------------------------------------------------------------------------------------------
// Part 4: System V semaphore sets
// ---------------------------------------------------------------------------------------------

namespace {

// semctl's fourth argument. The caller must define it (POSIX says so; glibc does not), and it
// must be passed by value as a union: passing a bare int or pointer works on x86-64 only by luck.
union semun {
  int val;                // SETVAL
  struct semid_ds* buf;   // IPC_STAT, IPC_SET
  unsigned short* array;  // GETALL, SETALL
};

std::string SetName(int id) { return absl::StrCat("semaphore set ", id); }

std::string KeyName(key_t key) {
  if (key == IPC_PRIVATE) return "IPC_PRIVATE";
  return absl::StrFormat("key 0x%08x", static_cast<unsigned>(key));
}

// Sets every value, then performs one semop that changes nothing (take one and give it back, or
// give one and take it back), which stamps sem_otime: the "initialised" flag of CreateOrOpen.
absl::Status Initialise(int id, const std::vector<unsigned short>& initial) {
  std::vector<unsigned short> values = initial;  // SETALL wants a non-const array
  semun arg;
  arg.array = values.data();
  if (::semctl(id, 0, SETALL, arg) == -1) return ipc::ErrnoError("semctl(SETALL)", SetName(id));
  short first = initial[0] > 0 ? -1 : 1;
  struct sembuf mark[2] = {{0, first, IPC_NOWAIT}, {0, static_cast<short>(-first), IPC_NOWAIT}};
  if (::semop(id, mark, 2) == -1) return ipc::ErrnoError("semop(mark initialised)", SetName(id));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SemSet> SemSet::Create(key_t key, const std::vector<unsigned short>& initial,
                                      mode_t mode) {
  if (initial.empty())
    return absl::InvalidArgumentError("a semaphore set needs at least one semaphore");
  int n = static_cast<int>(initial.size());
  int id = ::semget(key, n, IPC_CREAT | IPC_EXCL | static_cast<int>(mode & 0777));
  if (id == -1) return ipc::ErrnoError("semget", KeyName(key));
  SemSet set(id, n, /*owned=*/true, /*created=*/true);  // removes the set if Initialise fails
  IPC_RETURN_IF_ERROR(Initialise(id, initial));
  return set;
}

absl::StatusOr<SemSet> SemSet::CreateOrOpen(key_t key, const std::vector<unsigned short>& initial,
                                            mode_t mode, absl::Duration init_timeout) {
  if (initial.empty())
    return absl::InvalidArgumentError("a semaphore set needs at least one semaphore");
  int n = static_cast<int>(initial.size());
  const absl::Time deadline = absl::Now() + init_timeout;
  for (;;) {
    int id = ::semget(key, n, IPC_CREAT | IPC_EXCL | static_cast<int>(mode & 0777));
    if (id != -1) {
      // We won the race: initialise, and only then let the others in (sem_otime != 0).
      SemSet set(id, n, /*owned=*/true, /*created=*/true);
      IPC_RETURN_IF_ERROR(Initialise(id, initial));
      set.owned_ = false;  // shared from now on: whoever is last calls Remove()
      return set;
    }
    if (errno != EEXIST) return ipc::ErrnoError("semget", KeyName(key));
    id = ::semget(key, 0, 0);
    if (id == -1 && errno == ENOENT) continue;  // removed between our two semgets: race again
    if (id == -1) return ipc::ErrnoError("semget", KeyName(key));
    // Someone else created it; wait until its creator has initialised it.
    for (;;) {
      struct semid_ds ds;
      semun arg;
      arg.buf = &ds;
      if (::semctl(id, 0, IPC_STAT, arg) == -1) {
        if (errno == EINVAL || errno == EIDRM) break;  // removed meanwhile: race again
        return ipc::ErrnoError("semctl(IPC_STAT)", SetName(id));
      }
      if (static_cast<int>(ds.sem_nsems) != n) {
        return ipc::ErrnoError(
            "semget", absl::StrCat(KeyName(key), " has ", ds.sem_nsems, " semaphores, not ", n),
            EINVAL);
      }
      if (ds.sem_otime != 0) return SemSet(id, n, /*owned=*/false, /*created=*/false);
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            SetName(id), " (", KeyName(key), ") is still uninitialised (sem_otime == 0) after ",
            absl::FormatDuration(init_timeout), ": did its creator die before initialising it?"));
      }
      ::usleep(1000);  // the creator is between semget and its marking semop: a moment at most
    }
  }
}

absl::StatusOr<SemSet> SemSet::Open(key_t key) {
  int id = ::semget(key, 0, 0);
  if (id == -1) return ipc::ErrnoError("semget", KeyName(key));
  struct semid_ds ds;
  semun arg;
  arg.buf = &ds;
  if (::semctl(id, 0, IPC_STAT, arg) == -1) return ipc::ErrnoError("semctl(IPC_STAT)", SetName(id));
  return SemSet(id, static_cast<int>(ds.sem_nsems), /*owned=*/false, /*created=*/false);
}

SemSet::SemSet(SemSet&& other) noexcept
    : id_(std::exchange(other.id_, -1)),
      size_(other.size_),
      owned_(std::exchange(other.owned_, false)),
      created_(other.created_) {}

SemSet& SemSet::operator=(SemSet&& other) noexcept {
  if (this != &other) {
    if (owned_) ::semctl(id_, 0, IPC_RMID);
    id_ = std::exchange(other.id_, -1);
    size_ = other.size_;
    owned_ = std::exchange(other.owned_, false);
    created_ = other.created_;
  }
  return *this;
}

SemSet::~SemSet() {
  if (owned_) ::semctl(id_, 0, IPC_RMID);  // nothing to report to from a destructor
}

absl::Status SemSet::Remove() {
  if (::semctl(id_, 0, IPC_RMID) == -1) return ipc::ErrnoError("semctl(IPC_RMID)", SetName(id_));
  owned_ = false;
  return absl::OkStatus();
}

namespace {
absl::Status CheckIndex(int index, int size) {
  if (index < 0 || index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("semaphore index ", index, " is outside the set (0..", size - 1, ")"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status SemSet::SetValue(int index, int value) {
  IPC_RETURN_IF_ERROR(CheckIndex(index, size_));
  semun arg;
  arg.val = value;
  if (::semctl(id_, index, SETVAL, arg) == -1)
    return ipc::ErrnoError("semctl(SETVAL)", SetName(id_));
  return absl::OkStatus();
}

absl::Status SemSet::SetAll(const std::vector<unsigned short>& values) {
  if (static_cast<int>(values.size()) != size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("SetAll got ", values.size(), " values for a set of ", size_));
  }
  std::vector<unsigned short> copy = values;
  semun arg;
  arg.array = copy.data();
  if (::semctl(id_, 0, SETALL, arg) == -1) return ipc::ErrnoError("semctl(SETALL)", SetName(id_));
  return absl::OkStatus();
}

absl::StatusOr<int> SemSet::GetValue(int index) {
  IPC_RETURN_IF_ERROR(CheckIndex(index, size_));
  int value = ::semctl(id_, index, GETVAL);
  if (value == -1) return ipc::ErrnoError("semctl(GETVAL)", SetName(id_));
  return value;
}

absl::StatusOr<std::vector<unsigned short>> SemSet::GetAll() {
  std::vector<unsigned short> values(static_cast<size_t>(size_));
  semun arg;
  arg.array = values.data();
  if (::semctl(id_, 0, GETALL, arg) == -1) return ipc::ErrnoError("semctl(GETALL)", SetName(id_));
  return values;
}

absl::StatusOr<int> SemSet::WaitingCount(int index) {
  IPC_RETURN_IF_ERROR(CheckIndex(index, size_));
  int count = ::semctl(id_, index, GETNCNT);
  if (count == -1) return ipc::ErrnoError("semctl(GETNCNT)", SetName(id_));
  return count;
}

absl::StatusOr<struct semid_ds> SemSet::Stat() {
  struct semid_ds ds;
  semun arg;
  arg.buf = &ds;
  if (::semctl(id_, 0, IPC_STAT, arg) == -1)
    return ipc::ErrnoError("semctl(IPC_STAT)", SetName(id_));
  return ds;
}

absl::Status SemSet::Op(const std::vector<struct sembuf>& ops) {
  std::vector<struct sembuf> copy = ops;  // semop's array is not const
  while (::semop(id_, copy.data(), copy.size()) == -1) {
    if (errno == EINTR) continue;  // semop is never restarted after a handler (signal(7)): retry
    return ipc::ErrnoError("semop", SetName(id_));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SemSet::TryOp(const std::vector<struct sembuf>& ops) {
  std::vector<struct sembuf> copy = ops;
  for (struct sembuf& op : copy) op.sem_flg |= IPC_NOWAIT;
  while (::semop(id_, copy.data(), copy.size()) == -1) {
    if (errno == EAGAIN) return false;  // it would have to wait: the answer, not a failure
    if (errno == EINTR) continue;
    return ipc::ErrnoError("semop", SetName(id_));
  }
  return true;
}

absl::StatusOr<bool> SemSet::OpFor(const std::vector<struct sembuf>& ops, absl::Duration timeout) {
  std::vector<struct sembuf> copy = ops;
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  for (;;) {
    // semtimedop takes a relative timeout: recompute what is left after every interruption.
    const struct timespec left =
        absl::ToTimespec(std::max(deadline - ipc::MonotonicNow(), absl::ZeroDuration()));
    if (::semtimedop(id_, copy.data(), copy.size(), &left) == 0) return true;
    if (errno == EAGAIN) return false;  // timed out (or IPC_NOWAIT and it would block)
    if (errno == EINTR) continue;
    return ipc::ErrnoError("semtimedop", SetName(id_));
  }
}

namespace {
absl::Status CheckSeat(const SemSet& forks, int seat) {
  if (forks.size() < 2) return absl::InvalidArgumentError("the table needs at least 2 forks");
  if (seat < 0 || seat >= forks.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("seat ", seat, " is not at the table (0..", forks.size() - 1, ")"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status TakeForks(SemSet& forks, int seat) {
  IPC_RETURN_IF_ERROR(CheckSeat(forks, seat));
  const unsigned short left = static_cast<unsigned short>(seat);
  const unsigned short right = static_cast<unsigned short>((seat + 1) % forks.size());
  // Both forks in one semop: the kernel applies the two decrements together or not at all, so a
  // philosopher never sits holding one fork (the circular wait of the naive version cannot form).
  return forks.Op({{left, -1, SEM_UNDO}, {right, -1, SEM_UNDO}});
}

absl::Status PutForks(SemSet& forks, int seat) {
  IPC_RETURN_IF_ERROR(CheckSeat(forks, seat));
  const unsigned short left = static_cast<unsigned short>(seat);
  const unsigned short right = static_cast<unsigned short>((seat + 1) % forks.size());
  return forks.Op({{left, 1, SEM_UNDO}, {right, 1, SEM_UNDO}});
}

}  // namespace semaphores
