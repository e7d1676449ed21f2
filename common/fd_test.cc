// common/fd_test.cc: tests of ipc::UniqueFd (common/fd.h): it closes what it owns exactly once,
// moves ownership, releases without closing, and reports close() errors from Close().
//   bazel test //common:fd_test
#include "common/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;

// True if `fd` is an open descriptor of this process.
bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// A fresh descriptor to own (the read end of a pipe; the write end is closed at once).
int NewFd() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[1]);
  return fds[0];
}

TEST(UniqueFdTest, DefaultHoldsNothing) {
  UniqueFd fd;
  EXPECT_EQ(fd.get(), -1);
  EXPECT_FALSE(fd.valid());
}

TEST(UniqueFdTest, DestructorClosesTheDescriptor) {
  int raw = NewFd();
  {
    UniqueFd fd(raw);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(IsOpen(raw)) << "~UniqueFd must close the descriptor it owns";
}

TEST(UniqueFdTest, MoveTransfersOwnershipAndLeavesTheSourceEmpty) {
  int raw = NewFd();
  UniqueFd a(raw);
  UniqueFd b(std::move(a));
  EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(b.get(), -1);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw)) << "a move must not close the descriptor";
}

TEST(UniqueFdTest, MoveAssignmentClosesTheOldDescriptor) {
  int old_raw = NewFd();
  int new_raw = NewFd();
  UniqueFd target(old_raw);
  target = UniqueFd(new_raw);
  EXPECT_FALSE(IsOpen(old_raw)) << "assigning over an owner must close what it held";
  EXPECT_TRUE(IsOpen(new_raw));
}

TEST(UniqueFdTest, ReleaseGivesUpOwnershipWithoutClosing) {
  int raw = NewFd();
  {
    UniqueFd fd(raw);
    EXPECT_EQ(fd.Release(), raw);
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_TRUE(IsOpen(raw)) << "a released descriptor belongs to the caller";
  ::close(raw);
}

TEST(UniqueFdTest, ResetClosesAndTakesTheNewDescriptor) {
  int first = NewFd();
  int second = NewFd();
  UniqueFd fd(first);
  fd.Reset(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(fd.get(), second);
  fd.Reset();
  EXPECT_FALSE(IsOpen(second));
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFdTest, CloseReportsSuccessAndEmptiesTheOwner) {
  int raw = NewFd();
  UniqueFd fd(raw);
  EXPECT_THAT(fd.Close("pipe"), IsOk());
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(IsOpen(raw));
  EXPECT_THAT(fd.Close("pipe"), IsOk()) << "closing an empty UniqueFd is a no-op";
}

TEST(UniqueFdTest, CloseReportsTheErrnoOfAFailedClose) {
  int raw = NewFd();
  ASSERT_EQ(::close(raw), 0);  // close behind the owner's back: its close() then fails with EBADF
  UniqueFd fd(raw);
  absl::Status status = fd.Close("stale pipe");
  EXPECT_THAT(status, HasErrno(EBADF));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("stale pipe"));
  EXPECT_FALSE(fd.valid()) << "the descriptor is released even when close fails";
}

}  // namespace
}  // namespace ipc
