// labs/message_queues/message_queues.cc: YOUR implementation of message_queues.h.
//
// Work through the tasks in README.md in order; each TODO(student) below names the task and the
// tests that check it. Until you replace a TODO, its function returns UNIMPLEMENTED and its tests
// fail at once with a message that says so. The handles' plumbing (moves, destructors) is given.
//   bazel --output_base=... test //labs/message_queues:message_queues_test
//
// Rules of the house: check every system call on the next line and turn a failure into
// ipc::ErrnoError("call", object); decide about EINTR visibly; never leave a queue behind.
#include "labs/message_queues/message_queues.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "common/names.h"
#include "common/process.h"
#include "common/timing.h"

namespace message_queues {

// ---------------------------------------------------------------------------------------------
// Task 1: limits
// ---------------------------------------------------------------------------------------------

absl::StatusOr<MqLimits> ReadMqLimits() {
  return absl::UnimplementedError(
      "TODO(student): ReadMqLimits: read the six numbers from /proc/sys/fs/mqueue and "
      "/proc/sys/kernel (Task 1)");
}

// ---------------------------------------------------------------------------------------------
// Task 2: System V queues
// ---------------------------------------------------------------------------------------------

absl::StatusOr<SysvQueue> SysvQueue::Create(key_t /*key*/, mode_t /*mode*/) {
  return absl::UnimplementedError(
      "TODO(student): SysvQueue::Create: msgget(key, IPC_CREAT | IPC_EXCL | mode) (Task 2)");
}

absl::StatusOr<SysvQueue> SysvQueue::Open(key_t /*key*/) {
  return absl::UnimplementedError("TODO(student): SysvQueue::Open: msgget(key, 0) (Task 2)");
}

absl::Status SysvQueue::Send(long /*type*/, absl::string_view /*text*/, bool /*nowait*/) {
  return absl::UnimplementedError(
      "TODO(student): SysvQueue::Send: check type and size, then msgsnd with the text length + 1 "
      "(Task 2)");
}

absl::StatusOr<SysvReceived> SysvQueue::Receive(long /*type*/,
                                                const SysvReceiveOptions& /*options*/) {
  return absl::UnimplementedError(
      "TODO(student): SysvQueue::Receive: msgrcv with msgsz = buffer_size and the flags asked "
      "for (Task 2)");
}

absl::StatusOr<SysvQueueStat> SysvQueue::Stat() const {
  return absl::UnimplementedError("TODO(student): SysvQueue::Stat: msgctl(IPC_STAT) (Task 2)");
}

absl::Status SysvQueue::SetMaxBytes(size_t /*max_bytes*/) {
  return absl::UnimplementedError(
      "TODO(student): SysvQueue::SetMaxBytes: IPC_STAT, change msg_qbytes, IPC_SET (Task 2)");
}

absl::Status SysvQueue::Remove() {
  return absl::UnimplementedError(
      "TODO(student): SysvQueue::Remove: msgctl(IPC_RMID), then own nothing (Task 2)");
}

// ---------------------------------------------------------------------------------------------
// Task 3: types as priorities, shutdown, mailbox
// ---------------------------------------------------------------------------------------------

absl::StatusOr<SysvReceived> ReceiveMostUrgent(SysvQueue& /*queue*/, long /*least_urgent_type*/,
                                               bool /*nowait*/) {
  return absl::UnimplementedError(
      "TODO(student): ReceiveMostUrgent: which msgtyp takes the lowest type first? (Task 3)");
}

absl::StatusOr<std::vector<std::string>> DrainUntilShutdown(SysvQueue& /*queue*/, long /*type*/) {
  return absl::UnimplementedError(
      "TODO(student): DrainUntilShutdown: receive until \"quit\" or EIDRM (Task 3)");
}

absl::Status ServeMailbox(SysvQueue& /*queue*/, int /*requests*/) {
  return absl::UnimplementedError(
      "TODO(student): ServeMailbox: answer each request with mtype = the client's pid (Task 3)");
}

absl::StatusOr<std::string> CallMailbox(SysvQueue& /*queue*/, absl::string_view /*text*/) {
  return absl::UnimplementedError(
      "TODO(student): CallMailbox: send to kMailboxServerType, receive on your pid (Task 3)");
}

// ---------------------------------------------------------------------------------------------
// Task 4: POSIX queues
// ---------------------------------------------------------------------------------------------

absl::StatusOr<PosixQueue> PosixQueue::Create(const std::string& /*name*/,
                                              const QueueOptions& /*options*/) {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::Create: validate the name and the limits, then mq_open with "
      "O_CREAT | O_EXCL, the mode and a filled mq_attr (Task 4)");
}

absl::StatusOr<PosixQueue> PosixQueue::Open(const std::string& /*name*/, bool /*nonblocking*/) {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::Open: mq_open(name, O_RDWR) (Task 4)");
}

absl::Status PosixQueue::Unlink(const std::string& /*name*/) {
  return absl::UnimplementedError("TODO(student): PosixQueue::Unlink: mq_unlink (Task 4)");
}

absl::Status PosixQueue::Send(absl::string_view /*payload*/, long /*priority*/) {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::Send: check the payload and priority, then mq_send (Task 4)");
}

absl::Status PosixQueue::TimedSend(absl::string_view /*payload*/, long /*priority*/,
                                   absl::Duration /*timeout*/) {
  return absl::UnimplementedError("TODO(student): PosixQueue::TimedSend: mq_timedsend (Task 4)");
}

