// labs/epoll/broken.cc: the defective patterns of broken.h. Not yours to fix: explain them in
// ANSWERS.md. Each defect is marked BUG.
#include "labs/epoll/broken.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/timing.h"

namespace epoll::broken {

load::ServerBody ReadOnceEdgeServerBody(ScopedFd listener, absl::Duration delay_before_read) {
  auto lfd = std::make_shared<ScopedFd>(std::move(listener));
  return [lfd, delay_before_read](ServerStats* stats,
                                  const std::function<void()>& ready) -> absl::Status {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
      return ipc::ErrnoError("pthread_sigmask", "SIGTERM", err);
    }
    int sfd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd == -1) return ipc::ErrnoError("signalfd", "SIGTERM");
    ScopedFd stop(sfd);
    int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd == -1) return ipc::ErrnoError("epoll_create1", "");
    ScopedFd ep(epfd);
    int listen_fd = lfd->get();
    if (::fcntl(listen_fd, F_SETFL, O_NONBLOCK) == -1) return ipc::ErrnoError("fcntl", "listener");
    for (int fd : {listen_fd, sfd}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1) return ipc::ErrnoError("epoll_ctl", "");
    }
    ready();
    std::vector<ScopedFd> clients;
    for (;;) {
      epoll_event ready_events[16];
      int n = ::epoll_wait(epfd, ready_events, 16, -1);
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) return ipc::ErrnoError("epoll_wait", "");
      ++stats->wakeups;
      for (int i = 0; i < n; ++i) {
        const int fd = ready_events[i].data.fd;
        if (fd == sfd) return absl::OkStatus();
        if (fd == listen_fd) {
          int c;
          while ((c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            ++stats->accepted;
            clients.emplace_back(c);
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLET;
            ev.data.fd = c;
            if (::epoll_ctl(epfd, EPOLL_CTL_ADD, c, &ev) == -1)
              return ipc::ErrnoError("epoll_ctl", "");
          }
          continue;
        }
        absl::SleepFor(delay_before_read);  // injected: let the whole burst arrive first
        // BUG: one read per edge-triggered event. Whatever is left in the socket after it will
        // not be reported again until MORE data arrives (EP7).
        char buffer[4096];
        ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got <= 0) continue;
        stats->bytes_in += static_cast<uint64_t>(got);
        ssize_t put = ::send(fd, buffer, static_cast<size_t>(got), MSG_NOSIGNAL);
        if (put > 0) stats->bytes_out += static_cast<uint64_t>(put);
      }
    }
  };
}

absl::StatusOr<uint64_t> WaitForFlagWithPoll(std::atomic<uint64_t>* word,
                                             absl::Duration poll_interval, absl::Duration timeout,
                                             const std::function<void()>& before_wait) {
  const absl::Duration deadline = ipc::MonotonicNow() + timeout;
  bool first = true;
  for (;;) {
    uint64_t value = word->exchange(0, std::memory_order_acq_rel);
    if (value != 0) return value;
    if (ipc::MonotonicNow() >= deadline) return absl::DeadlineExceededError("no flag");
    if (first && before_wait) before_wait();
    first = false;
    // BUG: poll with no descriptors is a sleep. Nothing the other process does to the word can
    // end it early: the kernel does not watch memory (EP1).
    ::poll(nullptr, 0, static_cast<int>(absl::ToInt64Milliseconds(poll_interval)));
  }
}

namespace {
volatile sig_atomic_t g_broken_signal = 0;
void NoteBrokenSignal(int) { g_broken_signal = 1; }
}  // namespace

absl::StatusOr<WakeReason> WaitForInputOrSignalWithSelect(
    int fd, int signo, absl::Duration timeout, const std::function<void()>& before_wait) {
  if (fd < 0 || fd >= FD_SETSIZE) return absl::InvalidArgumentError("fd out of range");
  struct sigaction action {
  }, previous{};
  action.sa_handler = NoteBrokenSignal;
  sigemptyset(&action.sa_mask);
  g_broken_signal = 0;
  if (::sigaction(signo, &action, &previous) == -1) return ipc::ErrnoError("sigaction", "");
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  // BUG: the signal is unblocked before the check, so it can be handled between the check and
  // select(), which then sleeps for the whole timeout (EP4).
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  WakeReason reason = WakeReason::kTimeout;
  if (g_broken_signal) {
    reason = WakeReason::kSignal;
  } else {
    if (before_wait) before_wait();
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    timeval tv = absl::ToTimeval(timeout);
    int n = ::select(fd + 1, &readable, nullptr, nullptr, &tv);
    if (n == -1 && errno == EINTR) reason = WakeReason::kSignal;
    if (n > 0) reason = WakeReason::kReadable;
  }
  ::pthread_sigmask(SIG_BLOCK, &one, nullptr);
  ::sigaction(signo, &previous, nullptr);
  return reason;
}

}  // namespace epoll::broken
