// labs/epoll/load.h: the client side the tests and the benchmark share. Not yours to change.
//
// Blocking helpers for one client (Connect, SendAll, Echo), a load generator that drives N
// active clients through M request/response round trips each from one epoll loop while it holds
// K idle connections open, a server harness that runs any server in a forked child process and
// brings its ServerStats back through shared memory, and two pieces of plumbing: raising
// RLIMIT_NOFILE, and a temporary directory for Unix socket files that removes them.
//
// Partner files: load.cc (the code); epoll_test.cc, the hidden tests and the instructors'
// benchmark (its users). Everything here is bounded in time: no call waits without a deadline.
#ifndef IPC_LABS_LABS_EPOLL_LOAD_H_
#define IPC_LABS_LABS_EPOLL_LOAD_H_

#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "labs/epoll/epoll.h"

namespace epoll::load {

// SocketDir
//
// A fresh directory (mkdtemp) for Unix socket files, short enough for sun_path: under
// $TEST_TMPDIR when that path is short, /tmp otherwise. The destructor removes every file in it
// and the directory itself, so no socket file is left behind. Move-only.
class SocketDir {
 public:
  // SocketDir::Create()
  //
  // Errors: mkdtemp's.
  static absl::StatusOr<SocketDir> Create();

  // SocketDir::Path()
  //
  // "<dir>/<name>" (the file is not created).
  std::string Path(absl::string_view name) const;

  const std::string& dir() const { return dir_; }

