// labs/semaphores/semaphores.h: the contract of the semaphores lab.
//
// Semaphores are counters the kernel (or a futex) lets processes sleep on. This header is the
// whole API you implement in semaphores.cc, in four parts:
//
//   1. POSIX semaphore operations (Wait, TryWait, WaitFor, WaitUntil, Post, GetValue), unnamed
//      process-shared semaphores (InitShared, Destroy) and named ones (NamedSemaphore).
//   2. Things built from them, living in an anonymous MAP_SHARED mapping made before fork():
//      SharedCounter (a binary semaphore as a mutex), BoundedBuffer (empty / full / mutex) and
//      Barrier (N processes meet before any goes on).
//   3. NamedChannel: the same bounded buffer over named semaphores and a POSIX shared-memory
//      object, for programs that are not each other's parent (sem_producer.cc, sem_consumer.cc).
//   4. System V semaphore sets (SemSet): semget/semctl/semop, SEM_UNDO, semtimedop, and the
//      dining philosophers (TakeForks/PutForks), who take both forks in one atomic semop.
//
// Partner files: semaphores.cc (yours), semaphores_test.cc (the public tests), README.md (the
// handout). Run the tests with
//   bazel test //labs/semaphores:semaphores_test
//
// Conventions (the same in every lab): every failed system call becomes
// ipc::ErrnoError("call", object) so that tests can check the exact errno; a blocking call
// retries on EINTR, a Try... call never blocks, a ...For/...Until call gives up at a deadline and
// says so with `false` (not with an error). Types that own a kernel object are move-only and
// release it in their destructor; removing a name (sem_unlink, shm_unlink) is an explicit call.
#ifndef IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_H_
#define IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_H_

#include <semaphore.h>
#include <sys/sem.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace semaphores {

// ---------------------------------------------------------------------------------------------
// Part 1: POSIX semaphores
// ---------------------------------------------------------------------------------------------
//
// The operations below work on any sem_t: a named one (NamedSemaphore::get()) or an unnamed one
// that lives inside memory shared between processes. `label` names the semaphore in error
// messages ("sem_wait(/ipclabs.1.full.3): Interrupted system call [EINTR]").

// Wait()
//
// Decrements `sem`, sleeping while its value is 0 (sem_wait). A signal handler that interrupts
// the sleep makes sem_wait fail with EINTR even with SA_RESTART on some kernels, and always
// without it: Wait() then waits again, so it returns only when it has decremented the semaphore
// or on a real error (EINVAL: not a valid semaphore).
absl::Status Wait(sem_t* sem, absl::string_view label = "semaphore");

// TryWait()
//
// Decrements `sem` if its value is above 0 and returns true; returns false at once if it is 0
// (sem_trywait's EAGAIN is not an error). Never blocks. Errors: EINVAL.
absl::StatusOr<bool> TryWait(sem_t* sem, absl::string_view label = "semaphore");

// WaitFor()
//
// Like Wait(), but gives up after `timeout` and returns false. The deadline is taken on
// CLOCK_MONOTONIC (sem_clockwait), so setting the wall clock neither shortens nor stretches it;
// an EINTR retries until the same deadline. A timeout <= 0 behaves like TryWait(). Errors:
// EINVAL.
absl::StatusOr<bool> WaitFor(sem_t* sem, absl::Duration timeout,
                             absl::string_view label = "semaphore");

// WaitUntil()
//
// Like Wait(), but gives up at the absolute wall-clock time `deadline` and returns false
// (sem_timedwait, which takes a CLOCK_REALTIME timespec). A deadline in the past behaves like
// TryWait(). Errors: EINVAL (including a deadline sem_timedwait rejects).
absl::StatusOr<bool> WaitUntil(sem_t* sem, absl::Time deadline,
                               absl::string_view label = "semaphore");

// Post()
//
// Increments `sem`, waking one waiter if there is any (sem_post). Errors: EOVERFLOW when the value
// is already SEM_VALUE_MAX; EINVAL.
absl::Status Post(sem_t* sem, absl::string_view label = "semaphore");

