// labs/epoll/epoll.h: the contract of the epoll lab (one thread, many clients).
//
// The pieces, each built on the one before (the handout, README.md, takes them in this order):
//
//   Listen            a non-blocking listening socket on a Unix path or TCP loopback.
//   Poller            one interface, four readiness backends: select, poll, epoll level-
//                     triggered, epoll edge-triggered (EP3, EP5, EP6, EP7).
//   EchoServer        a single-threaded echo server of length-prefixed frames on a Poller:
//                     accept4(SOCK_NONBLOCK), read to EAGAIN, per-connection output buffers flushed
//                     on writability, back pressure, signalfd shutdown, timerfd idle timeouts,
//                     eventfd wake-ups, the spare-descriptor trick for EMFILE (EP8, EP11).
//   FlagChannel       a flag in shared memory with an eventfd beside it, so a waiter sleeps in
//                     epoll instead of polling memory (EP1, EP11).
//   DispatchQueues    POSIX message queues and a pipe in one epoll set (EP2).
//   WaitForInputOrSignal   pselect: a signal unblocked only inside the wait is never lost (EP4).
//   UringEchoServer, CopyFile*   io_uring: completions instead of readiness (EP10).
//   WorkerPoolServer  EPOLLONESHOT: worker threads on one epoll set, never two on one client.
//
// You implement epoll.cc; this header, the tests, load.h (the load generator), baseline.h (the
// poll baseline the grader times you against) and broken.h (the "find the bug" code) are fixed.
// Every failing call reaches the caller as an absl::Status made by ipc::ErrnoError
// (common/status.h): `epoll_ctl(fd 7): File exists [EEXIST]`. Run: ./labctl test epoll
#ifndef IPC_LABS_LABS_EPOLL_EPOLL_H_
#define IPC_LABS_LABS_EPOLL_EPOLL_H_

#include <mqueue.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace epoll {

// ScopedFd
//
// Owns one file descriptor and closes it when destroyed; move-only. The course's one descriptor
// owner, ipc::UniqueFd (common/fd.h): get(), valid(), Release(), Reset(), Close(). A
// default-constructed or moved-from ScopedFd holds -1 and closes nothing. (Plumbing, not a lesson.)
using ScopedFd = ::ipc::UniqueFd;

// ---------------------------------------------------------------------------------------------
// Task 1: where the server listens.

// Endpoint
//
// A Unix-domain stream socket path, or a TCP port on 127.0.0.1 (which works inside the grader's
// private network namespace: it has a loopback and nothing else).
struct Endpoint {
  std::string unix_path;  // non-empty: a Unix socket at this path (at most 107 bytes)
  uint16_t tcp_port = 0;  // when unix_path is empty: 127.0.0.1:tcp_port (0 when listening: any)

  static Endpoint Unix(std::string path) { return Endpoint{std::move(path), 0}; }
  static Endpoint Tcp(uint16_t port) { return Endpoint{"", port}; }
  bool is_unix() const { return !unix_path.empty(); }
};

// Listen()
//
// Creates a listening stream socket for `where` with SOCK_NONBLOCK | SOCK_CLOEXEC (EP8: the
// listener is in the event loop too, and a blocking accept would stall every client), binds it
// and listens with `backlog`. TCP: binds 127.0.0.1 with SO_REUSEADDR; port 0 picks a free port
// (BoundEndpoint() tells which). Unix: binds the path, which must not exist (the caller removes
// the socket file when done; nothing here unlinks it).
//
// Errors: INVALID_ARGUMENT for a Unix path longer than sun_path allows (107 bytes), before any
// system call; EADDRINUSE from bind when the path or port is taken (a stale socket file from a
// crashed run: remove it first); other errno codes from socket, setsockopt, bind or listen, named
// in the message.
// Nothing is left open on failure.
absl::StatusOr<ScopedFd> Listen(const Endpoint& where, int backlog = 4096);

// BoundEndpoint()
//
// The endpoint a listening socket `fd` is bound to (getsockname): its Unix path, or its TCP port.
// Errors: getsockname's; INVALID_ARGUMENT for a family other than AF_UNIX or AF_INET.
absl::StatusOr<Endpoint> BoundEndpoint(int fd);

// ---------------------------------------------------------------------------------------------
// Task 2: four ways to wait for readiness behind one interface.

