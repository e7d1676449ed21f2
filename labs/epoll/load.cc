// labs/epoll/load.cc: the load generator and server harness of load.h. Not yours to change.
//
// The load generator is itself a small edge-triggered epoll client: every active connection is
// non-blocking, sends one frame, and reads its echo back as the bytes arrive. Idle connections
// are opened first and never put in its epoll set, so they cost the generator nothing and the
// server everything it does per watched descriptor.
#include "labs/epoll/load.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/timing.h"

namespace epoll::load {

// What a server child shares with its parent.
struct Shared {
  std::atomic<uint32_t> ready;     // 1 once the body called ready()
  std::atomic<uint32_t> reported;  // 1 once stats/error are written (release; parent acquires)
  ServerStats stats;
  char error[1024];
};

namespace {

int PollMs(absl::Duration left) {
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1000 * 1000));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<SocketDir> SocketDir::Create() {
  std::string base = "/tmp";
  if (const char* tmp = std::getenv("TEST_TMPDIR"); tmp != nullptr && std::strlen(tmp) < 60) {
    base = tmp;
  }
  std::string pattern = base + "/epoll.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return ipc::ErrnoError("mkdtemp", pattern);
  return SocketDir(pattern);
}

std::string SocketDir::Path(absl::string_view name) const { return absl::StrCat(dir_, "/", name); }

SocketDir::~SocketDir() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::Status RaiseFileLimit(rlim_t needed) {
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == -1)
    return ipc::ErrnoError("getrlimit", "RLIMIT_NOFILE");
  if (limit.rlim_cur >= needed) return absl::OkStatus();
  if (limit.rlim_max < needed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this needs ", needed, " open descriptors but the hard RLIMIT_NOFILE is ", limit.rlim_max,
        " (raise it with `ulimit -Hn` as root, or \"open_files\" in lab.json for the grader)"));
  }
  limit.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == -1)
    return ipc::ErrnoError("setrlimit", "RLIMIT_NOFILE");
  return absl::OkStatus();
}

absl::Status LeaveFreeDescriptors(int n) {
  std::vector<int> open;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return ipc::ErrnoError("opendir", "/proc/self/fd");
  const int dir_fd = ::dirfd(dir);
  while (dirent* entry = ::readdir(dir)) {
    int fd;
    if (entry->d_name[0] != '.' && absl::SimpleAtoi(entry->d_name, &fd) && fd != dir_fd) {
      open.push_back(fd);
    }
  }
  ::closedir(dir);
  int highest = 0;
  for (int fd : open) highest = std::max(highest, fd);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd == -1) return ipc::ErrnoError("open", "/dev/null");
  for (int fd = 0; fd < highest; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) continue;  // taken
    if (fd == null_fd) continue;
    if (::dup2(null_fd, fd) == -1) return ipc::ErrnoError("dup2", "/dev/null");
  }
  if (null_fd > highest) ::close(null_fd);
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == -1)
    return ipc::ErrnoError("getrlimit", "RLIMIT_NOFILE");
  limit.rlim_cur = static_cast<rlim_t>(highest + 1 + n);
  if (::setrlimit(RLIMIT_NOFILE, &limit) == -1)
    return ipc::ErrnoError("setrlimit", "RLIMIT_NOFILE");
  return absl::OkStatus();
}

absl::StatusOr<ScopedFd> Connect(const Endpoint& where) {
  if (where.is_unix()) {
    sockaddr_un addr{};
    if (where.unix_path.size() >= sizeof addr.sun_path) {
      return absl::InvalidArgumentError(absl::StrCat("path too long: ", where.unix_path));
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) return ipc::ErrnoError("socket(AF_UNIX)", where.unix_path);
    ScopedFd sock(fd);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, where.unix_path.data(), where.unix_path.size());
    while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1) {
      if (errno == EINTR) continue;
      return ipc::ErrnoError("connect", where.unix_path);
    }
    return sock;
  }
  const std::string what = absl::StrCat("127.0.0.1:", where.tcp_port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) return ipc::ErrnoError("socket(AF_INET)", what);
  ScopedFd sock(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(where.tcp_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1) {
    if (errno == EINTR) continue;
    return ipc::ErrnoError("connect", what);
  }
  return sock;
}

