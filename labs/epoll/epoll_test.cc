// labs/epoll/epoll_test.cc: the public tests of the epoll lab.
//
// They check epoll.h task by task (README.md lists which test checks which task) with real
// processes: every server runs in a forked child (load::StartServer) or as the echo_server
// program, and the clients are this test process, so a server that hangs or crashes is seen
// from outside and killed at a deadline. Unix socket files live in a fresh directory that is
// removed afterwards; POSIX queues are checked for leaks (LeakCheckedTest). Run:
//   ./labctl test epoll          or   bazel test //labs/epoll:epoll_test
// One suite:  bazel test //labs/epoll:epoll_test --test_arg=--gtest_filter='*PollerTest.*'
#include "labs/epoll/epoll.h"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/epoll/broken.h"
#include "labs/epoll/epoll_test_util.h"
#include "labs/epoll/load.h"

namespace epoll {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using ::testing::HasSubstr;

using test_util::BackendParamName;
using test_util::EpollLabTest;
using test_util::kAllBackends;
using test_util::kIoTimeout;
using test_util::MakePipe;
using test_util::Pipe;

// ---------------------------------------------------------------------------------------------
// Task 1: Listen.

using ListenTest = EpollLabTest;

// EP8: the listener is part of the event loop, so it must never block.
TEST_F(ListenTest, UnixListenerIsNonBlockingCloseOnExecAndReportsItsPath) {
  const std::string path = SocketPath();
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd fd, Listen(Endpoint::Unix(path)));
  const int flags = ::fcntl(fd.get(), F_GETFL);
  EXPECT_NE(flags & O_NONBLOCK, 0) << "create it with SOCK_NONBLOCK (EP8)";
  EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0) << "create it with SOCK_CLOEXEC";
  IPC_ASSERT_OK_AND_ASSIGN(Endpoint bound, BoundEndpoint(fd.get()));
  EXPECT_EQ(bound.unix_path, path) << "BoundEndpoint reads the path back with getsockname";
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(Endpoint::Unix(path)));
}

TEST_F(ListenTest, TcpListenerOnPortZeroGetsAFreeLoopbackPort) {
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd fd, Listen(Endpoint::Tcp(0)));
  IPC_ASSERT_OK_AND_ASSIGN(Endpoint bound, BoundEndpoint(fd.get()));
  EXPECT_FALSE(bound.is_unix());
  ASSERT_NE(bound.tcp_port, 0) << "port 0 asks the kernel for a free port; getsockname tells which";
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(bound));
}

TEST_F(ListenTest, TooLongUnixPathIsInvalidArgument) {
  EXPECT_THAT(Listen(Endpoint::Unix(SocketPath(std::string(120, 'x')))),
              StatusIs(absl::StatusCode::kInvalidArgument))
      << "sun_path holds 108 bytes: check the length before bind, which would truncate it";
}

TEST_F(ListenTest, PathInUseIsEADDRINUSE) {
  const std::string path = SocketPath();
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd first, Listen(Endpoint::Unix(path)));
  EXPECT_THAT(Listen(Endpoint::Unix(path)), HasErrno(EADDRINUSE))
      << "bind on an existing socket file fails; report it with ipc::ErrnoError(\"bind\", path)";
}

// ---------------------------------------------------------------------------------------------
// Task 2: Poller, for each backend.

class PollerTest : public EpollLabTest, public ::testing::WithParamInterface<Backend> {
 protected:
  std::unique_ptr<Poller> Make() {
    absl::StatusOr<std::unique_ptr<Poller>> poller = MakePoller(GetParam());
    EXPECT_THAT(poller, IsOk());
    return poller.ok() ? std::move(*poller) : nullptr;
  }
};

// EP3, EP5, EP6: whatever the mechanism, only the descriptor with data is reported.
TEST_P(PollerTest, ReportsOnlyTheReadyDescriptor) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  std::vector<Pipe> pipes;
  for (int i = 0; i < 3; ++i) pipes.push_back(MakePipe());
  for (Pipe& p : pipes) IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  EXPECT_EQ(poller->size(), 3u);
  ASSERT_EQ(::write(pipes[1].write.get(), "x", 1), 1);
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u) << "exactly one pipe has data";
  ASSERT_EQ(events.size(), 1u) << "Wait replaces the contents of `events` with the ready ones";
  EXPECT_EQ(events[0].fd, pipes[1].read.get());
  EXPECT_NE(events[0].events & kReadable, 0u);
}

