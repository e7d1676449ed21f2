// grader/hidden/sysv_shm/sysv_shm_hidden_test.cc: the tests students never see.
//
// They go where the public tests stop: foreign segments under the student's key (SV3), start
// order and restarts (SV9, SV10), a killed peer in the middle of a file transfer, the notes'
// rhythms and stress sizes (SV11-SV14, SV17), and the corners of the contract (timeouts, size
// checks, move semantics). Each also shows the notes' broken pattern failing where that makes
// the point (broken.h). Comments cite CURRICULUM row IDs.
//
// Run (reference): bazel test //grader/hidden/sysv_shm:all
// Run (student):   bazel test //grader/hidden/sysv_shm:student/sysv_shm_hidden_test
// Partner files: labs/sysv_shm/sysv_shm.h, labs/sysv_shm/sysv_shm_test.cc (the public half).
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ipc_snapshot.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/sysv_shm/broken.h"
#include "labs/sysv_shm/sysv_shm.h"
#include "labs/sysv_shm/sysv_shm_test_util.h"

namespace sysv_shm {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;
using ::ipc::testing::ProgramPath;
using ::ipc::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::sysv_shm::test_util::Finished;
using ::sysv_shm::test_util::IdIsGone;
using ::sysv_shm::test_util::kWait;
using ::sysv_shm::test_util::Lines;
using ::sysv_shm::test_util::Pipe;
using ::sysv_shm::test_util::Program;
using ::sysv_shm::test_util::RandomBytes;
using ::sysv_shm::test_util::ReadFileOrEmpty;
using ::sysv_shm::test_util::RemoveIfPresent;
using ::sysv_shm::test_util::TempPath;
using ::sysv_shm::test_util::WriteFile;

off_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// System V segments alive now that were not in `before`.
std::vector<ipc::IpcObject> NewSegments(const ipc::IpcSnapshot& before) {
  std::vector<ipc::IpcObject> segments;
  absl::StatusOr<ipc::IpcSnapshot> now = ipc::IpcSnapshot::Take();
  if (!now.ok()) return segments;
  for (const ipc::IpcObject& object : now->NewSince(before)) {
    if (object.kind == ipc::IpcObject::Kind::kSysvShm) segments.push_back(object);
  }
  return segments;
}

// A segment made by "another program" (raw calls, as 001-003 would), removed by the destructor.
struct ForeignSegment {
  int id = -1;
  void* data = nullptr;
  ForeignSegment(key_t key, size_t size) {
    id = ::shmget(key, size, IPC_CREAT | IPC_EXCL | 0666);
    if (id == -1) {
      ADD_FAILURE() << "could not make the foreign segment: " << std::strerror(errno);
      return;
    }
    data = ::shmat(id, nullptr, 0);
    if (data == reinterpret_cast<void*>(-1)) data = nullptr;
  }
  ~ForeignSegment() {
    if (data != nullptr) ::shmdt(data);
    if (id != -1) ::shmctl(id, IPC_RMID, nullptr);
  }
};

class HiddenTest : public ipc::testing::LeakCheckedTest {};

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

using HiddenKeyTest = HiddenTest;

// ftok hashes the file's inode and device, not its name: two names of one file collide.
TEST_F(HiddenKeyTest, TwoNamesOfOneFileGiveTheSameKey) {
  const std::string path = TempPath("original");
  const std::string link = TempPath("hardlink");
  WriteFile(path, "x");
  ::unlink(link.c_str());
  ASSERT_EQ(::link(path.c_str(), link.c_str()), 0) << std::strerror(errno);
  IPC_ASSERT_OK_AND_ASSIGN(key_t a, KeyFromPath(path, 65));
  IPC_ASSERT_OK_AND_ASSIGN(key_t b, KeyFromPath(link, 65));
  EXPECT_EQ(a, b) << "ftok uses (inode, device, proj_id): a hard link derives the same key (SV1)";
  ::unlink(link.c_str());
  ::unlink(path.c_str());
}

// SV2: with the key file absent the program reports ftok's error, and nothing is created under
// key -1 (0xffffffff), the key every unchecked program would share.
TEST_F(HiddenKeyTest, MissingKeyFileIsReportedAndNothingIsCreatedUnderMinusOne) {
  ASSERT_THAT(KeyFromPath(TempPath("absent"), 65), HasErrno(ENOENT));
  IPC_ASSERT_OK_AND_ASSIGN(
      Program tool,
      Program::Start("shm_tool", {"--key_of=" + TempPath("absent"), "--proj_id=65"}, "tool"));
  Finished run = tool.Collect();
  EXPECT_EQ(run.exit.code, 1) << "shm_tool must fail: " << run.out;
  EXPECT_THAT(run.err, HasSubstr("ftok")) << "the error must name ftok (SV1)";
  EXPECT_THAT(run.err, HasSubstr("ENOENT"));
  EXPECT_EQ(::shmget(static_cast<key_t>(-1), 0, 0), -1) << "a segment exists under key -1 (SV2)";
  EXPECT_THAT(KeyFromPath(TempPath("absent"), 65), Not(IsOk()));
}

TEST_F(HiddenKeyTest, OnlyTheLowByteOfTheProjectIdCounts) {
  IPC_ASSERT_OK_AND_ASSIGN(key_t a, KeyFromPath("/", 65));
  IPC_ASSERT_OK_AND_ASSIGN(key_t b, KeyFromPath("/", 65 + 256));
  EXPECT_EQ(a, b) << "ftok keeps only proj_id & 0xff";
}

// ---------------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------------

using HiddenSegmentTest = HiddenTest;

// SV3: another program already uses the key (001-003's fixed keys make this likely). Creating
// with IPC_EXCL fails loudly; nothing of ours attaches to it or writes into it.
TEST_F(HiddenSegmentTest, ForeignSegmentUnderTheKeyIsNeverAdopted) {
  const key_t key = ipc::UniqueSysvKey();
  ForeignSegment foreign(key, 8192);
  ASSERT_NE(foreign.data, nullptr);
  std::strcpy(static_cast<char*>(foreign.data), "foreign data");
  EXPECT_THAT(Segment::Create(key, 8192), HasErrno(EEXIST)) << "Create must use IPC_EXCL (SV3)";
  EXPECT_THAT(SendFile(key, -1, TransferOptions{absl::Milliseconds(200)}), HasErrno(EEXIST))
      << "SendFile must create its segment with IPC_EXCL, not reuse whatever holds the key (SV3)";
  absl::StatusOr<SharedRing> ring = SharedRing::OpenOrCreate(key, absl::Milliseconds(200));
  EXPECT_THAT(ring, Not(IsOk()))
      << "a segment that was never marked ready is not a ring: OpenOrCreate must give up";
  EXPECT_STREQ(static_cast<char*>(foreign.data), "foreign data") << "the foreign segment was changed";
  struct shmid_ds ds;
  ASSERT_EQ(::shmctl(foreign.id, IPC_STAT, &ds), 0) << "the foreign segment was removed";
  EXPECT_EQ(ds.shm_nattch, 1u) << "something of ours stayed attached to the foreign segment";
}

TEST_F(HiddenSegmentTest, CreateOfSizeZeroFailsWithEinval) {
  EXPECT_THAT(Segment::Create(ipc::UniqueSysvKey(), 0), HasErrno(EINVAL));
}

// IPC_STAT follows attachments in every process, and remembers who touched the segment last.
TEST_F(HiddenSegmentTest, StatCountsAttachmentsOfOtherProcesses) {
  IPC_ASSERT_OK_AND_ASSIGN(Segment segment, Segment::Create(IPC_PRIVATE, 4096));
  IPC_ASSERT_OK_AND_ASSIGN(Attachment mine, segment.Attach());
  const int id = segment.id();
  Pipe attached, done;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
    absl::StatusOr<Attachment> theirs = Attachment::Attach(id, Access::kReadOnly);
    if (!theirs.ok()) return 1;
    attached.Signal();
    done.Await();
    return theirs->Detach().ok() ? 0 : 2;
  }));
  ASSERT_TRUE(attached.Await());
  IPC_ASSERT_OK_AND_ASSIGN(SegmentInfo during, segment.Stat());
  // 3: ours, the copy the child inherited by fork, and the child's own.
  EXPECT_EQ(during.nattch, 3) << "nattch counts attachments in all processes (fork inherits one)";
  EXPECT_EQ(during.last_pid, child.pid()) << "shm_lpid is the last process to shmat";
  const pid_t child_pid = child.pid();
  done.Signal();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus exit, child.Wait(kWait));
  EXPECT_TRUE(exit.Succeeded()) << exit.ToString();
  IPC_ASSERT_OK_AND_ASSIGN(SegmentInfo after, segment.Stat());
  EXPECT_EQ(after.nattch, 1) << "a process's attachments go when it exits";
  EXPECT_EQ(after.last_pid, child_pid);
}

