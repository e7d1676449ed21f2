// grader/hidden/mmap_fork/mmap_fork_hidden_test.cc: the mmap_fork tests students never see.
//
// They probe what the public tests (labs/mmap_fork/mmap_fork_test.cc) leave out: exact errnos on
// bad input, copy-on-write and lazy loading measured with the kernel's own counters, recovery of
// a half-done update, one-time initialisation under a held lock, many readers against batched
// writes, stale files and 10^5..10^6 messages. Each case names the curriculum rows it covers.
// Every case checks the student's status before it forks and waits with a deadline, so the
// skeleton fails each case in milliseconds. Run:
//   bazel test //grader/hidden/mmap_fork:reference/mmap_fork_hidden_test   (the reference)
//   bazel test //grader/hidden/mmap_fork:student/mmap_fork_hidden_test     (labs/mmap_fork)
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/mmap_fork/mmap_fork.h"
#include "labs/mmap_fork/mmap_fork_test_util.h"

namespace mmap_fork {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::ProgramPath;
using ::ipc::testing::StatusIs;
using ::mmap_fork::test_util::kWait;
using ::mmap_fork::test_util::MmapForkTest;
using ::mmap_fork::test_util::Signal;
using ::mmap_fork::test_util::TempDir;
using ::mmap_fork::test_util::TempPath;

// The lab's fixture (labs/mmap_fork/mmap_fork_test_util.h), under the hidden name.
using HiddenTest = MmapForkTest;

size_t PageSize() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

// The names in the temporary directory that start with `prefix`.
std::vector<std::string> FilesStartingWith(const std::string& prefix) {
  std::vector<std::string> found;
  DIR* dir = ::opendir(TempDir().c_str());
  if (dir == nullptr) return found;
  while (struct dirent* entry = ::readdir(dir)) {
    if (absl::StartsWith(entry->d_name, prefix)) found.push_back(entry->d_name);
  }
  ::closedir(dir);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Part 1: mappings
// ---------------------------------------------------------------------------------------------
using HiddenMappingTest = HiddenTest;

TEST_F(HiddenMappingTest, HugeAnonymousMappingFailsWithEnomem) {
  EXPECT_THAT(Mapping::Anonymous(size_t{1} << 60, Sharing::kShared), HasErrno(ENOMEM))
      << "2^60 bytes do not fit the address space: report mmap's ENOMEM with ipc::ErrnoError";
}

TEST_F(HiddenMappingTest, DestructorUnmapsAndMoveTransfersOwnership) {
  void* address = nullptr;
  {
    IPC_ASSERT_OK_AND_ASSIGN(Mapping first, Mapping::Anonymous(4 * PageSize(), Sharing::kShared));
    address = first.data();
    Mapping second = std::move(first);
    EXPECT_EQ(first.data(), nullptr) << "a moved-from Mapping must be empty";
    EXPECT_EQ(second.data(), address);
    static_cast<char*>(second.data())[0] = 1;  // still mapped after the move
  }
  unsigned char residency[4];
  errno = 0;
  EXPECT_EQ(::mincore(address, 4 * PageSize(), residency), -1)
      << "the pages are still mapped after the Mapping was destroyed: munmap in the destructor";
  EXPECT_EQ(errno, ENOMEM);
}

TEST_F(HiddenMappingTest, ReadOnlyFdCannotBeMappedSharedWritable) {
  TempPath file("readonly");
  int fd = ::open(file.path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_NE(fd, -1);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  ::close(fd);
  fd = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_NE(fd, -1);
  // EACCES holds even for root: mmap checks the fd's open mode, not the file's permission bits.
  EXPECT_THAT(Mapping::MapFile(fd, {}), HasErrno(EACCES))
      << "a shared writable mapping of a read-only fd must fail with mmap's EACCES";
  EXPECT_THAT(Mapping::MapFile(fd, {.writable = false}), IsOk());
  EXPECT_THAT(Mapping::MapFile(fd, {.sharing = Sharing::kPrivate}), IsOk())
      << "a private writable mapping of a read-only fd is allowed: writes never reach the file";
  ::close(fd);
}

TEST_F(HiddenMappingTest, EmptyFileAndClosedFdAreRefused) {
  TempPath file("empty");
  int fd = ::open(file.path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_NE(fd, -1);
  absl::StatusOr<Mapping> empty = Mapping::MapFile(fd, {});
  EXPECT_THAT(empty, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(empty, HasErrno(EINVAL)) << "an empty file cannot be mapped (MF15)";
  ::close(fd);
  EXPECT_THAT(Mapping::MapFile(fd, {}), HasErrno(EBADF)) << "fstat of a closed fd gives EBADF";
}

TEST_F(HiddenMappingTest, SyncAndResidentPagesWork) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping anonymous, Mapping::Anonymous(16 * PageSize(), Sharing::kPrivate));
  IPC_ASSERT_OK_AND_ASSIGN(size_t before, anonymous.ResidentPages());
  EXPECT_EQ(before, 0u) << "fresh anonymous memory has no pages yet";
  for (size_t i = 0; i < 5; ++i) static_cast<volatile char*>(anonymous.data())[i * 2 * PageSize()] = 1;
  IPC_ASSERT_OK_AND_ASSIGN(size_t after, anonymous.ResidentPages());
  EXPECT_EQ(after, 5u) << "five pages were written";
  EXPECT_THAT(anonymous.Sync(), IsOk());
  Mapping empty;
  EXPECT_THAT(empty.Sync(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(empty.ResidentPages(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// MF4: after fork the parent writes K pages of a private mapping: the kernel copies exactly those
// pages (one minor fault each), and the child's snapshot keeps the old bytes. What fork still
// copies up front is the page tables, not the pages (the handout's "no copy" caveat).
TEST_F(HiddenMappingTest, ForkSnapshotCopiesOnlyTheWrittenPages) {
  constexpr size_t kPages = 4096;  // 16 MiB with 4 KiB pages
  constexpr size_t kWritten = 512;
  const size_t page = PageSize();
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(kPages * page, Sharing::kPrivate));
  ASSERT_EQ(::madvise(mapping.data(), mapping.size(), MADV_NOHUGEPAGE), 0) << std::strerror(errno);
  auto* bytes = static_cast<volatile unsigned char*>(mapping.data());
  for (size_t i = 0; i < kPages; ++i) bytes[i * page] = static_cast<unsigned char>(i);

  Signal written;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child snapshot, ipc::Child::Fork([&] {
    if (!written.WaitFor(kWait)) return 2;
    for (size_t i = 0; i < kPages; ++i) {
      if (bytes[i * page] != static_cast<unsigned char>(i)) return 3;  // the parent's write leaked
    }
    return 0;
  }));
  struct rusage before, after;
  ASSERT_EQ(::getrusage(RUSAGE_SELF, &before), 0);
  for (size_t i = 0; i < kWritten; ++i) bytes[i * page] = 0xee;
  ASSERT_EQ(::getrusage(RUSAGE_SELF, &after), 0);
  written.Notify();
  long faults = after.ru_minflt - before.ru_minflt;
  EXPECT_GE(faults, static_cast<long>(kWritten))
      << "each written page of a MAP_PRIVATE mapping shared with a child is copied on its first "
         "write (one minor fault each, MF4)";
  EXPECT_LE(faults, static_cast<long>(kWritten + kWritten / 4 + 64))
      << "far more faults than pages written: the mapping is not what Anonymous() promised";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, snapshot.Wait(kWait));
  EXPECT_TRUE(status.Succeeded())
      << status.ToString() << " (3: the child's snapshot changed when the parent wrote: "
      << "a MAP_PRIVATE mapping is a copy-on-write snapshot, MF2/MF4)";
}

// MF14: a 1 GiB sparse file mapped with random access loads only the pages that are touched.
TEST_F(HiddenMappingTest, SparseFileLoadsOnlyTouchedPages) {
  constexpr off_t kFileBytes = off_t{1} << 30;
  TempPath file("sparse");
  int fd = ::open(file.path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_NE(fd, -1);
  ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit below 1 GiB must fail the call, not kill us
  ASSERT_EQ(::ftruncate(fd, kFileBytes), 0)
      << std::strerror(errno) << ": this case needs a 1 GiB sparse file (RLIMIT_FSIZE)";
  absl::StatusOr<Mapping> mapping = Mapping::MapFile(fd, {.random_access = true});
  ::close(fd);
  ASSERT_THAT(mapping, IsOk());
  ASSERT_EQ(mapping->size(), static_cast<size_t>(kFileBytes));
  IPC_ASSERT_OK_AND_ASSIGN(size_t untouched, mapping->ResidentPages());
  EXPECT_EQ(untouched, 0u) << "mapping a file loads nothing by itself (MF14)";
  auto* bytes = static_cast<volatile char*>(mapping->data());
  (void)bytes[0];
  bytes[kFileBytes / 2] = 'm';
  (void)bytes[kFileBytes - 1];
  IPC_ASSERT_OK_AND_ASSIGN(size_t touched, mapping->ResidentPages());
  EXPECT_EQ(touched, 3u) << "three touched pages of a 1 GiB file, with MADV_RANDOM (no "
                            "read-ahead): only those three may be loaded (MF14)";
}

// MF14: a touch past the end of the file raises SIGBUS (the length must follow the file, MF15).
TEST_F(HiddenMappingTest, TouchPastEndOfFileRaisesSigbus) {
  TempPath file("shrunk");
  int fd = ::open(file.path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_NE(fd, -1);
  ASSERT_EQ(::ftruncate(fd, 2 * PageSize()), 0);
  absl::StatusOr<Mapping> mapping = Mapping::MapFile(fd, {});
  ASSERT_THAT(mapping, IsOk());
  ASSERT_EQ(::ftruncate(fd, PageSize()), 0);  // another process shrinks the file
  ::close(fd);
  auto* bytes = static_cast<volatile char*>(mapping->data());
  const size_t page = PageSize();
  ipc::ExitStatus child = RunChild([bytes, page] {
    ::signal(SIGBUS, SIG_DFL);  // the default action, even under a sanitizer
    bytes[0] = 'a';             // inside the file: fine
    bytes[page] = 'b';          // past its end: SIGBUS
    return 0;
  });
  EXPECT_EQ(child.kind, ipc::ExitStatus::Kind::kSignaled) << child.ToString();
  EXPECT_EQ(child.signal, SIGBUS) << child.ToString();
  EXPECT_EQ(bytes[0], 'a') << "the child's store inside the file is shared";
}

// ---------------------------------------------------------------------------------------------
// Part 2: counters
// ---------------------------------------------------------------------------------------------
using HiddenCounterTest = HiddenTest;

// MF9: the notes' sem_t-guarded counter, in a mapping from Mapping::Anonymous: the child adds
// 1 x 10, the parent 2 x 15, each update writes a log line indexed by the counter.
TEST_F(HiddenCounterTest, SemaphoreGuardedCounterAcrossFork) {
  struct Shared {
    sem_t mutex;
    int64_t counter;
    int lines;
    char log[32][48];
  };
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(Shared), Sharing::kShared));
  auto* shared = static_cast<Shared*>(mapping.data());
  ASSERT_EQ(::sem_init(&shared->mutex, /*pshared=*/1, 1), 0) << std::strerror(errno);
  auto update = [shared](int delta, const char* who) {
    while (::sem_wait(&shared->mutex) == -1 && errno == EINTR) continue;
    shared->counter += delta;
    std::snprintf(shared->log[shared->lines++], sizeof shared->log[0], "%s -> %lld", who,
                  static_cast<long long>(shared->counter));
    ::sem_post(&shared->mutex);
  };
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
    for (int i = 0; i < 10; ++i) {
      update(1, "child");
      absl::SleepFor(absl::Milliseconds(5));
    }
    return 0;
  }));
  for (int i = 0; i < 15; ++i) {
    update(2, "parent");
    absl::SleepFor(absl::Milliseconds(7));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kWait));
  ASSERT_TRUE(status.Succeeded()) << status.ToString();
  EXPECT_EQ(shared->counter, 40) << "10 x 1 + 15 x 2 (MF9)";
  ASSERT_EQ(shared->lines, 25);
  long long last = 0;
  for (int i = 0; i < 25; ++i) {
    long long value = std::atoll(std::strrchr(shared->log[i], '>') + 1);
    EXPECT_GT(value, last) << "log line " << i << " (" << shared->log[i] << ")";
    last = value;
  }
  ::sem_destroy(&shared->mutex);
}

// MF11: the holder dies half-way through an update (staged written, dirty set, value not yet);
// the next Acquire() rolls it forward.
TEST_F(HiddenCounterTest, RecoveryRollsAHalfDoneUpdateForward) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(SharedCounter), Sharing::kShared));
  auto* counter = static_cast<SharedCounter*>(mapping.data());
  ASSERT_THAT(InitCounter(counter, LockKind::kRobust), IsOk());
  ASSERT_THAT(AddToCounter(counter, 5), IsOk());
  Signal locked;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child holder, ipc::Child::Fork([&] {
    absl::StatusOr<CounterLock> lock = CounterLock::Acquire(counter);
    if (!lock.ok()) return 2;
    counter->staged = counter->value + 1;  // the first two steps of AddToCounter(1)...
    counter->dirty = 1;
    locked.Notify();
    ::pause();  // ...and death before the third
    return 0;
  }));
  ASSERT_TRUE(locked.WaitFor(kWait));
  ASSERT_THAT(holder.Kill(SIGKILL), IsOk());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus killed, holder.Wait(kWait));
  ASSERT_EQ(killed.signal, SIGKILL);
  ipc::ExitStatus next = RunChild([counter] { return AddToCounter(counter, 2).ok() ? 0 : 2; });
  ASSERT_TRUE(next.Succeeded())
      << "the next AddToCounter " << next.ToString()
      << " (timed out: the mutex is not robust; 2: it failed after EOWNERDEAD)";
  IPC_ASSERT_OK_AND_ASSIGN(CounterState state, ReadCounter(counter));
  EXPECT_EQ(state.value, 8) << "5, plus the dead holder's staged +1 rolled forward, plus 2 (MF11)";
  EXPECT_EQ(state.recoveries, 1u);
  EXPECT_EQ(counter->dirty, 0u) << "the repair must clear dirty";
}

