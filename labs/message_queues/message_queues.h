// labs/message_queues/message_queues.h: the contract of the message-queue lab.
//
// Two kernels' worth of message queues behind one small library, and the programs a course
// builds on them:
//   - System V queues (SysvQueue): typed messages, selective receive by `mtype`, a priority
//     receive with a negative type, IPC_NOWAIT, MSG_NOERROR, IPC_STAT / IPC_SET / IPC_RMID, and
//     one queue as a mailbox addressed by the client's pid.
//   - POSIX queues (PosixQueue): named, sized by mq_attr within /proc/sys/fs/mqueue, priorities,
//     timed and non-blocking operations, mq_notify, and descriptors that poll/epoll can watch.
//   - On top: an epoll "most urgent queue first" receiver, fragmentation of large payloads, a
//     worker pool over a task and a result queue, and a request/response server with per-client
//     reply queues and at-most-once execution.
//
// You implement message_queues.cc (the partner of this header); the tests in
// message_queues_test.cc and the program mq_server.cc use only what is declared here.
//   bazel --output_base=... test //labs/message_queues:message_queues_test
//
// Errors: every failed system call comes back as ipc::ErrnoError("call", object), so a test can
// check the exact errno (HasErrno(EAGAIN)). Checks this library makes itself (bad names, bad
// sizes, bad priorities) also carry an errno, named in each comment below, so that the caller
// sees one kind of error whoever found the problem.
#ifndef IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_H_
#define IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_H_

#include <mqueue.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status.h"

namespace message_queues {

// ---------------------------------------------------------------------------------------------
// System limits (MQ9, MQ19)
// ---------------------------------------------------------------------------------------------

// The queue limits of this IPC namespace, as the kernel publishes them.
struct MqLimits {
  long msg_max = 0;          // /proc/sys/fs/mqueue/msg_max: largest mq_maxmsg (unprivileged)
  long msgsize_max = 0;      // /proc/sys/fs/mqueue/msgsize_max: largest mq_msgsize (unprivileged)
  long msg_default = 0;      // /proc/sys/fs/mqueue/msg_default: mq_maxmsg when attr is NULL
  long msgsize_default = 0;  // /proc/sys/fs/mqueue/msgsize_default: mq_msgsize when attr is NULL
  long sysv_msgmax = 0;      // /proc/sys/kernel/msgmax: largest System V message text
  long sysv_msgmnb = 0;      // /proc/sys/kernel/msgmnb: default msg_qbytes of a new SysV queue
};

// ReadMqLimits()
//
// Reads the six files above. Errors: a file cannot be opened (its errno, naming the file) or does
// not hold a number (INVALID_ARGUMENT naming the file).
absl::StatusOr<MqLimits> ReadMqLimits();

// ---------------------------------------------------------------------------------------------
// System V message queues (MQ1-MQ6)
// ---------------------------------------------------------------------------------------------

// The text part of a System V message, in bytes (the notes' `mtext[256]`).
inline constexpr size_t kSysvTextSize = 256;

// The longest text Send() accepts: the text travels with its terminating NUL, and the size given
// to msgsnd is the text length + 1, excluding mtype (MQ2).
inline constexpr size_t kSysvMaxText = kSysvTextSize - 1;

// The layout msgsnd and msgrcv expect: a positive `long` type first, then the text.
struct SysvMessage {
  long mtype;                 // > 0; msgrcv selects on it
  char mtext[kSysvTextSize];  // the text and its NUL
};
static_assert(std::is_standard_layout_v<SysvMessage> &&
                  offsetof(SysvMessage, mtext) == sizeof(long),
              "msgsnd reads the type from the first sizeof(long) bytes");

// The text a Receive() sends by convention to tell a receiver to stop (MQ5).
inline constexpr absl::string_view kQuit = "quit";

// One received System V message.
struct SysvReceived {
  long type = 0;     // the message's mtype
  std::string text;  // its text, without the NUL (truncated by MSG_NOERROR, if asked)
};

// How SysvQueue::Receive() waits and copes with long messages.
struct SysvReceiveOptions {
  bool nowait = false;    // IPC_NOWAIT: fail with ENOMSG instead of waiting
  bool truncate = false;  // MSG_NOERROR: cut a long message to `buffer_size` instead of E2BIG
  size_t buffer_size = kSysvTextSize;  // the size of the text buffer passed to msgrcv (<= 256)
};

// What msgctl(IPC_STAT) reports about a queue.
struct SysvQueueStat {
  size_t messages = 0;      // msg_qnum: messages queued now
  size_t bytes_queued = 0;  // __msg_cbytes: bytes of text queued now
  size_t max_bytes = 0;     // msg_qbytes: the most text bytes the queue holds
  mode_t mode = 0;          // msg_perm.mode & 0777: the permission bits
  uid_t owner_uid = 0;      // msg_perm.uid
  pid_t last_sender = 0;    // msg_lspid
  pid_t last_receiver = 0;  // msg_lrpid
};

// SysvQueue
//
// A handle on one System V message queue. The queue is a kernel object that outlives every
// process: it exists until msgctl(IPC_RMID). A handle made by Create() *owns* the queue and its
// destructor removes it (so a failing test cleans up); Open() and Attach() make handles that do
// not. Move-only. A forked child may use the parent's handle (Child::Fork ends with _exit, so
// the child never runs the destructor).
class SysvQueue {
 public:
  // SysvQueue::Create()
  //
  // Creates a new queue under `key` (a key from ipc::UniqueSysvKey() or ftok, or IPC_PRIVATE)
  // with msgget(key, IPC_CREAT | IPC_EXCL | mode): exclusive, so a foreign queue under the same
  // key is an error, not a queue to share by accident; and with explicit permission bits, as
  // msgget(key, IPC_CREAT) alone creates a queue with mode 0 (MQ6). Returns an owning handle.
  // Errors: EEXIST (key in use), ENOSPC (msgmni reached), EINVAL if `mode` has bits outside 0777.
  static absl::StatusOr<SysvQueue> Create(key_t key, mode_t mode = 0600);