  SocketDir(SocketDir&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  SocketDir& operator=(SocketDir&&) = delete;
  SocketDir(const SocketDir&) = delete;
  SocketDir& operator=(const SocketDir&) = delete;
  ~SocketDir();

 private:
  explicit SocketDir(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// RaiseFileLimit()
//
// Makes sure this process may open at least `needed` descriptors: raises the soft
// RLIMIT_NOFILE up to the hard limit if needed. Errors: FAILED_PRECONDITION with a sentence
// naming both numbers when the hard limit is below `needed` (the grader sets it from lab.json
// "limits": {"open_files": N}); setrlimit's.
absl::Status RaiseFileLimit(rlim_t needed);

// LeaveFreeDescriptors()
//
// Makes this process run out of descriptors after `n` more: lowers the soft RLIMIT_NOFILE to
// (highest open descriptor) + 1 + n and fills every free slot below that highest descriptor
// with a descriptor of /dev/null, which stays open until the process exits (RLIMIT_NOFILE limits
// descriptor NUMBERS, so holes below the highest one would otherwise be free too). For a server
// child that must meet EMFILE. Errors: opendir, open, dup2 and setrlimit's.
absl::Status LeaveFreeDescriptors(int n);

// Connect()
//
// A blocking, close-on-exec stream socket connected to `where`. Errors: socket's and connect's
// (ECONNREFUSED, ENOENT for a Unix path nobody listens on, EAGAIN when a Unix listener's
// backlog is full and the socket is non-blocking: it is not).
absl::StatusOr<ScopedFd> Connect(const Endpoint& where);

// Frame()
//
// `payload` with its 4-byte little-endian length in front (the wire format of epoll.h).
std::string Frame(absl::string_view payload);

// SendAll()
//
// Writes all of `bytes` to `fd` (blocking or not), waiting with poll for writability, for at
// most `timeout`. Errors: DEADLINE_EXCEEDED (the peer stopped reading); send's (EPIPE,
// ECONNRESET). MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE.
absl::Status SendAll(int fd, absl::string_view bytes, absl::Duration timeout);

// ReceiveExactly()
//
// Reads exactly `n` bytes from `fd`, waiting with poll for at most `timeout`. Errors:
// DEADLINE_EXCEEDED with the count received so far; OUT_OF_RANGE "the server closed the
// connection after K of N bytes" at end of file; read's.
absl::StatusOr<std::string> ReceiveExactly(int fd, size_t n, absl::Duration timeout);

// Echo()
//
// Sends Frame(payload) and checks that the same frame comes back within `timeout`. Errors: as
// SendAll and ReceiveExactly; DATA_LOSS if other bytes came back.
absl::Status Echo(int fd, absl::string_view payload, absl::Duration timeout);

// Exchange()
//
// Sends all of `bytes` while reading whatever comes back, both without blocking (poll on the
// one descriptor), until `expect` bytes have come back or `timeout` passes; returns what came
// back. A client that writes a large burst without reading could otherwise deadlock against a
// server that correctly stops reading when its output to that client is full. Errors: as
// ReceiveExactly (DEADLINE_EXCEEDED says how much was sent and received).
absl::StatusOr<std::string> Exchange(int fd, absl::string_view bytes, size_t expect,
                                     absl::Duration timeout);

// IsClosedByPeer()
//
// Waits up to `timeout` for the peer to close `fd` (a read returns 0 or ECONNRESET), discarding
// any data. True if it did.
bool IsClosedByPeer(int fd, absl::Duration timeout);

// What RunLoad does.
struct LoadOptions {
  Endpoint where;
  int clients = 1;      // active connections, all driven from one epoll loop
  int requests = 100;   // round trips per active connection
  size_t payload = 64;  // payload bytes per request
  int idle = 0;         // connections opened first and held open, silent, to the end
  absl::Duration timeout = absl::Seconds(20);  // the whole run, connecting included
  // When finite, clients start no new request once this much time has passed since the first
  // request (the ones in flight finish): `requests` is then a cap, and the result counts what
  // was done. For benchmarks that must not take minutes on a slow backend.
  absl::Duration run_for = absl::InfiniteDuration();
};

// What RunLoad measured.
struct LoadResult {
  uint64_t requests = 0;   // round trips completed and checked
  absl::Duration elapsed;  // from the first request sent to the last reply checked

  // LoadResult::RequestsPerSecond()
  double RequestsPerSecond() const {
    return elapsed > absl::ZeroDuration()
               ? static_cast<double>(requests) / absl::ToDoubleSeconds(elapsed)
               : 0;
  }
};

// RunLoad()
//
// Opens `idle` connections, then `clients` active ones; then each active client sends a frame
// (its id and sequence number, padded to `payload` bytes), waits for the identical frame back,
// and repeats `requests` times, all clients at once. Needs about idle + clients + 8 descriptors
// (RaiseFileLimit). Errors: DEADLINE_EXCEEDED if the run does not finish within the timeout
// (the message counts what was done); DATA_LOSS for a wrong reply; OUT_OF_RANGE if the server
// closed a connection; errno codes from connect and the epoll loop.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options);

// A server running in a forked child, started by StartServer.
struct ServerProcess {
  std::optional<ipc::Child> child;             // set by StartServer
  std::optional<ipc::ExitStatus> exit_status;  // set once the child has been reaped
  struct Shared* shared = nullptr;             // MAP_SHARED between the two processes

  // ServerProcess::Finish()
  //
  // Sends SIGTERM (every server the harness starts turns it into a clean stop), waits at most
  // `timeout`, and returns the stats the child stored after its server returned. Errors:
  // the server's own error (as the child reported it); INTERNAL if the child crashed, timed out
  // (it is killed) or exited without reporting.
  absl::StatusOr<ServerStats> Finish(absl::Duration timeout = absl::Seconds(10));

  // ServerProcess::Alive()
  //
  // True while the child is running (reaps it, and remembers how it ended, once it is not).
  bool Alive();

  ServerProcess() = default;
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ~ServerProcess();
};

// The body of a server child: run a server, store its stats in `*stats` when it returns, and
// call `ready()` once it is set up to be stopped by SIGTERM (before that, SIGTERM kills it).
using ServerBody =
    std::function<absl::Status(ServerStats* stats, const std::function<void()>& ready)>;

// StartServer()
//
// Forks a child that runs `body` and returns once the child has called ready(). Errors: the
// child's own error, if its body failed before ready() (an unimplemented server fails here at
// once, before any client connects); INTERNAL if it died; DEADLINE_EXCEEDED if it was not ready
// within 10 s; fork's and mmap's.
absl::StatusOr<ServerProcess> StartServer(ServerBody body);

// EchoServerBody()
//
// The body that runs epoll::EchoServer::Create(listener, options) and Run() (SIGTERM arrives
// through its signalfd: options.handle_signals must be true). `listener` is moved into the child;
// the parent's copy closes when the body is destroyed, so pass a descriptor the parent may lose.
// If `file_limit` is not 0 the child first raises its RLIMIT_NOFILE to at least that.
ServerBody EchoServerBody(ScopedFd listener, ServerOptions options, rlim_t file_limit = 0);

// WorkerPoolServerBody()
//
// The body that runs epoll::WorkerPoolServer::Create(listener, workers) and Run(); SIGTERM is
// turned into Stop() by a handler (Stop is one write(2): async-signal-safe).
ServerBody WorkerPoolServerBody(ScopedFd listener, int workers);

}  // namespace epoll::load

#endif  // IPC_LABS_LABS_EPOLL_LOAD_H_