// MF11: two holders die one after the other; each death is repaired once, and the lock keeps
// working across processes.
TEST_F(HiddenCounterTest, EveryDeadHolderIsRepairedOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(SharedCounter), Sharing::kShared));
  auto* counter = static_cast<SharedCounter*>(mapping.data());
  ASSERT_THAT(InitCounter(counter, LockKind::kRobust), IsOk());
  for (int round = 0; round < 2; ++round) {
    Signal locked;
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child holder, ipc::Child::Fork([&] {
      absl::StatusOr<CounterLock> lock = CounterLock::Acquire(counter);
      if (!lock.ok()) return 2;
      locked.Notify();
      ::pause();
      return 0;
    }));
    ASSERT_TRUE(locked.WaitFor(kWait)) << "round " << round;
    ASSERT_THAT(holder.Kill(SIGKILL), IsOk());
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus killed, holder.Wait(kWait));
    ASSERT_EQ(killed.signal, SIGKILL);
    ipc::ExitStatus next = RunChild([counter] { return AddToCounter(counter, 1).ok() ? 0 : 2; });
    ASSERT_TRUE(next.Succeeded()) << "round " << round << ": " << next.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(CounterState state, ReadCounter(counter));
  EXPECT_EQ(state.value, 2);
  EXPECT_EQ(state.recoveries, 2u) << "one recovery per dead holder";
}

