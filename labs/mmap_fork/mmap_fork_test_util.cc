// labs/mmap_fork/mmap_fork_test_util.cc: the helpers of mmap_fork_test_util.h, shared by the
// public and the hidden tests of the mmap_fork lab.
#include "labs/mmap_fork/mmap_fork_test_util.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mmap_fork::test_util {

Signal::Signal() {
  int fds[2];
  if (::pipe(fds) == -1) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return;
  }
  read_end_.Reset(fds[0]);
  write_end_.Reset(fds[1]);
}

void Signal::Notify() const { (void)!::write(write_end_.get(), "x", 1); }

bool Signal::WaitFor(absl::Duration timeout) const {
  struct pollfd pfd = {read_end_.get(), POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  } while (rc == -1 && errno == EINTR);  // a signal is no reason to stop waiting
  char c;
  return rc == 1 && ::read(read_end_.get(), &c, 1) == 1;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

TempPath::TempPath(absl::string_view tag) {
  static int counter = 0;
  path_ = absl::StrCat(TempDir(), "/mmap_fork.", ::getpid(), ".", tag, ".", counter++);
}

TempPath::~TempPath() { ::unlink(path_.c_str()); }  // already gone is the usual case

bool TempPath::Exists() const {
  struct stat st;
  return ::stat(path_.c_str(), &st) == 0;
}

void MmapForkTest::TearDown() {
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1)
      << "a child process was left unreaped (a zombie, or still running): wait for every "
         "child you fork (MF18)";
  EXPECT_EQ(errno, ECHILD);
  LeakCheckedTest::TearDown();
}

ipc::ExitStatus MmapForkTest::RunChild(std::function<int()> body, absl::Duration timeout) {
  absl::StatusOr<ipc::Child> child = ipc::Child::Fork(std::move(body));
  if (!child.ok()) {
    ADD_FAILURE() << "fork: " << child.status();
    return {ipc::ExitStatus::Kind::kExited, 255};
  }
  absl::StatusOr<ipc::ExitStatus> status = child->Wait(timeout);
  if (!status.ok()) {
    ADD_FAILURE() << "wait: " << status.status();
    return {ipc::ExitStatus::Kind::kExited, 255};
  }
  return *status;
}

}  // namespace mmap_fork::test_util
