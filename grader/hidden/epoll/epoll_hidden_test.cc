// grader/hidden/epoll/epoll_hidden_test.cc: the hidden tests of the epoll lab.
//
// Students never see this file. It checks labs/epoll/epoll.h more thoroughly than the public
// tests, from other angles: frames split across writes, a burst in two writes under edge
// triggering, back pressure released when the client reads again, 2,000 connections on poll,
// select's FD_SETSIZE ceiling inside a live server, the control queue, descriptor flags seen
// from /proc, signals other than the one waited for, and the speed item (epoll against the lab's
// poll baseline with thousands of idle connections). Run:
//   bazel test //grader/hidden/epoll:all      (reference and, manually, student builds)
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/epoll/baseline.h"
#include "labs/epoll/epoll.h"
#include "labs/epoll/epoll_test_util.h"
#include "labs/epoll/load.h"

namespace epoll {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::StatusIs;
using ::testing::HasSubstr;

using test_util::BackendParamName;
using test_util::kAllBackends;
using test_util::kIoTimeout;
using test_util::kScalableBackends;
using test_util::MakePipe;
using test_util::Pipe;
using HiddenEpollTest = test_util::EpollLabTest;

// ---------------------------------------------------------------------------------------------
// Pollers.

class HiddenPollerTest : public HiddenEpollTest, public ::testing::WithParamInterface<Backend> {};

TEST_P(HiddenPollerTest, RemovedDescriptorIsNeverReportedAgain) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam()));
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  ASSERT_EQ(::write(p.write.get(), "x", 1), 1);
  IPC_ASSERT_OK(poller->Remove(p.read.get()));
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(absl::Milliseconds(20), events));
  EXPECT_EQ(n, 0u) << "Remove must take the descriptor out of the set for good";
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(kIoTimeout, events));
  EXPECT_EQ(n, 1u) << "and it can be added again";
}

TEST_P(HiddenPollerTest, BadDescriptorsAreEBADF) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam()));
  EXPECT_THAT(poller->Add(-1, kReadable), HasErrno(EBADF));
  int closed;
  {
    Pipe p = MakePipe();
    closed = p.read.get();
  }
  EXPECT_THAT(poller->Add(closed, kReadable), HasErrno(EBADF));
  EXPECT_EQ(poller->size(), 0u);
}

TEST_P(HiddenPollerTest, MaxEventsCapsOneWaitAndTheRestComeNext) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam(), 2));
  EXPECT_EQ(poller->max_events(), 2u);
  std::vector<Pipe> pipes;
  for (int i = 0; i < 5; ++i) pipes.push_back(MakePipe());
  for (Pipe& p : pipes) {
    IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
    ASSERT_EQ(::write(p.write.get(), "x", 1), 1);
  }
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  EXPECT_EQ(n, 2u) << "at most max_events per Wait";
  EXPECT_EQ(events.size(), 2u);
  // Read the reported ones; the others must be reported by the next waits.
  std::set<int> seen;
  for (int round = 0; round < 5 && seen.size() < 5; ++round) {
    for (const Event& e : events) {
      char c;
      if (::read(e.fd, &c, 1) == 1) seen.insert(e.fd);
    }
    IPC_ASSERT_OK_AND_ASSIGN(n, poller->Wait(absl::Milliseconds(100), events));
  }
  EXPECT_EQ(seen.size(), 5u) << "every ready descriptor is reported within a few waits";
  EXPECT_THAT(MakePoller(GetParam(), 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Sub-millisecond timeouts: rounding 0.5 ms down to 0 turns a timed wait into a busy loop.
TEST_P(HiddenPollerTest, TinyTimeoutsStillSleep) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam()));
  Pipe p = MakePipe();
  IPC_ASSERT_OK(poller->Add(p.read.get(), kReadable));
  std::vector<Event> events;
  ipc::Stopwatch watch;
  for (int i = 0; i < 100; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(absl::Microseconds(500), events));
    ASSERT_EQ(n, 0u);
  }
  EXPECT_GE(watch.Elapsed(), absl::Milliseconds(45))
      << "100 waits of 0.5 ms took less than 50 ms: round timeouts up to whole milliseconds";
}