// The readiness mechanism a Poller uses.
enum class Backend {
  kSelect,      // select(2): fd_set bitmaps, fds below FD_SETSIZE (1024) only (EP3)
  kPoll,        // poll(2): an array of pollfd, scanned in full on every call (EP5)
  kEpollLevel,  // epoll(7), level-triggered: reported while the condition holds (EP6, EP7)
  kEpollEdge,   // epoll(7), EPOLLET: reported once per change; drain to EAGAIN (EP7)
};

// BackendName()
//
// "select", "poll", "epoll-lt", "epoll-et".
absl::string_view BackendName(Backend backend);

// Interest and event bits. An Event's `events` may also carry kHangup and kError, which are
// always reported whatever the interest (EPOLLHUP/EPOLLERR, POLLHUP/POLLERR; EPOLLRDHUP is
// folded into kHangup).
inline constexpr uint32_t kReadable = 1u << 0;
inline constexpr uint32_t kWritable = 1u << 1;
inline constexpr uint32_t kHangup = 1u << 2;
inline constexpr uint32_t kError = 1u << 3;

// One ready descriptor.
struct Event {
  int fd = -1;
  uint32_t events = 0;  // kReadable | kWritable | kHangup | kError
};

// Poller
//
// A set of non-blocking descriptors with an interest each, and a wait for the ready ones. Made
// by MakePoller(). Not thread-safe: one event loop owns it. The Poller never owns the
// descriptors in its set: close one only after Remove() (closing first leaves a stale entry in
// poll/select, and epoll silently drops it).
class Poller {
 public:
  virtual ~Poller() = default;

  // Poller::Add()
  //
  // Adds `fd` with `interest` (kReadable and/or kWritable; 0 is allowed and waits for hang-ups
  // only). Errors:
  //   FAILED_PRECONDITION  the descriptor is not O_NONBLOCK (EP8: one blocking read in an event
  //                        loop stalls every client; edge-triggered mode cannot work without it);
  //   INVALID_ARGUMENT     select only: fd >= FD_SETSIZE; the message says so (EP3). FD_SET on
  //                        such a descriptor writes past the fd_set: never call it;
  //   EBADF                `fd` is not an open descriptor (checked with fcntl for select/poll);
  //   EEXIST               `fd` is already in the set;
  //   other errno codes from epoll_ctl.
  virtual absl::Status Add(int fd, uint32_t interest) = 0;

  // Poller::Modify()
  //
  // Replaces the interest of `fd`. With epoll this is EPOLL_CTL_MOD, which re-arms an edge-
  // triggered descriptor: a condition that already holds is reported again. Errors: ENOENT if
  // `fd` is not in the set; epoll_ctl's.
  virtual absl::Status Modify(int fd, uint32_t interest) = 0;

  // Poller::Remove()
  //
  // Takes `fd` out of the set. Errors: ENOENT if it is not in the set; epoll_ctl's.
  virtual absl::Status Remove(int fd) = 0;

  // Poller::Wait()
  //
  // Waits until at least one descriptor is ready or `timeout` passes (absl::InfiniteDuration():
  // no limit; absl::ZeroDuration(): just look), then replaces the contents of `events` with the
  // ready descriptors (at most max_events() of them) and returns their number. A timeout returns
  // 0. A signal (EINTR) also returns 0: the caller's loop decides what to do (TLPI style).
  // Errors: errno codes from select, poll or epoll_wait.
  virtual absl::StatusOr<size_t> Wait(absl::Duration timeout, std::vector<Event>& events) = 0;

  // Poller::size()
  //
  // The number of descriptors in the set.
  virtual size_t size() const = 0;

  // Poller::backend()
  virtual Backend backend() const = 0;

  // Poller::max_events()
  //
  // The most events one Wait() returns.
  virtual size_t max_events() const = 0;
};

// MakePoller()
//
// Returns an empty Poller of `backend` that returns at most `max_events` (>= 1) events per
// Wait(). epoll: the epoll descriptor is made with epoll_create1(EPOLL_CLOEXEC) and closed by the
// Poller's destructor. Errors: INVALID_ARGUMENT for max_events 0; epoll_create1's.
absl::StatusOr<std::unique_ptr<Poller>> MakePoller(Backend backend, size_t max_events = 256);

// ---------------------------------------------------------------------------------------------
// Task 3 to 5: the echo server.
//
// The wire format, both directions: frames of a 4-byte little-endian payload length, then the
// payload. The server sends every complete frame back unchanged, in order, per connection.

