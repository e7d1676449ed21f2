// labs/posix_shm/posix_shm_test.cc: the public tests of the POSIX shared memory lab.
//
// They check posix_shm.h task by task (README.md lists which test checks which task) with real
// processes: forked children (ipc::Child::Fork) and the lab's two programs, shm_writer and
// shm_reader, exec'd as you would run them. Every test fails if it leaves an object in /dev/shm
// (LeakCheckedTest). Run:
//   ./labctl test posix_shm          or   bazel test //labs/posix_shm:posix_shm_test
// One test:  bazel test //labs/posix_shm:posix_shm_test --test_arg=--gtest_filter='MailboxTest.*'
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
using ::testing::HasSubstr;
using ::posix_shm::test_util::Exists;
using ::posix_shm::test_util::NameGuard;
using ::posix_shm::test_util::Program;
using ::posix_shm::test_util::Start;

constexpr absl::Duration kChildTimeout = absl::Seconds(5);

// stat() of the object's file in /dev/shm.
struct stat StatObject(const std::string& name) {
  struct stat st {};
  EXPECT_EQ(::stat(("/dev/shm" + name).c_str(), &st), 0)
      << "/dev/shm" << name << " does not exist: " << std::strerror(errno);
  return st;
}

using SharedRegionTest = ipc::testing::LeakCheckedTest;
using SharedRegionDeathTest = SharedRegionTest;
using SharedObjectTest = ipc::testing::LeakCheckedTest;
using MailboxTest = ipc::testing::LeakCheckedTest;
using AnonymousMemoryTest = ipc::testing::LeakCheckedTest;

// ---------------------------------------------------------------------------------------------
// Task 1: Create and Open.

// PS1, PS2: the object appears in /dev/shm with the size set by ftruncate and mode 0600.
TEST_F(SharedRegionTest, CreateMakesAnObjectOfTheRequestedSizeAndMode) {
  const std::string name = ipc::UniqueName("create");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, 4096));
  ASSERT_NE(region.data(), nullptr);
  EXPECT_EQ(region.size(), 4096u);
  EXPECT_EQ(region.name(), name);
  EXPECT_EQ(region.access(), Access::kReadWrite);
  struct stat st = StatObject(name);
  EXPECT_EQ(st.st_size, 4096) << "ftruncate the object to the requested size (PS2)";
  EXPECT_EQ(st.st_mode & 07777, 0600u)
      << "the default mode is 0600; shm_open applies the umask, fchmod sets it exactly (PS1)";
  for (size_t i = 0; i < region.size(); i += 512) {
    ASSERT_EQ(region.data()[i], std::byte{0}) << "a new object reads as zeros";
  }
  region.data()[4095] = std::byte{7};  // the last byte is writable (SIGBUS here: no ftruncate)
}

// PS2, PS6: the opener learns the size from fstat, not from a constant it was compiled with.
TEST_F(SharedRegionTest, OpenFindsTheCreatorsSizeAndData) {
  const std::string name = ipc::UniqueName("open");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion writer, SharedRegion::Create(name, 12345));
  std::memcpy(writer.data(), "hello", 6);
  writer.data()[12344] = std::byte{0x5a};
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion reader, SharedRegion::Open(name, Access::kReadOnly));
  EXPECT_EQ(reader.size(), 12345u) << "Open must read the size with fstat (PS2)";
  EXPECT_EQ(reader.access(), Access::kReadOnly);
  EXPECT_STREQ(reinterpret_cast<const char*>(reader.data()), "hello");
  EXPECT_EQ(reader.data()[12344], std::byte{0x5a});
  EXPECT_NE(reader.data(), writer.data()) << "two mappings of one object have two addresses";
}