TEST_F(HiddenSegmentTest, DetachNeverRemovesAndDetachingTwiceIsHarmless) {
  IPC_ASSERT_OK_AND_ASSIGN(Segment segment, Segment::Create(IPC_PRIVATE, 4096));
  IPC_ASSERT_OK_AND_ASSIGN(Attachment a, segment.Attach());
  IPC_ASSERT_OK(a.Detach());
  EXPECT_EQ(a.data(), nullptr);
  IPC_EXPECT_OK(a.Detach()) << "a second Detach is a no-op";
  IPC_ASSERT_OK_AND_ASSIGN(SegmentInfo info, segment.Stat());
  EXPECT_EQ(info.nattch, 0);
  EXPECT_FALSE(info.removed) << "shmdt only unmaps; it never removes the segment (SV7)";
}

TEST_F(HiddenSegmentTest, AnOpenersDestructorLeavesTheSegmentAlone) {
  const key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(Segment created, Segment::Create(key, 4096));
  { IPC_ASSERT_OK_AND_ASSIGN(Segment opened, Segment::Open(key, 4096)); }
  IPC_EXPECT_OK(created.Stat()) << "only the owner removes; an opener's destructor must not";
}

TEST_F(HiddenSegmentTest, MoveAssignmentRemovesTheSegmentItReplaces) {
  IPC_ASSERT_OK_AND_ASSIGN(Segment a, Segment::Create(IPC_PRIVATE, 4096));
  IPC_ASSERT_OK_AND_ASSIGN(Segment b, Segment::Create(IPC_PRIVATE, 4096));
  const int old_id = a.id();
  const int new_id = b.id();
  a = std::move(b);
  EXPECT_EQ(a.id(), new_id);
  EXPECT_TRUE(IdIsGone(old_id)) << "the owned segment that was overwritten leaked (SV8)";
  if (!IdIsGone(old_id)) ::shmctl(old_id, IPC_RMID, nullptr);
  Segment moved = std::move(a);
  EXPECT_EQ(moved.id(), new_id);
  EXPECT_FALSE(a.owned()) << "a moved-from Segment must not remove anything";  // NOLINT
}

