// solutions/epoll/epoll.cc: the reference implementation of labs/epoll/epoll.h.
//
// The student's labs/epoll/epoll.cc has the same functions with TODOs; the plumbing both share
// (BackendName, FlagChannel's move and destructor) is in labs/epoll/epoll_given.cc. Tests:
//   bazel test //solutions/epoll:all //grader/hidden/epoll:all
// Every system call is checked on the next line; every failure is an ipc::ErrnoError that names
// the call and the object; EINTR is retried visibly where it can happen; every descriptor is
// owned by a ScopedFd.
#include "labs/epoll/epoll.h"

#include <fcntl.h>
#include <liburing.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/timing.h"

namespace epoll {
namespace {

std::string FdName(int fd) { return absl::StrCat("fd ", fd); }

// A timeout as poll(2)/epoll_wait(2) want it: milliseconds rounded UP (rounding down turns a
// 0.5 ms wait into a busy loop), -1 for no limit, capped at INT_MAX.
int TimeoutMs(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

// EP8: every descriptor in an event loop must be non-blocking. fcntl also proves it is open.
absl::Status CheckNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags == -1) return ipc::ErrnoError("fcntl(F_GETFL)", FdName(fd));
  if ((flags & O_NONBLOCK) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(FdName(fd),
                     " is blocking: every descriptor in an event loop must be O_NONBLOCK, or one "
                     "read that finds no data stalls every other client (EP8)"));
  }
  return absl::OkStatus();
}

absl::Status SetNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags == -1) return ipc::ErrnoError("fcntl(F_GETFL)", FdName(fd));
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) == -1) {
    return ipc::ErrnoError("fcntl(F_SETFL)", FdName(fd));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Pollers.

// select(2): rebuilds three bitmaps on every call and scans them up to the highest descriptor.
class SelectPoller final : public Poller {
 public:
  explicit SelectPoller(size_t max_events) : max_events_(max_events) {}

  absl::Status Add(int fd, uint32_t interest) override {
    if (fd < 0) return ipc::ErrnoError("select", FdName(fd), EBADF);
    if (fd >= FD_SETSIZE) {
      // FD_SET(fd) would write past the end of the 128-byte fd_set (EP3).
      return absl::InvalidArgumentError(absl::StrCat(
          "select cannot watch ", FdName(fd), ": an fd_set holds descriptors below FD_SETSIZE (",
          FD_SETSIZE, ") only (EP3); use poll or epoll"));
    }
    IPC_RETURN_IF_ERROR(CheckNonBlocking(fd));
    if (!interest_.emplace(fd, interest).second)
      return ipc::ErrnoError("select", FdName(fd), EEXIST);
    return absl::OkStatus();
  }

  absl::Status Modify(int fd, uint32_t interest) override {
    auto it = interest_.find(fd);
    if (it == interest_.end()) return ipc::ErrnoError("select", FdName(fd), ENOENT);
    it->second = interest;
    return absl::OkStatus();
  }

  absl::Status Remove(int fd) override {
    if (interest_.erase(fd) == 0) return ipc::ErrnoError("select", FdName(fd), ENOENT);
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Wait(absl::Duration timeout, std::vector<Event>& events) override {
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    int max_fd = -1;
    for (const auto& [fd, interest] : interest_) {
      // Hang-ups and errors show up as readability in select; always ask for it.
      FD_SET(fd, &readable);
      if (interest & kWritable) FD_SET(fd, &writable);
      max_fd = fd;
    }
    struct timeval tv, *tvp = nullptr;
    if (timeout != absl::InfiniteDuration()) {
      tv = absl::ToTimeval(std::max(timeout, absl::ZeroDuration()));
      tvp = &tv;
    }
    events.clear();
    int n = ::select(max_fd + 1, &readable, &writable, nullptr, tvp);
    if (n == -1 && errno == EINTR) return 0;  // the caller's loop decides
    if (n == -1) return ipc::ErrnoError("select", absl::StrCat(interest_.size(), " descriptors"));
    for (const auto& [fd, interest] : interest_) {
      if (events.size() == max_events_) break;
      uint32_t ready = 0;
      if (FD_ISSET(fd, &readable)) ready |= kReadable;
      if (FD_ISSET(fd, &writable)) ready |= kWritable;
      if (ready != 0) events.push_back({fd, ready});
    }
    return events.size();
  }

  size_t size() const override { return interest_.size(); }
  Backend backend() const override { return Backend::kSelect; }
  size_t max_events() const override { return max_events_; }

 private:
  std::map<int, uint32_t> interest_;  // fd -> kReadable|kWritable, ordered like the bitmaps
  size_t max_events_;
};

// poll(2): one pollfd per descriptor, handed to the kernel in full on every call (EP5).
class PollPoller final : public Poller {
 public:
  explicit PollPoller(size_t max_events) : max_events_(max_events) {}

  absl::Status Add(int fd, uint32_t interest) override {
    if (fd < 0) return ipc::ErrnoError("poll", FdName(fd), EBADF);
    IPC_RETURN_IF_ERROR(CheckNonBlocking(fd));
    if (index_.count(fd) != 0) return ipc::ErrnoError("poll", FdName(fd), EEXIST);
    index_[fd] = fds_.size();
    fds_.push_back({fd, ToPoll(interest), 0});
    return absl::OkStatus();
  }

  absl::Status Modify(int fd, uint32_t interest) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return ipc::ErrnoError("poll", FdName(fd), ENOENT);
    fds_[it->second].events = ToPoll(interest);
    return absl::OkStatus();
  }

  absl::Status Remove(int fd) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return ipc::ErrnoError("poll", FdName(fd), ENOENT);
    // Move the last entry into the hole: O(1), order does not matter to poll.
    size_t hole = it->second;
    index_.erase(it);
    if (hole != fds_.size() - 1) {
      fds_[hole] = fds_.back();
      index_[fds_[hole].fd] = hole;
    }
    fds_.pop_back();
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Wait(absl::Duration timeout, std::vector<Event>& events) override {
    events.clear();
    int n = ::poll(fds_.data(), fds_.size(), TimeoutMs(timeout));
    if (n == -1 && errno == EINTR) return 0;
    if (n == -1) return ipc::ErrnoError("poll", absl::StrCat(fds_.size(), " descriptors"));
    // The O(n) scan the kernel did once more in user space: every idle entry is looked at.
    for (size_t i = 0; i < fds_.size() && n > 0 && events.size() < max_events_; ++i) {
      short r = fds_[i].revents;
      if (r == 0) continue;
      --n;
      uint32_t ready = 0;
      if (r & POLLIN) ready |= kReadable;
      if (r & POLLOUT) ready |= kWritable;
      if (r & (POLLHUP | POLLRDHUP)) ready |= kHangup;
      if (r & (POLLERR | POLLNVAL)) ready |= kError;
      events.push_back({fds_[i].fd, ready});
    }
    return events.size();
  }

  size_t size() const override { return fds_.size(); }
  Backend backend() const override { return Backend::kPoll; }
  size_t max_events() const override { return max_events_; }

 private:
  static short ToPoll(uint32_t interest) {
    short events = POLLRDHUP;
    if (interest & kReadable) events |= POLLIN;
    if (interest & kWritable) events |= POLLOUT;
    return events;
  }

  std::vector<pollfd> fds_;                // the array poll(2) reads
  std::unordered_map<int, size_t> index_;  // fd -> its slot in fds_
  size_t max_events_;
};

// epoll(7): the kernel keeps the interest set; epoll_wait returns only ready descriptors (EP6).
class EpollPoller final : public Poller {
 public:
  EpollPoller(ScopedFd epfd, bool edge, size_t max_events)
      : epfd_(std::move(epfd)), edge_(edge), ready_(max_events) {}

  absl::Status Add(int fd, uint32_t interest) override {
    if (fd < 0) return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)", FdName(fd), EBADF);
    IPC_RETURN_IF_ERROR(CheckNonBlocking(fd));
    epoll_event ev = ToEpoll(fd, interest);
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) == -1) {
      return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)", FdName(fd));
    }
    ++size_;
    return absl::OkStatus();
  }

  absl::Status Modify(int fd, uint32_t interest) override {
    epoll_event ev = ToEpoll(fd, interest);
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) == -1) {
      return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_MOD)", FdName(fd));
    }
    return absl::OkStatus();
  }

  absl::Status Remove(int fd) override {
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr) == -1) {
      return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_DEL)", FdName(fd));
    }
    --size_;
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> Wait(absl::Duration timeout, std::vector<Event>& events) override {
    events.clear();
    int n = ::epoll_wait(epfd_.get(), ready_.data(), static_cast<int>(ready_.size()),
                         TimeoutMs(timeout));
    if (n == -1 && errno == EINTR) return 0;
    if (n == -1) return ipc::ErrnoError("epoll_wait", FdName(epfd_.get()));
    // Only the ready descriptors come back: the cost is O(ready), not O(watched).
    for (int i = 0; i < n; ++i) {
      uint32_t e = ready_[i].events, ready = 0;
      if (e & EPOLLIN) ready |= kReadable;
      if (e & EPOLLOUT) ready |= kWritable;
      if (e & (EPOLLHUP | EPOLLRDHUP)) ready |= kHangup;
      if (e & EPOLLERR) ready |= kError;
      events.push_back({ready_[i].data.fd, ready});
    }
    return events.size();
  }

  size_t size() const override { return size_; }
  Backend backend() const override { return edge_ ? Backend::kEpollEdge : Backend::kEpollLevel; }
  size_t max_events() const override { return ready_.size(); }

 private:
  epoll_event ToEpoll(int fd, uint32_t interest) const {
    epoll_event ev{};
    ev.events = EPOLLRDHUP | (edge_ ? EPOLLET : 0u);
    if (interest & kReadable) ev.events |= EPOLLIN;
    if (interest & kWritable) ev.events |= EPOLLOUT;
    ev.data.fd = fd;
    return ev;
  }

  ScopedFd epfd_;
  bool edge_;
  std::vector<epoll_event> ready_;  // epoll_wait's output array
  size_t size_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> MakePoller(Backend backend, size_t max_events) {
  if (max_events == 0) return absl::InvalidArgumentError("a Poller needs max_events >= 1");
  if (max_events > INT_MAX) return absl::InvalidArgumentError("max_events must fit in an int");
  switch (backend) {
    case Backend::kSelect:
      return std::unique_ptr<Poller>(new SelectPoller(max_events));
    case Backend::kPoll:
      return std::unique_ptr<Poller>(new PollPoller(max_events));
    case Backend::kEpollLevel:
    case Backend::kEpollEdge: {
      int fd = ::epoll_create1(EPOLL_CLOEXEC);
      if (fd == -1) return ipc::ErrnoError("epoll_create1", "");
      return std::unique_ptr<Poller>(
          new EpollPoller(ScopedFd(fd), backend == Backend::kEpollEdge, max_events));
    }
  }
  return absl::InvalidArgumentError("unknown backend");
}