  // SysvQueue::Open()
  //
  // Opens the existing queue under `key` (msgget(key, 0)); the handle does not own it.
  // Errors: ENOENT (no such queue), EACCES.
  static absl::StatusOr<SysvQueue> Open(key_t key);

  // SysvQueue::Attach()
  //
  // A non-owning handle on queue `id` (for example an IPC_PRIVATE queue's id passed to an
  // exec'd program). Checks nothing: a bad id fails at first use with EINVAL.
  static SysvQueue Attach(int id);

  SysvQueue(SysvQueue&& other) noexcept;
  SysvQueue& operator=(SysvQueue&& other) noexcept;
  SysvQueue(const SysvQueue&) = delete;
  SysvQueue& operator=(const SysvQueue&) = delete;

  // Removes the queue if this handle owns it and it was not removed; errors are ignored.
  ~SysvQueue();

  // SysvQueue::id()
  //
  // The queue's identifier (msqid).
  int id() const { return id_; }

  // SysvQueue::Send()
  //
  // Sends `text` (and its NUL) as a message of type `type`; waits while the queue is full,
  // unless `nowait` (IPC_NOWAIT). Retries on EINTR. Errors: EINVAL for type <= 0 or an empty
  // text (say what you mean with a sentinel such as kQuit); EMSGSIZE for a text longer than
  // kSysvMaxText (checked before any call); EAGAIN if `nowait` and the queue is full; EIDRM if the
  // queue was removed while waiting; EACCES.
  absl::Status Send(long type, absl::string_view text, bool nowait = false);

  // SysvQueue::Receive()
  //
  // Receives one message, chosen by `type` as msgrcv does:
  //   0    the first message in the queue, whatever its type (FIFO, *not* priority: MQ4);
  //   > 0  the first message of exactly that type (MQ3);
  //   < 0  the first message of the lowest type <= |type| (a priority receive: MQ4).
  // Passes options.buffer_size as msgrcv's size (MQ2). Retries on EINTR. Errors: EINVAL if
  // buffer_size is 0 or above kSysvTextSize; E2BIG if the chosen message is longer than the
  // buffer and not `truncate` (it stays queued); ENOMSG if `nowait` and nothing matches; EIDRM
  // if the queue is removed while waiting (MQ5); EINVAL if it no longer exists.
  absl::StatusOr<SysvReceived> Receive(long type, const SysvReceiveOptions& options = {});

