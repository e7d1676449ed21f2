// common/testing/testing.cc: see testing.h.
#include "common/testing/testing.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/names.h"

namespace ipc::testing {

std::string ProgramPath(const std::string& name) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::filesystem::path program = self.parent_path() / name;
  if (ec || ::access(program.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "program " << name << " was not found beside the test binary ("
                  << program << "): it is built by the lab's BUILD file (ipc_lab programs = [...])";
  }
  return program.string();
}

std::vector<IpcObject> LeakedObjects(const IpcSnapshot& before, size_t names_before) {
  std::vector<IpcObject> leaked;
  SnapshotOptions options;
  options.posix_prefix = NamePrefix();
  absl::StatusOr<IpcSnapshot> after = IpcSnapshot::Take(options);
  if (after.ok()) leaked = after->NewSince(before);
  std::vector<std::string> names = IssuedNames();
  for (size_t i = names_before; i < names.size(); ++i) {
    for (IpcObject& object : PosixObjectsNamed(names[i])) {
      if (std::find(leaked.begin(), leaked.end(), object) == leaked.end()) leaked.push_back(object);
    }
  }
  return leaked;
}

void LeakCheckedTest::SetUp() {
  SnapshotOptions options;
  options.posix_prefix = NamePrefix();
  absl::StatusOr<IpcSnapshot> before = IpcSnapshot::Take(options);
  ASSERT_TRUE(before.ok()) << "could not list the live IPC objects: " << before.status();
  before_ = *std::move(before);
  names_before_ = IssuedNames().size();
}

void LeakCheckedTest::TearDown() {
  for (const IpcObject& object : LeakedObjects(before_, names_before_)) {
    ADD_FAILURE() << "leaked: " << object.ToString()
                  << "\n  Every object a test creates must be removed on every path, failures "
                     "included (shm_unlink, sem_unlink, mq_unlink, IPC_RMID), usually by the "
                     "destructor of the type that owns it.";
  }
}

std::vector<ExitStatus> WaitAll(std::vector<Child>& children, absl::Duration total) {
  const absl::Time deadline = absl::Now() + total;
  std::vector<ExitStatus> statuses;
  for (Child& child : children) {
    absl::StatusOr<ExitStatus> status =
        child.Wait(std::max(deadline - absl::Now(), absl::Milliseconds(1)));
    if (!status.ok()) {
      ADD_FAILURE() << "waiting for a child: " << status.status();
      ExitStatus failed;
      failed.kind = ExitStatus::Kind::kTimedOut;
      statuses.push_back(failed);
      continue;
    }
    statuses.push_back(*status);
  }
  return statuses;
}

std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;  // a signal handler ran: read again
    if (n <= 0) break;                        // end of file, or an error the caller will see
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

CapturedOutput::CapturedOutput() : fd_(::memfd_create("captured-output", MFD_CLOEXEC)) {
  if (!fd_.valid()) ADD_FAILURE() << "test setup: memfd_create: " << std::strerror(errno);
}

std::string CapturedOutput::Text() const {
  std::string text;
  char chunk[4096];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(fd_.get(), chunk, sizeof chunk, offset);
    if (n == -1 && errno == EINTR) continue;  // a signal handler ran: read again
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
    offset += n;
  }
  return text;
}

}  // namespace ipc::testing