// ---------------------------------------------------------------------------------------------
// Task 1: listening sockets.

absl::StatusOr<ScopedFd> Listen(const Endpoint& where, int backlog) {
  if (where.is_unix()) {
    sockaddr_un addr{};
    if (where.unix_path.size() >= sizeof addr.sun_path) {
      return absl::InvalidArgumentError(
          absl::StrCat("Unix socket path \"", where.unix_path, "\" has ", where.unix_path.size(),
                       " bytes; sun_path holds at most ", sizeof addr.sun_path - 1));
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) return ipc::ErrnoError("socket(AF_UNIX)", where.unix_path);
    ScopedFd sock(fd);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, where.unix_path.data(), where.unix_path.size());
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1) {
      return ipc::ErrnoError("bind", where.unix_path);
    }
    if (::listen(fd, backlog) == -1) {
      int err = errno;
      ::unlink(where.unix_path.c_str());  // bind made the file: leave nothing behind
      return ipc::ErrnoError("listen", where.unix_path, err);
    }
    return sock;
  }
  const std::string what = absl::StrCat("127.0.0.1:", where.tcp_port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) return ipc::ErrnoError("socket(AF_INET)", what);
  ScopedFd sock(fd);
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1) {
    return ipc::ErrnoError("setsockopt(SO_REUSEADDR)", what);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(where.tcp_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == -1) {
    return ipc::ErrnoError("bind", what);
  }
  if (::listen(fd, backlog) == -1) return ipc::ErrnoError("listen", what);
  return sock;
}

absl::StatusOr<Endpoint> BoundEndpoint(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == -1) {
    return ipc::ErrnoError("getsockname", FdName(fd));
  }
  if (addr.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&addr);
    return Endpoint::Unix(std::string(un->sun_path, strnlen(un->sun_path, sizeof un->sun_path)));
  }
  if (addr.ss_family == AF_INET) {
    return Endpoint::Tcp(ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(FdName(fd), " is bound to address family ", addr.ss_family));
}

// ---------------------------------------------------------------------------------------------
// Tasks 3 to 5: the echo server.

namespace {

// One client connection.
struct Connection {
  ScopedFd fd;
  std::string in;   // bytes received, not yet a complete frame
  std::string out;  // bytes to send; out_sent of them already sent
  size_t out_sent = 0;
  uint32_t interest = 0;       // what the Poller watches for now
  bool paused = false;         // back pressure: reading stopped until output drains
  absl::Duration last_active;  // MonotonicNow() of the last byte received

  size_t pending() const { return out.size() - out_sent; }
};

// Why a connection is being closed (for the log line and the counters).
enum class CloseKind { kNormal, kRejected, kIdle };

}  // namespace

struct EchoServer::State {
  ServerOptions options;
  ScopedFd listener;
  ScopedFd wake_fd;    // eventfd: Stop()
  ScopedFd signal_fd;  // signalfd: SIGTERM, SIGINT
  ScopedFd timer_fd;   // timerfd: idle sweep
  ScopedFd spare_fd;   // /dev/null, released to accept-and-close under EMFILE
  std::unique_ptr<Poller> poller;
  std::unordered_map<int, std::unique_ptr<Connection>> connections;
  ServerStats stats;
  std::vector<Event> events;
  std::vector<char> read_buffer = std::vector<char>(kMaxReadChunk);
  sigset_t old_mask;
  bool mask_changed = false;
  bool stopping = false;

  ~State() {
    connections.clear();  // closes every client
    signal_fd.Reset();
    if (mask_changed) ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }

  void Log(absl::string_view line) {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "echo server: %.*s\n", static_cast<int>(line.size()), line.data());
    }
  }

  void Close(int fd, CloseKind kind, absl::string_view why) {
    auto it = connections.find(fd);
    if (it == connections.end()) return;
    // Remove before close: a closed descriptor cannot be named to epoll_ctl, and poll/select
    // would keep a stale entry that a future accept could reuse.
    absl::Status removed = poller->Remove(fd);
    if (!removed.ok()) Log(absl::StrCat("client ", fd, ": ", removed.message()));
    if (kind != CloseKind::kNormal) Log(absl::StrCat("client ", fd, ": ", why));
    connections.erase(it);
    ++stats.closed;
    if (kind == CloseKind::kRejected) ++stats.rejected;
    if (kind == CloseKind::kIdle) ++stats.idle_closed;
  }

  // Accepts every pending connection (EP7: an edge-triggered listener reports a burst once).
  absl::Status AcceptAll() {
    for (;;) {
      int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd == -1) {
        int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;  // retry; a client that gave up
        if (err == EAGAIN || err == EWOULDBLOCK) return absl::OkStatus();
        if (err == EMFILE || err == ENFILE) {
          // The connection stays queued and the listener stays readable: a level-triggered
          // loop would spin on it. Free one descriptor, take the connection, close it (the
          // client sees EOF), and keep the spare for next time.
          ++stats.accept_emfile;
          spare_fd.Reset();
          int victim = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
          if (victim >= 0) ::close(victim);
          int spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          if (spare == -1) Log("cannot reopen the spare descriptor: out of descriptors");
          spare_fd = ScopedFd(spare);
          if (victim == -1) return absl::OkStatus();
          Log("out of descriptors (EMFILE): a new client was accepted and closed at once");
          continue;
        }
        if (err == ENOBUFS || err == ENOMEM || err == EPROTO || err == ENETDOWN ||
            err == EHOSTUNREACH || err == ENETUNREACH || err == EPERM) {
          Log(absl::StrCat("accept4: ", std::strerror(err)));
          return absl::OkStatus();
        }
        return ipc::ErrnoError("accept4", FdName(listener.get()), err);
      }
      ScopedFd client(fd);
      ++stats.accepted;
      absl::Status added = poller->Add(fd, kReadable);
      if (!added.ok()) {
        // select and fd >= FD_SETSIZE lands here (EP3): refuse this client, serve the rest.
        Log(absl::StrCat("client ", fd, ": refused: ", added.message()));
        ++stats.closed;
        ++stats.rejected;
        continue;
      }
      auto connection = std::make_unique<Connection>();
      connection->fd = std::move(client);
      connection->interest = kReadable;
      connection->last_active = ipc::MonotonicNow();
      connections[fd] = std::move(connection);
    }
  }

  // Sends what the socket takes. Returns false if the connection was closed.
  bool Flush(Connection& c) {
    const int fd = c.fd.get();
    while (c.pending() > 0) {
      ssize_t n = ::send(fd, c.out.data() + c.out_sent, c.pending(), MSG_NOSIGNAL);
      if (n == -1) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // kWritable will tell us when
        Close(fd, CloseKind::kNormal, "");                   // EPIPE, ECONNRESET: gone
        return false;
      }
      c.out_sent += static_cast<size_t>(n);
      stats.bytes_out += static_cast<uint64_t>(n);
    }
    if (c.pending() == 0) {
      c.out.clear();
      c.out_sent = 0;
    } else if (c.out_sent > c.out.size() / 2) {
      c.out.erase(0, c.out_sent);  // keep the buffer from creeping forward forever
      c.out_sent = 0;
    }
    return true;
  }

  // Cuts complete frames out of c.in into c.out. Returns false if the connection was closed.
  bool TakeFrames(Connection& c) {
    size_t pos = 0;
    while (c.in.size() - pos >= kFrameHeaderSize) {
      const auto* h = reinterpret_cast<const unsigned char*>(c.in.data() + pos);
      const uint32_t length = static_cast<uint32_t>(h[0]) | static_cast<uint32_t>(h[1]) << 8 |
                              static_cast<uint32_t>(h[2]) << 16 | static_cast<uint32_t>(h[3]) << 24;
      if (length == 0 || length > options.max_frame) {
        Close(c.fd.get(), CloseKind::kRejected,
              length == 0 ? std::string("frame of 0 bytes (garbage)")
                          : absl::StrCat("frame of ", length, " bytes exceeds the limit of ",
                                         options.max_frame));
        return false;
      }
      if (c.in.size() - pos < kFrameHeaderSize + length) break;  // the rest has not arrived
      c.out.append(c.in, pos, kFrameHeaderSize + length);
      pos += kFrameHeaderSize + length;
      ++stats.frames;
    }
    c.in.erase(0, pos);
    stats.max_output = std::max<uint64_t>(stats.max_output, c.pending());
    return true;
  }

  // Reads until EAGAIN (edge-triggered needs it; level-triggered does not mind), or until back
  // pressure says stop. `ignore_pause`: a hang-up must be read to EOF even while paused.
  // Returns false if the connection was closed.
  bool ReadAll(Connection& c, bool ignore_pause) {
    const int fd = c.fd.get();
    for (;;) {
      if (!ignore_pause && c.pending() >= options.output_limit) {
        if (!c.paused) {
          c.paused = true;
          ++stats.read_pauses;
        }
        return true;
      }
      ssize_t n = ::read(fd, read_buffer.data(), read_buffer.size());
      if (n == -1) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        Close(fd, CloseKind::kNormal, "");  // ECONNRESET and friends: the client vanished
        return false;
      }
      if (n == 0) {
        // End of file, possibly mid-frame. Send what we can of complete frames, then close.
        Flush(c);
        Close(fd, CloseKind::kNormal, "");
        return false;
      }
      stats.bytes_in += static_cast<uint64_t>(n);
      c.last_active = ipc::MonotonicNow();
      c.in.append(read_buffer.data(), static_cast<size_t>(n));
      if (!TakeFrames(c)) return false;
      if (!Flush(c)) return false;
    }
  }

  // Registers exactly what the connection needs: kReadable unless paused, kWritable only while
  // output is pending (an always-writable socket would wake a level-triggered loop forever).
  bool UpdateInterest(Connection& c) {
    if (c.paused && c.pending() < options.output_limit) c.paused = false;
    uint32_t want = (c.paused ? 0u : kReadable) | (c.pending() > 0 ? kWritable : 0u);
    if (want == c.interest) return true;
    absl::Status s = poller->Modify(c.fd.get(), want);
    if (!s.ok()) {
      Close(c.fd.get(), CloseKind::kNormal, s.message());
      return false;
    }
    // Modify re-arms an edge-triggered descriptor: data that arrived while we were paused is
    // reported again, so resuming never stalls.
    c.interest = want;
    return true;
  }

  void HandleClient(const Event& e) {
    auto it = connections.find(e.fd);
    if (it == connections.end()) return;  // closed earlier in this batch
    Connection& c = *it->second;
    if (e.events & kError) {
      Close(e.fd, CloseKind::kNormal, "");
      return;
    }
    if ((e.events & kWritable) && !Flush(c)) return;
    if (e.events & (kReadable | kHangup)) {
      if (!ReadAll(c, (e.events & kHangup) != 0)) return;
    } else if (c.paused && c.pending() < options.output_limit) {
      // Output drained below the limit: resume reading now (edge-triggered would not tell us
      // again about data that arrived while we were paused until Modify re-arms it).
      c.paused = false;
      if (!ReadAll(c, false)) return;
    }
    UpdateInterest(c);
  }

  void SweepIdle() {
    uint64_t expirations;
    while (::read(timer_fd.get(), &expirations, sizeof expirations) == -1 && errno == EINTR) {
    }
    const absl::Duration now = ipc::MonotonicNow();
    std::vector<int> idle;
    for (const auto& [fd, c] : connections) {
      if (now - c->last_active >= options.idle_timeout) idle.push_back(fd);
    }
    for (int fd : idle) {
      Close(fd, CloseKind::kIdle,
            absl::StrCat("idle for more than ", absl::FormatDuration(options.idle_timeout)));
    }
  }

  absl::Status ReadSignal() {
    signalfd_siginfo info;
    ssize_t n;
    while ((n = ::read(signal_fd.get(), &info, sizeof info)) == -1 && errno == EINTR) {
    }
    if (n == -1 && errno == EAGAIN) return absl::OkStatus();
    if (n == -1) return ipc::ErrnoError("read", "signalfd");
    Log(absl::StrCat("signal ", info.ssi_signo, ": shutting down"));
    stopping = true;
    return absl::OkStatus();
  }

  void ReadWake() {
    uint64_t value;
    while (::read(wake_fd.get(), &value, sizeof value) == -1 && errno == EINTR) {
    }
    stopping = true;
  }

  void ReadQueue() {
    std::vector<char> message(8192 + 1);
    mq_attr attr;
    if (::mq_getattr(options.control_queue, &attr) == 0) {
      message.resize(static_cast<size_t>(attr.mq_msgsize) + 1);
    }
    for (;;) {
      ssize_t n = ::mq_receive(options.control_queue, message.data(), message.size(), nullptr);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) {
        if (errno != EAGAIN) Log(absl::StrCat("mq_receive: ", std::strerror(errno)));
        return;
      }
      ++stats.queue_messages;
      if (absl::string_view(message.data(), static_cast<size_t>(n)) == "stop") stopping = true;
    }
  }
};