TEST_P(PollerTest, WaitReturnsZeroWhenTheTimeoutPasses) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  std::vector<Event> events = {{42, kReadable}};
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(absl::Milliseconds(20), events));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(events.empty()) << "a timeout leaves no stale events behind";
}

// EP8: a blocking descriptor has no place in an event loop.
TEST_P(PollerTest, RefusesABlockingDescriptor) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  Pipe p = MakePipe(O_CLOEXEC);
  EXPECT_THAT(poller->Add(p.read.get(), kReadable), StatusIs(absl::StatusCode::kFailedPrecondition))
      << "check O_NONBLOCK with fcntl(F_GETFL) in Add (EP8)";
  EXPECT_EQ(poller->size(), 0u);
}

TEST_P(PollerTest, AddingTwiceIsEEXISTAndRemovingAStrangerIsENOENT) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  EXPECT_THAT(poller->Add(p.read.get(), kReadable), HasErrno(EEXIST));
  EXPECT_THAT(poller->Remove(p.write.get()), HasErrno(ENOENT));
  EXPECT_THAT(poller->Modify(p.write.get(), kReadable), HasErrno(ENOENT));
  IPC_EXPECT_OK(poller->Remove(p.read.get()));
  EXPECT_EQ(poller->size(), 0u);
}

TEST_P(PollerTest, WritableInterestIsReportedAndCanBeDropped) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.write.get(), kWritable));
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u) << "an empty pipe is writable";
  EXPECT_NE(events[0].events & kWritable, 0u);
  IPC_ASSERT_OK(poller->Modify(p.write.get(), 0));
  IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(absl::Milliseconds(20), events));
  EXPECT_EQ(n, 0u) << "with kWritable dropped, a writable socket must not wake the loop (EP8)";
}

TEST_P(PollerTest, PeerClosingIsReported) {
  std::unique_ptr<Poller> poller = Make();
  ASSERT_NE(poller, nullptr);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  ScopedFd mine(sv[0]), theirs(sv[1]);
  IPC_ASSERT_OK(poller->Add(mine.get(), kReadable));
  theirs.Reset();
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u) << "a closed peer makes the socket readable (read returns 0) and hung up";
  EXPECT_NE(events[0].events & (kReadable | kHangup), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerTest,
                         ::testing::ValuesIn(kAllBackends), BackendParamName);

using TriggerModeTest = EpollLabTest;

// EP7: level-triggered reports a descriptor for as long as the data is there.
TEST_F(TriggerModeTest, LevelTriggeredReportsAgainWhileDataRemains) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(Backend::kEpollLevel));
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  ASSERT_EQ(::write(p.write.get(), "abc", 3), 3);
  std::vector<Event> events;
  for (int round = 0; round < 3; ++round) {
    IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
    EXPECT_EQ(n, 1u) << "round " << round << ": nothing was read, so LT reports it again (EP7)";
  }
}

// EP7: edge-triggered reports a change once; only new data (or Modify) reports it again.
TEST_F(TriggerModeTest, EdgeTriggeredReportsOnceUntilNewDataArrives) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(Backend::kEpollEdge));
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  ASSERT_EQ(::write(p.write.get(), "abc", 3), 3);
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u);
  IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(absl::Milliseconds(20), events));
  EXPECT_EQ(n, 0u) << "the data is still there but nothing changed: ET stays silent (did you "
                      "set EPOLLET?)";
  ASSERT_EQ(::write(p.write.get(), "d", 1), 1);
  IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(kIoTimeout, events));
  EXPECT_EQ(n, 1u) << "new data is a new edge";
  IPC_ASSERT_OK(poller->Modify(p.read.get(), kReadable));
  IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(kIoTimeout, events));
  EXPECT_EQ(n, 1u) << "EPOLL_CTL_MOD re-arms: a condition that holds is reported again";
}

using FdSetSizeTest = EpollLabTest;

