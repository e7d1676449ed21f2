// common/process.cc: see process.h.
#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

extern char** environ;

namespace ipc {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// The child half of Exec: dups the descriptors, sets the environment, execs. Reports errno to the
// parent through `report_fd` (close-on-exec, so a successful exec closes it with nothing written).
[[noreturn]] void ExecChild(const std::string& path, const std::vector<std::string>& args,
                            const ExecOptions& options, int report_fd) {
  auto fail = [report_fd](int err) {
    (void)!::write(report_fd, &err, sizeof err);
    ::_exit(127);
  };
  const int fds[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
  for (int target = 0; target < 3; ++target) {
    if (fds[target] >= 0 && fds[target] != target && ::dup2(fds[target], target) == -1) fail(errno);
  }
  for (const std::string& assignment : options.env) {
    size_t eq = assignment.find('=');
    if (eq == std::string::npos) continue;
    if (::setenv(assignment.substr(0, eq).c_str(), assignment.substr(eq + 1).c_str(), 1) == -1) {
      fail(errno);
    }
  }
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  if (argv.empty()) argv.push_back(const_cast<char*>(path.c_str()));
  argv.push_back(nullptr);
  ::execve(path.c_str(), argv.data(), environ);
  fail(errno);
  ::_exit(127);  // not reached: fail() exits
}

}  // namespace

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);  // glibc >= 2.32
  if (abbrev == nullptr) return absl::StrCat("signal ", sig);
  return absl::StrCat("SIG", abbrev);
}

ExitStatus FromWaitStatus(int wait_status) {
  ExitStatus status;
  if (WIFSIGNALED(wait_status)) {
    status.kind = ExitStatus::Kind::kSignaled;
    status.signal = WTERMSIG(wait_status);
  } else {
    status.kind = ExitStatus::Kind::kExited;
    status.code = WEXITSTATUS(wait_status);
  }
  return status;
}

std::string ExitStatus::ToString() const {
  switch (kind) {
    case Kind::kExited:
      return absl::StrCat("exited with code ", code);
    case Kind::kSignaled:
      return absl::StrCat("killed by signal ", SignalName(signal), " (", ::strsignal(signal), ")");
    case Kind::kTimedOut:
      return absl::StrCat("timed out after ", absl::FormatDuration(timeout), " and was killed");
  }
  return "unknown exit status";
}

absl::StatusOr<Child> Child::Fork(std::function<int()> body) {
  std::fflush(nullptr);  // so buffered output is not written twice
  pid_t pid = ::fork();
  if (pid == -1) return ErrnoError("fork", "");
  if (pid == 0) {
    int code = 125;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: uncaught exception: %s\n", ::getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "child %d: uncaught exception of unknown type\n", ::getpid());
    }
    std::fflush(nullptr);
    ::_exit(code);  // _exit: no atexit handlers or static destructors of the parent's run twice
  }
  int pidfd = PidfdOpen(pid);
  if (pidfd == -1) {
    int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return ErrnoError("pidfd_open", absl::StrCat(pid), err);
  }
  return Child(pid, pidfd);
}

absl::StatusOr<Child> Child::Exec(const std::string& path, std::vector<std::string> args,
                                  const ExecOptions& options) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) == -1) return ErrnoError("pipe2", "exec error pipe");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == -1) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return ErrnoError("fork", path, err);
  }
  if (pid == 0) {
    ::close(report[0]);
    ExecChild(path, args, options, report[1]);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n == -1 && errno == EINTR);  // retry: a signal must not lose the exec result
  ::close(report[0]);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    return ErrnoError("execve", path, child_errno);
  }
  int pidfd = PidfdOpen(pid);
  if (pidfd == -1) {
    int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return ErrnoError("pidfd_open", absl::StrCat(pid), err);
  }
  return Child(pid, pidfd);
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::exchange(other.pidfd_, -1)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

Child::~Child() { KillAndReap(); }

void Child::KillAndReap() {
  if (pid_ > 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
    while (::waitpid(pid_, nullptr, 0) == -1 && errno == EINTR) {
    }
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
}

absl::StatusOr<ExitStatus> Child::TryWait() {
  if (pid_ <= 0) return absl::FailedPreconditionError("Child::TryWait: the child was already reaped");
  int wait_status = 0;
  pid_t r = ::waitpid(pid_, &wait_status, WNOHANG);
  if (r == -1) return ErrnoError("waitpid", absl::StrCat(pid_));
  if (r == 0) return absl::UnavailableError(absl::StrCat("child ", pid_, " is still running"));
  ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  return FromWaitStatus(wait_status);
}

absl::StatusOr<ExitStatus> Child::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("Child::Wait: the child was already reaped");
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (timeout != absl::InfiniteDuration()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      wait_ms = static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
    }
    pollfd pfd{pidfd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, wait_ms);
    if (ready == -1 && errno == EINTR) continue;  // a signal: wait again for what is left
    if (ready == -1) return ErrnoError("poll", absl::StrCat("pidfd of child ", pid_));
    if (ready == 1) {
      int wait_status = 0;
      pid_t r;
      do {
        r = ::waitpid(pid_, &wait_status, 0);
      } while (r == -1 && errno == EINTR);
      if (r == -1) return ErrnoError("waitpid", absl::StrCat(pid_));
      ::close(pidfd_);
      pid_ = -1;
      pidfd_ = -1;
      return FromWaitStatus(wait_status);
    }
  }
  KillAndReap();
  ExitStatus status;
  status.kind = ExitStatus::Kind::kTimedOut;
  status.signal = SIGKILL;
  status.timeout = timeout;
  return status;
}

absl::Status Child::Kill(int sig) {
  if (pid_ <= 0) return absl::FailedPreconditionError("Child::Kill: the child was already reaped");
  if (::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) == -1) {
    return ErrnoError("pidfd_send_signal", absl::StrCat(SignalName(sig), " to child ", pid_));
  }
  return absl::OkStatus();
}

pid_t Child::Release() {
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  return std::exchange(pid_, -1);
}

}  // namespace ipc