// MF10, MF18: a robust counter raced by six children; exact, and nothing left unreaped.
TEST_F(HiddenCounterTest, SixChildrenRaceTheParentOnARobustCounter) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(SharedCounter), Sharing::kShared));
  auto* counter = static_cast<SharedCounter*>(mapping.data());
  ASSERT_THAT(InitCounter(counter, LockKind::kRobust), IsOk());
  ASSERT_THAT(RaceOnCounter(counter, 6, 30000, kWait), IsOk());
  IPC_ASSERT_OK_AND_ASSIGN(CounterState state, ReadCounter(counter));
  EXPECT_EQ(state.value, 8 * 30000);
}

TEST_F(HiddenCounterTest, RaceOnCounterRefusesBadArguments) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(SharedCounter), Sharing::kShared));
  auto* counter = static_cast<SharedCounter*>(mapping.data());
  ASSERT_THAT(InitCounter(counter, LockKind::kProcessShared), IsOk());
  EXPECT_THAT(RaceOnCounter(counter, 0, 10, kWait), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RaceOnCounter(counter, 2, -1, kWait), StatusIs(absl::StatusCode::kInvalidArgument));
}

// MF18: when the counter is broken (a dead holder's mutex unlocked without being marked
// consistent: ENOTRECOVERABLE) RaceOnCounter fails, and still reaps every child.
TEST_F(HiddenCounterTest, FailedRaceStillReapsEveryChild) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping mapping, Mapping::Anonymous(sizeof(SharedCounter), Sharing::kShared));
  auto* counter = static_cast<SharedCounter*>(mapping.data());
  ASSERT_THAT(InitCounter(counter, LockKind::kRobust), IsOk());
  ipc::ExitStatus holder = RunChild([counter] {
    return ::pthread_mutex_lock(&counter->mutex) == 0 ? 0 : 2;  // and exits holding it
  });
  ASSERT_TRUE(holder.Succeeded());
  ASSERT_EQ(::pthread_mutex_lock(&counter->mutex), EOWNERDEAD);
  ASSERT_EQ(::pthread_mutex_unlock(&counter->mutex), 0);  // without consistent: unrecoverable
  absl::Status raced = RaceOnCounter(counter, 3, 100, kWait);
  EXPECT_FALSE(raced.ok()) << "every AddToCounter fails with ENOTRECOVERABLE here";
  EXPECT_THAT(AddToCounter(counter, 1), HasErrno(ENOTRECOVERABLE));
  // HiddenTest::TearDown checks that no child was left behind.
}

