// labs/sysv_shm/sysv_shm_test_util.h: helpers that the public tests (sysv_shm_test.cc) and the
// grader's hidden tests of this lab share, so that both run one copy of them: temporary files,
// a lab program run with its output in files, segment clean-up and checks, and a pipe that makes
// two processes take turns.
//
// Built by labs/sysv_shm/BUILD as :test_util (testonly, compiled against sysv_shm.h only).
// Partner: sysv_shm_test_util.cc.
#ifndef IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_TEST_UTIL_H_
#define IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_TEST_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/process.h"

namespace sysv_shm::test_util {

// How long a test waits for any child; far above what it needs.
inline constexpr absl::Duration kWait = absl::Seconds(10);

// TempPath()
//
// A file named after `name` under the test's temporary directory (and this process's pid). The
// caller removes it (Program::Collect removes its own output files).
std::string TempPath(const std::string& name);

// ReadFileOrEmpty()
//
// The whole content of the file at `path`; empty if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// WriteFile()
//
// Replaces the file at `path` with `data`. A failure shows up in the test that reads it back.
void WriteFile(const std::string& path, const std::string& data);

// RandomBytes()
//
// `n` pseudo-random bytes, the same for the same `seed` (std::mt19937): test input whose every
// byte matters.
std::string RandomBytes(size_t n, unsigned seed);

// Lines()
//
// The integers of `text`, one per line (empty lines and lines that are not integers skipped):
// what ring_consumer prints.
std::vector<int64_t> Lines(const std::string& text);

// Finished
//
// What an exec'd program did: how it exited and what it wrote.
struct Finished {
  ipc::ExitStatus exit;
  std::string out;
  std::string err;
};

// Program
//
// One of the lab's programs (shm_tool, xfr_writer, ...) exec'd with stdin from a file (or the
// parent's) and stdout and stderr into files named after a tag. Collect() waits for it and reads
// them. Move-only (it owns the child).
class Program {
 public:
  // Program::Start()
  //
  // Execs `program` (found beside the test binary, ipc::testing::ProgramPath) with `args`
  // (argv[1] onward), stdin from `stdin_path` if not empty, stdout and stderr into
  // TempPath(tag + ".out"/".err"). Errors: open or the exec failing, as ipc::ErrnoError.
  static absl::StatusOr<Program> Start(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::string& tag,
                                       const std::string& stdin_path = "");

  // Program::child()
  //
  // The running child (to signal it, or read its pid).
  ipc::Child& child() { return *child_; }

  // Program::Collect()
  //
  // Waits for the child (killed after `timeout`), reads its stdout and stderr and removes their
  // files. An exit status that could not be had is left default (not Succeeded()).
  Finished Collect(absl::Duration timeout = kWait);

  // Program::out_path()
  //
  // The file the child's stdout goes to (to watch it grow while the child runs).
  const std::string& out_path() const { return out_path_; }

 private:
  std::optional<ipc::Child> child_;
  std::string out_path_;
  std::string err_path_;
};

// RemoveIfPresent()
//
// True if a segment exists under `key`; if so, removes it (a test's last line of defence, after
// it has already failed for the leak).
bool RemoveIfPresent(key_t key);

// IdIsGone()
//
// True if segment `id` no longer exists (IPC_STAT fails with EINVAL or EIDRM).
bool IdIsGone(int id);

// Pipe
//
// A pipe whose two ends close with the object; used to make two processes take turns: one
// Signal()s, the other Await()s. A pipe2 failure fails the test (ADD_FAILURE).
class Pipe {
 public:
  Pipe();

  // Pipe::Signal()
  //
  // Gives the turn: writes one byte. True if it was written.
  bool Signal();

  // Pipe::Await()
  //
  // Waits for the turn: reads one byte, retrying on EINTR. False on end of file or error.
  bool Await();

 private:
  ipc::UniqueFd read_end_;
  ipc::UniqueFd write_end_;
};

}  // namespace sysv_shm::test_util

#endif  // IPC_LABS_LABS_SYSV_SHM_SYSV_SHM_TEST_UTIL_H_
