// labs/semaphores/semaphores.cc: YOUR implementation of semaphores.h.
//
// Every function below that returns a status starts as absl::UnimplementedError("TODO(student):
// ..."), so each test fails at once with a message saying what to write. Work through README.md
// task by task; each task names the tests that check it. Run:
//   bazel test //labs/semaphores:semaphores_test
//   ./labctl grade semaphores        (public and hidden tests, with the score table)
//
// House rules (the hidden tests check them): every system call is checked on the next line and a
// failure becomes ipc::ErrnoError("call", object); EINTR is retried where the contract says so;
// every object you create is released on every path, failures included.
// Partner files: semaphores.h (the contract: read each function's comment before writing it),
// semaphores_test.cc (the public tests).
#include "labs/semaphores/semaphores.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/names.h"
#include "common/status.h"
#include "common/timing.h"

namespace semaphores {

// ---------------------------------------------------------------------------------------------
// Task 1 and 2: POSIX semaphores
// ---------------------------------------------------------------------------------------------

absl::Status Wait(sem_t* /*sem*/, absl::string_view /*label*/) {
  // TODO(student): sem_wait; on EINTR call it again (a signal handler ran); other errors become
  // ipc::ErrnoError("sem_wait", label).
  return absl::UnimplementedError("TODO(student): Wait(): sem_wait, retried on EINTR");
}

absl::StatusOr<bool> TryWait(sem_t* /*sem*/, absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): TryWait(): sem_trywait, EAGAIN -> false");
}

absl::StatusOr<bool> WaitFor(sem_t* /*sem*/, absl::Duration /*timeout*/,
                             absl::string_view /*label*/) {
  // TODO(student): one deadline, ipc::MonotonicDeadlineIn(timeout), then sem_clockwait on
  // CLOCK_MONOTONIC; ETIMEDOUT -> false; EINTR -> wait again for the SAME deadline.
  return absl::UnimplementedError("TODO(student): WaitFor(): sem_clockwait on CLOCK_MONOTONIC");
}

absl::StatusOr<bool> WaitUntil(sem_t* /*sem*/, absl::Time /*deadline*/,
                               absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): WaitUntil(): sem_timedwait (CLOCK_REALTIME)");
}

absl::Status Post(sem_t* /*sem*/, absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): Post(): sem_post");
}

absl::StatusOr<int> GetValue(sem_t* /*sem*/, absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): GetValue(): sem_getvalue");
}

absl::Status InitShared(sem_t* /*sem*/, unsigned /*value*/, absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): InitShared(): sem_init with pshared = 1");
}

absl::Status Destroy(sem_t* /*sem*/, absl::string_view /*label*/) {
  return absl::UnimplementedError("TODO(student): Destroy(): sem_destroy");
}

absl::StatusOr<NamedSemaphore> NamedSemaphore::Create(const std::string& /*name*/,
                                                      unsigned /*value*/, mode_t /*mode*/) {
  // TODO(student): check the name (ipc::ValidatePosixName helps; the length limit for a
  // semaphore is 251, report ENAMETOOLONG), reject value > SEM_VALUE_MAX with EINVAL, then
  // sem_open(name, O_CREAT | O_EXCL, mode, value); the failure value is SEM_FAILED.
  return absl::UnimplementedError("TODO(student): NamedSemaphore::Create(): sem_open with O_EXCL");
}

absl::StatusOr<NamedSemaphore> NamedSemaphore::Open(const std::string& /*name*/) {
  return absl::UnimplementedError("TODO(student): NamedSemaphore::Open(): sem_open(name, 0)");
}

absl::Status NamedSemaphore::Unlink(const std::string& /*name*/) {
  return absl::UnimplementedError("TODO(student): NamedSemaphore::Unlink(): sem_unlink");
}

absl::Status NamedSemaphore::Close() {
  if (sem_ == nullptr) return absl::OkStatus();
  return absl::UnimplementedError("TODO(student): NamedSemaphore::Close(): sem_close");
}

// ---------------------------------------------------------------------------------------------
// Task 3: unnamed semaphores in an anonymous shared mapping
// ---------------------------------------------------------------------------------------------
//
// Each class maps one `Shared` struct with mmap(MAP_SHARED | MAP_ANONYMOUS) in Create() and
// initialises its semaphores there (InitShared). The layouts below are a suggestion.