std::string Frame(absl::string_view payload) {
  const uint32_t n = static_cast<uint32_t>(payload.size());
  std::string frame = {static_cast<char>(n & 0xff), static_cast<char>(n >> 8 & 0xff),
                       static_cast<char>(n >> 16 & 0xff), static_cast<char>(n >> 24 & 0xff)};
  frame.append(payload.data(), payload.size());
  return frame;
}

absl::Status SendAll(int fd, absl::string_view bytes, absl::Duration timeout) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return ipc::ErrnoError("send", absl::StrCat("fd ", fd));
    }
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("sent ", sent, " of ", bytes.size(), " bytes: the server stopped reading"));
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, PollMs(left)) == -1 && errno != EINTR) return ipc::ErrnoError("poll", "send");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReceiveExactly(int fd, size_t n, absl::Duration timeout) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  std::string data(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, data.data() + got, n - got, MSG_DONTWAIT);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      return absl::OutOfRangeError(
          absl::StrCat("the server closed the connection after ", got, " of ", n, " bytes"));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ipc::ErrnoError("recv", absl::StrCat("fd ", fd));
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("received ", got, " of ", n, " bytes within ",
                                                      absl::FormatDuration(timeout)));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, PollMs(left)) == -1 && errno != EINTR) return ipc::ErrnoError("poll", "recv");
  }
  return data;
}

absl::Status Echo(int fd, absl::string_view payload, absl::Duration timeout) {
  const std::string frame = Frame(payload);
  IPC_RETURN_IF_ERROR(SendAll(fd, frame, timeout));
  IPC_ASSIGN_OR_RETURN(std::string back, ReceiveExactly(fd, frame.size(), timeout));
  if (back != frame) {
    return absl::DataLossError("the echoed frame differs from the frame sent");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Exchange(int fd, absl::string_view bytes, size_t expect,
                                     absl::Duration timeout) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  std::string back(expect, '\0');
  size_t sent = 0, got = 0;
  while (got < expect || sent < bytes.size()) {
    bool progress = false;
    if (sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress = true;
      } else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return ipc::ErrnoError("send", absl::StrCat("fd ", fd));
      }
    }
    if (got < expect) {
      ssize_t n = ::recv(fd, back.data() + got, expect - got, MSG_DONTWAIT);
      if (n > 0) {
        got += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        return absl::OutOfRangeError(
            absl::StrCat("the server closed the connection after ", got, " of ", expect, " bytes"));
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return ipc::ErrnoError("recv", absl::StrCat("fd ", fd));
      }
    }
    if (progress) continue;
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("sent ", sent, " of ", bytes.size(),
                                                      " bytes and received ", got, " of ", expect,
                                                      " within ", absl::FormatDuration(timeout)));
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sent < bytes.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, PollMs(left)) == -1 && errno != EINTR)
      return ipc::ErrnoError("poll", "exchange");
  }
  return back;
}

bool IsClosedByPeer(int fd, absl::Duration timeout) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  char sink[65536];
  for (;;) {
    ssize_t r = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (r == 0) return true;
    if (r == -1 && (errno == ECONNRESET || errno == EPIPE)) return true;
    if (r > 0 || (r == -1 && errno == EINTR)) continue;
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, PollMs(left));
  }
}

// ---------------------------------------------------------------------------------------------
// The load generator.