  // SysvQueue::Stat()
  //
  // msgctl(IPC_STAT). Errors: EINVAL (no such queue), EACCES.
  absl::StatusOr<SysvQueueStat> Stat() const;

  // SysvQueue::SetMaxBytes()
  //
  // Sets msg_qbytes with msgctl(IPC_SET): how many text bytes the queue holds before a sender
  // waits (or gets EAGAIN). Lowering it needs no privilege; raising it above msgmnb needs
  // CAP_SYS_RESOURCE. Errors: EPERM, EINVAL.
  absl::Status SetMaxBytes(size_t max_bytes);

  // SysvQueue::Remove()
  //
  // msgctl(IPC_RMID): removes the queue now. Every process blocked on it wakes with EIDRM.
  // After this the handle owns nothing. Errors: EINVAL (already gone), EPERM (not the owner).
  absl::Status Remove();

 private:
  SysvQueue(int id, bool owned) : id_(id), owned_(owned) {}

  int id_ = -1;         // msqid, or -1 after a move or Remove()
  bool owned_ = false;  // true: the destructor removes the queue
};

// ReceiveMostUrgent()
//
// Receives the message with the lowest type in [1, least_urgent_type] (msgtyp =
// -least_urgent_type), oldest first among equals: with types as severities (1 = ERROR ... 4 =
// DEBUG) an ERROR queued behind 100 DEBUGs comes out first, which type 0 does not do (MQ4). Errors:
// EINVAL if least_urgent_type <= 0; otherwise as SysvQueue::Receive().
absl::StatusOr<SysvReceived> ReceiveMostUrgent(SysvQueue& queue, long least_urgent_type,
                                               bool nowait = false);

// DrainUntilShutdown()
//
// The notes' receiver: receives messages of `type` and collects their texts until either the
// text kQuit arrives (not collected) or the queue is removed under it (EIDRM; or EINVAL if it was
// gone before the call), which are both orderly ends (MQ5). Errors: any other failure of Receive.
absl::StatusOr<std::vector<std::string>> DrainUntilShutdown(SysvQueue& queue, long type);

// The mtype a mailbox server receives on. Clients receive on their own pid, which is > 1.
inline constexpr long kMailboxServerType = 1;

// ServeMailbox()
//
// One System V queue as a mailbox with direct addressing: receives `requests` requests of type
// kMailboxServerType, each "<client pid> <text>", and answers each with a message of type <client
// pid> whose text is <text> in upper case. Errors: INVALID_ARGUMENT (errno EBADMSG) for a request
// without a valid pid; Send/Receive errors.
absl::Status ServeMailbox(SysvQueue& queue, int requests);

// CallMailbox()
//
// The client side: sends "<getpid()> <text>" with type kMailboxServerType and waits for the reply
// of type getpid(), so many clients share one queue and each gets only its own reply. Errors: as
// Send (EMSGSIZE if the request would not fit) and Receive.
absl::StatusOr<std::string> CallMailbox(SysvQueue& queue, absl::string_view text);

// ---------------------------------------------------------------------------------------------
// POSIX message queues (MQ8-MQ15, MQ18)
// ---------------------------------------------------------------------------------------------

// The highest priority mq_send accepts on Linux (MQ_PRIO_MAX - 1).
inline constexpr long kMaxPriority = 32767;

// How PosixQueue::Create() makes a queue.
struct QueueOptions {
  // mq_maxmsg and mq_msgsize. Both 0: the system defaults (attr NULL: msg_default messages of
  // msgsize_default bytes, 10 x 8192 on Linux). Otherwise both must be > 0.
  long max_messages = 10;
  long message_size = 256;
  mode_t mode = 0600;        // the queue's permission bits (no more than 0777)
  bool nonblocking = false;  // O_NONBLOCK on the returned descriptor
};

// What mq_getattr reports.
struct QueueAttributes {
  long max_messages = 0;      // mq_maxmsg
  long message_size = 0;      // mq_msgsize
  long current_messages = 0;  // mq_curmsgs
  bool nonblocking = false;   // O_NONBLOCK in mq_flags
};

// One POSIX message.
struct Message {
  std::string payload;    // the bytes sent; may contain NULs
  unsigned priority = 0;  // 0 (lowest) .. kMaxPriority
};

// PosixQueue
//
// An open POSIX message queue descriptor, closed by the destructor (mq_close). The *name* is
// separate from the descriptor: the queue lives until mq_unlink(name) and the last close, so
// removing it is the explicit call Unlink(). Move-only. On Linux the descriptor is a file
// descriptor: poll/epoll/select watch it (fd()), and fstat shows the queue's mode.
class PosixQueue {
 public:
  // PosixQueue::Create()
  //
  // Creates the queue `name` exclusively (O_CREAT | O_EXCL | O_RDWR) with exactly the mode and
  // attributes in `options`: passes both the mode and a filled mq_attr to mq_open (leaving them
  // out of a variadic call with O_CREAT reads garbage: MQ8), and sets the mode again with fchmod
  // so the umask cannot narrow it. Errors, all before any queue exists:
  //   INVALID_ARGUMENT (EINVAL) for a bad name (no leading '/', a second '/', too long: MQ15),
  //     a mode outside 0777, or sizes where only one is 0 or either is negative;
  //   EINVAL naming the limit file and its value when max_messages > msg_max or message_size >
  //     msgsize_max (MQ9) (checked even for root, so the code works unprivileged too);
  //   mq_open's: EEXIST, EACCES, EMFILE, ENOSPC (queues_max), EMFILE (RLIMIT_MSGQUEUE).
  static absl::StatusOr<PosixQueue> Create(const std::string& name,
                                           const QueueOptions& options = {});

