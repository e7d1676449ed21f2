// labs/epoll/epoll_test_util.cc: the helpers of epoll_test_util.h, shared by the public tests
// (epoll_test.cc) and the hidden tests (grader/hidden/epoll). Partner: epoll_test_util.h.
#include "labs/epoll/epoll_test_util.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/status.h"
#include "gmock/gmock.h"


namespace epoll::test_util {

std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info) {
  std::string name(BackendName(info.param));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

Pipe MakePipe(int flags) {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::pipe2(fds, flags), 0) << "pipe2: " << std::strerror(errno);
  return Pipe{ScopedFd(fds[0]), ScopedFd(fds[1])};
}

void EpollLabTest::SetUp() {
  LeakCheckedTest::SetUp();
  IPC_ASSERT_OK_AND_ASSIGN(load::SocketDir dir, load::SocketDir::Create());
  dir_ = std::make_unique<load::SocketDir>(std::move(dir));
}

std::string EpollLabTest::SocketPath(const std::string& name) { return dir_->Path(name); }

void EpollLabTest::StartEcho(const ServerOptions& options, load::ServerProcess* server,
                             Endpoint* where, rlim_t file_limit) {
  *where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(*where));
  IPC_ASSERT_OK_AND_ASSIGN(
      *server, load::StartServer(load::EchoServerBody(std::move(listener), options, file_limit)));
}

void SigUsr1BlockedTest::SetUp() {
  EpollLabTest::SetUp();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &set, &old_mask_), 0) << "pthread_sigmask";
}

void SigUsr1BlockedTest::TearDown() {
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);  // cannot fail with a valid how and mask
  EpollLabTest::TearDown();
}

void UringLabTest::SetUp() {
  EpollLabTest::SetUp();
  absl::Status available = UringAvailable();
  if (available.code() == absl::StatusCode::kUnavailable) GTEST_SKIP() << available.message();
  ASSERT_THAT(available, ipc::testing::IsOk());
}

void QueueLabTest::TearDown() {
  for (const std::string& name : names_) ::mq_unlink(name.c_str());  // ENOENT: already gone
  EpollLabTest::TearDown();
}

mqd_t QueueLabTest::OpenQueue(const std::string& name, int flags, long max_messages,
                              long message_size) {
  names_.push_back(name);
  mq_attr attr{};
  attr.mq_maxmsg = max_messages;
  attr.mq_msgsize = message_size;
  mqd_t q = ::mq_open(name.c_str(), flags | O_CREAT, 0600, &attr);
  EXPECT_NE(q, static_cast<mqd_t>(-1)) << "mq_open(" << name << "): " << std::strerror(errno);
  return q;
}

load::ServerBody UringEchoServerBody(ScopedFd listener) {
  // A ServerBody is a std::function, which must be copyable: share the descriptor.
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd](ServerStats* stats, const std::function<void()>& ready) -> absl::Status {
    IPC_ASSIGN_OR_RETURN(UringEchoServer ring, UringEchoServer::Create(std::move(*fd)));
    static UringEchoServer* current = nullptr;  // the handler's way to the ring (one per child)
    current = &ring;
    struct sigaction action {};
    action.sa_handler = [](int) { (void)current->Stop(); };
    if (::sigaction(SIGTERM, &action, nullptr) == -1) return ipc::ErrnoError("sigaction", "SIGTERM");
    ready();
    absl::Status run = ring.Run();
    *stats = ring.stats();
    return run;
  };
}

load::ServerBody ScarceDescriptorServerBody(ScopedFd listener, ServerOptions options,
                                            int free_descriptors) {
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd, options, free_descriptors](ServerStats* stats,
                                         const std::function<void()>& ready) -> absl::Status {
    IPC_ASSIGN_OR_RETURN(EchoServer echo, EchoServer::Create(std::move(*fd), options));
    IPC_RETURN_IF_ERROR(load::LeaveFreeDescriptors(free_descriptors));
    ready();
    absl::Status run = echo.Run();
    *stats = echo.stats();
    return run;
  };
}

}  // namespace epoll::test_util