namespace {

struct Client {
  ScopedFd fd;
  int id = 0;
  int done = 0;          // requests completed
  bool stopped = false;  // LoadOptions::run_for has passed
  std::string expected;  // the frame in flight
  size_t sent = 0;       // of `expected`
  size_t received = 0;   // of the echo
  std::string reply;
};

std::string RequestFrame(const Client& c, size_t payload) {
  std::string body = absl::StrCat("client ", c.id, " request ", c.done, " ");
  body.resize(std::max(payload, size_t{1}), '.');
  return Frame(body);
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options) {
  const absl::Duration deadline = ipc::MonotonicNow() + options.timeout;
  std::vector<ScopedFd> idle;
  idle.reserve(static_cast<size_t>(options.idle));
  for (int i = 0; i < options.idle; ++i) {
    IPC_ASSIGN_OR_RETURN(ScopedFd fd, Connect(options.where));
    idle.push_back(std::move(fd));
  }
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd == -1) return ipc::ErrnoError("epoll_create1", "load generator");
  ScopedFd ep(epfd);
  std::vector<Client> clients(static_cast<size_t>(options.clients));
  for (int i = 0; i < options.clients; ++i) {
    Client& c = clients[static_cast<size_t>(i)];
    IPC_ASSIGN_OR_RETURN(c.fd, Connect(options.where));
    c.id = i;
    if (::fcntl(c.fd.get(), F_SETFL, O_NONBLOCK) == -1) return ipc::ErrnoError("fcntl", "client");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd.get(), &ev) == -1) {
      return ipc::ErrnoError("epoll_ctl", "load client");
    }
  }

  // Drives one client as far as its socket allows. Returns false when it has finished.
  ipc::Stopwatch watch;
  auto drive = [&](Client& c) -> absl::StatusOr<bool> {
    for (;;) {
      if (c.done == options.requests || c.stopped) return false;
      if (c.expected.empty() && options.run_for != absl::InfiniteDuration() &&
          watch.Elapsed() >= options.run_for) {
        c.stopped = true;  // out of time: no new request
        return false;
      }
      if (c.expected.empty()) {
        c.expected = RequestFrame(c, options.payload);
        c.reply.assign(c.expected.size(), '\0');
        c.sent = c.received = 0;
      }
      while (c.sent < c.expected.size()) {
        ssize_t n = ::send(c.fd.get(), c.expected.data() + c.sent, c.expected.size() - c.sent,
                           MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n == -1) return ipc::ErrnoError("send", absl::StrCat("load client ", c.id));
        c.sent += static_cast<size_t>(n);
      }
      while (c.received < c.reply.size()) {
        ssize_t n = ::recv(c.fd.get(), c.reply.data() + c.received, c.reply.size() - c.received, 0);
        if (n == -1 && errno == EINTR) continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n == -1) return ipc::ErrnoError("recv", absl::StrCat("load client ", c.id));
        if (n == 0) {
          return absl::OutOfRangeError(
              absl::StrCat("the server closed load client ", c.id, " after ", c.done, " requests"));
        }
        c.received += static_cast<size_t>(n);
      }
      if (c.reply != c.expected) {
        return absl::DataLossError(
            absl::StrCat("load client ", c.id, " got a wrong echo for request ", c.done));
      }
      ++c.done;
      c.expected.clear();
    }
  };

  LoadResult result;
  watch.Restart();
  int finished = 0;
  for (Client& c : clients) {
    IPC_ASSIGN_OR_RETURN(bool more, drive(c));
    if (!more) ++finished;
  }
  std::vector<epoll_event> ready(64);
  while (finished < options.clients) {
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      uint64_t done = 0;
      for (const Client& c : clients) done += static_cast<uint64_t>(c.done);
      return absl::DeadlineExceededError(absl::StrCat(
          "the load run did not finish within ", absl::FormatDuration(options.timeout), ": ", done,
          " of ", static_cast<uint64_t>(options.clients) * static_cast<uint64_t>(options.requests),
          " requests answered"));
    }
    int n = ::epoll_wait(epfd, ready.data(), static_cast<int>(ready.size()), PollMs(left));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return ipc::ErrnoError("epoll_wait", "load generator");
    for (int i = 0; i < n; ++i) {
      Client& c = clients[ready[i].data.u32];
      if (c.done == options.requests || c.stopped) continue;
      IPC_ASSIGN_OR_RETURN(bool more, drive(c));
      if (!more) ++finished;
    }
  }
  result.elapsed = watch.Elapsed();
  for (const Client& c : clients) result.requests += static_cast<uint64_t>(c.done);
  return result;
}

// ---------------------------------------------------------------------------------------------
// The server harness.

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : child(std::move(other.child)),
      exit_status(other.exit_status),
      shared(std::exchange(other.shared, nullptr)) {}

ServerProcess& ServerProcess::operator=(ServerProcess&& other) noexcept {
  if (this != &other) {
    if (shared != nullptr) ::munmap(shared, sizeof(Shared));
    child = std::move(other.child);
    exit_status = other.exit_status;
    shared = std::exchange(other.shared, nullptr);
  }
  return *this;
}

ServerProcess::~ServerProcess() {
  // The child, if still running, is killed and reaped by ~Child.
  if (shared != nullptr) ::munmap(shared, sizeof(Shared));
}

bool ServerProcess::Alive() {
  if (!child.has_value() || exit_status.has_value()) return false;
  absl::StatusOr<ipc::ExitStatus> ended = child->TryWait();
  if (ended.ok()) exit_status = *ended;
  return ended.status().code() == absl::StatusCode::kUnavailable;
}