  // PosixQueue::Open()
  //
  // Opens the existing queue `name` for reading and writing. Errors: INVALID_ARGUMENT (EINVAL) for
  // a bad name; ENOENT, EACCES.
  static absl::StatusOr<PosixQueue> Open(const std::string& name, bool nonblocking = false);

  // PosixQueue::Unlink()
  //
  // mq_unlink(name): the name disappears now; open descriptors keep working and the queue is
  // freed at the last close. Errors: INVALID_ARGUMENT (EINVAL) for a bad name; ENOENT; EACCES.
  static absl::Status Unlink(const std::string& name);

  PosixQueue(PosixQueue&& other) noexcept;
  PosixQueue& operator=(PosixQueue&& other) noexcept;
  PosixQueue(const PosixQueue&) = delete;
  PosixQueue& operator=(const PosixQueue&) = delete;
  ~PosixQueue();

  // PosixQueue::name()
  //
  // The name the queue was created or opened under.
  const std::string& name() const { return name_; }

  // PosixQueue::fd()
  //
  // The descriptor, for poll/epoll (readable: a message is queued; writable: there is room).
  // Owned by this object.
  int fd() const { return static_cast<int>(mqd_); }

  // PosixQueue::message_size()
  //
  // mq_msgsize, read with mq_getattr when the queue was opened.
  long message_size() const { return message_size_; }

  // PosixQueue::Send()
  //
  // mq_send: queues `payload` with `priority`; waits while the queue is full unless the
  // descriptor is non-blocking. Retries on EINTR. Errors: EINVAL for an empty payload or a
  // priority outside [0, kMaxPriority] (a negative priority is not silently made huge);
  // EMSGSIZE for a payload longer than message_size() (checked first); EAGAIN when full and
  // non-blocking.
  absl::Status Send(absl::string_view payload, long priority = 0);

  // PosixQueue::TimedSend()
  //
  // As Send(), but waits at most `timeout` for room (mq_timedsend). Errors: as Send(), and
  // ETIMEDOUT.
  absl::Status TimedSend(absl::string_view payload, long priority, absl::Duration timeout);

