// Tests of common/status.h: errors name the call, the object and errno's meaning.
#include "common/status.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::MessageHas;
using ::ipc::testing::StatusIs;

TEST(ErrnoErrorTest, NamesTheCallTheObjectAndTheErrno) {
  absl::Status status = ErrnoError("shm_open", "/ring-42", ENOENT);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(status.message(), "shm_open(\"/ring-42\"): No such file or directory [ENOENT]");
  EXPECT_THAT(status, HasErrno(ENOENT));
}

TEST(ErrnoErrorTest, LeavesOutAnEmptyObject) {
  EXPECT_EQ(ErrnoError("fork", "", EAGAIN).message(),
            "fork: Resource temporarily unavailable [EAGAIN]");
}

TEST(ErrnoErrorTest, MapsCommonErrnosToCodes) {
  EXPECT_THAT(ErrnoError("x", "", EACCES), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ErrnoError("x", "", EEXIST), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(ErrnoError("x", "", EINVAL), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ErrnoErrorTest, ReadsErrnoByDefault) {
  ASSERT_EQ(::shm_open("no-leading-slash/x", O_RDONLY, 0), -1);
  EXPECT_THAT(ErrnoError("shm_open", "no-leading-slash/x"), HasErrno(errno));
}

TEST(ErrnoOfTest, IsEmptyForOtherStatuses) {
  EXPECT_FALSE(ErrnoOf(absl::OkStatus()).has_value());
  EXPECT_FALSE(ErrnoOf(absl::InternalError("boom")).has_value());
}

TEST(WithContextTest, PrefixesTheMessageAndKeepsTheErrno) {
  absl::Status status = WithContext(ErrnoError("mmap", "/r", ENOMEM), "opening the ring");
  EXPECT_THAT(status, MessageHas("opening the ring: mmap(\"/r\")"));
  EXPECT_THAT(status, HasErrno(ENOMEM));
  EXPECT_TRUE(WithContext(absl::OkStatus(), "x").ok());
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  IPC_ASSIGN_OR_RETURN(int half, Half(x));
  IPC_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  IPC_RETURN_IF_ERROR(Half(x));
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(ErrnoNameTest, NamesKnownAndUnknownValues) {
  EXPECT_EQ(ErrnoName(EIDRM), "EIDRM");
  EXPECT_EQ(ErrnoName(99999), "errno 99999");
}

}  // namespace
}  // namespace ipc