struct SharedCounter::Shared {
  sem_t lock;         // binary semaphore (starts at 1); guards value
  int64_t value = 0;  // guarded by lock
};

absl::StatusOr<SharedCounter> SharedCounter::Create() {
  return absl::UnimplementedError(
      "TODO(student): SharedCounter::Create(): mmap a Shared, InitShared(lock, 1)");
}

SharedCounter::~SharedCounter() {
  if (shared_ == nullptr) return;
  // TODO(student): sem_destroy the semaphore, then munmap the mapping.
}

absl::Status SharedCounter::Add(int64_t /*delta*/) {
  return absl::UnimplementedError(
      "TODO(student): SharedCounter::Add(): wait; value += delta; post");
}

absl::StatusOr<int64_t> SharedCounter::Value() {
  return absl::UnimplementedError("TODO(student): SharedCounter::Value()");
}

struct BoundedBuffer::Shared {
  sem_t mutex;  // binary; guards head, tail and slots
  sem_t empty;  // free slots: starts at capacity
  sem_t full;   // filled slots: starts at 0
  // mutex must be held when using these:
  size_t head = 0;  // next slot to take
  size_t tail = 0;  // next slot to fill
  uint64_t slots[kMaxCapacity];
};

absl::StatusOr<BoundedBuffer> BoundedBuffer::Create(size_t /*capacity*/) {
  return absl::UnimplementedError(
      "TODO(student): BoundedBuffer::Create(): check capacity, mmap, three InitShared");
}

BoundedBuffer::~BoundedBuffer() {
  if (shared_ == nullptr) return;
  // TODO(student): destroy the three semaphores, then munmap.
}

absl::Status BoundedBuffer::Put(uint64_t /*item*/) {
  return absl::UnimplementedError("TODO(student): BoundedBuffer::Put(): wait empty, mutex; ...");
}

absl::StatusOr<bool> BoundedBuffer::TryPut(uint64_t /*item*/) {
  return absl::UnimplementedError("TODO(student): BoundedBuffer::TryPut(): TryWait on empty");
}

absl::StatusOr<uint64_t> BoundedBuffer::Take() {
  return absl::UnimplementedError("TODO(student): BoundedBuffer::Take(): wait full, mutex; ...");
}

absl::StatusOr<std::optional<uint64_t>> BoundedBuffer::TakeFor(absl::Duration /*timeout*/) {
  return absl::UnimplementedError("TODO(student): BoundedBuffer::TakeFor(): WaitFor on full");
}

struct Barrier::Shared {
  // TODO(student): your barrier's semaphores and counters.
  unsigned parties = 0;
};

absl::StatusOr<Barrier> Barrier::Create(unsigned /*parties*/) {
  return absl::UnimplementedError("TODO(student): Barrier::Create()");
}

Barrier::~Barrier() {
  if (shared_ == nullptr) return;
  // TODO(student): destroy the semaphores, then munmap.
}

absl::Status Barrier::ArriveAndWait() {
  return absl::UnimplementedError(
      "TODO(student): Barrier::ArriveAndWait() (README: two turnstiles)");
}

// ---------------------------------------------------------------------------------------------
// Task 4: NamedChannel
// ---------------------------------------------------------------------------------------------

struct NamedChannel::Shared {
  // TODO(student): the buffer object's layout (a header Open() can check, the indexes, the slots).
  uint64_t capacity = 0;
};

void NamedChannel::Reset() {
  // TODO(student): sem_close each handle that is not nullptr, munmap the buffer; leave all null.
}

absl::StatusOr<NamedChannel> NamedChannel::Create(const std::string& /*prefix*/,
                                                  size_t /*capacity*/) {
  return absl::UnimplementedError(
      "TODO(student): NamedChannel::Create(): shm + 3 semaphores, fresh (O_EXCL; unlink a "
      "leftover and retry), nothing left behind on failure");
}

absl::StatusOr<NamedChannel> NamedChannel::Open(const std::string& /*prefix*/) {
  return absl::UnimplementedError("TODO(student): NamedChannel::Open()");
}

absl::Status NamedChannel::Unlink(const std::string& /*prefix*/) {
  return absl::UnimplementedError(
      "TODO(student): NamedChannel::Unlink(): sem_unlink x3, shm_unlink");
}

absl::Status NamedChannel::Put(uint64_t /*item*/) {
  return absl::UnimplementedError("TODO(student): NamedChannel::Put()");
}