  // PosixQueue::Receive()
  //
  // mq_receive: the oldest message of the highest priority; waits while the queue is empty unless
  // the descriptor is non-blocking. The buffer is message_size() bytes, as mq_receive requires
  // (a smaller one fails every call with EMSGSIZE: MQ12), and the payload keeps its exact length
  // (no terminator written past it: MQ13). Retries on EINTR. Errors: EAGAIN when empty and
  // non-blocking (MQ14).
  absl::StatusOr<Message> Receive();

  // PosixQueue::TimedReceive()
  //
  // As Receive(), waiting at most `timeout` (mq_timedreceive; no sleep-and-retry loop).
  // Errors: ETIMEDOUT; EAGAIN if non-blocking and empty.
  absl::StatusOr<Message> TimedReceive(absl::Duration timeout);

  // PosixQueue::TryReceive()
  //
  // Receives a message if one is queued and otherwise fails at once with EAGAIN, whether or not
  // the descriptor is non-blocking.
  absl::StatusOr<Message> TryReceive();

  // PosixQueue::GetAttributes()
  //
  // mq_getattr.
  absl::StatusOr<QueueAttributes> GetAttributes() const;

  // PosixQueue::SetNonBlocking()
  //
  // mq_setattr: turns O_NONBLOCK on or off on this descriptor (the only attribute it changes).
  absl::Status SetNonBlocking(bool nonblocking);

  // PosixQueue::Mode()
  //
  // The queue's permission bits (fstat on the descriptor, & 0777).
  absl::StatusOr<mode_t> Mode() const;

  // PosixQueue::Notify()
  //
  // mq_notify with SIGEV_SIGNAL: the next time a message arrives in the *empty* queue while no
  // process is blocked receiving, signal `signo` is sent to this process, once; then the
  // registration is gone and must be made again. Errors: EBUSY if another process is registered
  // on this queue; EINVAL for a bad signal.
  absl::Status Notify(int signo);

  // PosixQueue::CancelNotify()
  //
  // Removes this process's registration (mq_notify with NULL). Errors: EBADF.
  absl::Status CancelNotify();

 private:
  PosixQueue(mqd_t mqd, std::string name, long message_size)
      : mqd_(mqd), name_(std::move(name)), message_size_(message_size) {}

  mqd_t mqd_ = static_cast<mqd_t>(-1);  // owned; -1 after a move
  std::string name_;                    // for error messages and Unlink
  long message_size_ = 0;               // mq_msgsize, the receive buffer size
};

// SendStruct()
//
// Sends a plain struct as raw bytes (MQ18). Only a trivially copyable type has a meaning as
// bytes in another process (no pointers, no vtable, no std::string inside); the size check
// against mq_msgsize is Send()'s (EMSGSIZE).
template <typename T>
absl::Status SendStruct(PosixQueue& queue, const T& value, long priority = 0) {
  static_assert(std::is_trivially_copyable_v<T>,
                "only trivially copyable types can travel through a queue as bytes (MQ18)");
  return queue.Send(absl::string_view(reinterpret_cast<const char*>(&value), sizeof(T)), priority);
}

// ParseStruct()
//
// The other side: copies a received payload into a T. Errors: EBADMSG (INVALID_ARGUMENT) if the
// payload is not exactly sizeof(T) bytes.
template <typename T>
absl::StatusOr<T> ParseStruct(const Message& message) {
  static_assert(std::is_trivially_copyable_v<T>,
                "only trivially copyable types can travel through a queue as bytes (MQ18)");
  if (message.payload.size() != sizeof(T)) {
    return ipc::WithContext(
        ipc::ErrnoError("ParseStruct", "", EBADMSG),
        absl::StrCat("expected ", sizeof(T), " bytes, got ", message.payload.size()));
  }
  T value;
  std::memcpy(&value, message.payload.data(), sizeof(T));
  return value;
}

// ---------------------------------------------------------------------------------------------
// Priority across queues with epoll (MQ16)
// ---------------------------------------------------------------------------------------------

// UrgentQueueSet
//
// Several queues in one epoll set, ranked by urgency in the order they were added (first = most
// urgent: error, then warning, then info). Receive() waits until any is readable, then takes
// from the most urgent queue that has a message: epoll reports readiness in no useful order, so
// the ranking is this class's job. Does not own the queues (they must outlive it); owns the epoll
// descriptor. Move-only.
class UrgentQueueSet {
 public:
  // UrgentQueueSet::Create()
  //
  // epoll_create1(EPOLL_CLOEXEC). Errors: EMFILE, ENOMEM.
  static absl::StatusOr<UrgentQueueSet> Create();