// EP3: an fd_set is a 1024-bit bitmap; FD_SET(1100) would write past it.
TEST_F(FdSetSizeTest, SelectRefusesADescriptorAtOrAboveFdSetSize) {
  absl::Status raised = load::RaiseFileLimit(FD_SETSIZE + 100);
  if (!raised.ok()) GTEST_SKIP() << raised.message();
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> select, MakePoller(Backend::kSelect));
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poll, MakePoller(Backend::kPoll));
  Pipe p = MakePipe();
  const int high = FD_SETSIZE + 50;
  ASSERT_EQ(::dup3(p.read.get(), high, O_CLOEXEC), high) << std::strerror(errno);
  ScopedFd high_fd(high);
  EXPECT_THAT(select->Add(high, kReadable), StatusIs(absl::StatusCode::kInvalidArgument))
      << "select cannot watch fd " << high << ": refuse it before FD_SET (EP3)";
  EXPECT_EQ(select->size(), 0u);
  IPC_EXPECT_OK(poll->Add(high, kReadable)) << "poll has no such ceiling (EP5)";
}

// ---------------------------------------------------------------------------------------------
// Task 3: the echo server, on every backend.

class EchoServerTest : public EpollLabTest, public ::testing::WithParamInterface<Backend> {};

// EP6, EP12: one thread serves sixteen clients at once.
TEST_P(EchoServerTest, EchoesEveryFrameOfManyConcurrentClients) {
  ServerOptions options;
  options.backend = GetParam();
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  load::LoadOptions load;
  load.where = where;
  load.clients = 16;
  load.requests = 50;
  load.payload = 300;
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 800u);
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 16u);
  EXPECT_EQ(stats.frames, 800u) << "every complete frame is echoed once";
  EXPECT_EQ(stats.closed, stats.accepted) << "shutdown closes every client";
}

// EP7, EP8: a burst much larger than one read comes back whole, even with edge triggering.
TEST_P(EchoServerTest, LargeBurstComesBackWhole) {
  ServerOptions options;
  options.backend = GetParam();
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  std::string burst;
  for (int i = 0; i < 64; ++i)
    burst += load::Frame(std::string(8000, static_cast<char>('a' + i % 26)));
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::Exchange(client.get(), burst, burst.size(), kIoTimeout));
  EXPECT_TRUE(back == burst) << "the echo differs from the burst: frames lost or reordered";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.frames, 64u);
}

// EP8: one client that sends half a frame and stops must not stall anyone else.
TEST_P(EchoServerTest, HalfAFrameFromOneClientDoesNotStallTheOthers) {
  ServerOptions options;
  options.backend = GetParam();
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd slow, load::Connect(where));
  const std::string frame = load::Frame("unfinished business");
  IPC_ASSERT_OK(load::SendAll(slow.get(), frame.substr(0, 6), kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd other, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(other.get(), "hello", kIoTimeout))
      << "a blocking read on the slow client's socket stalls the loop (EP8)";
  IPC_ASSERT_OK(load::SendAll(slow.get(), frame.substr(6), kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::ReceiveExactly(slow.get(), frame.size(), kIoTimeout));
  EXPECT_EQ(back, frame) << "the two halves are one frame";
  IPC_EXPECT_OK(server.Finish().status());
}

INSTANTIATE_TEST_SUITE_P(Backends, EchoServerTest,
                         ::testing::ValuesIn(kAllBackends), BackendParamName);

using EchoServerBasicsTest = EpollLabTest;

TEST_F(EchoServerBasicsTest, ServesTcpLoopback) {
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(Endpoint::Tcp(0)));
  IPC_ASSERT_OK_AND_ASSIGN(Endpoint where, BoundEndpoint(listener.get()));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::EchoServerBody(std::move(listener), {})));
  load::LoadOptions load;
  load.where = where;
  load.clients = 4;
  load.requests = 25;
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 100u);
  IPC_EXPECT_OK(server.Finish().status());
}

// EP11: Stop() is one write to an eventfd the loop watches; it works even before Run().
TEST_F(EchoServerBasicsTest, StopBeforeRunMakesRunReturnAtOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(Endpoint::Unix(SocketPath())));
  ServerOptions options;
  options.handle_signals = false;
  IPC_ASSERT_OK_AND_ASSIGN(EchoServer server, EchoServer::Create(std::move(listener), options));
  IPC_ASSERT_OK(server.Stop());
  ipc::Stopwatch watch;
  IPC_EXPECT_OK(server.Run());
  EXPECT_LT(watch.Elapsed(), absl::Seconds(3)) << "Run() must see the eventfd and return";
  EXPECT_EQ(server.connections(), 0u);
}