EchoServer::EchoServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
EchoServer::EchoServer(EchoServer&& other) noexcept = default;
EchoServer& EchoServer::operator=(EchoServer&& other) noexcept = default;
EchoServer::~EchoServer() = default;

absl::StatusOr<EchoServer> EchoServer::Create(ScopedFd listener, const ServerOptions& options) {
  if (!listener.valid()) return absl::InvalidArgumentError("EchoServer needs a listening socket");
  if (options.max_frame == 0 || options.output_limit == 0) {
    return absl::InvalidArgumentError("max_frame and output_limit must be at least 1");
  }
  auto state = std::make_unique<State>();
  state->options = options;
  IPC_RETURN_IF_ERROR(SetNonBlocking(listener.get(), true));
  state->listener = std::move(listener);
  IPC_ASSIGN_OR_RETURN(state->poller, MakePoller(options.backend));

  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("eventfd", "stop");
  state->wake_fd = ScopedFd(fd);

  fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("open", "/dev/null (the spare descriptor)");
  state->spare_fd = ScopedFd(fd);

  if (options.idle_timeout != absl::InfiniteDuration()) {
    fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd == -1) return ipc::ErrnoError("timerfd_create", "idle timer");
    state->timer_fd = ScopedFd(fd);
    // Sweep four times per timeout: a connection is closed between 1 and 1.25 timeouts idle.
    absl::Duration period = std::max(options.idle_timeout / 4, absl::Milliseconds(5));
    itimerspec spec{};
    spec.it_interval = absl::ToTimespec(period);
    spec.it_value = spec.it_interval;
    if (::timerfd_settime(fd, 0, &spec, nullptr) == -1) {
      return ipc::ErrnoError("timerfd_settime", "idle timer");
    }
  }

  if (options.handle_signals) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    // Block first, then read them from a descriptor: a signal can no longer interrupt the loop
    // between two calls; it waits, queued, until the loop reads it.
    if (int err = ::pthread_sigmask(SIG_BLOCK, &set, &state->old_mask); err != 0) {
      return ipc::ErrnoError("pthread_sigmask", "SIGTERM, SIGINT", err);
    }
    state->mask_changed = true;
    fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1) return ipc::ErrnoError("signalfd", "SIGTERM, SIGINT");
    state->signal_fd = ScopedFd(fd);
  }

  Poller& poller = *state->poller;
  IPC_RETURN_IF_ERROR(poller.Add(state->listener.get(), kReadable));
  IPC_RETURN_IF_ERROR(poller.Add(state->wake_fd.get(), kReadable));
  if (state->timer_fd.valid()) IPC_RETURN_IF_ERROR(poller.Add(state->timer_fd.get(), kReadable));
  if (state->signal_fd.valid()) IPC_RETURN_IF_ERROR(poller.Add(state->signal_fd.get(), kReadable));
  if (options.control_queue != -1) {
    mq_attr attr;
    if (::mq_getattr(options.control_queue, &attr) == -1) {
      return ipc::ErrnoError("mq_getattr", "control queue");
    }
    IPC_RETURN_IF_ERROR(poller.Add(options.control_queue, kReadable));
  }
  return EchoServer(std::move(state));
}

absl::Status EchoServer::Run() {
  if (!state_) return absl::FailedPreconditionError("Run() on a moved-from EchoServer");
  State& s = *state_;
  s.stopping = false;
  while (!s.stopping) {
    // Sleep in the kernel until something is ready: no timeout, the timerfd is our clock.
    IPC_ASSIGN_OR_RETURN(size_t n, s.poller->Wait(absl::InfiniteDuration(), s.events));
    ++s.stats.wakeups;
    for (size_t i = 0; i < n; ++i) {
      const Event e = s.events[i];
      if (e.fd == s.listener.get()) {
        IPC_RETURN_IF_ERROR(s.AcceptAll());
      } else if (e.fd == s.wake_fd.get()) {
        s.ReadWake();
      } else if (e.fd == s.signal_fd.get()) {
        IPC_RETURN_IF_ERROR(s.ReadSignal());
      } else if (e.fd == s.timer_fd.get()) {
        s.SweepIdle();
      } else if (s.options.control_queue != -1 && e.fd == s.options.control_queue) {
        s.ReadQueue();
      } else {
        s.HandleClient(e);
      }
    }
  }
  // Shutdown: every client is closed, nothing is left open but the server's own descriptors.
  std::vector<int> open;
  for (const auto& [fd, c] : s.connections) open.push_back(fd);
  for (int fd : open) s.Close(fd, CloseKind::kNormal, "");
  return absl::OkStatus();
}

absl::Status EchoServer::Stop() const {
  if (!state_) return absl::FailedPreconditionError("Stop() on a moved-from EchoServer");
  const uint64_t one = 1;
  if (::write(state_->wake_fd.get(), &one, sizeof one) == -1 && errno != EAGAIN) {
    return ipc::ErrnoError("write", "the server's eventfd");
  }
  return absl::OkStatus();
}

const ServerStats& EchoServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

size_t EchoServer::connections() const { return state_ ? state_->connections.size() : 0; }

// ---------------------------------------------------------------------------------------------
// Task 6: FlagChannel.

absl::StatusOr<FlagChannel> FlagChannel::Create() {
  void* p = ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ipc::ErrnoError("mmap", "flag word");
  auto* word = new (p) std::atomic<uint64_t>(0);
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd == -1) {
    int err = errno;
    ::munmap(p, sizeof(std::atomic<uint64_t>));
    return ipc::ErrnoError("eventfd", "flag channel", err);
  }
  return FlagChannel(word, ScopedFd(fd));
}

absl::Status FlagChannel::Post(uint64_t value) {
  if (value == 0)
    return absl::InvalidArgumentError("0 means \"nothing posted\"; post another value");
  if (word_ == nullptr) return absl::FailedPreconditionError("Post() on an empty FlagChannel");
  // Publish the value; pairs with the acquire exchange in TryTake().
  word_->store(value, std::memory_order_release);
  // Then ring the bell a sleeper in epoll_wait can hear (EP1, EP11).
  const uint64_t one = 1;
  while (::write(event_fd_.get(), &one, sizeof one) == -1) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;  // the counter is at its maximum: already readable
    return ipc::ErrnoError("write", "flag channel eventfd");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> FlagChannel::TryTake() {
  if (word_ == nullptr) return absl::FailedPreconditionError("TryTake() on an empty FlagChannel");
  // Drain the bell first, then take the word: a post that lands in between leaves the bell
  // ringing, which costs one spurious wake-up, never a lost value.
  uint64_t count;
  while (::read(event_fd_.get(), &count, sizeof count) == -1) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    return ipc::ErrnoError("read", "flag channel eventfd");
  }
  // Pairs with the release store in Post().
  uint64_t value = word_->exchange(0, std::memory_order_acq_rel);
  if (value == 0) return std::optional<uint64_t>();
  return std::optional<uint64_t>(value);
}