// ---------------------------------------------------------------------------------------------
// Part 3: the cache
// ---------------------------------------------------------------------------------------------
using HiddenCacheTest = HiddenTest;

TEST_F(HiddenCacheTest, AttachChecksTheMapping) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping small, Mapping::Anonymous(SharedCache::RegionBytes(8) - 1,
                                                             Sharing::kShared));
  EXPECT_THAT(SharedCache::Attach(small, 8), StatusIs(absl::StatusCode::kInvalidArgument));
  IPC_ASSERT_OK_AND_ASSIGN(Mapping region, Mapping::Anonymous(SharedCache::RegionBytes(8),
                                                              Sharing::kShared));
  EXPECT_THAT(SharedCache::Attach(region, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  IPC_ASSERT_OK_AND_ASSIGN(Mapping private_region, Mapping::Anonymous(SharedCache::RegionBytes(8),
                                                                      Sharing::kPrivate));
  EXPECT_THAT(SharedCache::Attach(private_region, 8),
              StatusIs(absl::StatusCode::kFailedPrecondition))
      << "a cache in MAP_PRIVATE memory would be seen by one process only";
  ASSERT_THAT(SharedCache::Attach(region, 8), IsOk());
  EXPECT_THAT(SharedCache::Attach(region, 4), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "a region initialised for 8 entries must not be attached as 4";
}

// MF12: the notes' size, 10,000 entries of a 64-byte key and a 256-byte value.
TEST_F(HiddenCacheTest, TenThousandEntriesFillTheCacheExactly) {
  constexpr size_t kCapacity = 10000;
  IPC_ASSERT_OK_AND_ASSIGN(Mapping region, Mapping::Anonymous(SharedCache::RegionBytes(kCapacity),
                                                              Sharing::kShared));
  IPC_ASSERT_OK_AND_ASSIGN(SharedCache cache, SharedCache::Attach(region, kCapacity));
  for (size_t i = 0; i < kCapacity; ++i) {
    ASSERT_THAT(cache.Set(absl::StrCat("key-", i), absl::StrCat("value-", i), absl::Hours(1)),
                IsOk()) << "entry " << i << " of " << kCapacity;
  }
  EXPECT_THAT(cache.Set("one-more", "v", absl::Hours(1)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  IPC_ASSERT_OK_AND_ASSIGN(size_t size, cache.Size());
  EXPECT_EQ(size, kCapacity);
  ipc::ExitStatus child = RunChild([&] {
    for (size_t i = 0; i < kCapacity; ++i) {
      absl::StatusOr<std::string> value = cache.Get(absl::StrCat("key-", i));
      if (!value.ok() || *value != absl::StrCat("value-", i)) return 2;
    }
    return 0;
  });
  EXPECT_TRUE(child.Succeeded()) << child.ToString() << " (2: a key was lost or had a wrong value)";
}

TEST_F(HiddenCacheTest, ExpiredAndErasedEntriesAreReused) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping region, Mapping::Anonymous(SharedCache::RegionBytes(4),
                                                              Sharing::kShared));
  IPC_ASSERT_OK_AND_ASSIGN(SharedCache cache, SharedCache::Attach(region, 4));
  for (int i = 0; i < 4; ++i) ASSERT_THAT(cache.Set(absl::StrCat("old", i), "v", absl::Milliseconds(20)), IsOk());
  absl::SleepFor(absl::Milliseconds(50));
  IPC_ASSERT_OK_AND_ASSIGN(size_t expired_size, cache.Size());
  EXPECT_EQ(expired_size, 0u) << "expired entries are not counted";
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(cache.Set(absl::StrCat("new", i), "v", absl::Hours(1)), IsOk())
        << "expired entries must be reused for new keys";
  }
  ASSERT_THAT(cache.Set("erase-me", "v", absl::Hours(1)), IsOk());
  ASSERT_THAT(cache.Erase("erase-me"), IsOk());
  EXPECT_THAT(cache.Erase("erase-me"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(cache.Get("erase-me"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(cache.Set("in-its-place", "v", absl::Hours(1)), IsOk())
      << "an erased entry must be reusable";
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(cache.Get(absl::StrCat("new", i)), IsOk()) << "erasing must not hide other keys";
  }
  EXPECT_THAT(cache.Get(std::string(kMaxKeyBytes + 1, 'k')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// MF13: a second process attaches while the first holds the write lock; the lock stays held,
// the second waits, and then reads what the first committed.
TEST_F(HiddenCacheTest, AttachDuringAHeldWriteLockWaitsForTheCommit) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping region, Mapping::Anonymous(SharedCache::RegionBytes(16),
                                                              Sharing::kShared));
  IPC_ASSERT_OK_AND_ASSIGN(SharedCache cache, SharedCache::Attach(region, 16));
  ASSERT_THAT(cache.Set("k", "old", absl::InfiniteDuration()), IsOk());
  Signal holding, commit, attached;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([&] {
    absl::StatusOr<WriteBatch> batch = cache.BeginWrite();
    if (!batch.ok() || !batch->Set("k", "new", absl::InfiniteDuration()).ok()) return 2;
    holding.Notify();
    return commit.WaitFor(kWait) ? 0 : 3;  // the batch commits as the child returns
  }));
  ASSERT_TRUE(holding.WaitFor(kWait));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child reader, ipc::Child::Fork([&] {
    absl::StatusOr<SharedCache> mine = SharedCache::Attach(region, 16);
    if (!mine.ok()) return 2;
    absl::StatusOr<ReadView> early = mine->TryBeginRead();
    if (early.ok()) return 3;  // the write lock was lost
    attached.Notify();
    absl::StatusOr<std::string> value = mine->Get("k");  // blocks until the commit
    return value.ok() && *value == "new" ? 0 : 4;
  }));
  ASSERT_TRUE(attached.WaitFor(kWait)) << "the second process could not attach and be kept out";
  commit.Notify();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus written, writer.Wait(kWait));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus read, reader.Wait(kWait));
  EXPECT_TRUE(written.Succeeded()) << written.ToString();
  EXPECT_TRUE(read.Succeeded())
      << read.ToString() << " (3: the second Attach() reset a held lock, MF13; 4: it read "
      << "something other than the committed value)";
}

// MF12: three reader processes and one writer process; the writer commits 1,500 batches that
// set two keys to the same version; readers must never see a half-committed batch, and versions
// never go backwards.
TEST_F(HiddenCacheTest, ReadersNeverSeeAHalfCommittedBatch) {
  IPC_ASSERT_OK_AND_ASSIGN(Mapping region, Mapping::Anonymous(SharedCache::RegionBytes(1024),
                                                              Sharing::kShared));
  IPC_ASSERT_OK_AND_ASSIGN(SharedCache cache, SharedCache::Attach(region, 1024));
  constexpr int kVersions = 1500;
  auto value_of = [](int version) { return absl::StrCat(version, ":", std::string(200, 'v')); };
  ASSERT_THAT(cache.Set("left", value_of(0), absl::InfiniteDuration()), IsOk());
  ASSERT_THAT(cache.Set("right", value_of(0), absl::InfiniteDuration()), IsOk());
  std::vector<ipc::Child> readers;
  for (int r = 0; r < 3; ++r) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child reader, ipc::Child::Fork([&] {
      int last = 0;
      while (last < kVersions) {
        absl::StatusOr<ReadView> view = cache.BeginRead();
        if (!view.ok()) return 2;
        absl::StatusOr<std::string> left = view->Get("left");
        absl::StatusOr<std::string> right = view->Get("right");
        if (!left.ok() || !right.ok() || *left != *right) return 3;  // half a batch
        int version = std::atoi(left->c_str());
        if (version < last || *left != value_of(version)) return 4;
        last = version;
      }
      return 0;
    }));
    readers.push_back(std::move(reader));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([&] {
    for (int version = 1; version <= kVersions; ++version) {
      absl::StatusOr<WriteBatch> batch = cache.BeginWrite();
      if (!batch.ok()) return 2;
      if (!batch->Set("left", value_of(version), absl::InfiniteDuration()).ok()) return 3;
      if (!batch->Set("right", value_of(version), absl::InfiniteDuration()).ok()) return 3;
    }
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus written, writer.Wait(absl::Seconds(15)));
  EXPECT_TRUE(written.Succeeded())
      << "writer " << written.ToString() << " (timed out: readers that keep coming starved the "
      << "writer; the rwlock must prefer writers, see SharedCache::Attach)";
  for (ipc::Child& reader : readers) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus read, reader.Wait(absl::Seconds(5)));
    EXPECT_TRUE(read.Succeeded())
        << "reader " << read.ToString() << " (3: it saw one key of a batch without the other: "
        << "the write lock must cover the whole batch; 4: a version went backwards or a value "
        << "was torn, MF12)";
  }
}

