// labs/epoll/broken.h: patterns from the course notes (and from many first event loops), as they
// are usually written. Not yours to fix.
//
// Each function reproduces a defect, and the "find the bug" tests run it next to your code: the
// broken version must misbehave, deterministically (a delay is injected where timing matters),
// while yours does not. Explain why in ANSWERS.md; the code stays as it is.
//
// Partner files: broken.cc (the code), epoll_test.cc (FindTheBugTest.*), README.md ("Find the
// bug").
#ifndef IPC_LABS_LABS_EPOLL_BROKEN_H_
#define IPC_LABS_LABS_EPOLL_BROKEN_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "labs/epoll/epoll.h"
#include "labs/epoll/load.h"

namespace epoll::broken {

// ReadOnceEdgeServerBody()
//
// An edge-triggered epoll echo server (a load::StartServer body; SIGTERM stops it) whose client
// handler does ONE read of at most 4 KiB per event and echoes it (EP7). `delay_before_read` is
// slept before that read, so that a whole burst has arrived when it runs: the test does not
// depend on how the kernel splits the burst.
load::ServerBody ReadOnceEdgeServerBody(ScopedFd listener, absl::Duration delay_before_read);

// WaitForFlagWithPoll()
//
// 000 §sleep/poll tips: "use poll() to wait for the flag without burning CPU". Loops: take the
// word (exchange with 0); if it was set, return it; otherwise call `before_wait` (first round
// only) and poll(NULL, 0, poll_interval), which watches no descriptor at all (EP1). Gives up
// with DEADLINE_EXCEEDED after `timeout`.
absl::StatusOr<uint64_t> WaitForFlagWithPoll(std::atomic<uint64_t>* word,
                                             absl::Duration poll_interval, absl::Duration timeout,
                                             const std::function<void()>& before_wait);

// WaitForInputOrSignalWithSelect()
//
// WaitForInputOrSignal (epoll.h) written with plain select: unblock `signo`, check the flag its
// handler sets, call `before_wait`, then select (EP4). Same contract otherwise, same
// requirement that `signo` is blocked on entry (it is blocked again on return).
absl::StatusOr<WakeReason> WaitForInputOrSignalWithSelect(int fd, int signo, absl::Duration timeout,
                                                          const std::function<void()>& before_wait);

}  // namespace epoll::broken

#endif  // IPC_LABS_LABS_EPOLL_BROKEN_H_
