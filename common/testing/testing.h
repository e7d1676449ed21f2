// common/testing/testing.h: what every lab's tests share.
//
//   - Matchers for absl::Status: IsOk(), StatusIs(code), HasErrno(ENOENT), and
//     IPC_ASSERT_OK_AND_ASSIGN(lhs, expr) for StatusOr values.
//   - LeakCheckedTest, a fixture that fails a test which leaves an IPC object behind.
//   - ProgramPath(), which finds a program the test execs (built beside the test binary).
//   - IsOkAndHolds(m), WaitAll(children), ReadAll(fd) and CapturedOutput: what several labs'
//     multi-process tests need to check a value, reap many children and read a child's output.
//
// Failure messages are for students: they say what was expected, what happened, and where to
// look.
#ifndef IPC_LABS_COMMON_TESTING_TESTING_H_
#define IPC_LABS_COMMON_TESTING_TESTING_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/ipc_snapshot.h"
#include "common/process.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ipc::testing {

// IsOk(): matches an OK absl::Status or absl::StatusOr<T>.
MATCHER(IsOk, "is OK") {
  absl::Status status = ::ipc::internal::ToStatus(arg);
  if (!status.ok()) *result_listener << "the call failed: " << status;
  return status.ok();
}

// StatusIs(code): matches a status (or StatusOr) whose code is `code`.
MATCHER_P(StatusIs, code,
          std::string("has status code ") + std::string(absl::StatusCodeToString(code))) {
  absl::Status status = ::ipc::internal::ToStatus(arg);
  if (status.code() != code) {
    *result_listener << "the status was " << (status.ok() ? "OK" : status.ToString());
  }
  return status.code() == code;
}

// HasErrno(err): matches a status made by ipc::ErrnoError with errno `err`.
MATCHER_P(HasErrno, err, std::string("failed with errno ") + ::ipc::ErrnoName(err)) {
  absl::Status status = ::ipc::internal::ToStatus(arg);
  std::optional<int> actual = ::ipc::ErrnoOf(status);
  if (status.ok()) {
    *result_listener << "the call succeeded";
  } else if (!actual.has_value()) {
    *result_listener << "the status carries no errno (make it with ipc::ErrnoError): " << status;
  } else if (*actual != err) {
    *result_listener << "it failed with " << ::ipc::ErrnoName(*actual) << ": " << status;
  }
  return actual.has_value() && *actual == err;
}

// MessageHas(text): matches a non-OK status whose message contains `text`.
MATCHER_P(MessageHas, text, std::string("fails with a message containing \"") + text + "\"") {
  absl::Status status = ::ipc::internal::ToStatus(arg);
  if (status.ok()) {
    *result_listener << "the call succeeded";
    return false;
  }
  *result_listener << "the message was: " << status.message();
  return status.message().find(text) != absl::string_view::npos;
}

// IsOkAndHolds(m): matches an OK absl::StatusOr whose value matches `m` (a matcher or a value).
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds the expected value") {
  if (!arg.ok()) {
    *result_listener << "the call failed: " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// WaitAll()
//
// Waits for every child against ONE deadline `total` from now (default 10 s), so that n hung children cost one
// timeout, not n; returns their exit statuses in order. A child that could not be waited for
// (Wait() failed) is reported with ADD_FAILURE and counted as timed out. A child still running at
// the deadline is killed by Child::Wait, as always.
std::vector<ExitStatus> WaitAll(std::vector<Child>& children,
                                absl::Duration total = absl::Seconds(10));

// ReadAll()
//
// Everything readable from `fd` until end of file (a pipe whose writers have all closed, say),
// retrying on EINTR. A read error ends the text early: the caller compares the text and sees it.
std::string ReadAll(int fd);

// CapturedOutput
//
// A memfd a child writes its stdout (or stderr) into, read back after it exits: no pipe to drain
// while the child runs, so a chatty child can never block on a full pipe. Fails the test (setup
// error) if memfd_create fails. Move-only; closes the memfd when destroyed.
class CapturedOutput {
 public:
  CapturedOutput();

  // CapturedOutput::fd()
  //
  // The descriptor to pass as ExecOptions::stdout_fd (or dup2 in a forked child); still owned here.
  int fd() const { return fd_.get(); }

  // CapturedOutput::Text()
  //
  // Everything written so far, from offset 0 (pread: the child's file offset does not matter).
  std::string Text() const;

 private:
  UniqueFd fd_;  // the memfd
};

// ProgramPath()
//
// The path of program `name`, built by the lab's BUILD file beside this test binary. Aborts the
// test with a clear message if it is not there.
std::string ProgramPath(const std::string& name);

// LeakedObjects()
//
// The IPC objects that exist now and did not in `before`, plus every POSIX object still alive
// under a name UniqueName() issued in this process since it had issued `names_before` names.
std::vector<IpcObject> LeakedObjects(const IpcSnapshot& before, size_t names_before = 0);

// LeakCheckedTest
//
// A fixture that snapshots the live IPC objects before each test and, after it, fails the test
// for every object it left behind (System V objects in this IPC namespace; POSIX objects named
// by UniqueName(); /dev/shm and /dev/mqueue entries under this test's prefix). Use it (or derive
// a lab fixture from it) for every test that creates IPC objects.
class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  IpcSnapshot before_;
  size_t names_before_ = 0;
};

}  // namespace ipc::testing

namespace absl {

// Prints a StatusOr in test failure messages as its status or its value (GoogleTest would
// otherwise dump its bytes). Found by argument-dependent lookup: absl's inline namespace makes
// `absl` an associated namespace of absl::StatusOr.
template <typename T>
void PrintTo(const StatusOr<T>& statusor, std::ostream* os) {
  if (!statusor.ok()) {
    *os << statusor.status();
  } else {
    *os << "OK: " << ::testing::PrintToString(*statusor);
  }
}

}  // namespace absl

// IPC_ASSERT_OK_AND_ASSIGN(lhs, expr): asserts that `expr` (an absl::StatusOr<T>) is OK and moves
// its value into `lhs`, which may declare a variable. On failure the test stops with the status.
#define IPC_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  IPC_ASSERT_OK_AND_ASSIGN_IMPL_(IPC_STATUS_CONCAT_(ipc_test_statusor_, __LINE__), lhs, expr)
#define IPC_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)                          \
  auto statusor = (expr);                                                           \
  ASSERT_TRUE(statusor.ok()) << #expr << " failed: " << statusor.status().ToString(); \
  lhs = std::move(statusor).value()

// IPC_ASSERT_OK(expr) / IPC_EXPECT_OK(expr): `expr` is an absl::Status or StatusOr.
#define IPC_ASSERT_OK(expr) ASSERT_THAT(expr, ::ipc::testing::IsOk()) << #expr
#define IPC_EXPECT_OK(expr) EXPECT_THAT(expr, ::ipc::testing::IsOk()) << #expr

#endif  // IPC_LABS_COMMON_TESTING_TESTING_H_
