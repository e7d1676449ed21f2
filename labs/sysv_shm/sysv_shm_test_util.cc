// labs/sysv_shm/sysv_shm_test_util.cc: the helpers of sysv_shm_test_util.h, shared by the public
// and the hidden tests of the System V shared memory lab.
#include "labs/sysv_shm/sysv_shm_test_util.h"

#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"

namespace sysv_shm::test_util {

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/sysv_shm.", ::getpid(), ".", name);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string data(n, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return data;
}

std::vector<int64_t> Lines(const std::string& text) {
  std::vector<int64_t> values;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    int64_t v;
    if (absl::SimpleAtoi(line, &v)) values.push_back(v);
  }
  return values;
}

absl::StatusOr<Program> Program::Start(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::string& tag, const std::string& stdin_path) {
  Program p;
  p.out_path_ = TempPath(tag + ".out");
  p.err_path_ = TempPath(tag + ".err");
  ipc::UniqueFd in;
  if (!stdin_path.empty()) {
    in.Reset(::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return ipc::ErrnoError("open", stdin_path);
  }
  ipc::UniqueFd out(::open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return ipc::ErrnoError("open", p.out_path_);
  ipc::UniqueFd err(::open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!err.valid()) return ipc::ErrnoError("open", p.err_path_);
  ipc::ExecOptions options;
  options.stdin_fd = in.get();  // -1: the parent's stdin
  options.stdout_fd = out.get();
  options.stderr_fd = err.get();
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ipc::Child> child =
      ipc::Child::Exec(ipc::testing::ProgramPath(program), argv, options);
  if (!child.ok()) return child.status();
  p.child_.emplace(*std::move(child));
  return p;  // the parent's copies of the three descriptors close here
}

Finished Program::Collect(absl::Duration timeout) {
  Finished run;
  absl::StatusOr<ipc::ExitStatus> exit = child_->Wait(timeout);
  if (exit.ok()) run.exit = *exit;
  run.out = ReadFileOrEmpty(out_path_);
  run.err = ReadFileOrEmpty(err_path_);
  // Test scratch files: already gone is fine, so the results are not checked.
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
  return run;
}

bool RemoveIfPresent(key_t key) {
  int id = ::shmget(key, 0, 0);
  if (id == -1) return false;  // nothing under the key: the usual case
  ::shmctl(id, IPC_RMID, nullptr);  // best effort: the test has already failed for the leak
  return true;
}

bool IdIsGone(int id) {
  struct shmid_ds ds;
  return ::shmctl(id, IPC_STAT, &ds) == -1 && (errno == EINVAL || errno == EIDRM);
}

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) == -1) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  read_end_.Reset(fds[0]);
  write_end_.Reset(fds[1]);
}

bool Pipe::Signal() { return ::write(write_end_.get(), "x", 1) == 1; }

bool Pipe::Await() {
  char c;
  ssize_t n;
  do {
    n = ::read(read_end_.get(), &c, 1);
  } while (n == -1 && errno == EINTR);  // retry: the turn has not been given yet
  return n == 1;
}

}  // namespace sysv_shm::test_util