INSTANTIATE_TEST_SUITE_P(Backends, HiddenPollerTest,
                         ::testing::ValuesIn(kAllBackends), BackendParamName);

class HiddenScalablePollerTest : public HiddenEpollTest,
                                 public ::testing::WithParamInterface<Backend> {};

// Hang-ups are reported whatever the interest (EPOLLHUP, POLLHUP cannot be masked).
TEST_P(HiddenScalablePollerTest, HangupIsReportedWithNoInterest) {
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam()));
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  ScopedFd mine(sv[0]), theirs(sv[1]);
  IPC_ASSERT_OK(poller->Add(mine.get(), 0));
  theirs.Reset();
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u);
  EXPECT_NE(events[0].events & kHangup, 0u) << "map EPOLLHUP/EPOLLRDHUP and POLLHUP to kHangup";
}

// EP5, EP6: one ready pipe among a thousand idle ones is the only one reported.
TEST_P(HiddenScalablePollerTest, OneReadyAmongAThousandIdle) {
  absl::Status raised = load::RaiseFileLimit(2200);
  if (!raised.ok()) GTEST_SKIP() << raised.message();
  IPC_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Poller> poller, MakePoller(GetParam()));
  std::vector<Pipe> pipes;
  for (int i = 0; i < 1000; ++i) {
    pipes.push_back(MakePipe());
    IPC_ASSERT_OK(poller->Add(pipes.back().read.get(), kReadable));
  }
  ASSERT_EQ(::write(pipes[777].write.get(), "!", 1), 1);
  std::vector<Event> events;
  IPC_ASSERT_OK_AND_ASSIGN(size_t n, poller->Wait(kIoTimeout, events));
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(events[0].fd, pipes[777].read.get());
}

INSTANTIATE_TEST_SUITE_P(Backends, HiddenScalablePollerTest,
                         ::testing::ValuesIn(kScalableBackends), BackendParamName);

// ---------------------------------------------------------------------------------------------
// The echo server.

class HiddenEchoServerTest : public HiddenEpollTest,
                             public ::testing::WithParamInterface<Backend> {};

TEST_P(HiddenEchoServerTest, FrameSplitAcrossTwoWritesIsJoined) {
  ServerOptions options;
  options.backend = GetParam();
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  const std::string frame = load::Frame(std::string(5000, 'z'));
  IPC_ASSERT_OK(load::SendAll(client.get(), frame.substr(0, 2), kIoTimeout));  // half a header
  absl::SleepFor(absl::Milliseconds(30));
  IPC_ASSERT_OK(load::SendAll(client.get(), frame.substr(2, 2000), kIoTimeout));
  absl::SleepFor(absl::Milliseconds(30));
  IPC_ASSERT_OK_AND_ASSIGN(
      std::string back, load::Exchange(client.get(), frame.substr(2002), frame.size(), kIoTimeout));
  EXPECT_TRUE(back == frame) << "keep partial frames (even partial headers) per connection";
  IPC_EXPECT_OK(server.Finish().status());
}

// EP7: the burst arrives in two writes; an edge-triggered server that reads once per event
// stalls; one that reads to EAGAIN does not.
TEST_P(HiddenEchoServerTest, BurstInTwoWritesIsEchoedWhole) {
  ServerOptions options;
  options.backend = GetParam();
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  std::string first, second;
  for (int i = 0; i < 20; ++i) first += load::Frame(std::string(3000, 'a'));
  for (int i = 0; i < 20; ++i) second += load::Frame(std::string(2000, 'b'));
  IPC_ASSERT_OK(load::SendAll(client.get(), first, kIoTimeout));
  absl::SleepFor(absl::Milliseconds(50));
  IPC_ASSERT_OK_AND_ASSIGN(
      std::string back,
      load::Exchange(client.get(), second, first.size() + second.size(), kIoTimeout));
  EXPECT_TRUE(back == first + second) << "read until EAGAIN on every event (EP7)";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.frames, 40u);
}