absl::StatusOr<ServerStats> ServerProcess::Finish(absl::Duration timeout) {
  if (shared == nullptr || !child.has_value()) {
    return absl::FailedPreconditionError("no server process");
  }
  if (!exit_status.has_value()) {
    (void)child->Kill(SIGTERM);  // fails only if it has already exited; Wait tells us how
    IPC_ASSIGN_OR_RETURN(exit_status, child->Wait(timeout));
  }
  const ipc::ExitStatus status = *exit_status;
  if (shared->reported.load(std::memory_order_acquire) == 1 && shared->error[0] != '\0') {
    return absl::InternalError(absl::StrCat("the server failed: ", shared->error));
  }
  if (!status.Succeeded()) {
    return absl::InternalError(absl::StrCat(
        "the server process ", status.ToString(),
        status.kind == ipc::ExitStatus::Kind::kSignaled && status.signal == SIGTERM
            ? " (SIGTERM must reach the loop through its signalfd and end Run() cleanly)"
            : ""));
  }
  if (shared->reported.load(std::memory_order_acquire) != 1) {
    return absl::InternalError("the server process exited without reporting its stats");
  }
  return shared->stats;
}

absl::StatusOr<ServerProcess> StartServer(ServerBody body) {
  void* p =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ipc::ErrnoError("mmap", "server harness");
  ServerProcess server;
  server.shared = new (p) Shared{};
  Shared* shared = server.shared;
  IPC_ASSIGN_OR_RETURN(
      server.child, ipc::Child::Fork([shared, &body]() -> int {
        absl::Status status = body(&shared->stats, [shared] {
          shared->ready.store(1, std::memory_order_release);  // pairs with the parent's acquire
        });
        if (!status.ok()) {
          std::string message(status.ToString());
          std::snprintf(shared->error, sizeof shared->error, "%s", message.c_str());
        }
        shared->reported.store(1, std::memory_order_release);  // pairs with Finish()'s acquire
        return status.ok() ? 0 : 1;
      }));
  const absl::Duration deadline = ipc::MonotonicNow() + absl::Seconds(10);
  while (shared->ready.load(std::memory_order_acquire) == 0) {
    absl::StatusOr<ipc::ExitStatus> ended = server.child->TryWait();
    if (ended.ok()) {
      if (shared->reported.load(std::memory_order_acquire) == 1 && shared->error[0] != '\0') {
        return absl::Status(absl::StatusCode::kFailedPrecondition,
                            absl::StrCat("the server did not start: ", shared->error));
      }
      return absl::InternalError(
          absl::StrCat("the server process ", ended->ToString(), " before it was ready"));
    }
    if (ipc::MonotonicNow() > deadline) {
      return absl::DeadlineExceededError("the server process was not ready within 10 s");
    }
    ::usleep(1000);  // a start-up poll in the harness, bounded by the deadline above
  }
  return server;
}

ServerBody EchoServerBody(ScopedFd listener, ServerOptions options, rlim_t file_limit) {
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd, options, file_limit](ServerStats* stats, const std::function<void()>& ready) {
    if (file_limit != 0) IPC_RETURN_IF_ERROR(RaiseFileLimit(file_limit));
    IPC_ASSIGN_OR_RETURN(EchoServer server, EchoServer::Create(std::move(*fd), options));
    ready();
    absl::Status run = server.Run();
    *stats = server.stats();
    return run;
  };
}

namespace {
const WorkerPoolServer* g_pool = nullptr;  // the pool SIGTERM stops, in a server child
void StopPool(int) {
  if (g_pool != nullptr) (void)g_pool->Stop();
}
}  // namespace

ServerBody WorkerPoolServerBody(ScopedFd listener, int workers) {
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd, workers](ServerStats* stats, const std::function<void()>& ready) -> absl::Status {
    IPC_ASSIGN_OR_RETURN(WorkerPoolServer pool, WorkerPoolServer::Create(std::move(*fd), workers));
    g_pool = &pool;
    struct sigaction action {};
    action.sa_handler = StopPool;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGTERM, &action, nullptr) == -1)
      return ipc::ErrnoError("sigaction", "SIGTERM");
    ready();
    absl::Status run = pool.Run();
    *stats = pool.stats();
    return run;
  };
}

}  // namespace epoll::load