// PS1: bad names are refused with INVALID_ARGUMENT before any system call.
TEST_F(SharedRegionTest, RejectsANameWithoutALeadingSlash) {
  const std::string name = ipc::UniqueName("noslash").substr(1);
  EXPECT_THAT(SharedRegion::Create(name, 64), StatusIs(absl::StatusCode::kInvalidArgument))
      << "use ipc::ValidatePosixName (PS1)";
  EXPECT_THAT(SharedRegion::Open(name), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SharedRegionTest, RejectsANameWithASecondSlash) {
  const std::string name = ipc::UniqueName("two") + "/slashes";
  EXPECT_THAT(SharedRegion::Create(name, 64), StatusIs(absl::StatusCode::kInvalidArgument))
      << "a second '/' is not portable (PS1, MQ15)";
}

TEST_F(SharedRegionTest, RejectsAZeroSize) {
  const std::string name = ipc::UniqueName("zero");
  EXPECT_THAT(SharedRegion::Create(name, 0), StatusIs(absl::StatusCode::kInvalidArgument))
      << "mmap of 0 bytes fails; refuse size 0 before creating anything";
  EXPECT_FALSE(Exists(name)) << "a refused Create must not leave an object";
}

TEST_F(SharedRegionTest, CreateExclusiveFailsIfTheNameExists) {
  const std::string name = ipc::UniqueName("excl");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion first, SharedRegion::Create(name, 64));
  EXPECT_THAT(SharedRegion::Create(name, 64), HasErrno(EEXIST))
      << "O_EXCL: a second exclusive Create must fail with EEXIST, not reuse the object";
  EXPECT_TRUE(Exists(name)) << "the failed Create must not remove the existing object";
}

TEST_F(SharedRegionTest, CreateNonExclusiveOpensTheExistingObject) {
  const std::string name = ipc::UniqueName("nonexcl");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion first, SharedRegion::Create(name, 256));
  first.data()[10] = std::byte{42};
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion second,
                           SharedRegion::Create(name, 256, {.exclusive = false}));
  EXPECT_EQ(second.data()[10], std::byte{42}) << "non-exclusive Create opens what is there";
}

TEST_F(SharedRegionTest, OpenOfAMissingNameIsNotFound) {
  const std::string name = ipc::UniqueName("missing");
  absl::StatusOr<SharedRegion> region = SharedRegion::Open(name);
  EXPECT_THAT(region, HasErrno(ENOENT));
  EXPECT_THAT(region, MessageHas("shm_open")) << "use ipc::ErrnoError(\"shm_open\", name)";
}

// PS6: given a 100-byte object, a caller that expects 1024 bytes gets an error, not SIGBUS.
TEST_F(SharedRegionTest, OpenWithAnExpectedSizeReportsAMismatch) {
  const std::string name = ipc::UniqueName("small");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion small, SharedRegion::Create(name, 100));
  absl::StatusOr<SharedRegion> big = SharedRegion::Open(name, Access::kReadOnly, 1024);
  EXPECT_THAT(big, StatusIs(absl::StatusCode::kFailedPrecondition))
      << "compare fstat's st_size with expected_size before mapping (PS6)";
  EXPECT_THAT(big, MessageHas("100")) << "say how big the object really is";
}

// PS3: asking mmap for PROT_WRITE on a descriptor opened O_RDONLY fails with EACCES (for root
// too), and the error names mmap.
TEST_F(SharedRegionTest, MappingAReadOnlyDescriptorForWritingIsPermissionDenied) {
  const std::string name = ipc::UniqueName("rdonly");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, 4096));
  ScopedFd fd(::shm_open(name.c_str(), O_RDONLY, 0));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  absl::StatusOr<SharedRegion> mapped = SharedRegion::FromFd(std::move(fd), Access::kReadWrite);
  EXPECT_THAT(mapped, HasErrno(EACCES)) << "check mmap against MAP_FAILED and report errno (PS3)";
  EXPECT_THAT(mapped, MessageHas("mmap"));
}

// PS3: MAP_SHARED: a child that opens the object by name writes, and the parent sees it.
TEST_F(SharedRegionTest, ChildProcessWritesThroughItsOwnMapping) {
  const std::string name = ipc::UniqueName("child");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, 8192));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&name] {
    absl::StatusOr<SharedRegion> mine = SharedRegion::Open(name, Access::kReadWrite);
    if (!mine.ok() || mine->size() != 8192) return 1;
    std::memcpy(mine->data() + 8000, "from the child", 15);
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << "the child could not Open the object: " << status.ToString();
  EXPECT_STREQ(reinterpret_cast<const char*>(region.data() + 8000), "from the child")
      << "map with MAP_SHARED, not MAP_PRIVATE (PS3)";
}