// SIGTERM reaches the loop through a signalfd: the program closes its clients, removes its socket
// file and exits 0.
TEST_F(EchoServerBasicsTest, SigtermShutsTheProgramDownCleanly) {
  const std::string path = SocketPath("program.sock");
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ScopedFd out_read(out[0]), out_write(out[1]);
  ipc::ExecOptions exec;
  exec.stdout_fd = out_write.get();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child,
                           ipc::Child::Exec(ipc::testing::ProgramPath("echo_server"),
                                            {"echo_server", "--unix=" + path}, exec));
  out_write.Reset();
  // Wait for its "listening on" line: before it, SIGTERM would find no signalfd yet.
  std::string line;
  const absl::Time deadline = absl::Now() + kIoTimeout;
  while (line.find('\n') == std::string::npos && absl::Now() < deadline) {
    pollfd p{out_read.get(), POLLIN, 0};
    ::poll(&p, 1, 100);
    char c[256];
    ssize_t n = ::read(out_read.get(), c, sizeof c);
    if (n <= 0) break;
    line.append(c, static_cast<size_t>(n));
  }
  ASSERT_THAT(line, HasSubstr("listening on")) << "echo_server did not start; is Task 3 done?";
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd a, load::Connect(Endpoint::Unix(path)));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd b, load::Connect(Endpoint::Unix(path)));
  IPC_ASSERT_OK(load::Echo(a.get(), "one", kIoTimeout));
  IPC_ASSERT_OK(load::Echo(b.get(), "two", kIoTimeout));
  IPC_ASSERT_OK(child.Kill(SIGTERM));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kIoTimeout));
  EXPECT_TRUE(status.Succeeded())
      << "echo_server " << status.ToString()
      << ": block SIGTERM and read it from a signalfd in the loop, then return from Run()";
  EXPECT_TRUE(load::IsClosedByPeer(a.get(), absl::Seconds(1))) << "every client is closed";
  EXPECT_TRUE(load::IsClosedByPeer(b.get(), absl::Seconds(1)));
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the program removes its socket file";
}

// ---------------------------------------------------------------------------------------------
// Tasks 4 and 5: back pressure, bad input, hang-ups, idle clients, running out of descriptors.

using RobustnessTest = EpollLabTest;

// Back pressure: a client that never reads must cost bounded memory, and stall nobody.
TEST_F(RobustnessTest, ClientThatNeverReadsIsThrottledAndStallsNobody) {
  ServerOptions options;
  options.output_limit = 64 * 1024;
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd hog, load::Connect(where));
  std::string flood;
  for (int i = 0; i < 256; ++i) flood += load::Frame(std::string(16000, 'h'));  // 4 MiB
  absl::Status sent = load::SendAll(hog.get(), flood, absl::Milliseconds(1500));
  EXPECT_THAT(sent, StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "the server read 4 MiB from a client that reads nothing back: it must stop reading "
         "from it once output_limit bytes wait to be sent";
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd other, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(other.get(), "still there?", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_GE(stats.read_pauses, 1u);
  EXPECT_LE(stats.max_output,
            options.output_limit + kMaxReadChunk + kFrameHeaderSize + options.max_frame)
      << "unsent output must stay bounded (ServerOptions::output_limit)";
}

TEST_F(RobustnessTest, OversizedFrameDisconnectsOnlyThatClient) {
  ServerOptions options;
  options.max_frame = 1024;
  options.log = [](absl::string_view) {};
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd bad, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd good, load::Connect(where));
  IPC_ASSERT_OK(
      load::SendAll(bad.get(), load::Frame(std::string(5000, 'x')).substr(0, 100), kIoTimeout));
  EXPECT_TRUE(load::IsClosedByPeer(bad.get(), kIoTimeout))
      << "a frame that declares more than max_frame bytes is refused from its header";
  IPC_EXPECT_OK(load::Echo(good.get(), "fine", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.rejected, 1u);
}

// A client may vanish in the middle of a frame; the server closes it and carries on.
TEST_F(RobustnessTest, ClientVanishingMidFrameIsClosed) {
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho({}, &server, &where));
  {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd gone, load::Connect(where));
    IPC_ASSERT_OK(load::SendAll(gone.get(), load::Frame("half of this").substr(0, 9), kIoTimeout));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd good, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(good.get(), "next", kIoTimeout));
  good.Reset();
  absl::SleepFor(absl::Milliseconds(100));  // let the server see the second close too
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 2u);
  EXPECT_EQ(stats.closed, 2u);
  EXPECT_EQ(stats.rejected, 0u) << "a vanished client is not a bad client";
}