// GetValue()
//
// The current value of `sem` (sem_getvalue; 0 when processes are waiting, on Linux). The value may
// change as soon as it is read: use it for tests and reports, never to decide whether to wait.
// Errors: EINVAL.
absl::StatusOr<int> GetValue(sem_t* sem, absl::string_view label = "semaphore");

// InitShared()
//
// Initialises the unnamed semaphore at `sem` with `value`, shared between processes
// (sem_init(sem, /*pshared=*/1, value)). `sem` must lie in memory that every user maps
// MAP_SHARED (an anonymous shared mapping made before fork, a POSIX or System V segment), and
// must be initialised exactly once, before any process uses it. Errors: EINVAL when `value`
// exceeds SEM_VALUE_MAX.
absl::Status InitShared(sem_t* sem, unsigned value, absl::string_view label = "semaphore");

// Destroy()
//
// Destroys an unnamed semaphore made by InitShared() (sem_destroy). Only once, by one process,
// after every other user is done with it (destroying a semaphore that a process waits on is
// undefined). Errors: EINVAL.
absl::Status Destroy(sem_t* sem, absl::string_view label = "semaphore");

// NamedSemaphore
//
// A named POSIX semaphore (sem_open), visible to any process that knows the name; on Linux it is
// the file /dev/shm/sem.NAME. The object owns its handle: the destructor calls sem_close. The
// name outlives every handle until Unlink() removes it. Move-only.
class NamedSemaphore {
 public:
  // NamedSemaphore::Create()
  //
  // Creates a new semaphore `name` with `value` and permission bits `mode`
  // (sem_open(name, O_CREAT | O_EXCL, mode, value)). It never opens an existing one: a semaphore
  // left by a crashed run keeps its old value, and sem_open without O_EXCL would silently ignore
  // `value` (CURRICULUM SE5). Errors:
  //   INVALID_ARGUMENT (no errno) for a name without a leading '/', with nothing after it, or
  //     with a second '/' (glibc would quietly accept some of these);
  //   ENAMETOOLONG for more than 251 characters after the slash (the file is /dev/shm/sem.NAME,
  //     and a file name has at most NAME_MAX = 255 characters);
  //   EINVAL when `value` exceeds SEM_VALUE_MAX;
  //   EEXIST when the name exists; EACCES, ENOMEM, EMFILE as sem_open reports them.
  static absl::StatusOr<NamedSemaphore> Create(const std::string& name, unsigned value,
                                               mode_t mode = 0600);

  // NamedSemaphore::Open()
  //
  // Opens the existing semaphore `name` (sem_open(name, 0)). Errors: INVALID_ARGUMENT for a bad
  // name (as Create); ENOENT when it does not exist; EACCES when its mode forbids us.
  static absl::StatusOr<NamedSemaphore> Open(const std::string& name);

  // NamedSemaphore::Unlink()
  //
  // Removes the name (sem_unlink). Handles that are open keep working on the old semaphore; the
  // next Create() of the same name makes a new one. Errors: INVALID_ARGUMENT for a bad name;
  // ENOENT when there is no such semaphore; EACCES.
  static absl::Status Unlink(const std::string& name);

  NamedSemaphore(NamedSemaphore&& other) noexcept;
  NamedSemaphore& operator=(NamedSemaphore&& other) noexcept;
  NamedSemaphore(const NamedSemaphore&) = delete;
  NamedSemaphore& operator=(const NamedSemaphore&) = delete;
  ~NamedSemaphore();  // sem_close, if still open

  // NamedSemaphore::Close()
  //
  // Closes the handle now (sem_close) and reports an error the destructor would swallow. After it
  // get() is nullptr. Errors: EINVAL.
  absl::Status Close();

  // The handle for Wait(), Post(), ...; nullptr after Close() or a move.
  sem_t* get() const { return sem_; }
  const std::string& name() const { return name_; }

 private:
  NamedSemaphore(sem_t* sem, std::string name) : sem_(sem), name_(std::move(name)) {}

