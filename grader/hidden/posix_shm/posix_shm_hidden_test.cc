// grader/hidden/posix_shm/posix_shm_hidden_test.cc: the tests students never see.
//
// They probe the mistakes the handout's "Common mistakes" section warns about, without the
// students knowing exactly how: no ftruncate (SIGBUS, PS2), a stale object from a crashed run,
// a header or size mismatch (PS6), the reader started first (PS5), torn or lost messages under
// stress across processes, spinning instead of sleeping, leaks and descriptor leaks on failure
// paths, moved-from objects. Built against the student library and the reference:
//   bazel test //grader/hidden/posix_shm:all                              (reference: passes)
//   bazel test //grader/hidden/posix_shm:student/posix_shm_hidden_test    (the student's)
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ipc_snapshot.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/posix_shm/posix_shm.h"
#include "labs/posix_shm/posix_shm_test_util.h"

namespace posix_shm {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;
using ::ipc::testing::ReadAll;
using ::ipc::testing::StatusIs;
using ::posix_shm::test_util::Exists;
using ::posix_shm::test_util::NameGuard;
using ::posix_shm::test_util::Program;
using ::posix_shm::test_util::Start;

constexpr absl::Duration kChildTimeout = absl::Seconds(10);

off_t SizeOfObject(const std::string& name) {
  struct stat st {};
  if (::stat(("/dev/shm" + name).c_str(), &st) != 0) return -1;
  return st.st_size;
}

// Makes an object the way a crashed or foreign program would have left it: `size` bytes filled
// with `fill` (size 0: never truncated).
void MakeRawObject(const std::string& name, size_t size, char fill = 'S') {
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_NE(fd, -1) << std::strerror(errno);
  if (size > 0) {
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0) << std::strerror(errno);
    std::vector<char> bytes(size, fill);
    ASSERT_EQ(::pwrite(fd, bytes.data(), size, 0), static_cast<ssize_t>(size));
  }
  ::close(fd);
}

// Lines of /proc/self/maps that map `name`'s file.
int MappingsOf(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm" + name) != std::string::npos) ++n;
  }
  return n;
}

int OpenDescriptors() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

using HiddenSharedRegionTest = ipc::testing::LeakCheckedTest;
using HiddenSharedObjectTest = ipc::testing::LeakCheckedTest;
using HiddenMailboxTest = ipc::testing::LeakCheckedTest;
using HiddenAnonymousMemoryTest = ipc::testing::LeakCheckedTest;

// ---------------------------------------------------------------------------------------------
// SharedRegion