absl::StatusOr<uint64_t> FlagChannel::Wait(absl::Duration timeout) {
  if (word_ == nullptr) return absl::FailedPreconditionError("Wait() on an empty FlagChannel");
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd == -1) return ipc::ErrnoError("epoll_create1", "flag channel");
  ScopedFd ep(epfd);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd_.get();
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, event_fd_.get(), &ev) == -1) {
    return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)", "flag channel eventfd");
  }
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  for (;;) {
    IPC_ASSIGN_OR_RETURN(std::optional<uint64_t> value, TryTake());
    if (value.has_value()) return *value;
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("nothing was posted within ", absl::FormatDuration(timeout)));
    }
    epoll_event ready;
    int n = ::epoll_wait(epfd, &ready, 1, TimeoutMs(left));
    if (n == -1 && errno != EINTR) return ipc::ErrnoError("epoll_wait", "flag channel");
  }
}

// ---------------------------------------------------------------------------------------------
// Task 7: DispatchQueues.

absl::Status DispatchQueues(const std::vector<mqd_t>& queues, int pipe_fd, absl::Duration timeout,
                            const std::function<void(const Delivery&)>& handler) {
  std::vector<std::vector<char>> buffers(queues.size());
  for (size_t i = 0; i < queues.size(); ++i) {
    mq_attr attr;
    if (::mq_getattr(queues[i], &attr) == -1) {
      return ipc::ErrnoError("mq_getattr", absl::StrCat("queue ", i));
    }
    if ((attr.mq_flags & O_NONBLOCK) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "queue ", i, " is blocking: open it O_NONBLOCK and drain it until EAGAIN (EP8)"));
    }
    buffers[i].resize(static_cast<size_t>(attr.mq_msgsize));
  }
  int flags = ::fcntl(pipe_fd, F_GETFL);
  if (flags == -1) return ipc::ErrnoError("fcntl(F_GETFL)", "pipe");
  if ((flags & O_NONBLOCK) == 0) {
    return absl::InvalidArgumentError("the pipe is blocking: open it O_NONBLOCK (EP8)");
  }

  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd == -1) return ipc::ErrnoError("epoll_create1", "");
  ScopedFd ep(epfd);
  std::unordered_map<int, int> source_of;  // data.fd -> index in queues, -1 for the pipe
  auto add = [&](int fd, int source) -> absl::Status {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
      return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)",
                             source < 0 ? std::string("pipe") : absl::StrCat("queue ", source));
    }
    source_of[fd] = source;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < queues.size(); ++i)
    IPC_RETURN_IF_ERROR(add(queues[i], static_cast<int>(i)));
  IPC_RETURN_IF_ERROR(add(pipe_fd, -1));

  auto drain_queue = [&](size_t i) -> absl::Status {
    for (;;) {
      ssize_t n = ::mq_receive(queues[i], buffers[i].data(), buffers[i].size(), nullptr);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && errno == EAGAIN) return absl::OkStatus();
      if (n == -1) return ipc::ErrnoError("mq_receive", absl::StrCat("queue ", i));
      handler(
          Delivery{static_cast<int>(i), std::string(buffers[i].data(), static_cast<size_t>(n))});
    }
  };
  std::string partial;  // a line from the pipe still missing its '\n'
  auto drain_pipe = [&](bool& eof) -> absl::Status {
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(pipe_fd, chunk, sizeof chunk);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && errno == EAGAIN) return absl::OkStatus();
      if (n == -1) return ipc::ErrnoError("read", "pipe");
      if (n == 0) {
        eof = true;
        return absl::OkStatus();
      }
      partial.append(chunk, static_cast<size_t>(n));
      size_t start = 0, newline;
      while ((newline = partial.find('\n', start)) != std::string::npos) {
        handler(Delivery{-1, partial.substr(start, newline - start)});
        start = newline + 1;
      }
      partial.erase(0, start);
    }
  };

  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  bool eof = false;
  while (!eof) {
    const absl::Duration left = deadline - ipc::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("the pipe was not closed within ", absl::FormatDuration(timeout)));
    }
    epoll_event ready[10];  // up to 10 events per wait, as in the notes (EP2)
    int n = ::epoll_wait(epfd, ready, 10, TimeoutMs(left));
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return ipc::ErrnoError("epoll_wait", "queues and pipe");
    for (int k = 0; k < n; ++k) {
      const int source = source_of.at(ready[k].data.fd);  // dispatch by data.fd
      if (source >= 0) {
        IPC_RETURN_IF_ERROR(drain_queue(static_cast<size_t>(source)));
      } else {
        IPC_RETURN_IF_ERROR(drain_pipe(eof));
      }
    }
  }
  // Writers send to the queues before they close the pipe: one last sweep finds the stragglers
  // whose event we have not collected yet.
  for (size_t i = 0; i < queues.size(); ++i) IPC_RETURN_IF_ERROR(drain_queue(i));
  if (!partial.empty()) handler(Delivery{-1, partial});
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Task 8: pselect.

namespace {
volatile sig_atomic_t g_signal_arrived = 0;  // set by the handler, read after the wait
void NoteSignal(int) { g_signal_arrived = 1; }
}  // namespace