  sem_t* sem_ = nullptr;  // from sem_open; owned
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// Part 2: built from unnamed semaphores in an anonymous shared mapping
// ---------------------------------------------------------------------------------------------
//
// Each class below keeps its state in an anonymous MAP_SHARED mapping that Create() makes. A
// child forked after Create() shares that state with its parent (the object itself is copied by
// fork, the mapping it points to is not). The destructor, run by the creating process, destroys
// the semaphores and unmaps; a forked child leaves through _exit (ipc::Child does that) and so
// never runs it. Layout and semaphore use are yours to choose in semaphores.cc.

// SharedCounter
//
// A 64-bit counter guarded by a binary semaphore (initial value 1) used as a mutex: Add() is
// wait; value += delta; post. Move-only.
class SharedCounter {
 public:
  // SharedCounter::Create()
  //
  // Maps the counter (value 0) and initialises its semaphore. Errors: mmap's (ENOMEM), sem_init's.
  static absl::StatusOr<SharedCounter> Create();

  SharedCounter(SharedCounter&& other) noexcept;
  SharedCounter& operator=(SharedCounter&& other) noexcept;
  SharedCounter(const SharedCounter&) = delete;
  SharedCounter& operator=(const SharedCounter&) = delete;
  ~SharedCounter();

  // SharedCounter::Add()
  //
  // Adds `delta` while holding the semaphore, so that no update from another process is lost.
  // Errors: those of Wait() and Post().
  absl::Status Add(int64_t delta);

  // SharedCounter::Value()
  //
  // The value, read while holding the semaphore. Errors: those of Wait() and Post().
  absl::StatusOr<int64_t> Value();

 private:
  struct Shared;
  explicit SharedCounter(Shared* shared) : shared_(shared) {}
  Shared* shared_ = nullptr;  // the mapping; owned
};

// BoundedBuffer
//
// A FIFO of at most `capacity` uint64_t items, shared by any number of producer and consumer
// processes, with the three classic semaphores: "empty" counts free slots (starts at capacity),
// "full" counts filled slots (starts at 0), and a binary "mutex" guards the indexes. Put() blocks
// while the buffer is full, Take() while it is empty. Every item put is taken exactly once, and
// items are taken in the order they were put. Move-only.
class BoundedBuffer {
 public:
  static constexpr size_t kMaxCapacity = 1024;

  // BoundedBuffer::Create()
  //
  // Maps an empty buffer of `capacity` slots and initialises its semaphores. Errors:
  // INVALID_ARGUMENT when capacity is 0 or above kMaxCapacity; mmap's and sem_init's.
  static absl::StatusOr<BoundedBuffer> Create(size_t capacity);

  BoundedBuffer(BoundedBuffer&& other) noexcept;
  BoundedBuffer& operator=(BoundedBuffer&& other) noexcept;
  BoundedBuffer(const BoundedBuffer&) = delete;
  BoundedBuffer& operator=(const BoundedBuffer&) = delete;
  ~BoundedBuffer();

  // BoundedBuffer::Put()
  //
  // Appends `item`, waiting for a free slot. Errors: those of Wait() and Post().
  absl::Status Put(uint64_t item);

  // BoundedBuffer::TryPut()
  //
  // Appends `item` and returns true if a slot is free now; returns false at once if the buffer is
  // full. Errors: those of TryWait(), Wait() and Post().
  [[nodiscard]] absl::StatusOr<bool> TryPut(uint64_t item);

  // BoundedBuffer::Take()
  //
  // Removes and returns the oldest item, waiting for one. Errors: those of Wait() and Post().
  absl::StatusOr<uint64_t> Take();

  // BoundedBuffer::TakeFor()
  //
  // Like Take(), but returns nullopt if no item arrives within `timeout` (WaitFor()).
  absl::StatusOr<std::optional<uint64_t>> TakeFor(absl::Duration timeout);

  size_t capacity() const { return capacity_; }

