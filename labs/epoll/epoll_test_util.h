// labs/epoll/epoll_test_util.h: helpers that the public tests (epoll_test.cc) and the grader's
// hidden tests of this lab share, so that both run one copy of them: non-blocking pipes, the
// backend lists and their test names, the fixtures (leak checks and a socket directory; a
// blocked SIGUSR1 for pselect; a skip where io_uring is off; POSIX queues unlinked afterwards) and
// two server bodies the tests run in a child (an io_uring echo server, and an echo server left
// with only a few free descriptors).
//
// Built by labs/epoll/BUILD as :test_util (testonly, compiled against epoll.h and load.h only).
// Partner: epoll_test_util.cc.
#ifndef IPC_LABS_LABS_EPOLL_EPOLL_TEST_UTIL_H_
#define IPC_LABS_LABS_EPOLL_EPOLL_TEST_UTIL_H_

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"
#include "labs/epoll/epoll.h"
#include "labs/epoll/load.h"

namespace epoll::test_util {

// How long a test waits for one reply, one child or one readiness report before it fails.
inline constexpr absl::Duration kIoTimeout = absl::Seconds(5);

// Every readiness backend, and the ones without select's FD_SETSIZE ceiling (EP3, EP5), for
// INSTANTIATE_TEST_SUITE_P(..., ::testing::ValuesIn(kAllBackends), BackendParamName).
inline constexpr Backend kAllBackends[] = {Backend::kSelect, Backend::kPoll, Backend::kEpollLevel,
                                           Backend::kEpollEdge};
inline constexpr Backend kScalableBackends[] = {Backend::kPoll, Backend::kEpollLevel,
                                                Backend::kEpollEdge};

// BackendParamName()
//
// The test-name suffix of a backend: BackendName() with '-' made '_' (gtest allows no '-').
std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info);

// Pipe, MakePipe()
//
// A pipe whose two ends are owned; by default both non-blocking and close-on-exec (pass
// O_CLOEXEC alone for a blocking pipe). pipe2 failing is a test failure (EXPECT), and the ends
// then hold -1.
struct Pipe {
  ScopedFd read, write;
};
Pipe MakePipe(int flags = O_NONBLOCK | O_CLOEXEC);

// EpollLabTest
//
// The fixture every suite shares: LeakCheckedTest (no POSIX queue or other IPC object may be
// left behind), and a fresh directory for Unix socket files, removed after the test.
class EpollLabTest : public ipc::testing::LeakCheckedTest {
 protected:
  void SetUp() override;

  // A path named `name` in the test's socket directory (the file is not created).
  std::string SocketPath(const std::string& name = "echo.sock");

  // Listens on a fresh Unix socket (returned in `*where`) and starts an EchoServer with
  // `options` on it in a child process (`*server`); `file_limit`: as load::EchoServerBody.
  // Failures are fatal test failures: call it inside ASSERT_NO_FATAL_FAILURE.
  void StartEcho(const ServerOptions& options, load::ServerProcess* server, Endpoint* where,
                 rlim_t file_limit = 0);

 private:
  std::unique_ptr<load::SocketDir> dir_;
};

// SigUsr1BlockedTest
//
// For WaitForInputOrSignal (EP4): SIGUSR1 is blocked in this thread for the whole test, as the
// contract requires of the caller, and the old mask is restored afterwards.
class SigUsr1BlockedTest : public EpollLabTest {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  sigset_t old_mask_;  // the thread's mask before SetUp
};

// UringLabTest
//
// For io_uring (EP10): skips the test, with UringAvailable()'s sentence, where io_uring is
// disabled (UNAVAILABLE); any other error from UringAvailable() fails it.
class UringLabTest : public EpollLabTest {
 protected:
  void SetUp() override;
};

// QueueLabTest
//
// For DispatchQueues (EP2): opens POSIX message queues and unlinks every one it opened when the
// test ends, before the leak check (the test still closes its own mqd_t's).
class QueueLabTest : public EpollLabTest {
 protected:
  void TearDown() override;

  // Creates (O_CREAT, mode 0600) and opens queue `name` with `flags` and the given capacity;
  // remembers the name in names_. mq_open failing is a test failure (EXPECT) and returns
  // (mqd_t)-1.
  mqd_t OpenQueue(const std::string& name, int flags, long max_messages = 10,
                  long message_size = 64);

  std::vector<std::string> names_;  // every queue OpenQueue created, unlinked in TearDown
};

// UringEchoServerBody()
//
// The load::ServerBody that runs UringEchoServer::Create(listener) and Run() in the server
// child; SIGTERM (ServerProcess::Finish) is turned into Stop() by a handler (Stop is one
// write(2): async-signal-safe).
load::ServerBody UringEchoServerBody(ScopedFd listener);

// ScarceDescriptorServerBody()
//
// The load::ServerBody that creates an EchoServer with `options` and then leaves only
// `free_descriptors` descriptors free in the child (load::LeaveFreeDescriptors) before Run():
// the EMFILE case (Task 5, the spare-descriptor trick).
load::ServerBody ScarceDescriptorServerBody(ScopedFd listener, ServerOptions options,
                                            int free_descriptors);

}  // namespace epoll::test_util

#endif  // IPC_LABS_LABS_EPOLL_EPOLL_TEST_UTIL_H_