// The length prefix of a frame.
inline constexpr size_t kFrameHeaderSize = 4;

// The most bytes the server asks for in one read(2) of a client.
inline constexpr size_t kMaxReadChunk = 64 * 1024;

// Options for EchoServer::Create.
struct ServerOptions {
  Backend backend = Backend::kEpollEdge;
  // The largest payload accepted. A frame that declares 0 bytes or more than this is garbage:
  // the server logs why and closes that connection, and keeps serving everyone else.
  size_t max_frame = 64 * 1024;
  // Back pressure: when a connection's unsent output reaches this many bytes, the server stops
  // reading from it (drops kReadable) until the client has read enough to bring it below again.
  // A client that never reads therefore costs a bounded amount of memory: its unsent output
  // never exceeds output_limit + kMaxReadChunk + kFrameHeaderSize + max_frame (one read can
  // complete a frame begun earlier and bring in more).
  size_t output_limit = 256 * 1024;
  // A connection that sends nothing for this long is closed (timerfd). Infinite: never.
  absl::Duration idle_timeout = absl::InfiniteDuration();
  // SIGTERM and SIGINT end Run() cleanly (through a signalfd). See EchoServer::Create.
  bool handle_signals = true;
  // A POSIX message queue descriptor (O_NONBLOCK) in the same loop, or -1. Each message received
  // on it is counted in ServerStats::queue_messages, and a message "stop" ends Run() like Stop().
  mqd_t control_queue = -1;
  // Where the server logs one line per disconnected client and why ("client 7: frame of 70000
  // bytes exceeds the limit of 65536"). Default (empty): standard error.
  std::function<void(absl::string_view)> log;
};

// What a server did; every field counts since Create. Trivially copyable, so a test can copy it
// into shared memory for the parent process.
struct ServerStats {
  uint64_t accepted = 0;        // connections accepted
  uint64_t closed = 0;          // connections closed, for whatever reason
  uint64_t frames = 0;          // complete frames echoed (queued for sending)
  uint64_t bytes_in = 0;        // bytes read from clients
  uint64_t bytes_out = 0;       // bytes written to clients
  uint64_t rejected = 0;        // connections closed for a bad frame (0 or > max_frame)
  uint64_t idle_closed = 0;     // connections closed by the idle timeout
  uint64_t accept_emfile = 0;   // accepts refused for lack of descriptors (EMFILE/ENFILE)
  uint64_t read_pauses = 0;     // times back pressure stopped reading from a connection
  uint64_t max_output = 0;      // the largest unsent output one connection ever had, in bytes
  uint64_t wakeups = 0;         // Poller::Wait calls that returned
  uint64_t queue_messages = 0;  // messages received on options.control_queue
};

// EchoServer
//
// One thread, many clients: accepts connections on a listening socket and echoes frames, with
// every descriptor non-blocking in one Poller. Move-only. Run() and every other member except
// Stop() belong to one thread.
class EchoServer {
 public:
  // EchoServer::Create()
  //
  // Takes ownership of `listener` (a listening socket, made O_NONBLOCK here if it is not) and
  // prepares the loop: a Poller of options.backend; an eventfd (EFD_NONBLOCK) for Stop(); a
  // timerfd for idle timeouts when options.idle_timeout is finite; if options.handle_signals,
  // SIGTERM and SIGINT are blocked in the calling thread (pthread_sigmask) and read from a
  // signalfd instead, so a signal can never arrive between two system calls of the loop; a spare
  // descriptor (open("/dev/null")) kept for the EMFILE trick; options.control_queue if given.
  // The destructor closes all of them and every client, and restores the signal mask.
  //
  // Errors: INVALID_ARGUMENT for an invalid listener or max_frame 0 or output_limit 0; errno
  // codes from the calls above. Nothing is left open on failure.
  static absl::StatusOr<EchoServer> Create(ScopedFd listener, const ServerOptions& options);