absl::StatusOr<WakeReason> WaitForInputOrSignal(int fd, int signo, absl::Duration timeout,
                                                const std::function<void()>& before_wait) {
  if (fd < 0 || fd >= FD_SETSIZE) {
    return absl::InvalidArgumentError(
        absl::StrCat(FdName(fd), " does not fit in an fd_set (FD_SETSIZE ", FD_SETSIZE, ", EP3)"));
  }
  sigset_t blocked;
  if (int err = ::pthread_sigmask(SIG_BLOCK, nullptr, &blocked); err != 0) {
    return ipc::ErrnoError("pthread_sigmask", "", err);
  }
  if (sigismember(&blocked, signo) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("signal ", signo,
                     " must be blocked before the call: otherwise it can arrive between "
                     "your check and the wait, and be lost (EP4)"));
  }
  struct sigaction action {
  }, previous{};
  action.sa_handler = NoteSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the wait must return EINTR
  g_signal_arrived = 0;
  if (::sigaction(signo, &action, &previous) == -1) {
    return ipc::ErrnoError("sigaction", absl::StrCat("signal ", signo));
  }
  // The signal is blocked here, so the check below and the wait cannot miss it: a signal sent
  // now stays pending until pselect unblocks it atomically with going to sleep.
  if (before_wait) before_wait();
  sigset_t during = blocked;
  sigdelset(&during, signo);
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  absl::StatusOr<WakeReason> result;
  for (;;) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    timespec ts, *tsp = nullptr;
    if (timeout != absl::InfiniteDuration()) {
      ts = absl::ToTimespec(std::max(deadline - ipc::MonotonicNow(), absl::ZeroDuration()));
      tsp = &ts;
    }
    int n = ::pselect(fd + 1, &readable, nullptr, nullptr, tsp, &during);
    if (n == -1 && errno == EINTR) {
      // A handler ran; was it ours? ThreadSanitizer defers handlers to the next call it
      // intercepts (pselect is not one): make one before looking at the flag.
      sigset_t unused;
      ::pthread_sigmask(SIG_BLOCK, nullptr, &unused);
      if (g_signal_arrived) {
        result = WakeReason::kSignal;
        break;
      }
      continue;  // another signal: wait again for what is left
    }
    if (n == -1) {
      result = ipc::ErrnoError("pselect", FdName(fd));
      break;
    }
    result = g_signal_arrived ? WakeReason::kSignal
                              : (n == 0 ? WakeReason::kTimeout : WakeReason::kReadable);
    break;
  }
  if (::sigaction(signo, &previous, nullptr) == -1) {
    return ipc::ErrnoError("sigaction", absl::StrCat("restoring signal ", signo));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Task 9: io_uring.

namespace {

std::string UringUnavailable(int err) {
  return absl::StrCat("io_uring is not available here (io_uring_queue_init: ", std::strerror(err),
                      " [", ipc::ErrnoName(err),
                      "]); kernel.io_uring_disabled or a seccomp policy forbids it");
}

// Gets a submission slot, submitting what is queued if the ring is full.
io_uring_sqe* GetSqe(io_uring* ring) {
  io_uring_sqe* sqe = ::io_uring_get_sqe(ring);
  if (sqe == nullptr) {
    ::io_uring_submit(ring);
    sqe = ::io_uring_get_sqe(ring);
  }
  return sqe;
}

}  // namespace

absl::Status UringAvailable() {
  io_uring ring;
  int rc = ::io_uring_queue_init(4, &ring, 0);
  if (rc < 0) return absl::UnavailableError(UringUnavailable(-rc));
  ::io_uring_queue_exit(&ring);
  return absl::OkStatus();
}

namespace {

// What a completion is about: user_data = connection id << 8 | operation.
enum UringOp : uint64_t { kOpAccept = 1, kOpRecv = 2, kOpSend = 3, kOpWake = 4 };
constexpr size_t kUringBuffer = 16 * 1024;

struct UringConnection {
  ScopedFd fd;
  std::vector<char> buffer = std::vector<char>(kUringBuffer);
  size_t length = 0;  // bytes received into buffer, being sent back
  size_t sent = 0;    // of those, sent so far
};

}  // namespace

struct UringEchoServer::State {
  io_uring ring;
  bool ring_ready = false;
  ScopedFd listener;
  ScopedFd wake_fd;
  uint64_t wake_value = 0;  // the kernel writes the eventfd's count here
  ServerStats stats;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::unique_ptr<UringConnection>> connections;

  ~State() {
    // Tear the ring down first: it cancels and waits for every request in flight, which may
    // still point into the connections' buffers.
    if (ring_ready) ::io_uring_queue_exit(&ring);
    connections.clear();
  }

  absl::Status SubmitAccept() {
    io_uring_sqe* sqe = GetSqe(&ring);
    if (sqe == nullptr) return absl::ResourceExhaustedError("io_uring submission queue full");
    ::io_uring_prep_accept(sqe, listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    ::io_uring_sqe_set_data64(sqe, kOpAccept);
    return absl::OkStatus();
  }
  absl::Status SubmitWake() {
    io_uring_sqe* sqe = GetSqe(&ring);
    if (sqe == nullptr) return absl::ResourceExhaustedError("io_uring submission queue full");
    ::io_uring_prep_read(sqe, wake_fd.get(), &wake_value, sizeof wake_value, 0);
    ::io_uring_sqe_set_data64(sqe, kOpWake);
    return absl::OkStatus();
  }
  absl::Status SubmitRecv(uint64_t id, UringConnection& c) {
    io_uring_sqe* sqe = GetSqe(&ring);
    if (sqe == nullptr) return absl::ResourceExhaustedError("io_uring submission queue full");
    ::io_uring_prep_recv(sqe, c.fd.get(), c.buffer.data(), c.buffer.size(), 0);
    ::io_uring_sqe_set_data64(sqe, id << 8 | kOpRecv);
    return absl::OkStatus();
  }
  absl::Status SubmitSend(uint64_t id, UringConnection& c) {
    io_uring_sqe* sqe = GetSqe(&ring);
    if (sqe == nullptr) return absl::ResourceExhaustedError("io_uring submission queue full");
    ::io_uring_prep_send(sqe, c.fd.get(), c.buffer.data() + c.sent, c.length - c.sent,
                         MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(sqe, id << 8 | kOpSend);
    return absl::OkStatus();
  }
  void Close(uint64_t id) {
    if (connections.erase(id) != 0) ++stats.closed;
  }
};

UringEchoServer::UringEchoServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
UringEchoServer::UringEchoServer(UringEchoServer&& other) noexcept = default;
UringEchoServer& UringEchoServer::operator=(UringEchoServer&& other) noexcept = default;
UringEchoServer::~UringEchoServer() = default;

absl::StatusOr<UringEchoServer> UringEchoServer::Create(ScopedFd listener, unsigned entries) {
  if (!listener.valid()) return absl::InvalidArgumentError("UringEchoServer needs a listener");
  auto state = std::make_unique<State>();
  int rc = ::io_uring_queue_init(entries, &state->ring, 0);
  if (rc < 0) return absl::UnavailableError(UringUnavailable(-rc));
  state->ring_ready = true;
  // The kernel waits for us: a blocking descriptor is what io_uring wants (an O_NONBLOCK one
  // would make accept and recv complete with -EAGAIN instead of waiting).
  IPC_RETURN_IF_ERROR(SetNonBlocking(listener.get(), false));
  state->listener = std::move(listener);
  int fd = ::eventfd(0, EFD_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("eventfd", "stop");
  state->wake_fd = ScopedFd(fd);
  return UringEchoServer(std::move(state));
}

absl::Status UringEchoServer::Run() {
  if (!state_) return absl::FailedPreconditionError("Run() on a moved-from UringEchoServer");
  State& s = *state_;
  IPC_RETURN_IF_ERROR(s.SubmitAccept());
  IPC_RETURN_IF_ERROR(s.SubmitWake());
  bool stopping = false;
  while (!stopping) {
    int rc = ::io_uring_submit_and_wait(&s.ring, 1);
    if (rc == -EINTR) continue;
    if (rc < 0) return ipc::ErrnoError("io_uring_submit_and_wait", "echo ring", -rc);
    ++s.stats.wakeups;
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&s.ring, head, cqe) {
      ++seen;
      const uint64_t data = ::io_uring_cqe_get_data64(cqe);
      const uint64_t op = data & 0xff, id = data >> 8;
      const int res = cqe->res;
      if (op == kOpWake) {
        stopping = true;
      } else if (op == kOpAccept) {
        if (res >= 0) {
          ++s.stats.accepted;
          const uint64_t cid = s.next_id++;
          auto c = std::make_unique<UringConnection>();
          c->fd = ScopedFd(res);
          IPC_RETURN_IF_ERROR(s.SubmitRecv(cid, *c));
          s.connections[cid] = std::move(c);
        } else if (res != -EINTR && res != -ECONNABORTED && res != -EMFILE && res != -ENFILE &&
                   res != -EAGAIN) {
          return ipc::ErrnoError("io_uring accept", FdName(s.listener.get()), -res);
        }
        IPC_RETURN_IF_ERROR(s.SubmitAccept());
      } else {
        auto it = s.connections.find(id);
        if (it == s.connections.end()) continue;
        UringConnection& c = *it->second;
        if (op == kOpRecv) {
          if (res <= 0) {  // 0: the client closed; < 0: it vanished
            s.Close(id);
          } else {
            // The completion carries the data: it is already in c.buffer (EP10).
            s.stats.bytes_in += static_cast<uint64_t>(res);
            c.length = static_cast<size_t>(res);
            c.sent = 0;
            IPC_RETURN_IF_ERROR(s.SubmitSend(id, c));
          }
        } else if (op == kOpSend) {
          if (res < 0) {
            s.Close(id);
          } else {
            s.stats.bytes_out += static_cast<uint64_t>(res);
            c.sent += static_cast<size_t>(res);
            // A short send is resubmitted for the rest; only then is the next recv posted, so
            // one buffer per connection is enough.
            IPC_RETURN_IF_ERROR(c.sent < c.length ? s.SubmitSend(id, c) : s.SubmitRecv(id, c));
          }
        }
      }
    }
    ::io_uring_cq_advance(&s.ring, seen);
  }
  // Shut every connection down; their pending recvs complete (or are cancelled when the ring is
  // torn down) and the buffers live until then.
  for (auto& [id, c] : s.connections) {
    ::shutdown(c->fd.get(), SHUT_RDWR);
    c->fd.Reset();
    ++s.stats.closed;
  }
  return absl::OkStatus();
}

absl::Status UringEchoServer::Stop() const {
  if (!state_) return absl::FailedPreconditionError("Stop() on a moved-from UringEchoServer");
  const uint64_t one = 1;
  if (::write(state_->wake_fd.get(), &one, sizeof one) == -1) {
    return ipc::ErrnoError("write", "the server's eventfd");
  }
  return absl::OkStatus();
}

const ServerStats& UringEchoServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

absl::StatusOr<uint64_t> CopyFileReadWrite(int in, int out, size_t chunk) {
  if (chunk == 0) return absl::InvalidArgumentError("chunk must be at least 1 byte");
  std::vector<char> buffer(chunk);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return ipc::ErrnoError("read", FdName(in));
    if (n == 0) return total;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w == -1 && errno == EINTR) continue;
      if (w == -1) return ipc::ErrnoError("write", FdName(out));
      done += w;
    }
    total += static_cast<uint64_t>(n);
  }
}