// timerfd: a client that says nothing for idle_timeout is closed.
TEST_F(RobustnessTest, IdleClientIsClosedByTheTimer) {
  ServerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  options.log = [](absl::string_view) {};
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd idle, load::Connect(where));
  IPC_ASSERT_OK(load::Echo(idle.get(), "then silence", kIoTimeout));
  EXPECT_TRUE(load::IsClosedByPeer(idle.get(), kIoTimeout))
      << "register a timerfd and close connections idle for longer than idle_timeout";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.idle_closed, 1u);
}

// EMFILE: the listener stays readable while connections wait; without the spare-descriptor
// trick a level-triggered loop spins at 100% CPU.
TEST_F(RobustnessTest, RunningOutOfDescriptorsNeitherSpinsNorCrashes) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  ServerOptions options;
  options.backend = Backend::kEpollLevel;
  options.log = [](absl::string_view) {};
  // Leave room for exactly four clients above what the server has open.
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(test_util::ScarceDescriptorServerBody(
                               std::move(listener), options, /*free_descriptors=*/4)));
  std::vector<ScopedFd> clients;
  for (int i = 0; i < 12; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
    clients.push_back(std::move(c));
  }
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_before, ipc::ProcessCpuTime(server.child->pid()));
  absl::SleepFor(absl::Milliseconds(500));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_after, ipc::ProcessCpuTime(server.child->pid()));
  EXPECT_LT(cpu_after - cpu_before, absl::Milliseconds(150))
      << "the server burned CPU while out of descriptors: accept and close the extra clients "
         "with the spare descriptor (README, Task 5), or the listener stays readable forever";
  int served = 0;
  for (ScopedFd& c : clients) {
    if (load::Echo(c.get(), "anyone?", absl::Milliseconds(300)).ok()) ++served;
  }
  EXPECT_GE(served, 1) << "the clients that got a descriptor are served";
  EXPECT_LT(served, 12) << "only four descriptors were free";
  clients.clear();
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd later, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(later.get(), "after the storm", kIoTimeout))
      << "once descriptors are free again, new clients are served";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_GE(stats.accept_emfile, 1u);
}

// ---------------------------------------------------------------------------------------------
// Task 6: FlagChannel (EP1, EP11).

using FlagChannelTest = EpollLabTest;

TEST_F(FlagChannelTest, PostedValueIsTakenOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  EXPECT_THAT(channel.Post(0), StatusIs(absl::StatusCode::kInvalidArgument));
  IPC_ASSERT_OK(channel.Post(7));
  IPC_ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> first, channel.TryTake());
  EXPECT_EQ(first, std::optional<uint64_t>(7));
  IPC_ASSERT_OK_AND_ASSIGN(std::optional<uint64_t> second, channel.TryTake());
  EXPECT_EQ(second, std::nullopt) << "a value is taken once";
}

// EP11: the eventfd is what makes the flag waitable by epoll alongside other descriptors.
TEST_F(FlagChannelTest, EventFdIsReadableExactlyWhileAPostWaits) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  pollfd p{channel.event_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "nothing posted yet";
  IPC_ASSERT_OK(channel.Post(5));
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "Post writes the eventfd";
  IPC_ASSERT_OK(channel.TryTake().status());
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "TryTake drains the eventfd";
}

TEST_F(FlagChannelTest, WaitTimesOut) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  EXPECT_THAT(channel.Wait(absl::Milliseconds(50)), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

// EP1: a process waiting for the flag sleeps in epoll (no CPU) and wakes when it is posted.
TEST_F(FlagChannelTest, WaiterInAnotherProcessSleepsThenWakesOnThePost) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  ASSERT_THAT(channel.Wait(absl::ZeroDuration()), StatusIs(absl::StatusCode::kDeadlineExceeded))
      << "nothing is posted yet";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<uint64_t> value = channel.Wait(absl::Seconds(5));
                             return value.ok() && *value == 99 ? 0 : 1;
                           }));
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_before, ipc::ProcessCpuTime(child.pid()));
  absl::SleepFor(absl::Milliseconds(300));
  IPC_ASSERT_OK_AND_ASSIGN(absl::Duration cpu_after, ipc::ProcessCpuTime(child.pid()));
  EXPECT_LT(cpu_after - cpu_before, absl::Milliseconds(30))
      << "the waiter burned CPU: sleep in epoll_wait on the eventfd, do not spin on the word";
  IPC_ASSERT_OK(channel.Post(99));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kIoTimeout));
  EXPECT_TRUE(status.Succeeded()) << "the child did not get 99: " << status.ToString();
}