absl::StatusOr<uint64_t> NamedChannel::Take() {
  return absl::UnimplementedError("TODO(student): NamedChannel::Take()");
}

// ---------------------------------------------------------------------------------------------
// Task 5 and 6: System V semaphore sets
// ---------------------------------------------------------------------------------------------

// TODO(student): define union semun here (README "union semun"): glibc does not.

absl::StatusOr<SemSet> SemSet::Create(key_t /*key*/, const std::vector<unsigned short>& /*initial*/,
                                      mode_t /*mode*/) {
  return absl::UnimplementedError(
      "TODO(student): SemSet::Create(): semget(IPC_CREAT | IPC_EXCL), SETALL, marking semop");
}

absl::StatusOr<SemSet> SemSet::CreateOrOpen(key_t /*key*/,
                                            const std::vector<unsigned short>& /*initial*/,
                                            mode_t /*mode*/, absl::Duration /*init_timeout*/) {
  return absl::UnimplementedError(
      "TODO(student): SemSet::CreateOrOpen(): IPC_EXCL winner initialises, others wait for "
      "sem_otime != 0");
}

absl::StatusOr<SemSet> SemSet::Open(key_t /*key*/) {
  return absl::UnimplementedError("TODO(student): SemSet::Open(): semget(key, 0, 0) + IPC_STAT");
}

SemSet::SemSet(SemSet&& other) noexcept
    : id_(std::exchange(other.id_, -1)),
      size_(other.size_),
      owned_(std::exchange(other.owned_, false)),
      created_(other.created_) {}

SemSet& SemSet::operator=(SemSet&& other) noexcept {
  if (this != &other) {
    this->~SemSet();
    id_ = std::exchange(other.id_, -1);
    size_ = other.size_;
    owned_ = std::exchange(other.owned_, false);
    created_ = other.created_;
  }
  return *this;
}

SemSet::~SemSet() {
  // TODO(student): IPC_RMID if this object owns the set.
}

absl::Status SemSet::Remove() {
  return absl::UnimplementedError("TODO(student): SemSet::Remove(): semctl IPC_RMID");
}

absl::Status SemSet::SetValue(int /*index*/, int /*value*/) {
  return absl::UnimplementedError("TODO(student): SemSet::SetValue(): semctl SETVAL");
}

absl::Status SemSet::SetAll(const std::vector<unsigned short>& /*values*/) {
  return absl::UnimplementedError("TODO(student): SemSet::SetAll(): semctl SETALL");
}

absl::StatusOr<int> SemSet::GetValue(int /*index*/) {
  return absl::UnimplementedError("TODO(student): SemSet::GetValue(): semctl GETVAL");
}

absl::StatusOr<std::vector<unsigned short>> SemSet::GetAll() {
  return absl::UnimplementedError("TODO(student): SemSet::GetAll(): semctl GETALL");
}

absl::StatusOr<int> SemSet::WaitingCount(int /*index*/) {
  return absl::UnimplementedError("TODO(student): SemSet::WaitingCount(): semctl GETNCNT");
}

absl::StatusOr<struct semid_ds> SemSet::Stat() {
  return absl::UnimplementedError("TODO(student): SemSet::Stat(): semctl IPC_STAT");
}

absl::Status SemSet::Op(const std::vector<struct sembuf>& /*ops*/) {
  return absl::UnimplementedError("TODO(student): SemSet::Op(): semop, retried on EINTR");
}

absl::StatusOr<bool> SemSet::TryOp(const std::vector<struct sembuf>& /*ops*/) {
  return absl::UnimplementedError("TODO(student): SemSet::TryOp(): semop with IPC_NOWAIT");
}

absl::StatusOr<bool> SemSet::OpFor(const std::vector<struct sembuf>& /*ops*/,
                                   absl::Duration /*timeout*/) {
  return absl::UnimplementedError("TODO(student): SemSet::OpFor(): semtimedop");
}

absl::Status TakeForks(SemSet& /*forks*/, int /*seat*/) {
  return absl::UnimplementedError("TODO(student): TakeForks(): both forks in ONE semop, SEM_UNDO");
}

absl::Status PutForks(SemSet& /*forks*/, int /*seat*/) {
  return absl::UnimplementedError("TODO(student): PutForks()");
}

}  // namespace semaphores