// Back pressure must be released: once the client reads, everything it sent comes back.
TEST_P(HiddenEchoServerTest, ThrottledClientIsResumedOnceItReads) {
  ServerOptions options;
  options.backend = GetParam();
  options.output_limit = 32 * 1024;
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  std::string flood;
  for (int i = 0; i < 128; ++i)
    flood += load::Frame(std::string(8000, static_cast<char>('A' + i % 26)));
  // Phase 1: send without reading until the server stops taking bytes.
  size_t sent = 0;
  const absl::Time until = absl::Now() + absl::Milliseconds(400);
  while (sent < flood.size() && absl::Now() < until) {
    ssize_t n =
        ::send(client.get(), flood.data() + sent, flood.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  ASSERT_LT(sent, flood.size()) << "the server kept reading a client that does not read";
  // Phase 2: read everything while sending the rest.
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::Exchange(client.get(), absl::string_view(flood).substr(sent),
                                          flood.size(), absl::Seconds(10)));
  EXPECT_TRUE(back == flood)
      << "after a pause, resume reading when output drains below the limit (with edge triggering "
         "the data that waited is reported again only after EPOLL_CTL_MOD)";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_GE(stats.read_pauses, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, HiddenEchoServerTest,
                         ::testing::ValuesIn(kAllBackends), BackendParamName);

using HiddenServerTest = HiddenEpollTest;

// EP5: poll has no descriptor ceiling; 2,000 connections with the rlimit raised.
TEST_F(HiddenServerTest, PollServerHandlesTwoThousandConnections) {
  absl::Status raised = load::RaiseFileLimit(2100);
  if (!raised.ok()) GTEST_SKIP() << raised.message();
  ServerOptions options;
  options.backend = Backend::kPoll;
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where, 2100));
  load::LoadOptions load;
  load.where = where;
  load.idle = 1990;
  load.clients = 10;
  load.requests = 20;
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 200u);
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 2000u);
  EXPECT_EQ(stats.closed, 2000u);
}

// EP3: a select server refuses the clients whose descriptors do not fit in an fd_set, cleanly,
// and keeps serving the ones that do.
TEST_F(HiddenServerTest, SelectServerRefusesClientsAboveFdSetSize) {
  absl::Status raised = load::RaiseFileLimit(FD_SETSIZE + 200);
  if (!raised.ok()) GTEST_SKIP() << raised.message();
  ServerOptions options;
  options.backend = Backend::kSelect;
  options.log = [](absl::string_view) {};
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where, FD_SETSIZE + 200));
  std::vector<ScopedFd> clients;
  for (int i = 0; i < FD_SETSIZE + 20; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
    clients.push_back(std::move(c));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd late, load::Connect(where));
  EXPECT_TRUE(load::IsClosedByPeer(late.get(), kIoTimeout))
      << "its server-side descriptor is above FD_SETSIZE: close it instead of FD_SET (EP3)";
  IPC_EXPECT_OK(load::Echo(clients.front().get(), "low descriptors still work", kIoTimeout));
  IPC_EXPECT_OK(load::Echo(clients[500].get(), "and this one", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_GE(stats.rejected, 1u);
}

TEST_F(HiddenServerTest, ShutdownClosesEveryClient) {
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho({}, &server, &where));
  std::vector<ScopedFd> clients;
  for (int i = 0; i < 5; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
    IPC_ASSERT_OK(load::Echo(c.get(), "hi", kIoTimeout));
    clients.push_back(std::move(c));
  }
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 5u);
  EXPECT_EQ(stats.closed, 5u) << "Run() closes every client before it returns";
  for (ScopedFd& c : clients) EXPECT_TRUE(load::IsClosedByPeer(c.get(), absl::Seconds(1)));
}

// A POSIX message queue in the same loop: messages are counted, "stop" ends Run() by itself.
TEST_F(HiddenServerTest, ControlQueueIsServedInTheSameLoop) {
  const std::string name = ipc::UniqueName("control");
  mq_attr attr{};
  attr.mq_maxmsg = 4;
  attr.mq_msgsize = 32;
  mqd_t q = ::mq_open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CREAT | O_EXCL, 0600, &attr);
  ASSERT_NE(q, static_cast<mqd_t>(-1)) << std::strerror(errno);
  mqd_t writer = ::mq_open(name.c_str(), O_WRONLY);
  ::mq_unlink(name.c_str());
  ASSERT_NE(writer, static_cast<mqd_t>(-1));
  ServerOptions options;
  options.control_queue = q;
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
  ASSERT_EQ(::mq_send(writer, "hello", 5, 0), 0);
  IPC_ASSERT_OK(load::Echo(c.get(), "served meanwhile", kIoTimeout));
  ASSERT_EQ(::mq_send(writer, "stop", 4, 0), 0);
  const absl::Time until = absl::Now() + kIoTimeout;
  while (server.Alive() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_FALSE(server.Alive()) << "\"stop\" on the control queue must end Run()";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.queue_messages, 2u);
  ::mq_close(writer);
  ::mq_close(q);
}

