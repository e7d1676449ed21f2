// common/process.h: child processes with timeouts, for tests and tools.
//
// The labs are about processes, so their tests fork and exec real ones. Child makes that safe:
// every child is waited for with a deadline (a hung child is killed, never waited on forever),
// and a Child that goes out of scope unreaped is killed and reaped, so no test leaves a zombie or
// an orphan behind (CURRICULUM MF18).
//
//   IPC_ASSIGN_OR_RETURN(ipc::Child child, ipc::Child::Fork([&] { return Writer(name); }));
//   IPC_ASSIGN_OR_RETURN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
//   if (!status.Succeeded()) ... status.ToString() -> "killed by signal SIGSEGV (Segmentation fault)"
#ifndef IPC_LABS_COMMON_PROCESS_H_
#define IPC_LABS_COMMON_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ipc {

// How a child ended.
struct ExitStatus {
  enum class Kind { kExited, kSignaled, kTimedOut };
  Kind kind = Kind::kExited;
  int code = 0;    // exit code, when kind == kExited
  int signal = 0;  // terminating signal, when kind == kSignaled (kTimedOut: the one we sent)

  // ExitStatus::Succeeded()
  //
  // True if the child exited with code 0.
  bool Succeeded() const { return kind == Kind::kExited && code == 0; }

  // ExitStatus::ToString()
  //
  // "exited with code 3", "killed by signal SIGSEGV (Segmentation fault)",
  // "timed out after 5s and was killed".
  std::string ToString() const;

  // The deadline that expired, for kTimedOut.
  absl::Duration timeout;
};

// SignalName()
//
// Returns "SIGSEGV" for SIGSEGV, or "signal N" for a number with no name.
std::string SignalName(int sig);

// FromWaitStatus()
//
// Decodes a status from waitpid() into an ExitStatus (kExited or kSignaled).
ExitStatus FromWaitStatus(int wait_status);

// Options for Child::Exec.
struct ExecOptions {
  // File descriptors to install as the child's stdin, stdout and stderr; -1 keeps the parent's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Extra environment variables "NAME=value", added to (or replacing in) the parent's environment.
  std::vector<std::string> env;
};

// Child
//
// One child process: forked to run a function, or exec'd from a program. Move-only; the
// destructor of an unreaped child sends SIGKILL and reaps it.
class Child {
 public:
  // Child::Fork()
  //
  // Forks; the child runs `body` and exits with its return value (an exception that escapes
  // `body` exits 125 after printing what it was). Never returns in the child. Errors: fork's
  // (EAGAIN at the process limit, ENOMEM). The child shares the parent's memory only through
  // mappings made MAP_SHARED before the fork.
  static absl::StatusOr<Child> Fork(std::function<int()> body);

  // Child::Exec()
  //
  // Forks and execs `path` with `args` (args[0] is the program name shown in ps; when `args`
  // is empty, `path` is used). Errors: fork's, and exec's (ENOENT, EACCES), which the child
  // reports back through a close-on-exec pipe before this returns.
  static absl::StatusOr<Child> Exec(const std::string& path, std::vector<std::string> args,
                                    const ExecOptions& options = {});

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  // Child::pid()
  //
  // The child's process id (valid until it is reaped).
  pid_t pid() const { return pid_; }

  // Child::Wait()
  //
  // Waits until the child ends or `timeout` passes (absl::InfiniteDuration() waits forever).
  // On timeout, kills it with SIGKILL, reaps it and returns kind kTimedOut. Errors:
  // FAILED_PRECONDITION if already reaped; waitpid's errors otherwise.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);

  // Child::TryWait()
  //
  // Returns the exit status if the child has ended (and reaps it). Errors: UNAVAILABLE while it
  // is still running; FAILED_PRECONDITION if already reaped.
  absl::StatusOr<ExitStatus> TryWait();

  // Child::Kill()
  //
  // Sends `sig` to the child. Errors: FAILED_PRECONDITION if already reaped; kill's errors.
  absl::Status Kill(int sig);

  // Child::Release()
  //
  // Forgets the child without killing or reaping it; returns its pid. The caller owns reaping.
  pid_t Release();

 private:
  Child(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  void KillAndReap();

  pid_t pid_ = -1;
  int pidfd_ = -1;  // pidfd_open(pid_): lets Wait() poll with a timeout without racing on reuse
};

}  // namespace ipc

#endif  // IPC_LABS_COMMON_PROCESS_H_