// ---------------------------------------------------------------------------------------------
// Part 4: the message log
// ---------------------------------------------------------------------------------------------
using HiddenLogTest = HiddenTest;

// MF5: 100,000 messages between two exec'd programs, in order; the writer msyncs at the end as a
// durable program would, which the reader never needs (MF16).
TEST_F(HiddenLogTest, HundredThousandMessagesBetweenPrograms) {
  TempPath log("programs");
  ASSERT_THAT(MessageLog::Open(log.path(), absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Exec(ProgramPath("log_writer"),
      {"log_writer", "--path=" + log.path(), "--count=100000", "--sync"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child reader, ipc::Child::Exec(ProgramPath("log_reader"),
      {"log_reader", "--path=" + log.path(), "--count=100000"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus written, writer.Wait(absl::Seconds(30)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus read, reader.Wait(absl::Seconds(30)));
  EXPECT_TRUE(written.Succeeded()) << "log_writer " << written.ToString();
  EXPECT_TRUE(read.Succeeded()) << "log_reader " << read.ToString() << " (MF5)";
  EXPECT_FALSE(log.Exists()) << "the log file was left behind (MF8)";
}

// MF7: a million messages, no sleeps anywhere: each arrives exactly once, in order.
TEST_F(HiddenLogTest, MillionMessagesEachDeliveredExactlyOnce) {
  constexpr int kMessages = 1000000;
  TempPath log("million");
  IPC_ASSERT_OK_AND_ASSIGN(MessageLog writer, MessageLog::Create(log.path()));
  std::string where = log.path();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child reader, ipc::Child::Fork([where] {
    absl::StatusOr<MessageLog> in = MessageLog::Open(where, kWait);
    if (!in.ok()) return 2;
    for (int i = 0; i < kMessages; ++i) {
      absl::StatusOr<std::string> message = in->Receive(kWait);
      if (!message.ok()) return 3;
      if (*message != absl::StrCat(i)) {
        std::fprintf(stderr, "message #%d is \"%s\"\n", i, message->c_str());
        return 4;
      }
    }
    return absl::IsOutOfRange(in->Receive(kWait).status()) ? 0 : 5;
  }));
  for (int i = 0; i < kMessages; ++i) {
    absl::Status sent = writer.Send(absl::StrCat(i), kWait);
    ASSERT_THAT(sent, IsOk()) << "message " << i;
  }
  ASSERT_THAT(writer.Close(kWait), IsOk());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, reader.Wait(absl::Seconds(60)));
  EXPECT_TRUE(status.Succeeded())
      << status.ToString() << " (3: Receive failed or timed out; 4: a message was lost, repeated "
      << "or reordered: one writer per index, and the semaphores do the counting, MF7; 5: no "
      << "end of log after Close)";
}

// MF8: a stale file from an earlier run sits at the path, holding messages. A reader started
// first must skip it and wait for the fresh log; afterwards nothing is left in the directory.
TEST_F(HiddenLogTest, ReaderStartedFirstSkipsAStaleFile) {
  TempPath log("stale");
  {
    int fd = ::open(log.path().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_NE(fd, -1);
    ASSERT_EQ(::ftruncate(fd, sizeof(LogFile)), 0);
    void* data = ::mmap(nullptr, sizeof(LogFile), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(data, MAP_FAILED);
    ::close(fd);
    auto* stale = static_cast<LogFile*>(data);
    ASSERT_EQ(::sem_init(&stale->items, 1, 5), 0);
    ASSERT_EQ(::sem_init(&stale->free_slots, 1, kLogSlots - 5), 0);
    for (int i = 0; i < 5; ++i) {
      std::string text = absl::StrCat("stale ", i);
      std::memcpy(stale->slots[i].bytes, text.data(), text.size());
      stale->slots[i].length = static_cast<uint32_t>(text.size());
    }
    stale->write_index = 5;
    stale->state.store(kLogTaken);  // read by an earlier run's reader, never removed
    ASSERT_EQ(::munmap(data, sizeof(LogFile)), 0);
  }
  std::string where = log.path();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child reader, ipc::Child::Fork([where] {
    absl::StatusOr<MessageLog> in = MessageLog::Open(where, kWait);
    if (!in.ok()) return 2;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::string> message = in->Receive(kWait);
      if (!message.ok()) return 3;
      if (*message != absl::StrCat("fresh ", i)) return 4;
    }
    return absl::IsOutOfRange(in->Receive(kWait).status()) ? 0 : 5;
  }));
  absl::SleepFor(absl::Milliseconds(50));  // the reader is there first, looking at the stale file
  IPC_ASSERT_OK_AND_ASSIGN(MessageLog writer, MessageLog::Create(log.path()));
  for (int i = 0; i < 3; ++i) ASSERT_THAT(writer.Send(absl::StrCat("fresh ", i), kWait), IsOk());
  ASSERT_THAT(writer.Close(kWait), IsOk());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, reader.Wait(kWait));
  EXPECT_TRUE(status.Succeeded())
      << status.ToString() << " (4: the reader read a leftover of an earlier run: only a "
      << "kLogReady file is fresh, MF8; 2 or 3: it never got the fresh log)";
  EXPECT_FALSE(log.Exists()) << "the log file was left behind (MF8)";
  EXPECT_THAT(FilesStartingWith(log.path().substr(log.path().rfind('/') + 1)), ::testing::IsEmpty())
      << "temporary files were left in the directory";
}

TEST_F(HiddenLogTest, WriterDestroyedWithoutCloseLeavesNoFile) {
  TempPath log("dropped");
  {
    IPC_ASSERT_OK_AND_ASSIGN(MessageLog writer, MessageLog::Create(log.path()));
    ASSERT_THAT(writer.Send("never read", kWait), IsOk());
    ASSERT_TRUE(log.Exists());
  }
  EXPECT_FALSE(log.Exists()) << "a writer that goes away without Close() must still remove its "
                                "file (an error path must not leave one, MF8)";
}

TEST_F(HiddenLogTest, ReceiveTimesOutAndEndOfLogIsSticky) {
  TempPath log("timeout");
  IPC_ASSERT_OK_AND_ASSIGN(MessageLog writer, MessageLog::Create(log.path()));
  IPC_ASSERT_OK_AND_ASSIGN(MessageLog reader, MessageLog::Open(log.path(), kWait));
  EXPECT_FALSE(log.Exists()) << "the reader unlinks the name once it has the file mapped";
  EXPECT_THAT(reader.Receive(absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(reader.Send("x", kWait), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(writer.Send("last", kWait), IsOk());
  ASSERT_THAT(writer.Close(kWait), IsOk());
  EXPECT_THAT(writer.Send("after close", kWait), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<std::string> last = reader.Receive(kWait);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(*last, "last");
  EXPECT_THAT(reader.Receive(kWait), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(reader.Receive(kWait), StatusIs(absl::StatusCode::kOutOfRange))
      << "the end of the log must stay the end";
  EXPECT_THAT(writer.Sync(), IsOk()) << "Sync (msync MS_SYNC) works on the writer's file (MF16)";
}

TEST_F(HiddenLogTest, CreateInAMissingDirectoryFailsWithEnoent) {
  std::string path = absl::StrCat(TempDir(), "/no-such-dir-", ::getpid(), "/log");
  EXPECT_THAT(MessageLog::Create(path), HasErrno(ENOENT));
}

}  // namespace
}  // namespace mmap_fork