absl::StatusOr<uint64_t> CopyFileUring(int in, int out, size_t chunk) {
  if (chunk == 0) return absl::InvalidArgumentError("chunk must be at least 1 byte");
  struct stat st;
  if (::fstat(in, &st) == -1) return ipc::ErrnoError("fstat", FdName(in));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  constexpr unsigned kPairs = 8;  // read+write pairs in flight
  io_uring ring;
  int rc = ::io_uring_queue_init(2 * kPairs, &ring, 0);
  if (rc < 0) return absl::UnavailableError(UringUnavailable(-rc));
  struct RingGuard {
    io_uring* r;
    ~RingGuard() { ::io_uring_queue_exit(r); }
  } guard{&ring};
  std::vector<std::vector<char>> buffers(kPairs, std::vector<char>(chunk));

  // Finishes a chunk whose linked pair came back short: plain submissions, one at a time.
  auto finish = [&](std::vector<char>& buf, uint64_t offset, size_t length,
                    size_t have) -> absl::Status {
    while (have < length) {  // the rest of the read
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_read(sqe, in, buf.data() + have, static_cast<unsigned>(length - have),
                           offset + have);
      io_uring_cqe* cqe;
      ::io_uring_submit(&ring);
      if (int w = ::io_uring_wait_cqe(&ring, &cqe); w < 0) {
        return ipc::ErrnoError("io_uring_wait_cqe", "copy", -w);
      }
      int res = cqe->res;
      ::io_uring_cqe_seen(&ring, cqe);
      if (res < 0) return ipc::ErrnoError("io_uring read", FdName(in), -res);
      if (res == 0) return absl::DataLossError(absl::StrCat(FdName(in), " shrank while copying"));
      have += static_cast<size_t>(res);
    }
    for (size_t written = 0; written < length;) {
      io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_write(sqe, out, buf.data() + written, static_cast<unsigned>(length - written),
                            offset + written);
      io_uring_cqe* cqe;
      ::io_uring_submit(&ring);
      if (int w = ::io_uring_wait_cqe(&ring, &cqe); w < 0) {
        return ipc::ErrnoError("io_uring_wait_cqe", "copy", -w);
      }
      int res = cqe->res;
      ::io_uring_cqe_seen(&ring, cqe);
      if (res < 0) return ipc::ErrnoError("io_uring write", FdName(out), -res);
      written += static_cast<size_t>(res);
    }
    return absl::OkStatus();
  };

  for (uint64_t base = 0; base < size; base += static_cast<uint64_t>(kPairs) * chunk) {
    // One wave: up to kPairs chunks, each a read linked to the write of the same buffer (the
    // write starts only when the read has completed in full).
    unsigned pairs = 0;
    size_t lengths[kPairs];
    for (; pairs < kPairs && base + pairs * chunk < size; ++pairs) {
      const uint64_t offset = base + pairs * chunk;
      lengths[pairs] = static_cast<size_t>(std::min<uint64_t>(chunk, size - offset));
      io_uring_sqe* read = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_read(read, in, buffers[pairs].data(), static_cast<unsigned>(lengths[pairs]),
                           offset);
      read->flags |= IOSQE_IO_LINK;
      ::io_uring_sqe_set_data64(read, pairs << 1);
      io_uring_sqe* write = ::io_uring_get_sqe(&ring);
      ::io_uring_prep_write(write, out, buffers[pairs].data(),
                            static_cast<unsigned>(lengths[pairs]), offset);
      ::io_uring_sqe_set_data64(write, pairs << 1 | 1);
    }
    int submitted = ::io_uring_submit_and_wait(&ring, 2 * pairs);
    if (submitted < 0) return ipc::ErrnoError("io_uring_submit_and_wait", "copy", -submitted);
    int read_res[kPairs], write_res[kPairs];
    for (unsigned k = 0; k < 2 * pairs; ++k) {
      io_uring_cqe* cqe;
      if (int w = ::io_uring_wait_cqe(&ring, &cqe); w < 0) {
        return ipc::ErrnoError("io_uring_wait_cqe", "copy", -w);
      }
      const uint64_t data = ::io_uring_cqe_get_data64(cqe);
      (data & 1 ? write_res : read_res)[data >> 1] = cqe->res;
      ::io_uring_cqe_seen(&ring, cqe);
    }
    for (unsigned k = 0; k < pairs; ++k) {
      if (read_res[k] < 0) return ipc::ErrnoError("io_uring read", FdName(in), -read_res[k]);
      if (write_res[k] == static_cast<int>(lengths[k])) continue;
      if (write_res[k] < 0 && write_res[k] != -ECANCELED) {
        return ipc::ErrnoError("io_uring write", FdName(out), -write_res[k]);
      }
      // A short read cancels the linked write (-ECANCELED); a short write is short. Either
      // way, finish this chunk with plain submissions.
      const uint64_t offset = base + k * chunk;
      // Rewriting the bytes a short write already wrote is harmless: same data, same offset.
      IPC_RETURN_IF_ERROR(finish(buffers[k], offset, lengths[k], static_cast<size_t>(read_res[k])));
    }
  }
  return size;
}

// ---------------------------------------------------------------------------------------------
// Task 10: EPOLLONESHOT and a worker pool.

namespace {

// One client of the pool. Only the worker that received its (one-shot) event touches it, until
// that worker re-arms it; the kernel orders that EPOLL_CTL_MOD before the next worker's
// epoll_wait returns it.
struct PoolConnection {
  // Held by the worker serving this connection, from epoll_wait until after the EPOLL_CTL_MOD
  // that re-arms it. With ONESHOT it is never contended but in the instant between that MOD and
  // the unlock; it is what makes the hand-off visible to ThreadSanitizer, which does not model
  // EPOLL_CTL_MOD as a release. Unlocked before the connection is destroyed.
  std::mutex serving;
  ScopedFd fd;
  std::string out;      // bytes received and not yet sent back
  size_t out_sent = 0;  // of `out`
};

}  // namespace

struct WorkerPoolServer::State {
  ScopedFd listener;
  ScopedFd worker_epoll;  // every client (ONESHOT) and stop_fd (level-triggered, data.ptr null)
  ScopedFd accept_epoll;  // the listener and stop_fd, for the accepting thread
  ScopedFd stop_fd;       // eventfd written by Stop(); never read, so it stays readable
  int workers = 1;

  std::mutex mu;  // guards `connections` (the owner of every PoolConnection)
  std::unordered_map<PoolConnection*, std::unique_ptr<PoolConnection>> connections;
  absl::Status worker_error;  // guarded by mu: the first failure of a worker's own loop

  // Counters shared by the workers. Each is an independent tally, read only after the workers
  // are joined, so relaxed increments are enough.
  std::atomic<uint64_t> accepted{0}, closed{0}, bytes_in{0}, bytes_out{0}, wakeups{0};
  ServerStats stats;  // filled in when Run() returns

  // Closes a connection this worker serves. It was not re-armed, so no other worker can be
  // handed it: dropping `serving` and then destroying it is safe.
  void Close(PoolConnection* c, std::unique_lock<std::mutex>& serving) {
    // Out of the epoll set first, then destroy (which closes the descriptor).
    ::epoll_ctl(worker_epoll.get(), EPOLL_CTL_DEL, c->fd.get(), nullptr);
    serving.unlock();
    std::lock_guard<std::mutex> lock(mu);
    connections.erase(c);
    closed.fetch_add(1, std::memory_order_relaxed);
  }