 private:
  struct Shared;
  BoundedBuffer(Shared* shared, size_t capacity) : shared_(shared), capacity_(capacity) {}
  Shared* shared_ = nullptr;  // the mapping; owned
  size_t capacity_ = 0;
};

// Barrier
//
// A reusable barrier for `parties` processes built from semaphores: ArriveAndWait() returns in no
// process until all `parties` processes have called it, and the same barrier can be used again
// for the next round. With 2 parties it is a rendezvous. Move-only.
class Barrier {
 public:
  // Barrier::Create()
  //
  // Maps the barrier and initialises its semaphores. Errors: INVALID_ARGUMENT when parties is 0;
  // mmap's and sem_init's.
  static absl::StatusOr<Barrier> Create(unsigned parties);

  Barrier(Barrier&& other) noexcept;
  Barrier& operator=(Barrier&& other) noexcept;
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;
  ~Barrier();

  // Barrier::ArriveAndWait()
  //
  // Waits until all parties of the current round have arrived. Errors: those of Wait(), Post().
  absl::Status ArriveAndWait();

 private:
  struct Shared;
  explicit Barrier(Shared* shared) : shared_(shared) {}
  Shared* shared_ = nullptr;  // the mapping; owned
};

// ---------------------------------------------------------------------------------------------
// Part 3: a bounded buffer between unrelated processes (named semaphores + POSIX shm)
// ---------------------------------------------------------------------------------------------

// The names of a NamedChannel's four objects, all derived from one prefix, so two channels with
// different prefixes never share anything (CURRICULUM SE6: fixed names like "/mutex" or "/full"
// collide between runs and between programs). This scheme is part of the contract.
struct ChannelNames {
  std::string mutex;   // named semaphore, starts at 1
  std::string empty;   // named semaphore, starts at the capacity
  std::string full;    // named semaphore, starts at 0
  std::string buffer;  // POSIX shared-memory object holding the slots and indexes
};

// ChannelNamesFor()
//
// prefix + ".mutex", ".empty", ".full", ".buf". `prefix` is a POSIX name ("/app.42").
inline ChannelNames ChannelNamesFor(absl::string_view prefix) {
  return {absl::StrCat(prefix, ".mutex"), absl::StrCat(prefix, ".empty"),
          absl::StrCat(prefix, ".full"), absl::StrCat(prefix, ".buf")};
}

// NamedChannel
//
// A BoundedBuffer whose semaphores are named and whose slots live in a POSIX shared-memory object,
// so that a producer and a consumer that were exec'd separately can share it by name. Every
// process that opens the channel (creator included) may Put() and Take(). The destructor closes
// the semaphores and unmaps; Unlink() removes the names. Move-only.
class NamedChannel {
 public:
  static constexpr size_t kMaxCapacity = 1024;

  // NamedChannel::Create()
  //
  // Creates the four objects of ChannelNamesFor(prefix) fresh: the semaphores with O_CREAT |
  // O_EXCL and their initial values, the buffer with O_CREAT | O_EXCL, ftruncate and mmap. An
  // object that already exists is a leftover of a crashed run whose values cannot be trusted
  // (CURRICULUM SE5): Create() unlinks it and creates it again, never reuses it. If any step fails,
  // Create() closes and unlinks what it made before returning the error, so a failure leaves
  // nothing behind (SE9). Errors: INVALID_ARGUMENT for a bad prefix or a capacity of 0 or above
  // kMaxCapacity; ENAMETOOLONG when a derived name is too long; the errors of sem_open,
  // shm_open, ftruncate and mmap.
  static absl::StatusOr<NamedChannel> Create(const std::string& prefix, size_t capacity);

  // NamedChannel::Open()
  //
  // Opens the channel another process created. Errors: INVALID_ARGUMENT for a bad prefix; ENOENT
  // when one of the objects does not exist (the creator has not run, or has unlinked);
  // DATA_LOSS when the buffer object's size or header does not describe a channel.
  static absl::StatusOr<NamedChannel> Open(const std::string& prefix);

  // NamedChannel::Unlink()
  //
  // Removes all four names (sem_unlink, shm_unlink); a name that is already gone is skipped.
  // Processes that have the channel open keep using it. Errors: the first failure other than
  // ENOENT (the other names are still tried).
  static absl::Status Unlink(const std::string& prefix);