// ---------------------------------------------------------------------------------------------
// Task 7: DispatchQueues (EP2).

using DispatchQueuesTest = test_util::QueueLabTest;

// EP2: three queues and a pipe in one epoll set; every message is handled exactly once.
TEST_F(DispatchQueuesTest, ThreeQueuesAndAPipeDeliverEveryMessageOnce) {
  std::vector<mqd_t> queues;
  for (int i = 0; i < 3; ++i) {
    queues.push_back(OpenQueue(ipc::UniqueName(absl::StrCat("q", i)), O_RDONLY | O_NONBLOCK));
    ASSERT_NE(queues.back(), static_cast<mqd_t>(-1));
  }
  Pipe pipe = MakePipe();
  const std::vector<std::string> names = names_;
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child sender, ipc::Child::Fork([&]() -> int {
        std::vector<mqd_t> out;
        for (const std::string& name : names) {
          mqd_t q = ::mq_open(name.c_str(), O_WRONLY);
          if (q == static_cast<mqd_t>(-1)) return 2;
          out.push_back(q);
        }
        for (int i = 0; i < 60; ++i) {
          for (size_t k = 0; k < out.size(); ++k) {
            std::string m = absl::StrCat("q", k, "-", i);
            if (::mq_send(out[k], m.data(), m.size(), 0) == -1) return 3;
          }
          std::string line = absl::StrCat("line-", i, "\n");
          if (::write(pipe.write.get(), line.data(), line.size()) == -1) return 4;
        }
        return 0;  // exiting closes the pipe: the dispatcher's signal to finish
      }));
  pipe.write.Reset();
  std::map<std::string, int> seen;
  std::map<int, int> per_source;
  IPC_ASSERT_OK(DispatchQueues(queues, pipe.read.get(), absl::Seconds(10), [&](const Delivery& d) {
    ++seen[d.payload];
    ++per_source[d.source];
  }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, sender.Wait(kIoTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
  for (int k = -1; k < 3; ++k) EXPECT_EQ(per_source[k], 60) << "source " << k;
  for (const auto& [payload, count] : seen) EXPECT_EQ(count, 1) << payload << " was handled twice";
  for (mqd_t q : queues) ::mq_close(q);
}

TEST_F(DispatchQueuesTest, BlockingQueueIsRefused) {
  mqd_t q = OpenQueue(ipc::UniqueName("blocking"), O_RDONLY);
  ASSERT_NE(q, static_cast<mqd_t>(-1));
  Pipe pipe = MakePipe();
  EXPECT_THAT(DispatchQueues({q}, pipe.read.get(), absl::Seconds(1), [](const Delivery&) {}),
              StatusIs(absl::StatusCode::kInvalidArgument))
      << "a blocking mq_receive in an event loop stalls everything else (EP8)";
  ::mq_close(q);
}

// ---------------------------------------------------------------------------------------------
// Task 8: pselect (EP4).

using PselectTest = test_util::SigUsr1BlockedTest;

// EP4: the signal arrives after the check and before the wait: pselect still sees it.
TEST_F(PselectTest, SignalSentJustBeforeTheWaitIsNotLost) {
  Pipe pipe = MakePipe();
  ipc::Stopwatch watch;
  IPC_ASSERT_OK_AND_ASSIGN(WakeReason reason,
                           WaitForInputOrSignal(pipe.read.get(), SIGUSR1, absl::Seconds(3),
                                                [] { ::pthread_kill(::pthread_self(), SIGUSR1); }));
  EXPECT_EQ(reason, WakeReason::kSignal)
      << "the signal was sent before the wait began; pselect must unblock it atomically";
  EXPECT_LT(watch.Elapsed(), absl::Seconds(2));
}

TEST_F(PselectTest, ReadableDescriptorEndsTheWait) {
  Pipe pipe = MakePipe();
  ASSERT_EQ(::write(pipe.write.get(), "x", 1), 1);
  IPC_ASSERT_OK_AND_ASSIGN(WakeReason reason,
                           WaitForInputOrSignal(pipe.read.get(), SIGUSR1, absl::Seconds(3)));
  EXPECT_EQ(reason, WakeReason::kReadable);
  IPC_ASSERT_OK_AND_ASSIGN(
      reason, WaitForInputOrSignal(MakePipe().read.get(), SIGUSR1, absl::Milliseconds(30)));
  EXPECT_EQ(reason, WakeReason::kTimeout);
}

TEST_F(PselectTest, RequiresTheSignalToBeBlocked) {
  Pipe pipe = MakePipe();
  EXPECT_THAT(WaitForInputOrSignal(pipe.read.get(), SIGUSR2, absl::Milliseconds(10)),
              StatusIs(absl::StatusCode::kFailedPrecondition))
      << "an unblocked signal can arrive between the check and the wait (EP4)";
}

// ---------------------------------------------------------------------------------------------
// Task 9: io_uring (EP10). Skipped, with the reason, where io_uring is disabled.

using UringTest = test_util::UringLabTest;

// EP10: completions, not readiness: each recv completes WITH the data.
TEST_F(UringTest, EchoServerOnARingEchoesEveryClient) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(test_util::UringEchoServerBody(std::move(listener))));
  load::LoadOptions load;
  load.where = where;
  load.clients = 8;
  load.requests = 50;
  load.payload = 1000;
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 400u);
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 8u);
  EXPECT_EQ(stats.bytes_in, stats.bytes_out) << "every byte received is sent back";
}

