// Tests of common/process.h: children are waited for with a deadline and never left behind.
#include "common/process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace ipc {
namespace {

using ::ipc::testing::HasErrno;

TEST(ChildTest, ForkReportsTheExitCode) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] { return 7; }));
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_EQ(status.kind, ExitStatus::Kind::kExited);
  EXPECT_EQ(status.code, 7);
  EXPECT_EQ(status.ToString(), "exited with code 7");
}

TEST(ChildTest, ForkReportsTheSignalByName) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] {
                             std::abort();
                             return 0;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_EQ(status.kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(status.signal, SIGABRT);
  EXPECT_EQ(status.ToString(), "killed by signal SIGABRT (Aborted)");
}

TEST(ChildTest, WaitKillsAChildThatOutlivesTheTimeout) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] {
                             for (;;) ::pause();
                             return 0;
                           }));
  pid_t pid = child.pid();
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Milliseconds(100)));
  EXPECT_EQ(status.kind, ExitStatus::Kind::kTimedOut);
  EXPECT_EQ(::kill(pid, 0), -1) << "the timed-out child " << pid << " is still alive";
}

TEST(ChildTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid;
  {
    IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] {
                               for (;;) ::pause();
                               return 0;
                             }));
    pid = child.pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "child " << pid << " survived its Child object";
  EXPECT_EQ(errno, ESRCH) << "it should be gone, not a zombie";
}

TEST(ChildTest, ExecRunsAProgramWithItsArguments) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child,
                           Child::Exec("/bin/sh", {"sh", "-c", "exit $((2 + 3))"}));
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_EQ(status.code, 5);
}

TEST(ChildTest, ExecPassesEnvironmentAndDescriptors) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ExecOptions options;
  options.stdout_fd = fds[1];
  options.env = {"IPCLABS_GREETING=hello"};
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Exec("/bin/sh", {"sh", "-c", "echo $IPCLABS_GREETING"},
                                                    options));
  ::close(fds[1]);
  char buffer[16] = {};
  ASSERT_EQ(::read(fds[0], buffer, sizeof buffer - 1), 6);
  EXPECT_STREQ(buffer, "hello\n");
  ::close(fds[0]);
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded());
}

TEST(ChildTest, ExecOfAMissingProgramIsAnError) {
  EXPECT_THAT(Child::Exec("/nonexistent/program", {}), HasErrno(ENOENT));
}

TEST(ChildTest, KillAndTryWait) {
  IPC_ASSERT_OK_AND_ASSIGN(Child child, Child::Fork([] {
                             for (;;) ::pause();
                             return 0;
                           }));
  EXPECT_EQ(child.TryWait().status().code(), absl::StatusCode::kUnavailable);
  IPC_ASSERT_OK(child.Kill(SIGTERM));
  IPC_ASSERT_OK_AND_ASSIGN(ExitStatus status, child.Wait(absl::Seconds(10)));
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_EQ(child.Kill(SIGTERM).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SignalNameTest, NamesSignals) {
  EXPECT_EQ(SignalName(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
}

}  // namespace
}  // namespace ipc