// PS2: without ftruncate, touching any page of the mapping raises SIGBUS.
TEST_F(HiddenSharedRegionTest, CreateSizesTheObjectBeforeItIsTouched) {
  const std::string name = ipc::UniqueName("sigbus");
  NameGuard guard(name);
  const size_t size = 3 * 4096 + 1;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, size));
  EXPECT_EQ(SizeOfObject(name), static_cast<off_t>(size)) << "ftruncate to the requested size (PS2)";
  std::byte* data = region.data();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([data, size] {
    ::signal(SIGBUS, SIG_DFL);
    for (size_t i = 0; i < size; i += 4096) data[i] = std::byte{1};
    data[size - 1] = std::byte{2};
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "touching every page of a new region: " << status.ToString()
                                  << " (SIGBUS: the object was mapped before ftruncate, PS2)";
}

// PS2: an object whose creator crashed before ftruncate has size 0: an error, not SIGBUS.
TEST_F(HiddenSharedRegionTest, OpenOfAnObjectNeverTruncatedIsAnError) {
  const std::string name = ipc::UniqueName("notrunc");
  NameGuard guard(name);
  MakeRawObject(name, 0);
  EXPECT_THAT(SharedRegion::Open(name), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "check fstat's st_size before mmap; size 0 means ftruncate was never called (PS2)";
}

// A stale object from a crashed run is reported by an exclusive Create, and left as it was.
TEST_F(HiddenSharedRegionTest, StaleObjectIsReportedAndLeftIntact) {
  const std::string name = ipc::UniqueName("stale");
  NameGuard guard(name);
  MakeRawObject(name, 4096, 'S');
  absl::StatusOr<SharedRegion> region = SharedRegion::Create(name, 4096);
  EXPECT_THAT(region, HasErrno(EEXIST));
  EXPECT_THAT(region, MessageHas(name)) << "the message names the object";
  ASSERT_TRUE(Exists(name)) << "a failed Create must not remove an object it did not create";
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion stale, SharedRegion::Open(name, Access::kReadOnly));
  EXPECT_EQ(stale.data()[100], std::byte{'S'}) << "a failed Create must not modify the object";
}

// Non-exclusive Create never resizes or removes an object of another size.
TEST_F(HiddenSharedRegionTest, NonExclusiveCreateRefusesAnObjectOfAnotherSize) {
  const std::string name = ipc::UniqueName("othersize");
  NameGuard guard(name);
  MakeRawObject(name, 100);
  EXPECT_THAT(SharedRegion::Create(name, 4096, {.exclusive = false}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(SizeOfObject(name), 100) << "another program's object must keep its size";
}

// A peer that has created the object but not yet sized it: non-exclusive Create sizes it.
TEST_F(HiddenSharedRegionTest, NonExclusiveCreateSizesAnObjectStillAtSizeZero) {
  const std::string name = ipc::UniqueName("racer");
  NameGuard guard(name);
  MakeRawObject(name, 0);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region,
                           SharedRegion::Create(name, 4096, {.exclusive = false}));
  EXPECT_EQ(region.size(), 4096u);
  EXPECT_EQ(SizeOfObject(name), 4096);
}

// No leak on a failure after shm_open.
TEST_F(HiddenSharedRegionTest, FailedCreateLeavesNoObject) {
  const std::string name = ipc::UniqueName("toolarge");
  {
    // First, Create must work at all (a stub that always fails would pass the rest).
    const std::string normal = ipc::UniqueName("normal");
    NameGuard guard(normal);
    IPC_ASSERT_OK(SharedRegion::Create(normal, 64));
  }
  const size_t size = static_cast<size_t>(std::numeric_limits<off_t>::max()) + 1;
  EXPECT_FALSE(SharedRegion::Create(name, size).ok()) << "a size beyond off_t cannot be created";
  EXPECT_FALSE(Exists(name)) << "a failed Create must remove the object it created";
}

// PS1: the mode is exactly what was asked, whatever the umask.
TEST_F(HiddenSharedRegionTest, CreateAppliesTheModeDespiteTheUmask) {
  const std::string name = ipc::UniqueName("umask");
  NameGuard guard(name);
  mode_t old = ::umask(0077);
  absl::StatusOr<SharedRegion> region = SharedRegion::Create(name, 64, {.mode = 0640});
  ::umask(old);
  IPC_ASSERT_OK(region);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm" + name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u) << "shm_open applies the umask; fchmod the new object";
}

// PS3: a kReadOnly region holds an O_RDONLY descriptor and a PROT_READ mapping.
TEST_F(HiddenSharedRegionTest, ReadOnlyOpenUsesAReadOnlyDescriptorAndMapping) {
  const std::string name = ipc::UniqueName("rofd");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion writer, SharedRegion::Create(name, 4096));
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion reader, SharedRegion::Open(name, Access::kReadOnly));
  int flags = ::fcntl(reader.fd(), F_GETFL);
  ASSERT_NE(flags, -1) << std::strerror(errno);
  EXPECT_EQ(flags & O_ACCMODE, O_RDONLY) << "a reader opens the object O_RDONLY (PS3)";
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int read_only_mappings = 0;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm" + name) != std::string::npos && line.find(" r--s ") != std::string::npos) {
      ++read_only_mappings;
    }
  }
  EXPECT_EQ(read_only_mappings, 1) << "a reader maps PROT_READ and MAP_SHARED (PS3)";
}

