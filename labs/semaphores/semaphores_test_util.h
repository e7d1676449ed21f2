// labs/semaphores/semaphores_test_util.h: the instruments that the public tests
// (semaphores_test.cc) and the grader's hidden tests of this lab share, so that both run one copy
// of them. None of them is the student's code.
//
// Built by labs/semaphores/BUILD as :test_util (testonly, compiled against semaphores.h only).
// Partner: semaphores_test_util.cc. What several labs share (IsOkAndHolds, WaitAll,
// CapturedOutput) is in common/testing/testing.h.
#ifndef IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_TEST_UTIL_H_
#define IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_TEST_UTIL_H_

#include <sys/mman.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "gtest/gtest.h"
#include "labs/semaphores/semaphores.h"

namespace semaphores::test_util {

// TestShared<T>
//
// One T in an anonymous shared mapping, for what the test itself records across fork (counters,
// flags, tallies). Zero-filled by mmap, then value-initialised; destroyed and unmapped with the
// object. A failed mmap fails the test (setup error) and leaves get() null. Not copyable.
template <typename T>
class TestShared {
 public:
  TestShared() {
    void* memory =
        ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      ADD_FAILURE() << "test setup: mmap: " << std::strerror(errno);
      return;
    }
    ptr_ = new (memory) T();
  }
  ~TestShared() {
    if (ptr_ == nullptr) return;
    ptr_->~T();
    ::munmap(ptr_, sizeof(T));
  }
  TestShared(const TestShared&) = delete;
  TestShared& operator=(const TestShared&) = delete;
  T* operator->() const { return ptr_; }
  T& operator*() const { return *ptr_; }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;  // the shared T, or null if mmap failed
};

// Eventually()
//
// Waits (up to `timeout`) until `condition()` holds, polling every millisecond; false on timeout.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// SleepsSoon()
//
// Waits until process `pid` is asleep in a wait queue (state S in /proc/PID/stat). Returns false
// at once if it has exited (state Z: it did not block where it should have), or after 5 s.
bool SleepsSoon(pid_t pid);

// Numbers()
//
// The numbers a child printed into `output`, one a line; a line that is not a number fails the
// test.
std::vector<uint64_t> Numbers(const ipc::testing::CapturedOutput& output);

// RunProgram()
//
// Execs the lab's `program` (found beside the test binary) with `flags` (argv[1] onward) and its
// stdout on `stdout_fd` (-1: the test's own). Errors: the exec failing, as ipc::ErrnoError.
absl::StatusOr<ipc::Child> RunProgram(const std::string& program, std::vector<std::string> flags,
                                      int stdout_fd = -1);

// Iota()
//
// `count` consecutive values from `first`: what a producer sends.
std::vector<uint64_t> Iota(uint64_t first, size_t count);

// ChannelNamesGuard
//
// Removes a channel's four names (three semaphores and the buffer) when the test ends, whatever
// happened, for tests that put objects there themselves (stale leftovers): a failed assertion
// must not turn into a leak report that hides the real failure. Tests that check that the
// student's code removes the names do not use it.
class ChannelNamesGuard {
 public:
  explicit ChannelNamesGuard(std::string prefix) : names_(ChannelNamesFor(prefix)) {}
  ChannelNamesGuard(const ChannelNamesGuard&) = delete;
  ChannelNamesGuard& operator=(const ChannelNamesGuard&) = delete;
  ~ChannelNamesGuard();

 private:
  ChannelNames names_;  // the names to remove
};

// LeaveStaleSemaphore()
//
// Leaves a named semaphore `name` with `value` behind, as a crashed run would. Fails the test
// (setup error) if it cannot.
void LeaveStaleSemaphore(const std::string& name, unsigned value);

}  // namespace semaphores::test_util

#endif  // IPC_LABS_LABS_SEMAPHORES_SEMAPHORES_TEST_UTIL_H_