absl::StatusOr<Message> PosixQueue::Receive() {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::Receive: mq_receive into a buffer of mq_msgsize bytes (Task 4)");
}

absl::StatusOr<Message> PosixQueue::TimedReceive(absl::Duration /*timeout*/) {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::TimedReceive: mq_timedreceive (Task 4)");
}

absl::StatusOr<Message> PosixQueue::TryReceive() {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::TryReceive: receive without waiting, EAGAIN if empty (Task 4)");
}

absl::StatusOr<QueueAttributes> PosixQueue::GetAttributes() const {
  return absl::UnimplementedError("TODO(student): PosixQueue::GetAttributes: mq_getattr (Task 4)");
}

absl::Status PosixQueue::SetNonBlocking(bool /*nonblocking*/) {
  return absl::UnimplementedError("TODO(student): PosixQueue::SetNonBlocking: mq_setattr (Task 4)");
}

absl::StatusOr<mode_t> PosixQueue::Mode() const {
  return absl::UnimplementedError("TODO(student): PosixQueue::Mode: fstat the descriptor (Task 4)");
}

// ---------------------------------------------------------------------------------------------
// Task 5: notification and epoll
// ---------------------------------------------------------------------------------------------

absl::Status PosixQueue::Notify(int /*signo*/) {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::Notify: mq_notify with SIGEV_SIGNAL (Task 5)");
}

absl::Status PosixQueue::CancelNotify() {
  return absl::UnimplementedError(
      "TODO(student): PosixQueue::CancelNotify: mq_notify(mqd, NULL) (Task 5)");
}

absl::StatusOr<UrgentQueueSet> UrgentQueueSet::Create() {
  return absl::UnimplementedError("TODO(student): UrgentQueueSet::Create: epoll_create1 (Task 5)");
}

absl::Status UrgentQueueSet::Add(PosixQueue& /*queue*/) {
  return absl::UnimplementedError("TODO(student): UrgentQueueSet::Add: epoll_ctl ADD (Task 5)");
}

absl::StatusOr<std::pair<size_t, Message>> UrgentQueueSet::Receive(absl::Duration /*timeout*/) {
  return absl::UnimplementedError(
      "TODO(student): UrgentQueueSet::Receive: epoll_wait, then ask the queues in urgency order "
      "(Task 5)");
}

// ---------------------------------------------------------------------------------------------
// Task 6: ordering with a barrier
// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> RunPriorityDemo(
    const std::string& /*name*/, const std::vector<Message>& /*messages*/,
    const std::function<void(int fd)>& /*after_each_send*/) {
  return absl::UnimplementedError(
      "TODO(student): RunPriorityDemo: fork a receiver held at a barrier until every message is "
      "queued (Task 6)");
}

// ---------------------------------------------------------------------------------------------
// Task 7: large payloads
// ---------------------------------------------------------------------------------------------

absl::Status SendLarge(PosixQueue& /*queue*/, absl::string_view /*payload*/,
                       uint64_t /*message_id*/, long /*priority*/) {
  return absl::UnimplementedError(
      "TODO(student): SendLarge: split into chunks with a ChunkHeader each (Task 7)");
}

absl::StatusOr<std::string> ReceiveLarge(PosixQueue& /*queue*/, absl::Duration /*timeout*/) {
  return absl::UnimplementedError(
      "TODO(student): ReceiveLarge: reassemble chunks in sequence, EBADMSG otherwise (Task 7)");
}

// ---------------------------------------------------------------------------------------------
// Task 8: worker pool
// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::vector<TaskResult>> RunWorkerPool(const PoolOptions& /*options*/,
                                                      const std::vector<Task>& /*tasks*/) {
  return absl::UnimplementedError(
      "TODO(student): RunWorkerPool: two queues, forked workers, every task once, reap and "
      "unlink (Task 8)");
}

// ---------------------------------------------------------------------------------------------
// Task 9: request/response
// ---------------------------------------------------------------------------------------------

absl::Status RunServer(const ServerOptions& /*options*/) {
  return absl::UnimplementedError(
      "TODO(student): RunServer: serve requests at most once until kShutdown, then clean up "
      "(Task 9)");
}

absl::Status RemoveServerQueue(const std::string& /*request_queue*/) {
  return absl::UnimplementedError(
      "TODO(student): RemoveServerQueue: unlink a dead server's request queue (Task 9)");
}

absl::StatusOr<Client> Client::Connect(const std::string& /*request_queue*/,
                                       const std::string& /*reply_queue*/,
                                       const ClientOptions& /*options*/) {
  return absl::UnimplementedError(
      "TODO(student): Client::Connect: open the server's queue, create your reply queue (Task 9)");
}

Client::~Client() {
  // TODO(student): unlink this client's reply queue (Task 9).
}

absl::StatusOr<int64_t> Client::Call(Op /*op*/, int64_t /*a*/, int64_t /*b*/) {
  return absl::UnimplementedError(
      "TODO(student): Client::Call: send with a request id, wait with a timeout, retry the same "
      "id (Task 9)");
}

absl::Status Client::Shutdown() {
  return absl::UnimplementedError("TODO(student): Client::Shutdown: send Op::kShutdown (Task 9)");
}

}  // namespace message_queues