  UrgentQueueSet(UrgentQueueSet&& other) noexcept;
  UrgentQueueSet& operator=(UrgentQueueSet&& other) noexcept;
  UrgentQueueSet(const UrgentQueueSet&) = delete;
  UrgentQueueSet& operator=(const UrgentQueueSet&) = delete;
  ~UrgentQueueSet();

  // UrgentQueueSet::Add()
  //
  // Adds `queue`, less urgent than those added before (EPOLLIN). Errors: epoll_ctl's (EEXIST if
  // added twice).
  absl::Status Add(PosixQueue& queue);

  // UrgentQueueSet::Receive()
  //
  // Returns the index (in Add order) of the most urgent queue with a message, and that message.
  // Waits at most `timeout`. Errors: ETIMEDOUT; FAILED_PRECONDITION if no queue was added.
  absl::StatusOr<std::pair<size_t, Message>> Receive(absl::Duration timeout);

 private:
  explicit UrgentQueueSet(int epoll_fd) : epoll_fd_(epoll_fd) {}

  int epoll_fd_ = -1;                // owned
  std::vector<PosixQueue*> queues_;  // not owned; index = urgency rank
};

// ---------------------------------------------------------------------------------------------
// Ordering with a barrier (MQ10, MQ11)
// ---------------------------------------------------------------------------------------------

// RunPriorityDemo()
//
// The notes' priority demo, made deterministic: creates queue `name` (room for every message),
// forks a receiver that first waits on a barrier (for example a pipe the parent writes once),
// sends every message in `messages` (calling `after_each_send(fd)` after each send, a test hook;
// may be empty), then a kQuit message with priority 0, and only then releases the receiver. The
// receiver takes messages until kQuit and passes their payloads back (for example over a pipe).
// Returns the payloads in the order received (kQuit not included): priority order, FIFO within a
// priority, because every message was queued before the first receive. Unlinks the queue and
// reaps the receiver on every path. Errors: EINVAL if `messages` is empty or holds more than
// msg_max - 1 messages, or a payload contains '\n'; any call's error; ECHILD (INTERNAL) if the
// receiver failed.
absl::StatusOr<std::vector<std::string>> RunPriorityDemo(
    const std::string& name, const std::vector<Message>& messages,
    const std::function<void(int fd)>& after_each_send = {});

// ---------------------------------------------------------------------------------------------
// Payloads larger than a message
// ---------------------------------------------------------------------------------------------

// The header in front of every chunk of a large payload.
struct ChunkHeader {
  uint64_t message_id;  // the same for every chunk of one payload
  uint64_t total_size;  // bytes in the whole payload
  uint32_t index;       // 0 .. count-1, in order
  uint32_t count;       // chunks in this payload (>= 1; an empty payload is one empty chunk)
};
static_assert(sizeof(ChunkHeader) == 24 && std::is_trivially_copyable_v<ChunkHeader>);

// SendLarge()
//
// Splits `payload` into chunks of at most queue.message_size() - sizeof(ChunkHeader) bytes, each
// sent with a ChunkHeader in front (same priority, so FIFO keeps them in order). Errors: EMSGSIZE
// if message_size() <= sizeof(ChunkHeader); Send's errors.
absl::Status SendLarge(PosixQueue& queue, absl::string_view payload, uint64_t message_id,
                       long priority = 0);

// ReceiveLarge()
//
// Receives chunks until one payload is complete and returns it. Each receive waits at most
// `timeout`. Errors: ETIMEDOUT; EBADMSG (a chunk shorter than its header, from another message,
// out of sequence, or sizes that do not add up).
absl::StatusOr<std::string> ReceiveLarge(PosixQueue& queue, absl::Duration timeout);

// ---------------------------------------------------------------------------------------------
// A worker pool over a task queue and a result queue (MQ17)
// ---------------------------------------------------------------------------------------------

inline constexpr size_t kTaskDataSize = 512;

// One unit of work, sent as raw bytes (MQ18).
struct Task {
  uint64_t id;        // unique per task; kStopTaskId is reserved
  uint32_t priority;  // the mq_send priority it travels with
  uint32_t length;    // bytes of `data` in use (<= kTaskDataSize)
  uint8_t data[kTaskDataSize];
};
static_assert(std::is_trivially_copyable_v<Task> && sizeof(Task) == 528);

// The id of the message that tells a worker to exit.
inline constexpr uint64_t kStopTaskId = UINT64_MAX;

// What a worker sends back for one task.
struct TaskResult {
  uint64_t id;         // the task's id
  uint64_t checksum;   // TaskChecksum(task)
  int32_t worker_pid;  // the worker that did it
  uint32_t reserved;   // 0
};
static_assert(std::is_trivially_copyable_v<TaskResult> && sizeof(TaskResult) == 24);

// TaskChecksum()
//
// The work: FNV-1a over the task's id and its `length` bytes of data.
inline uint64_t TaskChecksum(const Task& task) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
  for (int i = 0; i < 8; ++i) mix(static_cast<uint8_t>(task.id >> (8 * i)));
  for (uint32_t i = 0; i < task.length && i < kTaskDataSize; ++i) mix(task.data[i]);
  return hash;
}