TEST_F(SharedRegionTest, MoveTransfersTheMapping) {
  const std::string name = ipc::UniqueName("move");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion a, SharedRegion::Create(name, 64));
  std::byte* data = a.data();
  SharedRegion b = std::move(a);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.name(), name);
  EXPECT_FALSE(a.valid()) << "a moved-from region is empty";  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.fd(), -1);                                      // NOLINT(bugprone-use-after-move)
  b.data()[0] = std::byte{1};
}

// PS3: a write through a read-only mapping is killed by SIGSEGV.
TEST_F(SharedRegionDeathTest, WritingThroughAReadOnlyMappingFaults) {
  const std::string name = ipc::UniqueName("segv");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion writer, SharedRegion::Create(name, 4096));
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion reader, SharedRegion::Open(name, Access::kReadOnly));
  // The death test re-runs this test in a new process up to here; unlink now so that the process
  // that dies leaves nothing behind (both mappings survive the unlink: PS4).
  IPC_ASSERT_OK(SharedRegion::Unlink(name));
  EXPECT_EXIT(
      {
        ::signal(SIGSEGV, SIG_DFL);  // sanitizers catch SIGSEGV; we want the kernel's verdict
        *reinterpret_cast<volatile std::byte*>(reader.data()) = std::byte{1};
      },
      ::testing::KilledBySignal(SIGSEGV), "")
      << "a kReadOnly region must be mapped PROT_READ only (PS3)";
}

// ---------------------------------------------------------------------------------------------
// Task 2: Unlink.

// PS4: unlinking removes the name, not the memory: the live mapping still works.
TEST_F(SharedRegionTest, UnlinkWhileMappedKeepsTheMappingAndRemovesTheName) {
  const std::string name = ipc::UniqueName("unlink");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::Create(name, 4096));
  std::memcpy(region.data(), "still here", 11);
  IPC_ASSERT_OK(region.Unlink());
  EXPECT_FALSE(Exists(name)) << "after shm_unlink the name must be gone (PS4)";
  EXPECT_THAT(SharedRegion::Open(name), HasErrno(ENOENT)) << "a new Open must get ENOENT (PS4)";
  EXPECT_STREQ(reinterpret_cast<const char*>(region.data()), "still here")
      << "the mapping outlives the name (PS4)";
  EXPECT_THAT(SharedRegion::Unlink(name), HasErrno(ENOENT)) << "a second unlink finds nothing";
}

// ---------------------------------------------------------------------------------------------
// Task 3: typed objects.

struct PointV1 {
  static constexpr uint32_t kLayoutVersion = 1;
  int32_t x;
  int32_t y;
};

struct PointV2 {  // the same type a release later: new fields, new version
  static constexpr uint32_t kLayoutVersion = 2;
  int64_t x;
  int64_t y;
  int64_t z;
};

TEST_F(SharedObjectTest, RoundTripsATypedObjectAcrossProcesses) {
  const std::string name = ipc::UniqueName("point");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto point, SharedObject<PointV1>::Create(name, {3, 4}));
  EXPECT_EQ(point->x, 3);
  EXPECT_EQ(point.region().size(), kObjectPayloadOffset + sizeof(PointV1));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&name] {
    absl::StatusOr<SharedObject<PointV1>> mine = SharedObject<PointV1>::Open(name);
    if (!mine.ok() || (*mine)->x != 3 || (*mine)->y != 4) return 1;
    (*mine)->y = 40;
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << "the child could not open the object or saw other values: "
                                  << status.ToString();
  EXPECT_EQ(point->y, 40);
}

// A reader built with another layout gets a clear error instead of reading garbage.
TEST_F(SharedObjectTest, OpenWithAnotherLayoutVersionFails) {
  const std::string name = ipc::UniqueName("version");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(auto point, SharedObject<PointV1>::Create(name, {1, 2}));
  absl::StatusOr<SharedObject<PointV2>> other = SharedObject<PointV2>::Open(name);
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kFailedPrecondition))
      << "check the header's layout version and payload size in OpenObjectRegion";
}

