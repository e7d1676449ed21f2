// common/testing/testing.cc: see testing.h.
#include "common/testing/testing.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
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

}  // namespace ipc::testing