// PS3: O_RDWR on an object whose mode allows only reading gets EACCES. Root ignores file modes,
// so as root the check runs in a child that drops to nobody (the grader runs unprivileged).
TEST_F(HiddenSharedRegionTest, ReadWriteOpenOfAnObjectYouMayOnlyReadIsDenied) {
  const std::string name = ipc::UniqueName("perm");
  NameGuard guard(name);
  const bool root = ::geteuid() == 0;
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region,
                           SharedRegion::Create(name, 64, {.mode = root ? 0644u : 0400u}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&name, root] {
    if (root && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
      return 77;  // cannot drop privileges here
    }
    absl::StatusOr<SharedRegion> reader = SharedRegion::Open(name, Access::kReadOnly);
    if (!reader.ok()) return 1;
    absl::StatusOr<SharedRegion> writer = SharedRegion::Open(name, Access::kReadWrite);
    if (writer.ok()) return 2;
    if (ipc::ErrnoOf(writer.status()) != EACCES) return 3;
    if (writer.status().code() != absl::StatusCode::kPermissionDenied) return 4;
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  if (status.kind == ipc::ExitStatus::Kind::kExited && status.code == 77) {
    GTEST_SKIP() << "running as root and cannot drop privileges here; the grader runs this "
                    "unprivileged";
  }
  EXPECT_TRUE(status.Succeeded())
      << status.ToString()
      << " (1: a kReadOnly Open failed: open O_RDONLY and map PROT_READ; 2: a read/write Open of "
         "a read-only object succeeded; 3, 4: it did not fail with EACCES / PERMISSION_DENIED)";
}

// The destructor unmaps and closes; move assignment releases what it overwrites.
TEST_F(HiddenSharedRegionTest, DestroyingARegionReleasesTheMappingAndDescriptor) {
  const std::string name = ipc::UniqueName("release");
  NameGuard guard(name);
  const int fds_before = OpenDescriptors();
  {
    IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, 8192));
    EXPECT_EQ(MappingsOf(name), 1);
    IPC_ASSERT_OK_AND_ASSIGN(SharedRegion other, SharedRegion::Open(name, Access::kReadOnly));
    EXPECT_EQ(MappingsOf(name), 2);
    other = SharedRegion();  // move-assigning an empty region releases the old mapping
    EXPECT_EQ(MappingsOf(name), 1) << "move assignment must release the mapping it replaces";
  }
  EXPECT_EQ(MappingsOf(name), 0) << "~SharedRegion must munmap";
  EXPECT_EQ(OpenDescriptors(), fds_before) << "~SharedRegion must close the descriptor";
  EXPECT_TRUE(Exists(name)) << "~SharedRegion must not unlink: removal is explicit (PS4)";
}

TEST_F(HiddenSharedRegionTest, MovedFromAndAnonymousRegionsRefuseToUnlink) {
  const std::string name = ipc::UniqueName("movedfrom");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion a, SharedRegion::Create(name, 64));
  SharedRegion b = std::move(a);
  EXPECT_THAT(a.Unlink(), StatusIs(absl::StatusCode::kFailedPrecondition));  // NOLINT
  EXPECT_TRUE(Exists(name)) << "a moved-from region must not unlink the name it no longer owns";
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion anonymous, SharedRegion::CreateAnonymous("anon", 64));
  EXPECT_THAT(anonymous.Unlink(), StatusIs(absl::StatusCode::kFailedPrecondition));
  IPC_EXPECT_OK(b.Unlink());
}

TEST_F(HiddenSharedRegionTest, ErrorsNameTheCallAndTheObject) {
  const std::string name = ipc::UniqueName("absent");
  EXPECT_THAT(SharedRegion::Open(name), MessageHas("shm_open(\"" + name + "\")"));
  EXPECT_THAT(SharedRegion::Unlink(name), HasErrno(ENOENT));
  EXPECT_THAT(SharedRegion::Unlink(name), MessageHas("shm_unlink"));
}