TEST_F(UringTest, LinkedReadWriteCopyMatchesTheReadWriteLoop) {
  const std::string dir = ::testing::TempDir();
  const std::string src = dir + "/uring_src", a = dir + "/uring_a", b = dir + "/uring_b";
  std::string data(1 << 20 | 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 2654435761u >> 13);
  {
    ScopedFd f(::open(src.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(f.valid());
    ASSERT_EQ(::write(f.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  auto copy = [&](const std::string& to, bool uring) -> absl::StatusOr<uint64_t> {
    ScopedFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    ScopedFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    return uring ? CopyFileUring(in.get(), out.get()) : CopyFileReadWrite(in.get(), out.get());
  };
  IPC_ASSERT_OK_AND_ASSIGN(uint64_t with_ring, copy(a, true));
  IPC_ASSERT_OK_AND_ASSIGN(uint64_t with_loop, copy(b, false));
  EXPECT_EQ(with_ring, data.size());
  EXPECT_EQ(with_loop, data.size());
  for (const std::string& path : {a, b}) {
    std::string back(data.size() + 10, '\0');
    ScopedFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ssize_t n = ::read(f.get(), back.data(), back.size());
    back.resize(n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_TRUE(back == data) << path << " is not an exact copy";
    ::unlink(path.c_str());
  }
  ::unlink(src.c_str());
}

// ---------------------------------------------------------------------------------------------
// Task 10: EPOLLONESHOT and a worker pool. Run these under --config=tsan too: two workers on one
// connection is a data race on its buffer.

using WorkerPoolTest = EpollLabTest;

TEST_F(WorkerPoolTest, FourWorkersEchoEveryClient) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::WorkerPoolServerBody(std::move(listener), 4)));
  load::LoadOptions load;
  load.where = where;
  load.clients = 32;
  load.requests = 40;
  load.payload = 1000;
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 32u * 40u);
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 32u);
  EXPECT_EQ(stats.closed, 32u) << "Run() closes every client after joining the workers";
  EXPECT_EQ(stats.bytes_in, stats.bytes_out);
}

// Data keeps arriving while a worker is reading: without EPOLLONESHOT a second worker is woken
// for the same socket and the echo comes back interleaved.
TEST_F(WorkerPoolTest, StreamArrivingWhileAWorkerReadsComesBackInOrder) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::WorkerPoolServerBody(std::move(listener), 4)));
  std::string stream(4 << 20, '\0');
  for (size_t i = 0; i < stream.size(); i += 4) {
    const uint32_t n = static_cast<uint32_t>(i / 4);
    std::memcpy(&stream[i], &n, 4);  // a counter: any reordering shows
  }
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::Exchange(client.get(), stream, stream.size(), absl::Seconds(20)));
  size_t first_bad = 0;
  while (first_bad < stream.size() && back[first_bad] == stream[first_bad]) ++first_bad;
  EXPECT_EQ(first_bad, stream.size())
      << "the echo differs from byte " << first_bad
      << ": two workers served the connection at once (register it with EPOLLONESHOT and re-arm "
         "with EPOLL_CTL_MOD only when done)";
  IPC_EXPECT_OK(server.Finish().status());
}