  NamedChannel(NamedChannel&& other) noexcept;
  NamedChannel& operator=(NamedChannel&& other) noexcept;
  NamedChannel(const NamedChannel&) = delete;
  NamedChannel& operator=(const NamedChannel&) = delete;
  ~NamedChannel();

  // NamedChannel::Put() / Take()
  //
  // As BoundedBuffer::Put() and Take().
  absl::Status Put(uint64_t item);
  absl::StatusOr<uint64_t> Take();

  size_t capacity() const { return capacity_; }

 private:
  struct Shared;
  NamedChannel() = default;
  void Reset();  // closes and unmaps whatever is held

  sem_t* mutex_ = nullptr;  // the four handles; owned
  sem_t* empty_ = nullptr;
  sem_t* full_ = nullptr;
  Shared* shared_ = nullptr;  // the buffer mapping; owned
  size_t map_size_ = 0;
  size_t capacity_ = 0;
  std::string prefix_;
};

// ---------------------------------------------------------------------------------------------
// Part 4: System V semaphore sets
// ---------------------------------------------------------------------------------------------

// SemSet
//
// A System V semaphore set (semget): `size()` semaphores, each 0..32767, operated on together by
// semop. A set is not a file and has no close: it lives until someone removes it (IPC_RMID), even
// after every process that used it has exited. A SemSet made by Create() owns its set and removes
// it in its destructor; one from Open() or CreateOrOpen() does not (call Remove() when done).
// Move-only.
class SemSet {
 public:
  // SemSet::Create()
  //
  // Creates a new set with one semaphore per entry of `initial`
  // (semget(key, n, IPC_CREAT | IPC_EXCL | mode)), sets every value (semctl SETALL) and then marks
  // the set initialised by performing a semop that leaves every value unchanged, which sets
  // sem_otime (the flag CreateOrOpen() waits for). `key` may be IPC_PRIVATE. If a step after semget
  // fails, the set is removed before the error is returned. Errors: INVALID_ARGUMENT when
  // `initial` is empty; EEXIST for a key in use; EINVAL when the size exceeds the system's limit
  // (SEMMSL); ERANGE for an initial value above 32767 (SEMVMX); ENOSPC, EACCES.
  static absl::StatusOr<SemSet> Create(key_t key, const std::vector<unsigned short>& initial,
                                       mode_t mode = 0600);

  // SemSet::CreateOrOpen()
  //
  // The race-free way for several processes to share `key` when any of them may come first.
  // semget creates a set and semctl initialises it in two steps, so a process that simply opens the
  // key may use the set between them, and an initialisation that comes after its semop wipes that
  // semop out. Here exactly one caller creates (IPC_EXCL wins) and initialises as Create() does;
  // every other caller opens the set and waits (polling IPC_STAT) until sem_otime is non-zero,
  // i.e. until the creator's marking semop has happened, for at most `init_timeout`. The result
  // does not own the set; created() tells the one caller that made it. Errors: as Create(), plus
  // EINVAL when an existing set has a different size, and DEADLINE_EXCEEDED when the set is still
  // uninitialised after `init_timeout` (its creator probably died between the two steps).
  static absl::StatusOr<SemSet> CreateOrOpen(key_t key, const std::vector<unsigned short>& initial,
                                             mode_t mode = 0600,
                                             absl::Duration init_timeout = absl::Seconds(2));

  // SemSet::Open()
  //
  // Opens the existing set `key` (semget(key, 0, 0)), not owned. Errors: ENOENT, EACCES.
  static absl::StatusOr<SemSet> Open(key_t key);

  SemSet(SemSet&& other) noexcept;
  SemSet& operator=(SemSet&& other) noexcept;
  SemSet(const SemSet&) = delete;
  SemSet& operator=(const SemSet&) = delete;
  ~SemSet();  // IPC_RMID if owned and not yet removed