  // EchoServer::Run()
  //
  // Serves until SIGTERM/SIGINT arrives on the signalfd, Stop() is called, or "stop" arrives on
  // the control queue; then closes every client connection and returns OK. Per ready descriptor:
  //   listener  accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) until EAGAIN. On EMFILE/ENFILE: close the
  //             spare descriptor, accept and close the connection at once, reopen the spare (the
  //             client sees EOF; the listener is not left readable, so the loop does not spin).
  //   client    read until EAGAIN (EP7: edge-triggered reports a burst once), cut complete frames,
  //             append each to the output buffer, write what the socket takes; register
  //             kWritable only while output is pending (EP8); apply back pressure (output_limit).
  //             EOF, ECONNRESET, EPIPE, kHangup or kError: close it (a client may vanish
  //             mid-frame). A bad frame: log, count in `rejected`, close it.
  //   EINTR anywhere is retried.
  // Errors: a failure of the loop itself (Poller::Wait, accept errors other than those above,
  // reading the signalfd); client errors never end Run().
  absl::Status Run();

  // EchoServer::Stop()
  //
  // Makes Run() return soon: writes 1 to the server's eventfd. Thread-safe and async-signal-safe
  // (it is one write(2)); may be called before Run(). Errors: write's.
  absl::Status Stop() const;

  // EchoServer::stats()
  //
  // What the server has done so far.
  const ServerStats& stats() const;

  // EchoServer::connections()
  //
  // The client connections open now.
  size_t connections() const;

  EchoServer(EchoServer&& other) noexcept;
  EchoServer& operator=(EchoServer&& other) noexcept;
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  ~EchoServer();

  // The server's state, defined by the implementation (epoll.cc).
  struct State;

 private:
  explicit EchoServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Task 6: a flag in shared memory that a process can sleep on (EP1, EP11).

// FlagChannel
//
// A 64-bit word in MAP_SHARED | MAP_ANONYMOUS memory plus an eventfd, both inherited across
// fork(): any process may Post() and any may Wait(). A post stores the value (release) and then
// adds 1 to the eventfd counter; the eventfd is what a waiter sleeps on, in epoll, alongside any
// other descriptors (event_fd()). poll() or epoll alone cannot watch a memory word (EP1): that
// is why the eventfd is there. Move-only; the destructor unmaps and closes (in this process).
class FlagChannel {
 public:
  // FlagChannel::Create()
  //
  // Maps the shared word (zero: nothing posted) and creates the eventfd with EFD_NONBLOCK.
  // Errors: mmap's, eventfd's. Nothing is left on failure.
  static absl::StatusOr<FlagChannel> Create();

  // FlagChannel::Post()
  //
  // Publishes `value` (which must not be 0) and wakes waiters. A later post overwrites a value
  // nobody has taken yet. Errors: INVALID_ARGUMENT for 0; FAILED_PRECONDITION on an empty
  // (moved-from) channel; write's errors.
  absl::Status Post(uint64_t value);

  // FlagChannel::TryTake()
  //
  // Takes the posted value if there is one (and resets the word to 0 and drains the eventfd);
  // nullopt otherwise. Never blocks. Errors: FAILED_PRECONDITION on an empty channel; read's
  // errors other than EAGAIN.
  absl::StatusOr<std::optional<uint64_t>> TryTake();

  // FlagChannel::Wait()
  //
  // Sleeps in epoll_wait on event_fd() until a value is posted or `timeout` passes, then takes
  // it. Uses no CPU while it waits. Errors: DEADLINE_EXCEEDED when nothing was posted in time;
  // FAILED_PRECONDITION on an empty channel; errno codes from epoll_create1, epoll_ctl,
  // epoll_wait or read.
  absl::StatusOr<uint64_t> Wait(absl::Duration timeout);

  // FlagChannel::event_fd()
  //
  // The eventfd (owned by the channel; non-blocking). Readable while a post has not been taken.
  int event_fd() const { return event_fd_.get(); }

  // FlagChannel::word()
  //
  // The shared word itself (for tests and for the broken version in broken.h); nullptr if empty.
  std::atomic<uint64_t>* word() const { return word_; }

  FlagChannel() = default;
  FlagChannel(FlagChannel&& other) noexcept
      : word_(std::exchange(other.word_, nullptr)), event_fd_(std::move(other.event_fd_)) {}
  FlagChannel& operator=(FlagChannel&& other) noexcept;
  FlagChannel(const FlagChannel&) = delete;
  FlagChannel& operator=(const FlagChannel&) = delete;
  ~FlagChannel();

 private:
  FlagChannel(std::atomic<uint64_t>* word, ScopedFd event_fd)
      : word_(word), event_fd_(std::move(event_fd)) {}