TEST_F(HiddenSharedRegionTest, RejectsOverlongNames) {
  const std::string name = "/" + std::string(ipc::kMaxPosixNameLength + 1, 'x');
  EXPECT_THAT(SharedRegion::Create(name, 64), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SharedRegion::Open(name), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SharedRegion::Unlink(name), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SharedRegion::Unlink("nope"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// SharedObject

struct Sample {
  static constexpr uint32_t kLayoutVersion = 7;
  int32_t a;
  double b;
};

struct SampleGrown {  // the same version number, but a field was added: a layout bug
  static constexpr uint32_t kLayoutVersion = 7;
  int32_t a;
  double b;
  double c;
};

TEST_F(HiddenSharedObjectTest, TheHeaderAndPayloadSitAtTheirFixedOffsets) {
  const std::string name = ipc::UniqueName("header");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto object, SharedObject<Sample>::Create(name, {5, 0.5}));
  const std::byte* bytes = object.region().data();
  uint32_t magic, version;
  uint64_t payload_size;
  std::memcpy(&magic, bytes, 4);
  std::memcpy(&version, bytes + 4, 4);
  std::memcpy(&payload_size, bytes + 8, 8);
  EXPECT_EQ(magic, kObjectMagic);
  EXPECT_EQ(version, 7u);
  EXPECT_EQ(payload_size, sizeof(Sample));
  Sample copy;
  std::memcpy(&copy, bytes + kObjectPayloadOffset, sizeof copy);
  EXPECT_EQ(copy.a, 5);
  EXPECT_EQ(copy.b, 0.5);
}

TEST_F(HiddenSharedObjectTest, OpenOfAPlainRegionIsNotAnObject) {
  const std::string name = ipc::UniqueName("plain");
  NameGuard guard(name);
  MakeRawObject(name, kObjectPayloadOffset + sizeof(Sample), 'G');
  EXPECT_THAT(SharedObject<Sample>::Open(name), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "check the magic before trusting anything else in the header";
}

TEST_F(HiddenSharedObjectTest, OpenWithTheSameVersionButAnotherSizeFails) {
  const std::string name = ipc::UniqueName("grown");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto object, SharedObject<Sample>::Create(name, {1, 2}));
  EXPECT_THAT(SharedObject<SampleGrown>::Open(name), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "the payload size in the header must match the reader's";
}

TEST_F(HiddenSharedObjectTest, OpenOfATooSmallObjectFails) {
  const std::string name = ipc::UniqueName("tiny");
  NameGuard guard(name);
  MakeRawObject(name, 10, '\0');
  EXPECT_THAT(SharedObject<Sample>::Open(name), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "an object smaller than header + payload is refused (PS6)";
}

TEST_F(HiddenSharedObjectTest, ReadOnlyOpenReadsThePayload) {
  const std::string name = ipc::UniqueName("objro");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto object, SharedObject<Sample>::Create(name, {9, 1.25}));
  IPC_ASSERT_OK_AND_ASSIGN(auto reader, SharedObject<Sample>::Open(name, Access::kReadOnly));
  EXPECT_EQ(reader.region().access(), Access::kReadOnly);
  EXPECT_EQ(reader->a, 9);
  EXPECT_EQ(reader->b, 1.25);
}

TEST_F(HiddenSharedObjectTest, CreateRefusesAnUnsupportedLayoutAndLeavesNothing) {
  const std::string name = ipc::UniqueName("align");
  ObjectLayout layout{.version = 1, .payload_size = 256, .payload_align = 2 * kObjectPayloadOffset};
  EXPECT_THAT(CreateObjectRegion(name, layout, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(Exists(name));
}

// ---------------------------------------------------------------------------------------------
// Mailbox

// PS6: a stale mailbox from an older build (1 KiB) is refused, not mapped, not resized.
TEST_F(HiddenMailboxTest, AttachRefusesAStaleObjectOfAnotherSize) {
  const std::string name = ipc::UniqueName("stalebox");
  NameGuard guard(name);
  MakeRawObject(name, 1024);
  EXPECT_THAT(Mailbox::Attach(name), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(SizeOfObject(name), 1024) << "leave a foreign object as it is";
}

TEST_F(HiddenMailboxTest, SendWaitsForTheSlotToEmptyAndNeverOverwrites) {
  const std::string name = ipc::UniqueName("full");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox mailbox, Mailbox::Attach(name));
  IPC_ASSERT_OK(mailbox.Send({1, 1.5}, absl::Seconds(1)));
  EXPECT_THAT(mailbox.Send({2, 2.5}, absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "the slot is full until the reader empties it";
  IPC_ASSERT_OK_AND_ASSIGN(Message message, mailbox.Receive(absl::Seconds(1)));
  EXPECT_EQ(message.i32, 1) << "the unread message must not be overwritten";
  EXPECT_EQ(message.f64, 1.5);
}

TEST_F(HiddenMailboxTest, ZeroTimeoutIsATry) {
  const std::string name = ipc::UniqueName("try");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox mailbox, Mailbox::Attach(name));
  absl::Time start = absl::Now();
  EXPECT_THAT(mailbox.Receive(absl::ZeroDuration()), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  IPC_EXPECT_OK(mailbox.Send({3, 3.5}, absl::ZeroDuration()));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, mailbox.Receive(absl::ZeroDuration()));
  EXPECT_EQ(message.i32, 3);
}

TEST_F(HiddenMailboxTest, MovedFromMailboxRefusesToWork) {
  const std::string name = ipc::UniqueName("movedbox");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox a, Mailbox::Attach(name));
  Mailbox b = std::move(a);
  EXPECT_THAT(a.Send({1, 1}, absl::ZeroDuration()),  // NOLINT(bugprone-use-after-move)
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a.Receive(absl::ZeroDuration()),  // NOLINT(bugprone-use-after-move)
              StatusIs(absl::StatusCode::kFailedPrecondition));
  IPC_EXPECT_OK(b.Send({1, 1}, absl::ZeroDuration()));
}

// PS5: a sleeping reader is woken by the writer's flag (futex wake), promptly.
TEST_F(HiddenMailboxTest, SleepingReaderIsWokenByALateWriter) {
  const std::string name = ipc::UniqueName("wake");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox writer, Mailbox::Attach(name));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&name] {
    absl::StatusOr<Mailbox> reader = Mailbox::Attach(name);
    if (!reader.ok()) return 1;
    absl::StatusOr<Message> message = reader->Receive(absl::Seconds(8));
    if (!message.ok()) return 2;
    return message->i32 == 11 && message->f64 == 0.125 ? 0 : 3;
  }));
  absl::SleepFor(absl::Milliseconds(200));  // the reader is asleep by now
  absl::Time sent = absl::Now();
  IPC_ASSERT_OK(writer.Send({11, 0.125}, absl::Seconds(1)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the reader " << status.ToString()
                                  << " (2: it was never woken: FUTEX_WAKE after the flag)";
  EXPECT_LT(absl::Now() - sent, absl::Seconds(2)) << "wake the sleeper when the flag goes up";
}

// A waiting process sleeps in the kernel: it does not burn a core while it waits.
TEST_F(HiddenMailboxTest, WaitingReaderSleepsInsteadOfSpinning) {
  const std::string name = ipc::UniqueName("cpu");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox mailbox, Mailbox::Attach(name));
  rusage before {};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &before), 0);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&mailbox] {
    absl::StatusOr<Message> message = mailbox.Receive(absl::Milliseconds(800));
    return message.status().code() == absl::StatusCode::kDeadlineExceeded ? 0 : 1;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << "Receive on an empty mailbox must time out: "
                                  << status.ToString();
  rusage after {};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &after), 0);
  auto cpu = [](const rusage& r) {
    return absl::DurationFromTimeval(r.ru_utime) + absl::DurationFromTimeval(r.ru_stime);
  };
  EXPECT_LT(cpu(after) - cpu(before), absl::Milliseconds(300))
      << "waiting 800 ms cost " << absl::FormatDuration(cpu(after) - cpu(before))
      << " of CPU: spin only briefly, then sleep in FUTEX_WAIT";
}