// How RunWorkerPool() runs.
struct PoolOptions {
  std::string task_queue;                      // a fresh name for the task queue
  std::string result_queue;                    // a fresh name for the result queue
  int workers = 4;                             // forked worker processes, 1..16
  absl::Duration timeout = absl::Seconds(30);  // for each result and for each worker's exit
};

// RunWorkerPool()
//
// Creates both queues, forks `workers` processes that each receive tasks, compute TaskChecksum and
// send a TaskResult, until they receive a Task with id kStopTaskId. The parent sends every task
// (with its priority) while collecting results, so neither queue's limit can deadlock it; then it
// sends one stop message per worker, reaps every worker (with `timeout`) and unlinks both queues,
// on every path, errors included. Returns one result per task, in arrival order. Errors: EINVAL
// for bad options, a task with id kStopTaskId or length > kTaskDataSize; ETIMEDOUT if a result
// does not come; ECHILD (INTERNAL) if a worker did not exit 0; any call's error.
absl::StatusOr<std::vector<TaskResult>> RunWorkerPool(const PoolOptions& options,
                                                      const std::vector<Task>& tasks);

// ---------------------------------------------------------------------------------------------
// Request/response: one well-known request queue, a reply queue per client
// ---------------------------------------------------------------------------------------------

// What a request asks for.
enum class Op : int32_t {
  kAdd = 1,        // reply value = a + b
  kIncrement = 2,  // the server's counter += 1; reply value = the new counter (shows duplicates)
  kShutdown = 3,   // the server stops after this request (no reply)
};

// The longest reply queue name a request carries (with its slash, without the NUL).
inline constexpr size_t kMaxReplyName = 63;

// A request, sent as raw bytes to the server's queue.
struct Request {
  uint64_t request_id;  // per client, increasing; a retry repeats it
  int32_t op;           // an Op
  int32_t client_pid;   // who asks (the server cleans up after dead clients)
  int64_t a;            // operands
  int64_t b;
  char reply_queue[kMaxReplyName + 1];  // the client's reply queue, NUL-terminated
};
static_assert(std::is_trivially_copyable_v<Request> && sizeof(Request) == 96);