  std::atomic<uint64_t>* word_ = nullptr;  // MAP_SHARED; release on post, acquire on take
  ScopedFd event_fd_;                      // counts posts not yet taken
};

// ---------------------------------------------------------------------------------------------
// Task 7: message queues and a pipe in one epoll set (EP2).

// Where a dispatched message came from.
struct Delivery {
  int source = -1;      // the index in `queues`, or -1 for the pipe
  std::string payload;  // one mq message, or one newline-terminated line from the pipe (no '\n')
};

// DispatchQueues()
//
// Waits on every queue in `queues` (each opened O_RDONLY | O_NONBLOCK; on Linux an mqd_t is a
// descriptor, which is what lets epoll watch it: not portable) and on the read end of a pipe
// `pipe_fd` (O_NONBLOCK) in one epoll set: epoll_create1, EPOLL_CTL_ADD each, epoll_wait for up
// to 10 events at a time, dispatch by data.fd. Each readable queue is drained with mq_receive
// until EAGAIN, each readable pipe read until EAGAIN, and `handler` is called once per message
// or line. Returns when the pipe reaches end of file, after draining the queues one last time
// (writers send their queue messages before closing the pipe). Errors: DEADLINE_EXCEEDED if the
// pipe is not closed within `timeout`; INVALID_ARGUMENT for a queue or pipe without O_NONBLOCK;
// errno codes from the calls above.
absl::Status DispatchQueues(const std::vector<mqd_t>& queues, int pipe_fd, absl::Duration timeout,
                            const std::function<void(const Delivery&)>& handler);

// ---------------------------------------------------------------------------------------------
// Task 8: a wait that never loses a signal (EP4).

// Why WaitForInputOrSignal returned.
enum class WakeReason { kReadable, kSignal, kTimeout };

// WaitForInputOrSignal()
//
// Waits until `fd` (below FD_SETSIZE) is readable, signal `signo` is delivered, or `timeout`
// passes. Requires `signo` to be blocked in the calling thread on entry (and leaves it blocked):
// it installs a handler for `signo` that sets a flag (restoring the previous action before it
// returns), checks the flag, calls `before_wait` if given (tests use it to send the signal at
// the worst moment), then waits with pselect and a mask that unblocks `signo` only for the
// duration of the wait, atomically. A signal that arrives before the wait stays pending and
// interrupts pselect at once; none is lost. Returns kSignal if the signal arrived (even if `fd`
// is also readable). Errors: FAILED_PRECONDITION if `signo` is not blocked; INVALID_ARGUMENT for
// fd >= FD_SETSIZE; errno codes from sigaction, pthread_sigmask or pselect.
absl::StatusOr<WakeReason> WaitForInputOrSignal(int fd, int signo, absl::Duration timeout,
                                                const std::function<void()>& before_wait = {});

// ---------------------------------------------------------------------------------------------
// Task 9: io_uring, completions instead of readiness (EP10).

// UringAvailable()
//
// OK if this process may create an io_uring (io_uring_queue_init of a small ring succeeds);
// otherwise UNAVAILABLE with a plain sentence: "io_uring is not available here
// (io_uring_queue_init: Operation not permitted [EPERM]); kernel.io_uring_disabled or a seccomp
// policy forbids it".
absl::Status UringAvailable();

// UringEchoServer
//
// The echo server of Task 3 on an io_uring: accept, recv and send are submissions; completions
// are matched to connections by user_data; a short send is resubmitted for the rest; nothing
// waits for readiness. Frames are not parsed: bytes are echoed as they come. It stops on Stop()
// (a read submitted on its eventfd completes). Move-only; one thread runs it.
class UringEchoServer {
 public:
  // UringEchoServer::Create()
  //
  // Takes ownership of `listener` and makes it blocking (io_uring does the waiting inside the
  // kernel; on an O_NONBLOCK socket accept and recv would complete at once with -EAGAIN); sets up
  // a ring of `entries` entries and the eventfd.
  // Errors: UNAVAILABLE as UringAvailable(); INVALID_ARGUMENT for an invalid listener; fcntl's
  // and eventfd's.
  static absl::StatusOr<UringEchoServer> Create(ScopedFd listener, unsigned entries = 256);

  // UringEchoServer::Run()
  //
  // Serves until Stop(); then closes every connection and returns OK. Errors: a failed
  // submission or completion of the loop itself (not of one client: that client is closed).
  absl::Status Run();

  // UringEchoServer::Stop()
  //
  // Thread-safe and async-signal-safe: writes the eventfd. Errors: write's.
  absl::Status Stop() const;