// ---------------------------------------------------------------------------------------------
// Task 4: the mailbox and the two programs.

// PS12, PS16: what Send wrote is what Receive reads, and the reader's clear reaches the writer.
TEST_F(MailboxTest, ReceiveGetsWhatSendSentAndClearsTheFlag) {
  const std::string name = ipc::UniqueName("mailbox");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox writer, Mailbox::Attach(name));
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox reader, Mailbox::Attach(name));
  ASSERT_NE(writer.layout(), reader.layout()) << "each Attach maps the object anew";
  EXPECT_EQ(StatObject(name).st_size, 16) << "the mailbox object is exactly 16 bytes (PS12)";
  IPC_ASSERT_OK(writer.Send({42, 3.1415}, absl::Seconds(1)));
  EXPECT_EQ(reader.layout()->state.load() & kFullBit, kFullBit) << "Send raises the flag";
  IPC_ASSERT_OK_AND_ASSIGN(Message message, reader.Receive(absl::Seconds(1)));
  EXPECT_EQ(message.i32, 42);
  EXPECT_EQ(message.f64, 3.1415);
  EXPECT_EQ(writer.layout()->state.load(), 0u)
      << "the reader clears the flag through its read/write mapping, and the writer sees it (PS16)";
}

// PS12, PS13, PS15: the bytes sit at the fixed offsets, little-endian.
TEST_F(MailboxTest, TheBytesFollowTheFixedLayout) {
  const std::string name = ipc::UniqueName("bytes");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox mailbox, Mailbox::Attach(name));
  IPC_ASSERT_OK(mailbox.Send({0x01020304, 3.1415}, absl::Seconds(1)));
  const std::byte* bytes = mailbox.region().data();
  const unsigned char expected_i32[4] = {0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(std::memcmp(bytes + 4, expected_i32, 4), 0) << "i32 at offset 4, little-endian (PS12)";
  double f64;
  std::memcpy(&f64, bytes + 8, 8);
  EXPECT_EQ(f64, 3.1415) << "f64 at offset 8 (PS12, PS13)";
  EXPECT_EQ(static_cast<unsigned>(bytes[0]), kFullBit) << "the flag is the word at offset 0";
}

// PS5: a dead or absent writer gives an error after the timeout, not a hang.
TEST_F(MailboxTest, ReceiveTimesOutWhenNoWriterComes) {
  const std::string name = ipc::UniqueName("timeout");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Mailbox reader, Mailbox::Attach(name));
  absl::Time start = absl::Now();
  EXPECT_THAT(reader.Receive(absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(150)) << "Receive must wait for the timeout it was given";
  EXPECT_LT(waited, absl::Seconds(3)) << "Receive must give up when the timeout passes";
}