// SV7, SV16: after IPC_RMID the inspect line says dest=yes and the key is gone (0).
TEST_F(HiddenSegmentTest, InspectShowsARemovedSegment) {
  IPC_ASSERT_OK_AND_ASSIGN(Segment segment, Segment::Create(ipc::UniqueSysvKey(), 4096));
  IPC_ASSERT_OK_AND_ASSIGN(Attachment a, segment.Attach());
  IPC_ASSERT_OK(segment.Remove());
  IPC_ASSERT_OK_AND_ASSIGN(std::string line, InspectSegment(segment.id()));
  EXPECT_THAT(line, HasSubstr("key=0x00000000")) << line;
  EXPECT_THAT(line, HasSubstr("nattch=1")) << line;
  EXPECT_THAT(line, HasSubstr("dest=yes")) << line;
  IPC_ASSERT_OK(a.Detach());
  EXPECT_THAT(InspectSegment(segment.id()), AnyOf(HasErrno(EINVAL), HasErrno(EIDRM)));
}

// ---------------------------------------------------------------------------------------------
// Seed record
// ---------------------------------------------------------------------------------------------

using HiddenSeedTest = HiddenTest;

TEST_F(HiddenSeedTest, WaitsEndWithDeadlineExceeded) {
  unsigned char region[kSeedSize] = {};
  EXPECT_THAT(TakeSeed(region, sizeof region, absl::Milliseconds(30)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  IPC_ASSERT_OK(PublishSeed(region, sizeof region, Seed{1, 1.0}, absl::Milliseconds(30)));
  EXPECT_THAT(PublishSeed(region, sizeof region, Seed{2, 2.0}, absl::Milliseconds(30)),
              StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "a full slot must not be overwritten: PublishSeed waits for the reader";
  IPC_ASSERT_OK_AND_ASSIGN(Seed first, TakeSeed(region, sizeof region, absl::Milliseconds(30)));
  EXPECT_EQ(first.value, 1) << "the unread record was overwritten";
}

TEST_F(HiddenSeedTest, BadRegionsAreRejected) {
  unsigned char small[8] = {};
  EXPECT_THAT(PublishSeed(nullptr, 16, Seed{}, absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PublishSeed(small, sizeof small, Seed{}, absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TakeSeed(small, sizeof small, absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(HiddenSeedTest, ExtremeValuesSurviveTheEncoding) {
  unsigned char region[kSeedSize] = {};
  const Seed cases[] = {{INT32_MIN, -0.0}, {INT32_MAX, HUGE_VAL}, {-1, 1e-310}, {0, -3.5}};
  for (const Seed& seed : cases) {
    IPC_ASSERT_OK(PublishSeed(region, sizeof region, seed, absl::Milliseconds(30)));
    EXPECT_EQ(region[1] | region[2] | region[3], 0) << "bytes 1-3 of the record are zero";
    IPC_ASSERT_OK_AND_ASSIGN(Seed back, TakeSeed(region, sizeof region, absl::Milliseconds(30)));
    EXPECT_EQ(back.value, seed.value);
    EXPECT_EQ(std::signbit(back.real), std::signbit(seed.real));
    EXPECT_EQ(back.real, seed.real);
  }
  const unsigned char minus_one_le[4] = {0xff, 0xff, 0xff, 0xff};
  IPC_ASSERT_OK(PublishSeed(region, sizeof region, Seed{-1, 0.0}, absl::Milliseconds(30)));
  EXPECT_EQ(std::memcmp(region + kSeedInt32Offset, minus_one_le, 4), 0);
}

// 3×10^4 records (each a full round trip between two processes) with no torn, lost or repeated record.
TEST_F(HiddenSeedTest, ThirtyThousandRecordsAcrossProcesses) {
  IPC_ASSERT_OK_AND_ASSIGN(Segment segment, Segment::Create(IPC_PRIVATE, kSeedSize));
  IPC_ASSERT_OK_AND_ASSIGN(Attachment mine, segment.Attach());
  IPC_ASSERT_OK(PublishSeed(mine.data(), mine.size(), Seed{}, kWait));
  IPC_ASSERT_OK(TakeSeed(mine.data(), mine.size(), kWait));
  constexpr int kRecords = 30000;
  const int id = segment.id();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([id] {
    absl::StatusOr<Attachment> a = Attachment::Attach(id, Access::kReadWrite);
    if (!a.ok()) return 1;
    for (int i = 0; i < kRecords; ++i) {
      if (!PublishSeed(a->data(), a->size(), Seed{-i, i * 0.5}, kWait).ok()) return 2;
    }
    return 0;
  }));
  int wrong = 0;
  for (int i = 0; i < kRecords; ++i) {
    absl::StatusOr<Seed> seed = TakeSeed(mine.data(), mine.size(), kWait);
    ASSERT_THAT(seed, IsOk()) << "record " << i;
    if (seed->value != -i || seed->real != i * 0.5) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "records lost, repeated or torn";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus exit, writer.Wait(kWait));
  EXPECT_TRUE(exit.Succeeded()) << exit.ToString();
}

// ---------------------------------------------------------------------------------------------
// File transfer
// ---------------------------------------------------------------------------------------------

using HiddenTransferTest = HiddenTest;

// SV10: no sleep(1) to make the writer go first. A reader started first waits for the segment.
TEST_F(HiddenTransferTest, ReaderStartedFirstWaitsForTheWriter) {
  ASSERT_THAT(ReceiveFile(ipc::UniqueSysvKey(), -1, TransferOptions{absl::Milliseconds(1)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  const std::string input = RandomBytes(100000, 7);
  const std::string in_path = TempPath("first.in");
  WriteFile(in_path, input);
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Program::Start("xfr_reader", {key_flag}, "reader"));
  absl::SleepFor(absl::Milliseconds(300));
  IPC_ASSERT_OK_AND_ASSIGN(Program writer, Program::Start("xfr_writer", {key_flag}, "writer", in_path));
  Finished r = reader.Collect();
  Finished w = writer.Collect();
  EXPECT_TRUE(r.exit.Succeeded()) << "a reader started before the writer must wait for it: "
                                  << r.exit.ToString() << ": " << r.err;
  EXPECT_TRUE(w.exit.Succeeded()) << w.exit.ToString() << ": " << w.err;
  EXPECT_TRUE(r.out == input) << "output differs from input (" << r.out.size() << " bytes)";
  EXPECT_FALSE(RemoveIfPresent(key));
  ::unlink(in_path.c_str());
}

// Cleanup on every path: the writer is killed mid-transfer. The reader says so (non-zero exit,
// a message about the writer) instead of hanging, and no segment is left behind.
TEST_F(HiddenTransferTest, KilledWriterIsReportedAndTheSegmentIsRemoved) {
  ASSERT_THAT(ReceiveFile(ipc::UniqueSysvKey(), -1, TransferOptions{absl::Milliseconds(1)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::IpcSnapshot before, ipc::IpcSnapshot::Take());
  const std::string in_path = TempPath("kill.in");
  WriteFile(in_path, RandomBytes(400 * kTransferBlockSize, 11));
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  IPC_ASSERT_OK_AND_ASSIGN(
      Program writer, Program::Start("xfr_writer", {key_flag, "--block_delay_ms=5"}, "writer", in_path));
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Program::Start("xfr_reader", {key_flag}, "reader"));
  ipc::Stopwatch watch;
  while (FileSize(reader.out_path()) < static_cast<off_t>(3 * kTransferBlockSize) &&
         watch.Elapsed() < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_GE(FileSize(reader.out_path()), static_cast<off_t>(3 * kTransferBlockSize))
      << "the transfer never got going";
  IPC_ASSERT_OK(writer.child().Kill(SIGKILL));
  Finished w = writer.Collect();
  Finished r = reader.Collect(absl::Seconds(8));
  EXPECT_NE(r.exit.kind, ipc::ExitStatus::Kind::kTimedOut)
      << "the reader hung after the writer died: wait with a timeout and check whether the writer "
         "is still attached (shm_nattch)";
  EXPECT_EQ(r.exit.kind, ipc::ExitStatus::Kind::kExited) << r.exit.ToString();
  EXPECT_NE(r.exit.code, 0) << "the reader must report the dead writer, not claim success";
  EXPECT_THAT(r.err, HasSubstr("writer")) << "the reader's message must say the writer went away";
  std::vector<ipc::IpcObject> left = NewSegments(before);
  EXPECT_TRUE(left.empty()) << "the transfer segment outlived both processes: "
                            << (left.empty() ? "" : left[0].ToString())
                            << "; mark it for removal (IPC_RMID) as soon as both are attached";
  for (const ipc::IpcObject& object : left) ::shmctl(object.id, IPC_RMID, nullptr);
  RemoveIfPresent(key);
  ::unlink(in_path.c_str());
}

// The other way round: the reader dies; the writer reports it and removes the segment.
TEST_F(HiddenTransferTest, KilledReaderIsReportedByTheWriter) {
  ASSERT_THAT(ReceiveFile(ipc::UniqueSysvKey(), -1, TransferOptions{absl::Milliseconds(1)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::IpcSnapshot before, ipc::IpcSnapshot::Take());
  const std::string in_path = TempPath("killr.in");
  WriteFile(in_path, RandomBytes(400 * kTransferBlockSize, 12));
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  IPC_ASSERT_OK_AND_ASSIGN(
      Program writer, Program::Start("xfr_writer", {key_flag, "--block_delay_ms=5"}, "writer", in_path));
  IPC_ASSERT_OK_AND_ASSIGN(Program reader, Program::Start("xfr_reader", {key_flag}, "reader"));
  ipc::Stopwatch watch;
  while (FileSize(reader.out_path()) < static_cast<off_t>(3 * kTransferBlockSize) &&
         watch.Elapsed() < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  IPC_ASSERT_OK(reader.child().Kill(SIGKILL));
  Finished r = reader.Collect();
  Finished w = writer.Collect(absl::Seconds(8));
  EXPECT_EQ(w.exit.kind, ipc::ExitStatus::Kind::kExited) << "the writer " << w.exit.ToString();
  EXPECT_NE(w.exit.code, 0) << "the writer must report the dead reader";
  EXPECT_THAT(w.err, HasSubstr("reader"));
  std::vector<ipc::IpcObject> left = NewSegments(before);
  EXPECT_TRUE(left.empty()) << "the transfer segment was left behind";
  for (const ipc::IpcObject& object : left) ::shmctl(object.id, IPC_RMID, nullptr);
  ::unlink(in_path.c_str());
}

// A writer whose reader never comes gives up, with DEADLINE_EXCEEDED, and leaves nothing.
TEST_F(HiddenTransferTest, WriterWithoutAReaderTimesOutAndRemovesItsSegment) {
  const std::string in_path = TempPath("alone.in");
  WriteFile(in_path, RandomBytes(3 * kTransferBlockSize, 3));
  int fd = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_NE(fd, -1) << std::strerror(errno);
  const key_t key = ipc::UniqueSysvKey();
  absl::Status status = SendFile(key, fd, TransferOptions{absl::Milliseconds(200)});
  ::close(fd);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(RemoveIfPresent(key)) << "SendFile must remove its segment on the error path too";
  ::unlink(in_path.c_str());
}

// ---------------------------------------------------------------------------------------------
// Ring
// ---------------------------------------------------------------------------------------------

using HiddenRingTest = HiddenTest;

void ProbeRing() {
  const key_t key = ipc::UniqueSysvKey();
  absl::StatusOr<SharedRing> ring = SharedRing::OpenOrCreate(key, kWait);
  ASSERT_THAT(ring, IsOk());
  IPC_ASSERT_OK(ring->Push(1, kWait));
  IPC_ASSERT_OK(ring->Pop(kWait));
  IPC_ASSERT_OK(ring->Remove());
}

std::vector<int64_t> Squares(int first, int count) {
  std::vector<int64_t> values;
  for (int i = first; i < first + count; ++i) {
    values.push_back(static_cast<int32_t>(static_cast<uint32_t>(i) * static_cast<uint32_t>(i)));
  }
  return values;
}

// SV10: 001's consumer sleeps 1 s "so the producer goes first". Start the consumer first, with
// random delays on both sides: it must still get all 100 items.
TEST_F(HiddenRingTest, ConsumerStartedFirstWithRandomDelaysGetsEverything) {
  ProbeRing();
  if (HasFatalFailure()) return;
  std::mt19937 rng(2024);
  for (int round = 0; round < 3; ++round) {
    const key_t key = ipc::UniqueSysvKey();
    const std::string key_flag = absl::StrCat("--key=", key);
    std::uniform_int_distribution<int> start(50000, 250000), step(0, 1500);
    IPC_ASSERT_OK_AND_ASSIGN(
        Program consumer,
        Program::Start("ring_consumer", {key_flag, "--count=100", absl::StrCat("--delay_us=", step(rng))},
                       "consumer"));
    IPC_ASSERT_OK_AND_ASSIGN(
        Program producer,
        Program::Start("ring_producer",
                       {key_flag, "--count=100", absl::StrCat("--start_delay_us=", start(rng)),
                        absl::StrCat("--delay_us=", step(rng))},
                       "producer"));
    Finished c = consumer.Collect();
    Finished p = producer.Collect();
    EXPECT_TRUE(c.exit.Succeeded()) << "round " << round << ": consumer " << c.exit.ToString() << ": " << c.err;
    EXPECT_TRUE(p.exit.Succeeded()) << "round " << round << ": producer " << p.exit.ToString() << ": " << p.err;
    EXPECT_EQ(Lines(c.out), Squares(0, 100)) << "round " << round << " (SV10)";
    EXPECT_FALSE(RemoveIfPresent(key)) << "the consumer must remove the ring";
  }
}

// SV9: the producer is restarted while items are still in the ring and the consumer is using it.
// One-time initialisation keeps every item; 001's always-initialising producer loses them.
TEST_F(HiddenRingTest, RestartedProducerKeepsEveryItem) {
  ProbeRing();
  if (HasFatalFailure()) return;
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  IPC_ASSERT_OK_AND_ASSIGN(
      Program consumer,
      Program::Start("ring_consumer", {key_flag, "--count=100", "--delay_us=3000"}, "consumer"));
  IPC_ASSERT_OK_AND_ASSIGN(Program first, Program::Start("ring_producer", {key_flag, "--count=50"}, "p1"));
  Finished p1 = first.Collect();
  ASSERT_TRUE(p1.exit.Succeeded()) << p1.err;
  IPC_ASSERT_OK_AND_ASSIGN(
      Program second, Program::Start("ring_producer", {key_flag, "--first=50", "--count=50"}, "p2"));
  Finished p2 = second.Collect();
  Finished c = consumer.Collect();
  EXPECT_TRUE(p2.exit.Succeeded()) << p2.err;
  EXPECT_TRUE(c.exit.Succeeded()) << "consumer " << c.exit.ToString() << ": " << c.err;
  EXPECT_EQ(Lines(c.out), Squares(0, 100))
      << "items were lost when the producer restarted: only the IPC_EXCL winner initialises (SV9)";
  EXPECT_FALSE(RemoveIfPresent(key));
}

TEST_F(HiddenRingTest, AlwaysInitialisingProducerLosesTheItemsInTheRing) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, SharedRing::OpenOrCreate(ipc::UniqueSysvKey(), kWait));
  for (int i = 0; i < 5; ++i) IPC_ASSERT_OK(ring.Push(i, kWait));
  const int id = ring.id();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child restart, ipc::Child::Fork([id] {
    void* p = ::shmat(id, nullptr, 0);  // as 001's producer does, unchecked
    broken::StartProducerAlwaysInitialising(static_cast<RingLayout*>(p));
    return 0;
  }));
  IPC_ASSERT_OK(restart.Wait(kWait));
  EXPECT_EQ(ring.Count(), 0) << "the broken producer reset count under us (SV9)";
  EXPECT_THAT(ring.Pop(absl::Milliseconds(50)), StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "the five items are gone after the broken restart (SV9)";
  IPC_ASSERT_OK(ring.Remove());
}

// SV11: no sleeps, 10^6 items: every one arrives (checksum) and count ends at 0.
TEST_F(HiddenRingTest, MillionItemsWithoutSleepsEndWithCountZero) {
  ProbeRing();
  if (HasFatalFailure()) return;
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  constexpr int kItems = 1000000;
  IPC_ASSERT_OK_AND_ASSIGN(
      Program consumer,
      Program::Start("ring_consumer", {key_flag, absl::StrCat("--count=", kItems), "--quiet"}, "consumer"));
  IPC_ASSERT_OK_AND_ASSIGN(
      Program producer, Program::Start("ring_producer", {key_flag, absl::StrCat("--count=", kItems)}, "producer"));
  Finished p = producer.Collect(absl::Seconds(30));
  Finished c = consumer.Collect(absl::Seconds(30));
  EXPECT_TRUE(p.exit.Succeeded()) << p.exit.ToString() << ": " << p.err;
  EXPECT_TRUE(c.exit.Succeeded()) << c.exit.ToString() << ": " << c.err;
  int64_t sum = 0;
  for (int64_t v : Squares(0, kItems)) sum += v;
  EXPECT_THAT(c.out, HasSubstr(absl::StrCat("sum=", sum))) << "items lost or repeated";
  EXPECT_THAT(c.out, HasSubstr("count=0"))
      << "count must end at 0: count++ and count-- from two processes must be atomic (SV11)";
  EXPECT_FALSE(RemoveIfPresent(key));
}

// SV17: 001's rhythm as written: producer every 10 ms, consumer every 15 ms, 100 squares.
TEST_F(HiddenRingTest, NotesRhythmDeliversTheHundredSquares) {
  ProbeRing();
  if (HasFatalFailure()) return;
  const key_t key = ipc::UniqueSysvKey();
  const std::string key_flag = absl::StrCat("--key=", key);
  IPC_ASSERT_OK_AND_ASSIGN(
      Program producer, Program::Start("ring_producer", {key_flag, "--count=100", "--delay_us=10000"}, "producer"));
  IPC_ASSERT_OK_AND_ASSIGN(
      Program consumer, Program::Start("ring_consumer", {key_flag, "--count=100", "--delay_us=15000"}, "consumer"));
  Finished c = consumer.Collect();
  Finished p = producer.Collect();
  EXPECT_TRUE(p.exit.Succeeded()) << p.err;
  EXPECT_TRUE(c.exit.Succeeded()) << c.err;
  EXPECT_EQ(Lines(c.out), Squares(0, 100)) << "(SV17)";
  EXPECT_FALSE(RemoveIfPresent(key));
}

TEST_F(HiddenRingTest, PushOnAFullRingTimesOut) {
  IPC_ASSERT_OK_AND_ASSIGN(SharedRing ring, SharedRing::OpenOrCreate(ipc::UniqueSysvKey(), kWait));
  for (int i = 0; i < kRingCapacity; ++i) IPC_ASSERT_OK(ring.Push(i, absl::Milliseconds(50)));
  EXPECT_EQ(ring.Count(), kRingCapacity);
  EXPECT_THAT(ring.Push(-1, absl::Milliseconds(50)), StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "the 1025th push must wait on `empty` and time out";
  IPC_ASSERT_OK_AND_ASSIGN(int32_t first, ring.Pop(absl::Milliseconds(50)));
  EXPECT_EQ(first, 0);
  IPC_ASSERT_OK(ring.Remove());
}

TEST_F(HiddenRingTest, TooSmallSegmentUnderTheKeyIsRejected) {
  const key_t key = ipc::UniqueSysvKey();
  ForeignSegment foreign(key, 64);
  EXPECT_THAT(SharedRing::OpenOrCreate(key, absl::Milliseconds(100)), HasErrno(EINVAL))
      << "a 64-byte segment is not a ring: shmget with sizeof(RingLayout) fails with EINVAL (SV5)";
}

// ---------------------------------------------------------------------------------------------
// Mutex block
// ---------------------------------------------------------------------------------------------

using HiddenMutexBlockTest = HiddenTest;

// SV12, SV13: two processes × 10^6 locked increments end at exactly 2×10^6.
TEST_F(HiddenMutexBlockTest, TwoMillionLockedIncrementsAreExact) {
  const key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(MutexBlock block, MutexBlock::OpenOrCreate(key, kWait));
  IPC_ASSERT_OK(block.AddLocked(0));
  constexpr int64_t kEach = 1000000;
  std::vector<ipc::Child> children;
  Pipe go;
  for (int c = 0; c < 2; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
      absl::StatusOr<MutexBlock> mine = MutexBlock::OpenOrCreate(key, kWait);
      if (!mine.ok()) return 1;
      go.Await();  // start together, so the two really contend
      return mine->AddLocked(kEach).ok() ? 0 : 2;
    }));
    children.push_back(std::move(child));
  }
  go.Signal();
  go.Signal();
  for (ipc::Child& child : children) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus exit, child.Wait(absl::Seconds(30)));
    EXPECT_TRUE(exit.Succeeded()) << exit.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(int64_t value, block.Value());
  EXPECT_EQ(value, 2 * kEach) << "lost updates: the lock must be PTHREAD_PROCESS_SHARED (SV12, SV13)";
  IPC_ASSERT_OK(block.Remove());
}

// SV14: 003 §4.1's rhythm (writer every 100 ms, reader every 150 ms; here 10 and 15 ms), with
// the reader waiting first: all 10 messages arrive in order. The mutex-only mailbox of the notes,
// driven the same way, loses messages.
TEST_F(HiddenMutexBlockTest, NotesRhythmDeliversEveryMessageAndMutexOnlyDoesNot) {
  const key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(MutexBlock block, MutexBlock::OpenOrCreate(key, kWait));
  EXPECT_THAT(block.Receive(absl::Milliseconds(20)), StatusIs(absl::StatusCode::kDeadlineExceeded));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child sender, ipc::Child::Fork([key] {
    absl::SleepFor(absl::Milliseconds(100));  // the reader is already waiting
    absl::StatusOr<MutexBlock> mine = MutexBlock::OpenOrCreate(key, kWait);
    if (!mine.ok()) return 1;
    for (int i = 0; i < 10; ++i) {
      if (!mine->Send(absl::StrCat("message ", i), kWait).ok()) return 2;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return 0;
  }));
  std::vector<std::string> got;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<std::string> message = block.Receive(kWait);
    ASSERT_THAT(message, IsOk()) << "message " << i;
    got.push_back(*message);
    absl::SleepFor(absl::Milliseconds(15));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus exit, sender.Wait(kWait));
  EXPECT_TRUE(exit.Succeeded()) << exit.ToString();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], absl::StrCat("message ", i)) << "(SV14)";
  IPC_ASSERT_OK(block.Remove());

  // The notes' version: the writer finishes before the slower reader looks (forced by waiting
  // for it), so the reader sees only the last message, ten times.
  IPC_ASSERT_OK_AND_ASSIGN(Segment segment, Segment::Create(IPC_PRIVATE, sizeof(broken::MutexOnlyMailbox)));
  IPC_ASSERT_OK_AND_ASSIGN(Attachment a, segment.Attach());
  auto* box = static_cast<broken::MutexOnlyMailbox*>(a.data());
  ASSERT_EQ(broken::InitMutexOnlyMailbox(box), 0);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([box] {
    for (int i = 0; i < 10; ++i) broken::MutexOnlyWrite(box, absl::StrCat("message ", i));
    return 0;
  }));
  IPC_ASSERT_OK(writer.Wait(kWait));
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) seen.push_back(broken::MutexOnlyRead(box));
  EXPECT_EQ(seen[0], "message 9") << "mutual exclusion is not a hand-off: messages 0-8 are lost";
}

// SV15: the lock another process holds stays held when a second process opens the block; the
// notes' unconditional pthread_mutex_init silently frees it.
TEST_F(HiddenMutexBlockTest, OpeningALiveBlockNeverFreesAHeldLock) {
  const key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(MutexBlock block, MutexBlock::OpenOrCreate(key, kWait));
  const int id = block.id();
  Pipe locked, release;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child holder, ipc::Child::Fork([&] {
    absl::StatusOr<MutexBlock> mine = MutexBlock::OpenOrCreate(key, kWait);
    if (!mine.ok() || !mine->Lock().ok()) return 1;
    locked.Signal();
    release.Await();
    return 0;  // exits holding the lock's memory as it is; the block is removed below
  }));
  ASSERT_TRUE(locked.Await());
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child opener, ipc::Child::Fork([key] {
      return MutexBlock::OpenOrCreate(key, kWait).ok() ? 0 : 1;
    }));
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus exit, opener.Wait(kWait));
    EXPECT_TRUE(exit.Succeeded()) << exit.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(bool got, block.TryLock());
  EXPECT_FALSE(got) << "a later OpenOrCreate re-initialised a mutex another process holds (SV15)";
  // The notes' start-up, in a fourth process: the held lock becomes free.
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child notes, ipc::Child::Fork([id] {
    void* p = ::shmat(id, nullptr, 0);
    broken::AttachMutexBlockAlwaysInitialising(static_cast<MutexBlockLayout*>(p));
    return 0;
  }));
  IPC_ASSERT_OK(notes.Wait(kWait));
  IPC_ASSERT_OK_AND_ASSIGN(bool stolen, block.TryLock());
  EXPECT_TRUE(stolen) << "the broken start-up re-initialised the held mutex, so it looks free";
  if (stolen) {
    IPC_EXPECT_OK(block.Unlock());
  }
  release.Signal();
  IPC_ASSERT_OK(holder.Wait(kWait));
  IPC_ASSERT_OK(block.Remove());
}

TEST_F(HiddenMutexBlockTest, OversizedMessageIsRejected) {
  IPC_ASSERT_OK_AND_ASSIGN(MutexBlock block, MutexBlock::OpenOrCreate(ipc::UniqueSysvKey(), kWait));
  EXPECT_THAT(block.Send(std::string(kMaxMessage + 1, 'x'), absl::Milliseconds(20)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  IPC_ASSERT_OK(block.Send(std::string(kMaxMessage, 'y'), absl::Milliseconds(20)));
  EXPECT_THAT(block.Send("second", absl::Milliseconds(20)), StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "Send into a full mailbox must wait for the receiver, then time out";
  IPC_ASSERT_OK_AND_ASSIGN(std::string message, block.Receive(absl::Milliseconds(20)));
  EXPECT_EQ(message, std::string(kMaxMessage, 'y'));
  IPC_ASSERT_OK(block.Remove());
}

}  // namespace
}  // namespace sysv_shm