  // UringEchoServer::stats()
  //
  // accepted, closed, bytes_in, bytes_out and wakeups (completion batches) are counted.
  const ServerStats& stats() const;

  UringEchoServer(UringEchoServer&& other) noexcept;
  UringEchoServer& operator=(UringEchoServer&& other) noexcept;
  UringEchoServer(const UringEchoServer&) = delete;
  UringEchoServer& operator=(const UringEchoServer&) = delete;
  ~UringEchoServer();

  // The server's state, defined by the implementation.
  struct State;

 private:
  explicit UringEchoServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// CopyFileUring()
//
// Copies `in` (from offset 0 to its end, found with fstat) to `out` (from offset 0) with
// io_uring: each chunk of `chunk` bytes is a read linked (IOSQE_IO_LINK) to the write of the same
// buffer, several pairs in flight. A short read or write is finished with a plain follow-up
// submission. Returns the bytes copied. Errors: UNAVAILABLE as UringAvailable(); INVALID_ARGUMENT
// for chunk 0; the errno of a failed read or write completion, named ("io_uring read of fd 5").
absl::StatusOr<uint64_t> CopyFileUring(int in, int out, size_t chunk = 64 * 1024);

// CopyFileReadWrite()
//
// The same copy with a read(2)/write(2) loop (the readiness world's way: one system call per
// step), for comparison. Errors: read's and write's.
absl::StatusOr<uint64_t> CopyFileReadWrite(int in, int out, size_t chunk = 64 * 1024);

// ---------------------------------------------------------------------------------------------
// Task 10: EPOLLONESHOT, for a loop that hands ready connections to worker threads.

// WorkerPoolServer
//
// An echo server (bytes, not frames: whatever a client sends comes back) whose ready
// connections are served by `workers` threads that all wait in epoll_wait on ONE epoll set. Each
// client is registered with EPOLLIN | EPOLLONESHOT: once reported to one worker it is disarmed,
// and the worker re-arms it with EPOLL_CTL_MOD only when it has finished with it (EPOLLIN, or
// EPOLLOUT while output is pending). So two workers never serve the same connection at once;
// without ONESHOT, data arriving while worker A is reading wakes worker B for the same socket,
// and two threads share one buffer (a data race that --config=tsan reports, and echoes that come
// back out of order). The thread that calls Run() accepts. Move-only.
//
// ThreadSanitizer does not model EPOLL_CTL_MOD as a release, so also hold a per-connection mutex
// while serving it, from epoll_wait until after the MOD that re-arms it (uncontended with
// ONESHOT); without it --config=tsan reports a race the kernel in fact prevents.
class WorkerPoolServer {
 public:
  // WorkerPoolServer::Create()
  //
  // Takes ownership of `listener`; makes the workers' epoll set, the accept loop's epoll set and
  // an eventfd for Stop(). Starts no thread yet. Errors: INVALID_ARGUMENT for an invalid
  // listener or workers < 1; epoll_create1's and eventfd's.
  static absl::StatusOr<WorkerPoolServer> Create(ScopedFd listener, int workers);

  // WorkerPoolServer::Run()
  //
  // Starts the workers, accepts (accept4 with SOCK_NONBLOCK) until Stop(), then wakes every
  // worker (the eventfd sits in their set too, level-triggered and not ONESHOT), joins them and
  // closes every connection. Returns OK. Errors: the accept loop's own failures, or a worker's.
  absl::Status Run();

  // WorkerPoolServer::Stop()
  //
  // Thread-safe and async-signal-safe: writes the eventfd. Errors: write's.
  absl::Status Stop() const;

  // WorkerPoolServer::stats()
  //
  // accepted, closed, bytes_in, bytes_out and wakeups (events the workers handled). Read it after
  // Run() has returned.
  const ServerStats& stats() const;

  WorkerPoolServer(WorkerPoolServer&& other) noexcept;
  WorkerPoolServer& operator=(WorkerPoolServer&& other) noexcept;
  WorkerPoolServer(const WorkerPoolServer&) = delete;
  WorkerPoolServer& operator=(const WorkerPoolServer&) = delete;
  ~WorkerPoolServer();

  // The server's state, defined by the implementation.
  struct State;

 private:
  explicit WorkerPoolServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace epoll

#endif  // IPC_LABS_LABS_EPOLL_EPOLL_H_