TEST_F(HiddenServerTest, IdleTimeoutSparesAnActiveClient) {
  ServerOptions options;
  options.idle_timeout = absl::Milliseconds(600);
  options.log = [](absl::string_view) {};
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd busy, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd quiet, load::Connect(where));
  for (int i = 0; i < 20; ++i) {
    IPC_ASSERT_OK(load::Echo(busy.get(), "still here", kIoTimeout))
        << "a client that talks every 50 ms must never be closed as idle";
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(load::IsClosedByPeer(quiet.get(), absl::Seconds(3)));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.idle_closed, 1u);
}

TEST_F(HiddenServerTest, ZeroLengthFrameIsGarbage) {
  ServerOptions options;
  options.log = [](absl::string_view) {};
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd bad, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd good, load::Connect(where));
  IPC_ASSERT_OK(load::SendAll(bad.get(), std::string(4, '\0') + "junk", kIoTimeout));
  EXPECT_TRUE(load::IsClosedByPeer(bad.get(), kIoTimeout));
  IPC_EXPECT_OK(load::Echo(good.get(), "ok", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.rejected, 1u);
}

// The log line says which client and why.
TEST_F(HiddenServerTest, RejectionIsLoggedWithTheReason) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ScopedFd log_read(fds[0]), log_write(fds[1]);
  ServerOptions options;
  options.max_frame = 65536;
  const int log_fd = log_write.get();
  options.log = [log_fd](absl::string_view line) {
    std::string l = absl::StrCat(line, "\n");
    (void)!::write(log_fd, l.data(), l.size());
  };
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho(options, &server, &where));
  log_write.Reset();
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd bad, load::Connect(where));
  IPC_ASSERT_OK(
      load::SendAll(bad.get(), load::Frame(std::string(70000, 'x')).substr(0, 4), kIoTimeout));
  EXPECT_TRUE(load::IsClosedByPeer(bad.get(), kIoTimeout));
  IPC_ASSERT_OK(server.Finish().status());
  std::string log;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(log_read.get(), buffer, sizeof buffer)) > 0)
    log.append(buffer, static_cast<size_t>(n));
  EXPECT_THAT(log, HasSubstr("70000")) << "log the declared frame length and the limit: " << log;
  EXPECT_THAT(log, HasSubstr("65536"));
}

// A client reset in the middle of a frame (TCP RST) is closed quietly, not counted as bad.
TEST_F(HiddenServerTest, ResetMidFrameOverTcpIsClosedQuietly) {
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(Endpoint::Tcp(0)));
  IPC_ASSERT_OK_AND_ASSIGN(Endpoint where, BoundEndpoint(listener.get()));
  ServerOptions options;
  options.backend = Backend::kEpollLevel;
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::EchoServerBody(std::move(listener), options)));
  {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd rude, load::Connect(where));
    IPC_ASSERT_OK(load::SendAll(rude.get(), load::Frame("cut short").substr(0, 7), kIoTimeout));
    linger hard{1, 0};
    ASSERT_EQ(::setsockopt(rude.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  }
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd good, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(good.get(), "carry on", kIoTimeout));
  good.Reset();
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.closed, 2u);
  EXPECT_EQ(stats.rejected, 0u);
}

