// labs/mmap_fork/mmap_fork_test_util.h: helpers that the public tests (mmap_fork_test.cc) and the
// grader's hidden tests of this lab share, so that both run one copy of them: a "go" signal
// between processes, temporary file paths, and the fixture that checks for leaks and zombies.
//
// Built by labs/mmap_fork/BUILD as :test_util (testonly, compiled against mmap_fork.h only).
// Partner: mmap_fork_test_util.cc.
#ifndef IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_TEST_UTIL_H_
#define IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_TEST_UTIL_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/process.h"
#include "common/testing/testing.h"

namespace mmap_fork::test_util {

// How long a test waits for a child; generous: two slow cores, shared.
inline constexpr absl::Duration kWait = absl::Seconds(10);

// Signal
//
// A one-way "go" signal between two processes: a pipe created before fork, whose ends close with
// the object. A pipe failure fails the test (ADD_FAILURE). Not copyable.
class Signal {
 public:
  Signal();
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;

  // Signal::Notify()
  //
  // Gives the signal (writes one byte). A failed write shows up as the waiter's timeout.
  void Notify() const;

  // Signal::WaitFor()
  //
  // True if Notify() was called (in this or another process) within `timeout`; retries poll on
  // EINTR (a signal is no reason to stop waiting).
  bool WaitFor(absl::Duration timeout) const;

 private:
  ipc::UniqueFd read_end_;
  ipc::UniqueFd write_end_;
};

// TempDir()
//
// The test's private temporary directory ($TEST_TMPDIR, or /tmp outside Bazel).
std::string TempDir();

// TempPath
//
// A fresh file path in TempDir() (named after `tag`, this pid and a counter), removed (unlink,
// errors ignored) when the object is destroyed. Not copyable.
class TempPath {
 public:
  explicit TempPath(absl::string_view tag);
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;

  // TempPath::path()
  const std::string& path() const { return path_; }

  // TempPath::Exists()
  //
  // True if something exists at path() now.
  bool Exists() const;

 private:
  std::string path_;
};

// MmapForkTest
//
// The fixture of every case: no IPC object left behind (LeakCheckedTest) and no child left
// unreaped (MF18).
class MmapForkTest : public ipc::testing::LeakCheckedTest {
 protected:
  void TearDown() override;

  // Runs `body` in a child and returns how it ended (kTimedOut if it outlived `timeout`). A fork
  // or wait failure fails the test and is returned as exit code 255.
  static ipc::ExitStatus RunChild(std::function<int()> body, absl::Duration timeout = kWait);
};

}  // namespace mmap_fork::test_util

#endif  // IPC_LABS_LABS_MMAP_FORK_MMAP_FORK_TEST_UTIL_H_