// A reply, sent as raw bytes to the client's reply queue.
struct Reply {
  uint64_t request_id;  // the request it answers
  int64_t value;        // the result
  int32_t error;        // 0, or an errno (EINVAL for an unknown op)
  uint32_t reserved;    // 0
};
static_assert(std::is_trivially_copyable_v<Reply> && sizeof(Reply) == 24);

// How the server runs. The fault knobs exist for tests of call semantics.
struct ServerOptions {
  std::string request_queue;  // the well-known name clients send to
  // Drop the reply (execute, cache, but do not send) of every `drop_every`-th request that is
  // executed; 0 drops nothing. The client's retry then gets the cached reply.
  int drop_every = 0;
  // Wait this long before sending each fresh reply (a slow network); 0: no delay.
  absl::Duration reply_delay = absl::ZeroDuration();
};

// RunServer()
//
// Creates the request queue (exclusively; messages of sizeof(Request)) and serves until a
// kShutdown request. At-most-once execution: it remembers each client's (reply queue's) last
// request id and reply; a repeated id is answered from that cache without executing again, an
// older id is ignored. Replies are sent without blocking (a client whose reply queue is full or
// gone loses that reply, not the server its liveness). On the way out, on every path, it unlinks
// the request queue and the reply queues of clients that are dead (kill(pid, 0) gives ESRCH): a
// dead process's queue is nobody's to remove but the server's. Returns OK after kShutdown.
// Errors: EINVAL for a bad name or option; Create's errors (EEXIST: a server already runs, or a
// dead one's queue is left: see RemoveServerQueue); receive errors.
absl::Status RunServer(const ServerOptions& options);

// RemoveServerQueue()
//
// For whoever started the server, after it ended in a way that skipped its cleanup (SIGKILL):
// unlinks the request queue. Errors: as PosixQueue::Unlink (ENOENT if there is nothing to do).
absl::Status RemoveServerQueue(const std::string& request_queue);

// How a client calls.
struct ClientOptions {
  absl::Duration timeout = absl::Milliseconds(500);  // per attempt, for the send and the reply
  int attempts = 3;                                  // tries per call, >= 1
};

// Client
//
// A client of RunServer(): owns its reply queue (created exclusively, small, unlinked and closed
// by the destructor) and a descriptor on the server's request queue. One call at a time.
// Move-only.
class Client {
 public:
  // Client::Connect()
  //
  // Opens `request_queue` and creates `reply_queue`. Errors: INVALID_ARGUMENT (EINVAL) for bad
  // names or options, or a reply name longer than kMaxReplyName; UNAVAILABLE (ENOENT) "is the
  // server running?" if the request queue does not exist; Create's errors.
  static absl::StatusOr<Client> Connect(const std::string& request_queue,
                                        const std::string& reply_queue,
                                        const ClientOptions& options = {});

  Client(Client&& other) noexcept = default;
  Client& operator=(Client&& other) noexcept = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Client::Call()
  //
  // Sends a request with a fresh id and waits for the reply with that id, discarding stale
  // replies to earlier ids; on a timeout sends the *same* request again (same id), up to
  // `attempts` times in all. Errors: DEADLINE_EXCEEDED (ETIMEDOUT) naming the server and the
  // attempts when no reply comes (the server is dead or stuck); the reply's error as an
  // ErrnoError; EINVAL for Op::kShutdown (use Shutdown()).
  absl::StatusOr<int64_t> Call(Op op, int64_t a = 0, int64_t b = 0);

  // Client::Shutdown()
  //
  // Sends a kShutdown request (no reply is awaited). Errors: the send's (ETIMEDOUT if the
  // request queue stays full).
  absl::Status Shutdown();

 private:
  Client(PosixQueue requests, PosixQueue replies, ClientOptions options)
      : requests_(std::move(requests)), replies_(std::move(replies)), options_(options) {}

  PosixQueue requests_;  // the server's queue (not unlinked by the client)
  PosixQueue replies_;   // this client's queue (unlinked by the destructor)
  ClientOptions options_;
  uint64_t next_request_id_ = 1;
};

}  // namespace message_queues

#endif  // IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_H_
