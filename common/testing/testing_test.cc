// common/testing/testing_test.cc: tests of the shared test helpers in testing.h that labs lean on
// (IsOkAndHolds, WaitAll, ReadAll, CapturedOutput): a helper that cannot fail would let a lab's
// test pass for the wrong reason.
//   bazel test //common/testing:testing_test
#include "common/testing/testing.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "gtest/gtest-spi.h"

namespace ipc::testing {
namespace {

TEST(IsOkAndHoldsTest, MatchesAnOkValueThatMatches) {
  absl::StatusOr<int> value = 7;
  EXPECT_THAT(value, IsOkAndHolds(7));
  EXPECT_THAT(value, IsOkAndHolds(::testing::Gt(5)));
  EXPECT_THAT(value, ::testing::Not(IsOkAndHolds(8)));
}

TEST(IsOkAndHoldsTest, RejectsAnError) {
  absl::StatusOr<int> error = absl::NotFoundError("gone");
  EXPECT_THAT(error, ::testing::Not(IsOkAndHolds(::testing::_)));
}

TEST(WaitAllTest, ReturnsEachChildsStatusInOrder) {
  std::vector<Child> children;
  for (int code : {0, 3, 5}) {
    absl::StatusOr<Child> child = Child::Fork([code] { return code; });
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(*std::move(child));
  }
  std::vector<ExitStatus> statuses = WaitAll(children, absl::Seconds(10));
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_TRUE(statuses[0].kind == ExitStatus::Kind::kExited &&
              statuses[0].code == 0)
      << statuses[0].ToString();
  EXPECT_TRUE(statuses[1].kind == ExitStatus::Kind::kExited &&
              statuses[1].code == 3)
      << statuses[1].ToString();
  EXPECT_TRUE(statuses[2].kind == ExitStatus::Kind::kExited &&
              statuses[2].code == 5)
      << statuses[2].ToString();
}

TEST(WaitAllTest, SharesOneDeadlineAcrossHungChildren) {
  std::vector<Child> children;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Child> child = Child::Fork([] {
      ::pause();  // hangs until killed
      return 0;
    });
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(*std::move(child));
  }
  const absl::Time start = absl::Now();
  std::vector<ExitStatus> statuses = WaitAll(children, absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(statuses.size(), 3u);
  for (const ExitStatus& status : statuses) {
    EXPECT_EQ(status.kind, ExitStatus::Kind::kTimedOut) << status.ToString();
  }
  // Three children with their own 300 ms each would take 900 ms; one deadline takes ~300 ms.
  EXPECT_LT(took, absl::Milliseconds(800)) << "WaitAll must share one deadline, took " << took;
}

TEST(ReadAllTest, ReadsToEndOfFile) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const std::string text(10000, 'x');  // more than one read() of ReadAll's buffer
  ASSERT_EQ(::write(write_end.get(), text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  write_end.Reset();
  EXPECT_EQ(ReadAll(read_end.get()), text);
}

TEST(CapturedOutputTest, HoldsWhatAnExecdChildPrinted) {
  CapturedOutput output;
  ASSERT_GE(output.fd(), 0);
  ExecOptions options;
  options.stdout_fd = output.fd();
  absl::StatusOr<Child> child =
      Child::Exec("/bin/sh", {"sh", "-c", "echo one; echo two"}, options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<ExitStatus> status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->Succeeded()) << status->ToString();
  EXPECT_EQ(output.Text(), "one\ntwo\n");
}

}  // namespace
}  // namespace ipc::testing
