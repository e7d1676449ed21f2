// labs/semaphores/semaphores_test_util.cc: the instruments of semaphores_test_util.h.
#include "labs/semaphores/semaphores_test_util.h"

#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/timing.h"

namespace semaphores::test_util {

bool SleepsSoon(pid_t pid) {
  bool exited = false;
  bool asleep = Eventually([pid, &exited] {
    absl::StatusOr<char> state = ipc::ProcessState(pid);
    exited = !state.ok() || *state == 'Z' || *state == 'X';
    return exited || *state == 'S';
  });
  return asleep && !exited;
}

std::vector<uint64_t> Numbers(const ipc::testing::CapturedOutput& output) {
  const std::string text = output.Text();
  std::vector<uint64_t> numbers;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    uint64_t value = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line, &value)) << "unexpected output line: " << line;
    numbers.push_back(value);
  }
  return numbers;
}

absl::StatusOr<ipc::Child> RunProgram(const std::string& program, std::vector<std::string> flags,
                                      int stdout_fd) {
  std::vector<std::string> args = {program};
  args.insert(args.end(), flags.begin(), flags.end());
  ipc::ExecOptions options;
  options.stdout_fd = stdout_fd;
  return ipc::Child::Exec(ipc::testing::ProgramPath(program), args, options);
}

std::vector<uint64_t> Iota(uint64_t first, size_t count) {
  std::vector<uint64_t> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = first + i;
  return values;
}

ChannelNamesGuard::~ChannelNamesGuard() {
  // Cleanup of what may not exist: ENOENT is the usual, good case.
  for (const std::string* name : {&names_.mutex, &names_.empty, &names_.full}) {
    ::sem_unlink(name->c_str());
  }
  ::shm_unlink(names_.buffer.c_str());
}

void LeaveStaleSemaphore(const std::string& name, unsigned value) {
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
  ASSERT_NE(sem, SEM_FAILED) << "test setup: sem_open(" << name << "): " << std::strerror(errno);
  ASSERT_EQ(::sem_close(sem), 0);
}

}  // namespace semaphores::test_util