  // SemSet::Remove()
  //
  // Removes the set now (semctl IPC_RMID). Every process blocked in semop on it wakes with EIDRM.
  // Errors: EINVAL or EIDRM when it is already gone; EPERM when we are neither owner nor creator.
  absl::Status Remove();

  // SemSet::SetValue() / SetAll()
  //
  // Sets one value (SETVAL) or all of them (SETALL; `values` must have size() entries, else
  // INVALID_ARGUMENT). Waiters that can now proceed wake up; SEM_UNDO adjustments of the changed
  // semaphores are cleared. Errors: ERANGE for a value above 32767; EINVAL for a bad index (no
  // errno: INVALID_ARGUMENT); EIDRM.
  absl::Status SetValue(int index, int value);
  absl::Status SetAll(const std::vector<unsigned short>& values);

  // SemSet::GetValue() / GetAll()
  //
  // The current value of one semaphore (GETVAL) or of all (GETALL). Errors: INVALID_ARGUMENT for
  // a bad index; EINVAL, EIDRM.
  absl::StatusOr<int> GetValue(int index);
  absl::StatusOr<std::vector<unsigned short>> GetAll();

  // SemSet::WaitingCount()
  //
  // How many processes are blocked waiting for semaphore `index` to increase (GETNCNT). Errors:
  // as GetValue().
  absl::StatusOr<int> WaitingCount(int index);

  // SemSet::Stat()
  //
  // The set's kernel record (IPC_STAT): owner, mode, sem_nsems, sem_otime, sem_ctime.
  // Errors: EINVAL, EIDRM, EACCES.
  absl::StatusOr<struct semid_ds> Stat();

  // SemSet::Op()
  //
  // Applies all of `ops` atomically (semop): either every operation happens, or the caller sleeps
  // until all can happen at once. Flags in each sembuf (SEM_UNDO, IPC_NOWAIT) are passed through.
  // Retries on EINTR. Errors: EIDRM when the set is removed while we wait (reported, never a
  // hang); EFBIG for an index outside the set; E2BIG for more than SEMOPM operations; ERANGE when a
  // value or undo adjustment would pass 32767; EAGAIN when an operation carries IPC_NOWAIT and
  // would block.
  absl::Status Op(const std::vector<struct sembuf>& ops);

  // SemSet::TryOp()
  //
  // Op() with IPC_NOWAIT added to every operation: returns true if applied, false (not an error)
  // if it would have to wait. Errors: as Op().
  [[nodiscard]] absl::StatusOr<bool> TryOp(const std::vector<struct sembuf>& ops);

  // SemSet::OpFor()
  //
  // Op() that gives up after `timeout` (semtimedop) and returns false; an EINTR retries for the
  // time that is left. Errors: as Op().
  absl::StatusOr<bool> OpFor(const std::vector<struct sembuf>& ops, absl::Duration timeout);

  int id() const { return id_; }
  int size() const { return size_; }
  bool created() const { return created_; }

 private:
  SemSet(int id, int size, bool owned, bool created)
      : id_(id), size_(size), owned_(owned), created_(created) {}

  int id_ = -1;         // semid
  int size_ = 0;        // sem_nsems
  bool owned_ = false;  // remove in the destructor
  bool created_ = false;
};

// TakeForks()
//
// Dining philosophers: `forks` holds one semaphore per fork, each starting at 1; philosopher
// `seat` (0 <= seat < forks.size()) uses fork `seat` (left) and fork (seat + 1) % size (right).
// Takes both forks in ONE semop, with SEM_UNDO, so a philosopher never holds one fork while
// waiting for the other (no deadlock, however the processes interleave) and a philosopher killed
// while eating gives its forks back. Errors: INVALID_ARGUMENT for a bad seat or a set with
// fewer than 2 semaphores; those of Op().
absl::Status TakeForks(SemSet& forks, int seat);

// PutForks()
//
// Gives back both forks of `seat` in one semop (with SEM_UNDO, which cancels the adjustment that
// TakeForks recorded). Errors: as TakeForks().
absl::Status PutForks(SemSet& forks, int seat);

}  // namespace semaphores

#endif  // IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_H_