  // Re-arms a connection for exactly one more event, then lets it go.
  void Rearm(PoolConnection* c, std::unique_lock<std::mutex>& serving) {
    epoll_event ev{};
    ev.events = EPOLLONESHOT | EPOLLRDHUP | (c->out_sent < c->out.size() ? EPOLLOUT : EPOLLIN);
    ev.data.ptr = c;
    if (::epoll_ctl(worker_epoll.get(), EPOLL_CTL_MOD, c->fd.get(), &ev) == -1) {
      Close(c, serving);  // MOD failed, so nobody else can have been handed c
      return;
    }
    serving.unlock();  // the next worker may own c from here on
  }

  // Sends pending output. Returns -1 if the connection was closed, 0 if output remains, 1 if all
  // is sent.
  int Flush(PoolConnection* c, std::unique_lock<std::mutex>& serving) {
    while (c->out_sent < c->out.size()) {
      ssize_t n = ::send(c->fd.get(), c->out.data() + c->out_sent, c->out.size() - c->out_sent,
                         MSG_NOSIGNAL);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
      if (n == -1) {
        Close(c, serving);
        return -1;
      }
      c->out_sent += static_cast<size_t>(n);
      bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
    c->out.clear();
    c->out_sent = 0;
    return 1;
  }

  // Serves one event of one connection; this worker owns `c` until it re-arms or closes it.
  void Serve(PoolConnection* c, uint32_t events) {
    std::unique_lock<std::mutex> serving(c->serving);
    if (events & EPOLLERR) {
      Close(c, serving);
      return;
    }
    int flushed = Flush(c, serving);
    if (flushed < 0) return;
    if (flushed == 0) {
      Rearm(c, serving);  // EPOLLOUT: come back when the client has read some
      return;
    }
    char buffer[16 * 1024];
    for (;;) {
      ssize_t n = ::read(c->fd.get(), buffer, sizeof buffer);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {  // end of file, or the client vanished
        Close(c, serving);
        return;
      }
      bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      c->out.append(buffer, static_cast<size_t>(n));
      flushed = Flush(c, serving);
      if (flushed < 0) return;
      if (flushed == 0) break;  // the client is not reading: stop reading it (back pressure)
    }
    Rearm(c, serving);
  }

  void Worker() {
    for (;;) {
      epoll_event ev;
      int n = ::epoll_wait(worker_epoll.get(), &ev, 1, -1);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) {
        std::lock_guard<std::mutex> lock(mu);
        if (worker_error.ok()) worker_error = ipc::ErrnoError("epoll_wait", "worker set");
        return;
      }
      if (ev.data.ptr == nullptr) return;  // stop_fd: level-triggered, so every worker sees it
      wakeups.fetch_add(1, std::memory_order_relaxed);
      Serve(static_cast<PoolConnection*>(ev.data.ptr), ev.events);
    }
  }

  absl::Status AcceptLoop() {
    for (;;) {
      epoll_event ready[2];
      int n = ::epoll_wait(accept_epoll.get(), ready, 2, -1);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) return ipc::ErrnoError("epoll_wait", "accept set");
      for (int i = 0; i < n; ++i) {
        if (ready[i].data.fd == stop_fd.get()) return absl::OkStatus();
      }
      for (;;) {
        int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EMFILE || errno == ENFILE) break;
          return ipc::ErrnoError("accept4", FdName(listener.get()));
        }
        auto owned = std::make_unique<PoolConnection>();
        owned->fd = ScopedFd(fd);
        PoolConnection* c = owned.get();
        {
          std::lock_guard<std::mutex> lock(mu);
          connections[c] = std::move(owned);
        }
        accepted.fetch_add(1, std::memory_order_relaxed);
        // Registered only once it is in the table: a worker may get its event at once.
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
        ev.data.ptr = c;
        if (::epoll_ctl(worker_epoll.get(), EPOLL_CTL_ADD, fd, &ev) == -1) {
          std::lock_guard<std::mutex> lock(mu);
          connections.erase(c);
          closed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
};

WorkerPoolServer::WorkerPoolServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
WorkerPoolServer::WorkerPoolServer(WorkerPoolServer&& other) noexcept = default;
WorkerPoolServer& WorkerPoolServer::operator=(WorkerPoolServer&& other) noexcept = default;
WorkerPoolServer::~WorkerPoolServer() = default;

absl::StatusOr<WorkerPoolServer> WorkerPoolServer::Create(ScopedFd listener, int workers) {
  if (!listener.valid()) return absl::InvalidArgumentError("WorkerPoolServer needs a listener");
  if (workers < 1) return absl::InvalidArgumentError("WorkerPoolServer needs at least 1 worker");
  auto state = std::make_unique<State>();
  state->workers = workers;
  IPC_RETURN_IF_ERROR(SetNonBlocking(listener.get(), true));
  state->listener = std::move(listener);
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("epoll_create1", "worker set");
  state->worker_epoll = ScopedFd(fd);
  fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("epoll_create1", "accept set");
  state->accept_epoll = ScopedFd(fd);
  fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd == -1) return ipc::ErrnoError("eventfd", "stop");
  state->stop_fd = ScopedFd(fd);

  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered, not ONESHOT: every worker must see the stop
  ev.data.ptr = nullptr;
  if (::epoll_ctl(state->worker_epoll.get(), EPOLL_CTL_ADD, state->stop_fd.get(), &ev) == -1) {
    return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)", "stop eventfd");
  }
  for (int watched : {state->listener.get(), state->stop_fd.get()}) {
    epoll_event a{};
    a.events = EPOLLIN;
    a.data.fd = watched;
    if (::epoll_ctl(state->accept_epoll.get(), EPOLL_CTL_ADD, watched, &a) == -1) {
      return ipc::ErrnoError("epoll_ctl(EPOLL_CTL_ADD)", FdName(watched));
    }
  }
  return WorkerPoolServer(std::move(state));
}

absl::Status WorkerPoolServer::Run() {
  if (!state_) return absl::FailedPreconditionError("Run() on a moved-from WorkerPoolServer");
  State& s = *state_;
  std::vector<std::thread> threads;
  absl::Status status;
  try {
    for (int i = 0; i < s.workers; ++i) threads.emplace_back([&s] { s.Worker(); });
  } catch (const std::system_error& e) {
    status = ipc::ErrnoError("std::thread", "worker", e.code().value());
  }
  if (status.ok()) status = s.AcceptLoop();
  if (!status.ok()) (void)Stop();  // whatever happened, the workers must leave
  for (std::thread& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.closed.fetch_add(s.connections.size(), std::memory_order_relaxed);
    s.connections.clear();  // closes every client
    if (status.ok()) status = s.worker_error;
  }
  s.stats.accepted = s.accepted.load(std::memory_order_relaxed);
  s.stats.closed = s.closed.load(std::memory_order_relaxed);
  s.stats.bytes_in = s.bytes_in.load(std::memory_order_relaxed);
  s.stats.bytes_out = s.bytes_out.load(std::memory_order_relaxed);
  s.stats.wakeups = s.wakeups.load(std::memory_order_relaxed);
  return status;
}

absl::Status WorkerPoolServer::Stop() const {
  if (!state_) return absl::FailedPreconditionError("Stop() on a moved-from WorkerPoolServer");
  const uint64_t one = 1;
  if (::write(state_->stop_fd.get(), &one, sizeof one) == -1 && errno != EAGAIN) {
    return ipc::ErrnoError("write", "the pool's eventfd");
  }
  return absl::OkStatus();
}

const ServerStats& WorkerPoolServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

}  // namespace epoll