// EP8: every socket the server holds is O_NONBLOCK and close-on-exec, read from /proc.
TEST_F(HiddenServerTest, EverySocketTheServerHoldsIsNonBlocking) {
  load::ServerProcess server;
  Endpoint where;
  ASSERT_NO_FATAL_FAILURE(StartEcho({}, &server, &where));
  std::vector<ScopedFd> clients;
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
    IPC_ASSERT_OK(load::Echo(c.get(), "x", kIoTimeout));
    clients.push_back(std::move(c));
  }
  const std::string proc = absl::StrCat("/proc/", server.child->pid());
  DIR* dir = ::opendir((proc + "/fd").c_str());
  ASSERT_NE(dir, nullptr) << std::strerror(errno);
  int sockets = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    char target[256] = {};
    ::readlink((proc + "/fd/" + entry->d_name).c_str(), target, sizeof target - 1);
    if (std::string(target).rfind("socket:", 0) != 0) continue;
    std::ifstream info(proc + "/fdinfo/" + entry->d_name);
    std::string key, value;
    while (info >> key >> value) {
      if (key != "flags:") continue;
      unsigned long flags = std::stoul(value, nullptr, 8);
      ++sockets;
      EXPECT_NE(flags & O_NONBLOCK, 0u) << "socket fd " << entry->d_name << " is blocking (EP8)";
      EXPECT_NE(flags & O_CLOEXEC, 0u) << "socket fd " << entry->d_name << " is not close-on-exec";
      break;
    }
  }
  ::closedir(dir);
  EXPECT_GE(sockets, 4) << "the listener and three clients";
  IPC_EXPECT_OK(server.Finish().status());
}

// EMFILE under edge triggering: after the storm, new clients are still accepted.
TEST_F(HiddenServerTest, EdgeTriggeredServerRecoversFromEmfile) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  ServerOptions options;
  options.backend = Backend::kEpollEdge;
  options.log = [](absl::string_view) {};
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(test_util::ScarceDescriptorServerBody(
                               std::move(listener), options, /*free_descriptors=*/2)));
  {
    std::vector<ScopedFd> storm;
    for (int i = 0; i < 10; ++i) {
      IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
      storm.push_back(std::move(c));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  absl::SleepFor(absl::Milliseconds(200));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd later, load::Connect(where));
  IPC_EXPECT_OK(load::Echo(later.get(), "hello again", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_GE(stats.accept_emfile, 1u);
}

// ---------------------------------------------------------------------------------------------
// FlagChannel (EP1, EP11).

using HiddenFlagChannelTest = HiddenEpollTest;

// No lost wake-up: two processes ping-pong 300 times through two channels.
TEST_F(HiddenFlagChannelTest, PingPongAcrossProcessesLosesNoWakeUp) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel ping, FlagChannel::Create());
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel pong, FlagChannel::Create());
  constexpr uint64_t kRounds = 300;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             for (uint64_t i = 1; i <= kRounds; ++i) {
                               absl::StatusOr<uint64_t> v = ping.Wait(absl::Seconds(5));
                               if (!v.ok() || *v != i) return 1;
                               if (!pong.Post(i).ok()) return 2;
                             }
                             return 0;
                           }));
  for (uint64_t i = 1; i <= kRounds; ++i) {
    IPC_ASSERT_OK(ping.Post(i));
    IPC_ASSERT_OK_AND_ASSIGN(uint64_t back, pong.Wait(absl::Seconds(5)));
    ASSERT_EQ(back, i) << "round " << i;
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(kIoTimeout));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

