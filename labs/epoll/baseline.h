// labs/epoll/baseline.h: the poll(2) echo server the grader times yours against. Not yours.
//
// A plain, correct, single-threaded poll server, written the way most poll servers are: one
// pollfd per connection in an array that poll(2) scans in full on every call, and that this code
// scans again to find the ready entries. It echoes bytes as they come (frames pass through
// unchanged). The speed item of lab.json runs it and your epoll server against the same load
// with many idle connections (EP6): the ratio of requests per second is your grade.
//
// Partner files: baseline.cc; the hidden speed cases that the grader times.
#ifndef IPC_LABS_LABS_EPOLL_BASELINE_H_
#define IPC_LABS_LABS_EPOLL_BASELINE_H_

#include <sys/resource.h>

#include "absl/status/status.h"
#include "labs/epoll/epoll.h"
#include "labs/epoll/load.h"

namespace epoll::baseline {

// RunPollEchoServer()
//
// Serves `listener` (made non-blocking here) until `stop_fd` becomes readable, then closes every
// connection. Counts accepted, closed, bytes_in, bytes_out and wakeups in `*stats`. Errors:
// poll's and accept4's (other than EAGAIN, EINTR, ECONNABORTED, EMFILE).
absl::Status RunPollEchoServer(ScopedFd listener, int stop_fd, ServerStats* stats);

// PollEchoServerBody()
//
// A load::StartServer body that blocks SIGTERM, reads it from a signalfd (the stop_fd), raises
// RLIMIT_NOFILE to `file_limit` if not 0, and runs RunPollEchoServer.
load::ServerBody PollEchoServerBody(ScopedFd listener, rlim_t file_limit = 0);

}  // namespace epoll::baseline

#endif  // IPC_LABS_LABS_EPOLL_BASELINE_H_
