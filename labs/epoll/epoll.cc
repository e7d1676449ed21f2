// labs/epoll/epoll.cc: YOUR implementation of epoll.h.
//
// Work through the tasks of README.md in order; each TODO(student) below names its task. Until a
// function is written it returns absl::UnimplementedError, so every test fails at once with a
// message that says what to write. Check your work with
//   ./labctl test epoll        (or: bazel test //labs/epoll:epoll_test)
// The contract, with every error a function must return, is epoll.h. BackendName() and
// FlagChannel's move and destructor are given, ready-made, in epoll_given.cc (not yours to edit).
//
// House rules: check every system call on the next line against its own failure value and
// return ipc::ErrnoError("call", object); retry EINTR visibly; every descriptor you open is owned
// by a ScopedFd; every descriptor in an event loop is O_NONBLOCK; no sleep() loops.
#include "labs/epoll/epoll.h"

#include <fcntl.h>
#include <liburing.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/timing.h"

namespace epoll {

// Task 1 ------------------------------------------------------------------------------------------

absl::StatusOr<ScopedFd> Listen(const Endpoint& where, int backlog) {
  (void)where, (void)backlog;
  return absl::UnimplementedError(
      "TODO(student): Task 1: Listen: socket(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), bind "
      "(a Unix path, or 127.0.0.1 with SO_REUSEADDR), listen; check the path length first");
}

absl::StatusOr<Endpoint> BoundEndpoint(int fd) {
  (void)fd;
  return absl::UnimplementedError(
      "TODO(student): Task 1: BoundEndpoint: getsockname, then the Unix path or the TCP port");
}

// Task 2 ------------------------------------------------------------------------------------------
//
// Write three Poller subclasses here (select, poll, epoll with an `edge` flag) and return them
// from MakePoller.

absl::StatusOr<std::unique_ptr<Poller>> MakePoller(Backend backend, size_t max_events) {
  (void)backend, (void)max_events;
  return absl::UnimplementedError(
      "TODO(student): Task 2: MakePoller: a Poller for select (refuse fd >= FD_SETSIZE), poll "
      "(an array of pollfd), epoll level- and edge-triggered (epoll_create1, epoll_ctl, "
      "epoll_wait); Add refuses descriptors without O_NONBLOCK");
}

// Tasks 3 to 5 ------------------------------------------------------------------------------------

// Everything the server owns: the listener, its Poller, the eventfd/signalfd/timerfd, the spare
// descriptor, the connections with their input and output buffers, the stats. Define it.
struct EchoServer::State {
  // TODO(student): Tasks 3 to 5: the server's state.
  ServerStats stats;
};

EchoServer::EchoServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
EchoServer::EchoServer(EchoServer&& other) noexcept = default;
EchoServer& EchoServer::operator=(EchoServer&& other) noexcept = default;
EchoServer::~EchoServer() = default;

absl::StatusOr<EchoServer> EchoServer::Create(ScopedFd listener, const ServerOptions& options) {
  (void)listener, (void)options;
  return absl::UnimplementedError(
      "TODO(student): Task 3: EchoServer::Create: a Poller, an eventfd for Stop(), a signalfd for "
      "SIGTERM/SIGINT (block them first), a timerfd for idle clients, a spare descriptor");
}

absl::Status EchoServer::Run() {
  return absl::UnimplementedError(
      "TODO(student): Task 3: EchoServer::Run: the event loop: accept4 until EAGAIN, read until "
      "EAGAIN, echo whole frames, kWritable only while output is pending (Tasks 4 and 5: back "
      "pressure, hang-ups, EMFILE, idle timeouts, shutdown)");
}

absl::Status EchoServer::Stop() const {
  return absl::UnimplementedError(
      "TODO(student): Task 3: EchoServer::Stop: write 1 to the eventfd");
}

const ServerStats& EchoServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

size_t EchoServer::connections() const {
  // TODO(student): Task 3: the number of open client connections.
  return 0;
}

// Task 6 ------------------------------------------------------------------------------------------

absl::StatusOr<FlagChannel> FlagChannel::Create() {
  return absl::UnimplementedError(
      "TODO(student): Task 6: FlagChannel::Create: mmap a MAP_SHARED | MAP_ANONYMOUS word and "
      "create an eventfd (EFD_NONBLOCK)");
}

absl::Status FlagChannel::Post(uint64_t value) {
  (void)value;
  return absl::UnimplementedError(
      "TODO(student): Task 6: FlagChannel::Post: store the value (release), then write 1 to "
      "the eventfd");
}

absl::StatusOr<std::optional<uint64_t>> FlagChannel::TryTake() {
  return absl::UnimplementedError(
      "TODO(student): Task 6: FlagChannel::TryTake: drain the eventfd, then exchange the word "
      "with 0 (acquire)");
}

absl::StatusOr<uint64_t> FlagChannel::Wait(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): Task 6: FlagChannel::Wait: TryTake, else sleep in epoll_wait on the "
      "eventfd with the time left; DEADLINE_EXCEEDED at the end");
}