// Torn, lost or repeated messages under stress, across processes.
TEST_F(HiddenMailboxTest, ManyMessagesAcrossProcessesArriveWholeInOrderAndOnce) {
  const std::string name = ipc::UniqueName("stress");
  NameGuard guard(name);
  constexpr int kMessages = 20000;
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox reader, Mailbox::Attach(name));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([&name] {
    absl::StatusOr<Mailbox> mailbox = Mailbox::Attach(name);
    if (!mailbox.ok()) return 1;
    for (int i = 0; i < kMessages; ++i) {
      if (!mailbox->Send({i, i * 0.5 + 0.25}, absl::Seconds(5)).ok()) return 2;
    }
    return 0;
  }));
  int64_t sum = 0;
  for (int i = 0; i < kMessages; ++i) {
    absl::StatusOr<Message> message = reader.Receive(absl::Seconds(5));
    ASSERT_TRUE(message.ok()) << "message " << i << ": " << message.status();
    ASSERT_EQ(message->i32, i) << "lost or repeated message: publish with a release store after "
                                  "the data, and wait for the empty slot before writing";
    ASSERT_EQ(message->f64, i * 0.5 + 0.25) << "torn message " << i << ": the reader saw the flag "
                                               "before the data (acquire/release ordering)";
    sum += message->i32;
  }
  EXPECT_EQ(sum, int64_t{kMessages} * (kMessages - 1) / 2);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, writer.Wait(kChildTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the writer " << status.ToString();
  EXPECT_EQ(reader.layout()->state.load() & kFullBit, 0u);
}

