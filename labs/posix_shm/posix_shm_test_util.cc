// labs/posix_shm/posix_shm_test_util.cc: the helpers of posix_shm_test_util.h.
#include "labs/posix_shm/posix_shm_test_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <utility>

#include "common/ipc_snapshot.h"
#include "common/status.h"
#include "common/testing/testing.h"

namespace posix_shm::test_util {

NameGuard::~NameGuard() { ::shm_unlink(name_.c_str()); }  // ENOENT is the usual, good case

bool Exists(const std::string& name) { return !ipc::PosixObjectsNamed(name).empty(); }

absl::StatusOr<Program> Start(const std::string& program, std::vector<std::string> args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) == -1) return ipc::ErrnoError("pipe2", "stdout");
  ipc::UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) == -1) return ipc::ErrnoError("pipe2", "stderr");
  ipc::UniqueFd err_read(err[0]), err_write(err[1]);
  ipc::ExecOptions options;
  options.stdout_fd = out_write.get();
  options.stderr_fd = err_write.get();
  args.insert(args.begin(), program);
  IPC_ASSIGN_OR_RETURN(ipc::Child child,
                       ipc::Child::Exec(ipc::testing::ProgramPath(program), args, options));
  // The write ends close here, so the parent sees end of file once the child exits.
  return Program{std::move(child), std::move(out_read), std::move(err_read)};
}

}  // namespace posix_shm::test_util