// ---------------------------------------------------------------------------------------------
// Find the bug (README.md; answer in ANSWERS.md).

using FindTheBugTest = EpollLabTest;

// EP7: an edge-triggered handler that reads once stalls on a burst; yours drains to EAGAIN.
TEST_F(FindTheBugTest, ReadOnceEdgeTriggeredServerStallsOnABurst) {
  std::string burst;
  for (int i = 0; i < 8; ++i) burst += load::Frame(std::string(3000, static_cast<char>('0' + i)));
  {
    const Endpoint where = Endpoint::Unix(SocketPath("broken.sock"));
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
    IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess broken,
                             load::StartServer(broken::ReadOnceEdgeServerBody(
                                 std::move(listener), absl::Milliseconds(50))));
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
    EXPECT_THAT(load::Exchange(client.get(), burst, burst.size(), absl::Milliseconds(800)),
                StatusIs(absl::StatusCode::kDeadlineExceeded))
        << "the broken server was expected to stall after its single read";
    IPC_EXPECT_OK(broken.Finish().status());
  }
  ServerOptions options;
  options.backend = Backend::kEpollEdge;
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::Exchange(client.get(), burst, burst.size(), kIoTimeout));
  EXPECT_TRUE(back == burst) << "your edge-triggered server must read until EAGAIN (EP7)";
  IPC_EXPECT_OK(server.Finish().status());
}

// EP1: poll() with no descriptors cannot notice a store to memory; an eventfd can be waited on.
TEST_F(FindTheBugTest, PollWithNoDescriptorsSleepsThroughThePost) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  ipc::Stopwatch broken_watch;
  IPC_ASSERT_OK_AND_ASSIGN(
      uint64_t got, broken::WaitForFlagWithPoll(channel.word(), absl::Milliseconds(800), kIoTimeout,
                                                [&] { channel.word()->store(11); }));
  const absl::Duration broken_latency = broken_watch.Elapsed();
  EXPECT_EQ(got, 11u);
  EXPECT_GE(broken_latency, absl::Milliseconds(750))
      << "the broken waiter slept its full poll interval";
  IPC_ASSERT_OK(channel.TryTake().status());

  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child poster, ipc::Child::Fork([&]() -> int {
                             absl::SleepFor(absl::Milliseconds(50));
                             return channel.Post(12).ok() ? 0 : 1;
                           }));
  ipc::Stopwatch watch;
  IPC_ASSERT_OK_AND_ASSIGN(uint64_t value, channel.Wait(kIoTimeout));
  EXPECT_EQ(value, 12u);
  EXPECT_LT(watch.Elapsed(), broken_latency / 2)
      << "your Wait should wake when the eventfd is written, not at the end of an interval";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, poster.Wait(kIoTimeout));
  EXPECT_TRUE(status.Succeeded());
}

using FindTheBugPselectTest = PselectTest;

// EP4: with plain select, the signal is handled between the check and the wait, and the waiter
// sleeps through it; pselect never loses it.
TEST_F(FindTheBugPselectTest, PlainSelectLosesASignalThatPselectKeeps) {
  Pipe pipe = MakePipe();
  auto send_signal = [] { ::pthread_kill(::pthread_self(), SIGUSR1); };
  IPC_ASSERT_OK_AND_ASSIGN(WakeReason broken_reason,
                           broken::WaitForInputOrSignalWithSelect(
                               pipe.read.get(), SIGUSR1, absl::Milliseconds(300), send_signal));
  EXPECT_EQ(broken_reason, WakeReason::kTimeout) << "the broken version was expected to miss it";
  IPC_ASSERT_OK_AND_ASSIGN(
      WakeReason reason,
      WaitForInputOrSignal(pipe.read.get(), SIGUSR1, absl::Milliseconds(300), send_signal));
  EXPECT_EQ(reason, WakeReason::kSignal);
}

}  // namespace
}  // namespace epoll