// PS5, PS12, PS13: the reader starts first and waits for the writer; the values cross between
// two separately built programs; the reader removes the object (PS4).
TEST_F(MailboxTest, ReaderStartedFirstGetsTheWritersMessage) {
  const std::string name = ipc::UniqueName("programs");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Start("shm_reader", {"--name=" + name}));
  // Let the reader get ahead: it must be waiting, not failing with ENOENT.
  absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (!Exists(name) && absl::Now() < deadline) {
    absl::StatusOr<ipc::ExitStatus> early = reader.child.TryWait();
    ASSERT_FALSE(early.ok()) << "shm_reader ended before the writer started (" << early->ToString()
                             << "): " << ReadAll(reader.err.get())
                             << "\n(a reader started first must wait for the writer: PS5)";
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::SleepFor(absl::Milliseconds(50));
  IPC_ASSERT_OK_AND_ASSIGN(Program writer,
                           Start("shm_writer", {"--name=" + name, "--i32=42", "--f64=3.1415"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus writer_status, writer.child.Wait(kChildTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus reader_status, reader.child.Wait(kChildTimeout));
  std::string out = ReadAll(reader.out.get());
  EXPECT_TRUE(writer_status.Succeeded()) << "shm_writer " << writer_status.ToString() << ": "
                                         << ReadAll(writer.err.get());
  ASSERT_TRUE(reader_status.Succeeded())
      << "shm_reader " << reader_status.ToString() << ": " << ReadAll(reader.err.get())
      << "\n(the reader must wait for the writer: PS5)";
  EXPECT_EQ(out, "i32=42 f64=3.1415\n");
  EXPECT_FALSE(Exists(name)) << "the reader unlinks the mailbox after reading (PS4)";
}

TEST_F(MailboxTest, WriterStartedFirstLeavesTheMessageForTheReader) {
  const std::string name = ipc::UniqueName("programs");
  NameGuard guard(name);
  IPC_ASSERT_OK_AND_ASSIGN(Program writer,
                           Start("shm_writer", {"--name=" + name, "--i32=-7", "--f64=2.5"}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus writer_status, writer.child.Wait(kChildTimeout));
  ASSERT_TRUE(writer_status.Succeeded())
      << "shm_writer " << writer_status.ToString() << ": " << ReadAll(writer.err.get());
  EXPECT_TRUE(Exists(name)) << "the writer leaves the object for the reader (PS4)";
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Start("shm_reader", {"--name=" + name}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus reader_status, reader.child.Wait(kChildTimeout));
  EXPECT_TRUE(reader_status.Succeeded())
      << "shm_reader " << reader_status.ToString() << ": " << ReadAll(reader.err.get());
  EXPECT_EQ(ReadAll(reader.out.get()), "i32=-7 f64=2.5\n");
}

// ---------------------------------------------------------------------------------------------
// Task 5: anonymous memory and descriptor passing.

// PS10: a forked child inherits the memfd's descriptor and maps the same memory.
TEST_F(AnonymousMemoryTest, ForkedChildMapsTheInheritedMemfd) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::CreateAnonymous("inherit", 5000));
  EXPECT_EQ(region.size(), 5000u);
  EXPECT_TRUE(region.name().empty()) << "an anonymous region has no name";
  ASSERT_GE(region.fd(), 0);
  const int fd = region.fd();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([fd] {
    absl::StatusOr<SharedRegion> mine = SharedRegion::FromFd(ScopedFd(::dup(fd)), Access::kReadWrite);
    if (!mine.ok() || mine->size() != 5000) return 1;
    std::memcpy(mine->data() + 4990, "memfd", 6);
    return 0;
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded()) << "FromFd in the child failed: " << status.ToString();
  EXPECT_STREQ(reinterpret_cast<const char*>(region.data() + 4990), "memfd");
}

// PS10, PS11: a process that did not inherit the memfd receives it over a Unix socket
// (SCM_RIGHTS), fstat's it for the size, maps it, and both see each other's writes.
TEST_F(AnonymousMemoryTest, DescriptorSentOverAUnixSocketMapsTheSameMemory) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0) << std::strerror(errno);
  ScopedFd parent_end(sv[0]), child_end(sv[1]);
  // The child exists before the memfd does, so it can only get it through the socket.
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
    parent_end.Reset();  // so that the parent giving up shows as EOF
    absl::StatusOr<ScopedFd> fd = ReceiveFd(child_end.get());
    if (!fd.ok()) return 1;
    absl::StatusOr<SharedRegion> mine = SharedRegion::FromFd(*std::move(fd), Access::kReadWrite);
    if (!mine.ok()) return 2;
    if (mine->size() != 12345) return 3;
    if (std::memcmp(mine->data(), "ping", 5) != 0) return 4;
    std::memcpy(mine->data() + 12340, "pong", 5);
    char done = 'd';
    return ::write(child_end.get(), &done, 1) == 1 ? 0 : 5;
  }));
  child_end.Reset();
  IPC_ASSERT_OK_AND_ASSIGN(SharedRegion region, SharedRegion::CreateAnonymous("passed", 12345));
  std::memcpy(region.data(), "ping", 5);
  IPC_ASSERT_OK(SendFd(parent_end.get(), region.fd()));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kChildTimeout));
  ASSERT_TRUE(status.Succeeded())
      << "the receiver " << status.ToString()
      << " (1: ReceiveFd failed, 2: FromFd failed, 3: wrong size, 4: did not see the parent's "
         "write, 5: could not answer)";
  EXPECT_STREQ(reinterpret_cast<const char*>(region.data() + 12340), "pong");
}

}  // namespace
}  // namespace posix_shm