TEST_F(HiddenFlagChannelTest, ValuePostedBeforeTheWaitIsReturnedAtOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  IPC_ASSERT_OK(channel.Post(3));
  IPC_ASSERT_OK(channel.Post(4));
  IPC_ASSERT_OK_AND_ASSIGN(uint64_t v, channel.Wait(absl::ZeroDuration()));
  EXPECT_EQ(v, 4u) << "a later post overwrites a value not yet taken";
  EXPECT_THAT(channel.Wait(absl::Milliseconds(10)), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(HiddenFlagChannelTest, MovedFromChannelRefusesToWork) {
  IPC_ASSERT_OK_AND_ASSIGN(FlagChannel channel, FlagChannel::Create());
  FlagChannel other = std::move(channel);
  EXPECT_EQ(channel.event_fd(), -1);
  EXPECT_THAT(channel.Post(1), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(channel.TryTake(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(channel.Wait(absl::Milliseconds(1)), StatusIs(absl::StatusCode::kFailedPrecondition));
  IPC_EXPECT_OK(other.Post(1));
}

// ---------------------------------------------------------------------------------------------
// DispatchQueues (EP2).

class HiddenDispatchTest : public test_util::QueueLabTest {
 protected:
  // A small queue (4 messages of up to 32 bytes) with a fresh name, unlinked after the test.
  mqd_t NewQueue(int flags) { return OpenQueue(ipc::UniqueName("hq"), flags, 4, 32); }
};

TEST_F(HiddenDispatchTest, PipeLinesSplitAcrossWritesAreJoined) {
  Pipe pipe = MakePipe();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child writer, ipc::Child::Fork([&]() -> int {
                             pipe.read.Reset();
                             for (const char* part : {"ab", "c\nd", "e\nlast"}) {
                               if (::write(pipe.write.get(), part, std::strlen(part)) == -1)
                                 return 1;
                               absl::SleepFor(absl::Milliseconds(20));
                             }
                             return 0;
                           }));
  pipe.write.Reset();
  std::vector<std::string> lines;
  IPC_ASSERT_OK(DispatchQueues({}, pipe.read.get(), kIoTimeout,
                               [&](const Delivery& d) { lines.push_back(d.payload); }));
  EXPECT_THAT(lines, ::testing::ElementsAre("abc", "de", "last"))
      << "a line may arrive in pieces; a last line without '\\n' is delivered at EOF";
  IPC_ASSERT_OK(writer.Wait(kIoTimeout).status());
}

// More ready sources than one epoll_wait returns (10): all are served.
TEST_F(HiddenDispatchTest, TwelveFullQueuesAreAllDrained) {
  std::vector<mqd_t> queues;
  for (int i = 0; i < 12; ++i) {
    queues.push_back(NewQueue(O_RDWR | O_NONBLOCK));
    ASSERT_NE(queues.back(), static_cast<mqd_t>(-1));
    for (int m = 0; m < 4; ++m) {
      std::string text = absl::StrCat(i, ":", m);
      ASSERT_EQ(::mq_send(queues.back(), text.data(), text.size(), 0), 0);
    }
  }
  Pipe pipe = MakePipe();
  pipe.write.Reset();
  std::map<int, int> per_queue;
  IPC_ASSERT_OK(DispatchQueues(queues, pipe.read.get(), kIoTimeout,
                               [&](const Delivery& d) { ++per_queue[d.source]; }));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(per_queue[i], 4) << "queue " << i;
  for (mqd_t q : queues) ::mq_close(q);
}

TEST_F(HiddenDispatchTest, OpenPipeTimesOut) {
  Pipe pipe = MakePipe();
  EXPECT_THAT(DispatchQueues({}, pipe.read.get(), absl::Milliseconds(100), [](const Delivery&) {}),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(HiddenDispatchTest, BlockingPipeIsRefused) {
  Pipe pipe = MakePipe(O_CLOEXEC);
  EXPECT_THAT(DispatchQueues({}, pipe.read.get(), absl::Milliseconds(100), [](const Delivery&) {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// WaitForInputOrSignal (EP4).

class HiddenPselectTest : public test_util::SigUsr1BlockedTest {
 protected:
  void TearDown() override {
    signal(SIGUSR2, SIG_DFL);  // AnotherSignalDoesNotEndTheWait installs a handler
    SigUsr1BlockedTest::TearDown();
  }
};

void Ignore(int) {}

// Another signal interrupts pselect (EINTR); the wait goes on for what it was waiting for.
TEST_F(HiddenPselectTest, AnotherSignalDoesNotEndTheWait) {
  struct sigaction usr2 {};
  usr2.sa_handler = Ignore;
  ASSERT_EQ(::sigaction(SIGUSR2, &usr2, nullptr), 0);
  Pipe pipe = MakePipe();
  const pid_t parent = ::getpid();
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&]() -> int {
                             absl::SleepFor(absl::Milliseconds(50));
                             ::kill(parent, SIGUSR2);
                             absl::SleepFor(absl::Milliseconds(100));
                             return ::write(pipe.write.get(), "x", 1) == 1 ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(WakeReason reason,
                           WaitForInputOrSignal(pipe.read.get(), SIGUSR1, absl::Seconds(5)));
  EXPECT_EQ(reason, WakeReason::kReadable) << "EINTR from another signal: wait again";
  IPC_ASSERT_OK(child.Wait(kIoTimeout).status());
}

TEST_F(HiddenPselectTest, HandlerAndMaskAreRestored) {
  struct sigaction mine {};
  mine.sa_handler = Ignore;
  ASSERT_EQ(::sigaction(SIGUSR1, &mine, nullptr), 0);
  Pipe pipe = MakePipe();
  IPC_ASSERT_OK_AND_ASSIGN(WakeReason reason,
                           WaitForInputOrSignal(pipe.read.get(), SIGUSR1, absl::Seconds(3),
                                                [] { ::pthread_kill(::pthread_self(), SIGUSR1); }));
  EXPECT_EQ(reason, WakeReason::kSignal);
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGUSR1, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, &Ignore) << "restore the caller's handler";
  sigset_t mask;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, SIGUSR1), 1) << "the signal stays blocked after the call";
  signal(SIGUSR1, SIG_DFL);
}

TEST_F(HiddenPselectTest, DescriptorAboveFdSetSizeIsInvalidArgument) {
  EXPECT_THAT(WaitForInputOrSignal(FD_SETSIZE, SIGUSR1, absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// io_uring (EP10).

class HiddenUringTest : public test_util::UringLabTest {
 protected:
  absl::StatusOr<load::ServerProcess> StartRing(const Endpoint& where) {
    IPC_ASSIGN_OR_RETURN(ScopedFd listener, Listen(where));
    return load::StartServer(test_util::UringEchoServerBody(std::move(listener)));
  }
};

TEST_F(HiddenUringTest, LargeEchoComesBackWhole) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server, StartRing(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd client, load::Connect(where));
  std::string big(2 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 >> 7);
  IPC_ASSERT_OK_AND_ASSIGN(std::string back,
                           load::Exchange(client.get(), big, big.size(), absl::Seconds(10)));
  EXPECT_TRUE(back == big) << "short sends must be resubmitted for the rest, in order";
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.bytes_out, big.size());
}

TEST_F(HiddenUringTest, StopClosesEveryConnection) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server, StartRing(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd a, load::Connect(where));
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd b, load::Connect(where));
  IPC_ASSERT_OK(load::SendAll(a.get(), "ping", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(std::string back, load::ReceiveExactly(a.get(), 4, kIoTimeout));
  IPC_ASSERT_OK(load::SendAll(b.get(), "pong", kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(back, load::ReceiveExactly(b.get(), 4, kIoTimeout));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 2u);
  EXPECT_EQ(stats.closed, 2u);
  EXPECT_TRUE(load::IsClosedByPeer(a.get(), absl::Seconds(1)));
  EXPECT_TRUE(load::IsClosedByPeer(b.get(), absl::Seconds(1)));
}

TEST_F(HiddenUringTest, CopiesOddSizesAndEmptyFiles) {
  const std::string dir = ::testing::TempDir();
  for (size_t size : {size_t{0}, size_t{1}, size_t{3 * 4096 + 1}, size_t{100000}}) {
    const std::string src = dir + "/hidden_src", dst = dir + "/hidden_dst";
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i % 251);
    {
      ScopedFd f(::open(src.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      ASSERT_EQ(::write(f.get(), data.data(), data.size()), static_cast<ssize_t>(size));
    }
    ScopedFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    ScopedFd out(::open(dst.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    IPC_ASSERT_OK_AND_ASSIGN(uint64_t copied, CopyFileUring(in.get(), out.get(), 4096));
    EXPECT_EQ(copied, size);
    std::string back(size + 1, '\0');
    ssize_t n = ::pread(out.get(), back.data(), back.size(), 0);
    back.resize(n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_TRUE(back == data) << "copy of " << size << " bytes differs";
    ::unlink(src.c_str());
    ::unlink(dst.c_str());
  }
}

TEST_F(HiddenUringTest, CopyFromABadDescriptorIsEBADF) {
  ScopedFd out(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  EXPECT_THAT(CopyFileUring(-1, out.get()), HasErrno(EBADF));
  EXPECT_THAT(CopyFileReadWrite(-1, out.get()), HasErrno(EBADF));
}

// ---------------------------------------------------------------------------------------------
// WorkerPoolServer (EPOLLONESHOT).

using HiddenWorkerPoolTest = HiddenEpollTest;

TEST_F(HiddenWorkerPoolTest, ManyLargeFramesAtOnceComeBackWhole) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::WorkerPoolServerBody(std::move(listener), 3)));
  load::LoadOptions load;
  load.where = where;
  load.clients = 24;
  load.requests = 20;
  load.payload = 60000;  // larger than a socket buffer: every echo crosses several events
  IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
  EXPECT_EQ(result.requests, 24u * 20u);
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.bytes_in, stats.bytes_out);
}

TEST_F(HiddenWorkerPoolTest, ClientsThatLeaveAreClosedByTheWorkers) {
  const Endpoint where = Endpoint::Unix(SocketPath());
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
  IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server,
                           load::StartServer(load::WorkerPoolServerBody(std::move(listener), 2)));
  for (int i = 0; i < 10; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd c, load::Connect(where));
    IPC_ASSERT_OK(load::SendAll(c.get(), "bye", kIoTimeout));
    IPC_ASSERT_OK(load::ReceiveExactly(c.get(), 3, kIoTimeout).status());
  }
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd stays, load::Connect(where));
  IPC_ASSERT_OK(load::SendAll(stays.get(), "hi", kIoTimeout));
  IPC_ASSERT_OK(load::ReceiveExactly(stays.get(), 2, kIoTimeout).status());
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK_AND_ASSIGN(ServerStats stats, server.Finish());
  EXPECT_EQ(stats.accepted, 11u);
  EXPECT_EQ(stats.closed, 11u) << "ten closed by their workers at EOF, one at shutdown";
  EXPECT_TRUE(load::IsClosedByPeer(stays.get(), absl::Seconds(1)));
}

TEST_F(HiddenWorkerPoolTest, CreateRefusesZeroWorkers) {
  IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(Endpoint::Unix(SocketPath())));
  EXPECT_THAT(WorkerPoolServer::Create(std::move(listener), 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// The speed item (EP6): the same load, many idle connections, the student's epoll server against
// the lab's poll baseline. The grader runs the two cases alternately and compares the medians of
// requests_per_sec; under `bazel test` they only check that the load completes.

constexpr int kSpeedIdle = 2000;
constexpr int kSpeedClients = 2;
constexpr int kSpeedRequests = 1500;

class Speed : public HiddenEpollTest {
 protected:
  void Measure(bool student) {
    absl::Status raised = load::RaiseFileLimit(kSpeedIdle + 200);
    if (!raised.ok()) GTEST_SKIP() << raised.message();
    const Endpoint where = Endpoint::Unix(SocketPath());
    IPC_ASSERT_OK_AND_ASSIGN(ScopedFd listener, Listen(where));
    load::ServerBody body;
    if (student) {
      ServerOptions options;
      options.backend = Backend::kEpollEdge;
      body = load::EchoServerBody(std::move(listener), options, kSpeedIdle + 200);
    } else {
      body = baseline::PollEchoServerBody(std::move(listener), kSpeedIdle + 200);
    }
    IPC_ASSERT_OK_AND_ASSIGN(load::ServerProcess server, load::StartServer(std::move(body)));
    load::LoadOptions load;
    load.where = where;
    load.idle = kSpeedIdle;
    load.clients = kSpeedClients;
    load.requests = kSpeedRequests;
    load.payload = 64;
    load.timeout = absl::Seconds(30);
    IPC_ASSERT_OK_AND_ASSIGN(load::LoadResult result, load::RunLoad(load));
    ASSERT_EQ(result.requests, static_cast<uint64_t>(kSpeedClients) * kSpeedRequests);
    std::printf("IPCLABS_METRIC requests_per_sec=%.0f\n", result.RequestsPerSecond());
    std::fflush(stdout);
    ::testing::Test::RecordProperty("requests_per_sec",
                                    absl::StrCat(static_cast<int64_t>(result.RequestsPerSecond())));
    IPC_EXPECT_OK(server.Finish().status());
  }
};

TEST_F(Speed, Student) { Measure(true); }
TEST_F(Speed, Baseline) { Measure(false); }

}  // namespace
}  // namespace epoll