// Task 7 ------------------------------------------------------------------------------------------

absl::Status DispatchQueues(const std::vector<mqd_t>& queues, int pipe_fd, absl::Duration timeout,
                            const std::function<void(const Delivery&)>& handler) {
  (void)queues, (void)pipe_fd, (void)timeout, (void)handler;
  return absl::UnimplementedError(
      "TODO(student): Task 7: DispatchQueues: every queue and the pipe in one epoll set, "
      "epoll_wait for up to 10 events, dispatch by data.fd, drain each to EAGAIN, stop at the "
      "pipe's EOF");
}

// Task 8 ------------------------------------------------------------------------------------------

absl::StatusOr<WakeReason> WaitForInputOrSignal(int fd, int signo, absl::Duration timeout,
                                                const std::function<void()>& before_wait) {
  (void)fd, (void)signo, (void)timeout, (void)before_wait;
  return absl::UnimplementedError(
      "TODO(student): Task 8: WaitForInputOrSignal: check the signal is blocked, install a "
      "handler, then pselect with a mask that unblocks it only during the wait");
}

// Task 9 ------------------------------------------------------------------------------------------

absl::Status UringAvailable() {
  return absl::UnimplementedError(
      "TODO(student): Task 9: UringAvailable: io_uring_queue_init a small ring (and exit it); "
      "UNAVAILABLE with a plain sentence if that fails");
}

struct UringEchoServer::State {
  // TODO(student): Task 9: the ring, the listener, the eventfd, the connections, the stats.
  ServerStats stats;
};

UringEchoServer::UringEchoServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
UringEchoServer::UringEchoServer(UringEchoServer&& other) noexcept = default;
UringEchoServer& UringEchoServer::operator=(UringEchoServer&& other) noexcept = default;
UringEchoServer::~UringEchoServer() = default;

absl::StatusOr<UringEchoServer> UringEchoServer::Create(ScopedFd listener, unsigned entries) {
  (void)listener, (void)entries;
  return absl::UnimplementedError(
      "TODO(student): Task 9: UringEchoServer::Create: io_uring_queue_init, a blocking listener, "
      "an eventfd for Stop()");
}

absl::Status UringEchoServer::Run() {
  return absl::UnimplementedError(
      "TODO(student): Task 9: UringEchoServer::Run: submit accept and a read of the eventfd; on "
      "each completion (matched by user_data) submit the next recv or send; resubmit short sends");
}

absl::Status UringEchoServer::Stop() const {
  return absl::UnimplementedError(
      "TODO(student): Task 9: UringEchoServer::Stop: write the eventfd");
}

const ServerStats& UringEchoServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

absl::StatusOr<uint64_t> CopyFileUring(int in, int out, size_t chunk) {
  (void)in, (void)out, (void)chunk;
  return absl::UnimplementedError(
      "TODO(student): Task 9: CopyFileUring: reads linked (IOSQE_IO_LINK) to writes of the same "
      "buffer, several pairs in flight; finish short ones with plain submissions");
}

absl::StatusOr<uint64_t> CopyFileReadWrite(int in, int out, size_t chunk) {
  (void)in, (void)out, (void)chunk;
  return absl::UnimplementedError(
      "TODO(student): Task 9: CopyFileReadWrite: a read/write loop that finishes partial writes");
}

// Task 10 -----------------------------------------------------------------------------------------

struct WorkerPoolServer::State {
  // TODO(student): Task 10: the two epoll sets, the listener, the eventfd, the connections (and
  // the lock that guards the table of them), the worker threads, the counters.
  ServerStats stats;
};

WorkerPoolServer::WorkerPoolServer(std::unique_ptr<State> state) : state_(std::move(state)) {}
WorkerPoolServer::WorkerPoolServer(WorkerPoolServer&& other) noexcept = default;
WorkerPoolServer& WorkerPoolServer::operator=(WorkerPoolServer&& other) noexcept = default;
WorkerPoolServer::~WorkerPoolServer() = default;

absl::StatusOr<WorkerPoolServer> WorkerPoolServer::Create(ScopedFd listener, int workers) {
  (void)listener, (void)workers;
  return absl::UnimplementedError(
      "TODO(student): Task 10: WorkerPoolServer::Create: an epoll set for the workers, one for "
      "the accept loop, an eventfd for Stop()");
}

absl::Status WorkerPoolServer::Run() {
  return absl::UnimplementedError(
      "TODO(student): Task 10: WorkerPoolServer::Run: start the workers (epoll_wait on the shared "
      "set; serve one client; re-arm it with EPOLL_CTL_MOD | EPOLLONESHOT), accept until Stop(), "
      "then join them and close every client");
}

absl::Status WorkerPoolServer::Stop() const {
  return absl::UnimplementedError(
      "TODO(student): Task 10: WorkerPoolServer::Stop: write the eventfd");
}

const ServerStats& WorkerPoolServer::stats() const {
  static const ServerStats kEmpty;
  return state_ ? state_->stats : kEmpty;
}

}  // namespace epoll
