// grader/validate.cc: running the shared format validators (validate.h).
#include "grader/validate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/status.h"
#include "grader/files.h"

namespace grader {
namespace {

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

bool HasValidators(const std::string& dir) {
  return IsExecutable(absl::StrCat(dir, "/validate-results-json")) &&
         IsExecutable(absl::StrCat(dir, "/validate-junit"));
}

}  // namespace

std::optional<std::string> FindSharedFormats(const std::string& tree) {
  const char* env = std::getenv("IPCLABS_SHARED_FORMATS");
  if (env != nullptr && *env != '\0') {
    if (HasValidators(env)) return std::string(env);
    return std::nullopt;
  }
  if (!tree.empty()) {
    std::string dir = absl::StrCat(tree, "/../shared/formats");
    if (HasValidators(dir)) return dir;
  }
  return std::nullopt;
}

absl::Status RunValidator(const std::string& formats, const std::string& tool,
                          const std::string& file) {
  IPC_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Create("ipclabs-validate-"));
  std::string log = absl::StrCat(scratch.path(), "/out");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd == -1) return ipc::ErrnoError("open", log);
  ipc::ExecOptions options;
  options.stdout_fd = fd;
  options.stderr_fd = fd;
  std::string path = absl::StrCat(formats, "/", tool);
  absl::StatusOr<ipc::Child> child = ipc::Child::Exec(path, {tool, "--strict", file}, options);
  ::close(fd);
  if (!child.ok()) return child.status();
  IPC_ASSIGN_OR_RETURN(ipc::ExitStatus status, child->Wait(absl::Minutes(1)));
  if (status.Succeeded()) return absl::OkStatus();
  std::string output = ReadFile(log, 1 << 20).value_or("(no output)");
  return absl::FailedPreconditionError(
      absl::StrCat(tool, " ", status.ToString(), " on ", file, ":\n", output));
}

}  // namespace grader
