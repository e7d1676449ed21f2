// labs/posix_shm/posix_shm_test_util.h: helpers that the public tests (posix_shm_test.cc) and the
// grader's hidden tests of this lab share, so that both run one copy of them.
//
// Built by labs/posix_shm/BUILD as :test_util (testonly, compiled against posix_shm.h only).
// Partner: posix_shm_test_util.cc.
#ifndef IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_TEST_UTIL_H_
#define IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/fd.h"
#include "common/process.h"

namespace posix_shm::test_util {

// NameGuard
//
// Removes a shared memory name (shm_unlink) when the test ends, whatever happened: a failed
// assertion must not turn into a leak report that hides the real failure. Tests that check that
// the CODE removed the name look before this runs. Ignores ENOENT (the usual case).
class NameGuard {
 public:
  explicit NameGuard(std::string name) : name_(std::move(name)) {}
  NameGuard(const NameGuard&) = delete;
  NameGuard& operator=(const NameGuard&) = delete;
  ~NameGuard();

 private:
  std::string name_;  // the shm_open name, "/..."
};

// Exists()
//
// True if a POSIX shared memory object named `name` exists now (in /dev/shm).
bool Exists(const std::string& name);

// Program
//
// One of the lab's programs (shm_writer, shm_reader) exec'd with its stdout and stderr on pipes:
// read them with ipc::testing::ReadAll(out.get()) once the child has exited.
struct Program {
  ipc::Child child;
  ipc::UniqueFd out;  // read end of the child's stdout
  ipc::UniqueFd err;  // read end of the child's stderr
};

// Start()
//
// Execs `program` (found beside the test binary, ipc::testing::ProgramPath) with `args` (argv[1]
// onward). Errors: pipe2 or the exec failing, as ipc::ErrnoError.
absl::StatusOr<Program> Start(const std::string& program, std::vector<std::string> args);

}  // namespace posix_shm::test_util

#endif  // IPC_LABS_LABS_POSIX_SHM_POSIX_SHM_TEST_UTIL_H_
