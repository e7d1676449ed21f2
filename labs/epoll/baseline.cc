// labs/epoll/baseline.cc: the poll(2) baseline server of baseline.h. Not yours to change.
#include "labs/epoll/baseline.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace epoll::baseline {

absl::Status RunPollEchoServer(ScopedFd listener, int stop_fd, ServerStats* stats) {
  int flags = ::fcntl(listener.get(), F_GETFL);
  if (flags == -1 || ::fcntl(listener.get(), F_SETFL, flags | O_NONBLOCK) == -1) {
    return ipc::ErrnoError("fcntl", "listener");
  }
  // Entry 0 is the stop descriptor, entry 1 the listener, then one per client; `pending` holds
  // each client's unsent bytes, at the same index.
  std::vector<pollfd> fds = {{stop_fd, POLLIN, 0}, {listener.get(), POLLIN, 0}};
  std::vector<std::string> pending = {"", ""};
  std::vector<char> buffer(64 * 1024);
  auto close_at = [&](size_t i) {
    ::close(fds[i].fd);
    fds[i] = fds.back();
    fds.pop_back();
    pending[i] = std::move(pending.back());
    pending.pop_back();
    ++stats->closed;
  };
  for (;;) {
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) return ipc::ErrnoError("poll", absl::StrCat(fds.size(), " descriptors"));
    ++stats->wakeups;
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EAGAIN || errno == EMFILE || errno == ENFILE) break;
          return ipc::ErrnoError("accept4", "listener");
        }
        ++stats->accepted;
        fds.push_back({fd, POLLIN, 0});
        pending.emplace_back();
      }
    }
    // The linear scan that makes poll's cost grow with every idle client.
    for (size_t i = 2; i < fds.size();) {
      const short r = fds[i].revents;
      fds[i].revents = 0;
      if (r == 0) {
        ++i;
        continue;
      }
      bool closed = false;
      if (r & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
        if (got > 0) {
          stats->bytes_in += static_cast<uint64_t>(got);
          pending[i].append(buffer.data(), static_cast<size_t>(got));
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_at(i);
          closed = true;
        }
      }
      if (!closed && !pending[i].empty()) {
        ssize_t put = ::send(fds[i].fd, pending[i].data(), pending[i].size(), MSG_NOSIGNAL);
        if (put > 0) {
          stats->bytes_out += static_cast<uint64_t>(put);
          pending[i].erase(0, static_cast<size_t>(put));
        } else if (put == -1 && errno != EAGAIN && errno != EINTR) {
          close_at(i);
          closed = true;
        }
      }
      if (!closed) {
        fds[i].events = static_cast<short>(POLLIN | (pending[i].empty() ? 0 : POLLOUT));
        ++i;
      }
    }
  }
  while (fds.size() > 2) close_at(fds.size() - 1);
  return absl::OkStatus();
}

load::ServerBody PollEchoServerBody(ScopedFd listener, rlim_t file_limit) {
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd, file_limit](ServerStats* stats, const std::function<void()>& ready) -> absl::Status {
    if (file_limit != 0) IPC_RETURN_IF_ERROR(load::RaiseFileLimit(file_limit));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
      return ipc::ErrnoError("pthread_sigmask", "SIGTERM", err);
    }
    int sfd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd == -1) return ipc::ErrnoError("signalfd", "SIGTERM");
    ScopedFd stop(sfd);
    ready();
    return RunPollEchoServer(std::move(*fd), stop.get(), stats);
  };
}

}  // namespace epoll::baseline