// PS5 with the programs: the reader starts first and the writer comes 300 ms later.
TEST_F(HiddenMailboxTest, ReaderProgramWaitsForADelayedWriter) {
  const std::string name = ipc::UniqueName("delayed");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Start("shm_reader", {"--name=" + name}));
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<ipc::ExitStatus> early = reader.child.TryWait();
  ASSERT_FALSE(early.ok()) << "shm_reader did not wait for the writer: " << early->ToString() << ": "
                           << ReadAll(reader.err.get());
  IPC_ASSERT_OK_AND_ASSIGN(Program writer,
                           Start("shm_writer", {"--name=" + name, "--i32=2147483647", "--f64=-0.1"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus writer_status, writer.child.Wait(kChildTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus reader_status, reader.child.Wait(kChildTimeout));
  EXPECT_TRUE(writer_status.Succeeded()) << ReadAll(writer.err.get());
  EXPECT_TRUE(reader_status.Succeeded()) << ReadAll(reader.err.get());
  EXPECT_EQ(ReadAll(reader.out.get()), "i32=2147483647 f64=-0.1\n");
  EXPECT_FALSE(Exists(name)) << "the reader removes the mailbox (PS4)";
}

// A dead writer: the reader gives up with a sentence, and removes what it created.
TEST_F(HiddenMailboxTest, ReaderProgramGivesUpWhenNoWriterComes) {
  const std::string name = ipc::UniqueName("nowriter");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Program reader,
                           Start("shm_reader", {"--name=" + name, "--timeout_ms=300"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, reader.child.Wait(kChildTimeout));
  EXPECT_EQ(status.kind, ipc::ExitStatus::Kind::kExited) << status.ToString();
  EXPECT_EQ(status.code, 1) << "shm_reader must fail when no writer comes, not hang";
  EXPECT_THAT(ReadAll(reader.err.get()), ::testing::HasSubstr("no message"));
  EXPECT_FALSE(Exists(name)) << "no object is left behind on the failure path";
}

TEST_F(HiddenMailboxTest, WriterProgramReportsABadNameAsASentence) {
  IPC_ASSERT_OK_AND_ASSIGN(Program writer, Start("shm_writer", {"--name=no-slash"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, writer.child.Wait(kChildTimeout));
  EXPECT_EQ(status.code, 1) << status.ToString();
  EXPECT_THAT(ReadAll(writer.err.get()), ::testing::HasSubstr("must start with '/'"))
      << "validate the name with ipc::ValidatePosixName (PS1)";
}

// ---------------------------------------------------------------------------------------------
// Anonymous memory and descriptor passing

TEST_F(HiddenAnonymousMemoryTest, ReceiveFdReportsAPeerThatClosedWithoutSending) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ScopedFd mine(sv[0]);
  ::close(sv[1]);
  EXPECT_THAT(ReceiveFd(mine.get()), StatusIs(absl::StatusCode::kUnavailable))
      << "recvmsg returning 0 means the peer is gone";
}

TEST_F(HiddenAnonymousMemoryTest, ReceivedDescriptorIsCloseOnExecAndMapsTheRealSize) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ScopedFd a(sv[0]), b(sv[1]);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::CreateAnonymous("size", 3 * 4096 + 7));
  region.data()[3 * 4096 + 6] = std::byte{0x77};
  IPC_ASSERT_OK(SendFd(a.get(), region.fd()));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd received, ReceiveFd(b.get()));
  EXPECT_NE(::fcntl(received.get(), F_GETFD) & FD_CLOEXEC, 0) << "use MSG_CMSG_CLOEXEC";
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion mapped,
                           SharedRegion::FromFd(std::move(received), Access::kReadOnly));
  EXPECT_EQ(mapped.size(), 3u * 4096 + 7) << "the receiver learns the size with fstat (PS11)";
  EXPECT_EQ(mapped.data()[3 * 4096 + 6], std::byte{0x77});
}

TEST_F(HiddenAnonymousMemoryTest, FromFdRefusesAnEmptyObjectAndClosesTheDescriptor) {
  const int fds_before = OpenDescriptors();
  int fd = ::memfd_create("empty", MFD_CLOEXEC);
  ASSERT_NE(fd, -1) << std::strerror(errno);
  EXPECT_THAT(SharedRegion::FromFd(ScopedFd(fd), Access::kReadWrite),
              StatusIs(absl::StatusCode::kFailedPrecondition))
      << "a memfd nobody truncated has size 0 (PS2)";
  EXPECT_EQ(OpenDescriptors(), fds_before) << "FromFd owns the descriptor, failures included";
}

TEST_F(HiddenAnonymousMemoryTest, FromFdChecksTheExpectedSize) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::CreateAnonymous("expect", 100));
  EXPECT_THAT(SharedRegion::FromFd(ScopedFd(::dup(region.fd())), Access::kReadOnly, 1024),
              StatusIs(absl::StatusCode::kFailedPrecondition))
      << "PS6 holds for descriptors too";
}

}  // namespace
}  // namespace posix_shm
