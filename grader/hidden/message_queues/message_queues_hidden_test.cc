// grader/hidden/message_queues/message_queues_hidden_test.cc: the tests students never see.
//
// The same contract (labs/message_queues/message_queues.h) pushed harder than the public tests:
// edge cases of every errno the header promises, priorities under shuffles and delays, the wire
// format of requests (the test plays the server), call semantics under dropped and delayed
// replies, killed clients and servers, and stress sizes. Built twice by ipc_lab_hidden_tests:
// against the reference (CI) and against a student's library (the grader).
//   bazel --output_base=... test //grader/hidden/message_queues:all
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/message_queues/message_queues.h"
#include "labs/message_queues/message_queues_test_util.h"

namespace message_queues {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;
using ::ipc::testing::StatusIs;
using ::message_queues::test_util::ConnectWhenReady;
using ::message_queues::test_util::WaitUntilSleeping;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Not;

long ReadProcLong(const std::string& path) {
  std::ifstream in(path);
  long value = -1;
  in >> value;
  return value;
}

absl::StatusOr<PosixQueue> MakeQueue(long max_messages = 10, long message_size = 256,
                                     bool nonblocking = false) {
  std::string name = ipc::UniqueName("hq");
  QueueOptions options;
  options.max_messages = max_messages;
  options.message_size = message_size;
  options.nonblocking = nonblocking;
  absl::StatusOr<PosixQueue> queue = PosixQueue::Create(name, options);
  if (queue.ok()) {
    absl::Status unlinked = PosixQueue::Unlink(name);
    if (!unlinked.ok()) return unlinked;
  }
  return queue;
}

class HiddenSysvTest : public ipc::testing::LeakCheckedTest {};
class HiddenPosixTest : public ipc::testing::LeakCheckedTest {};
class HiddenPatternsTest : public ipc::testing::LeakCheckedTest {};
class HiddenServerTest : public ipc::testing::LeakCheckedTest {};

// ----------------------------------------------------------------------------------------------
// Limits (MQ9, MQ19)
// ----------------------------------------------------------------------------------------------

// MQ19: the limits are the kernel's; a pipe holds 64 KiB of bytes, a message queue message at
// most msgsize_max / msgmax bytes (8 KiB by default), which is why the two are not swappable.
TEST_F(HiddenSysvTest, LimitsAreReadFromProc) {
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  EXPECT_EQ(limits.msg_max, ReadProcLong("/proc/sys/fs/mqueue/msg_max"));
  EXPECT_EQ(limits.msgsize_max, ReadProcLong("/proc/sys/fs/mqueue/msgsize_max"));
  EXPECT_EQ(limits.msg_default, ReadProcLong("/proc/sys/fs/mqueue/msg_default"));
  EXPECT_EQ(limits.msgsize_default, ReadProcLong("/proc/sys/fs/mqueue/msgsize_default"));
  EXPECT_EQ(limits.sysv_msgmax, ReadProcLong("/proc/sys/kernel/msgmax"));
  EXPECT_EQ(limits.sysv_msgmnb, ReadProcLong("/proc/sys/kernel/msgmnb"));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int pipe_size = ::fcntl(fds[0], F_GETPIPE_SZ);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(pipe_size, 65536) << "a pipe's default capacity (MQ19)";
  EXPECT_LT(limits.sysv_msgmax, pipe_size) << "one message is far smaller than a pipe's buffer";
}

// ----------------------------------------------------------------------------------------------
// System V
// ----------------------------------------------------------------------------------------------

// MQ6: the mode is exactly what was asked; bits outside 0777 are refused.
TEST_F(HiddenSysvTest, ModeIsExactlyWhatWasAsked) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(ipc::UniqueSysvKey(), 0640));
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat stat, queue.Stat());
  EXPECT_EQ(stat.mode, 0640u);
  EXPECT_THAT(SysvQueue::Create(ipc::UniqueSysvKey(), 01777), HasErrno(EINVAL));
}

// Ownership: Create's handle removes the queue when destroyed; Open's does not.
TEST_F(HiddenSysvTest, OnlyTheCreatingHandleRemovesTheQueue) {
  key_t key = ipc::UniqueSysvKey();
  {
    IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(key));
    { IPC_ASSERT_OK_AND_ASSIGN(SysvQueue opened, SysvQueue::Open(key)); }
    IPC_EXPECT_OK(SysvQueue::Open(key)) << "an opened handle must not remove the queue";
  }
  EXPECT_THAT(SysvQueue::Open(key), HasErrno(ENOENT)) << "the creating handle removes it";
}

// MQ1: two IPC_PRIVATE queues are distinct; removal twice is EINVAL; a removed id is EINVAL.
TEST_F(HiddenSysvTest, PrivateQueuesAreDistinctAndRemovedOnce) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue a, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue b, SysvQueue::Create(IPC_PRIVATE));
  EXPECT_NE(a.id(), b.id()) << "IPC_PRIVATE always makes a new queue (MQ1)";
  SysvQueue alias = SysvQueue::Attach(a.id());
  IPC_ASSERT_OK(a.Remove());
  EXPECT_THAT(alias.Remove(), HasErrno(EINVAL));
  EXPECT_THAT(alias.Send(1, "x"), HasErrno(EINVAL));
}

// MQ2: buffer sizes outside 1..256 are refused before msgrcv.
TEST_F(HiddenSysvTest, ReceiveBufferSizeIsChecked) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(1, "x"));
  SysvReceiveOptions options;
  options.buffer_size = 0;
  EXPECT_THAT(queue.Receive(0, options), HasErrno(EINVAL));
  options.buffer_size = kSysvTextSize + 1;
  EXPECT_THAT(queue.Receive(0, options), HasErrno(EINVAL));
  options.buffer_size = 2;
  // "x" and its NUL fit in 2 bytes.
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, queue.Receive(0, options));
  EXPECT_EQ(received.text, "x");
}

// E2BIG leaves the message queued: the next receive with a large buffer gets it whole.
TEST_F(HiddenSysvTest, E2bigLeavesTheMessageQueued) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  std::string text(200, 'q');
  IPC_ASSERT_OK(queue.Send(3, text));
  SysvReceiveOptions small;
  small.buffer_size = 100;
  EXPECT_THAT(queue.Receive(3, small), HasErrno(E2BIG));
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, queue.Receive(3));
  EXPECT_EQ(received.text, text);
}

// MQ4: one ERROR behind 100 DEBUGs comes out first; the DEBUGs then keep their order.
TEST_F(HiddenSysvTest, ErrorJumpsAheadOfAHundredDebugs) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  for (int i = 0; i < 100; ++i) IPC_ASSERT_OK(queue.Send(4, absl::StrCat("debug ", i)));
  IPC_ASSERT_OK(queue.Send(1, "ERROR"));
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived first, ReceiveMostUrgent(queue, 4));
  EXPECT_EQ(first.type, 1);
  EXPECT_EQ(first.text, "ERROR") << "msgtyp -4 takes the lowest type first (MQ4)";
  for (int i = 0; i < 100; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(SysvReceived debug, ReceiveMostUrgent(queue, 4));
    ASSERT_EQ(debug.text, absl::StrCat("debug ", i)) << "equal types stay FIFO";
  }
}

// MQ4: types above the limit are left alone; non-positive limits are refused.
TEST_F(HiddenSysvTest, MostUrgentRespectsItsLimit) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(5, "five"));
  IPC_ASSERT_OK(queue.Send(3, "three"));
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, ReceiveMostUrgent(queue, 4));
  EXPECT_EQ(received.type, 3);
  EXPECT_THAT(ReceiveMostUrgent(queue, 4, /*nowait=*/true), HasErrno(ENOMSG))
      << "type 5 is above the limit 4";
  EXPECT_THAT(ReceiveMostUrgent(queue, 0), HasErrno(EINVAL));
  EXPECT_THAT(ReceiveMostUrgent(queue, -2), HasErrno(EINVAL));
}

// MQ5: Receive itself reports EIDRM when the queue disappears under a blocked receiver.
TEST_F(HiddenSysvTest, BlockedReceiveReportsEidrm) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  ASSERT_IMPLEMENTED(queue.Receive(0, {.nowait = true}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::StatusOr<SysvReceived> received = queue.Receive(0);
                             return ipc::ErrnoOf(received.status()) == EIDRM ? 0 : 1;
                           }));
  WaitUntilSleeping(child.pid());
  IPC_ASSERT_OK(queue.Remove());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "the blocked msgrcv must fail with EIDRM (MQ5)";
}

// MQ5: the sentinel path across processes: the child counts the messages before "quit".
TEST_F(HiddenSysvTest, SentinelEndsAReceiverInAnotherProcess) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(7, std::string(kQuit)));
  ASSERT_IMPLEMENTED(DrainUntilShutdown(queue, 7));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::StatusOr<std::vector<std::string>> texts =
                                 DrainUntilShutdown(queue, 1);
                             return texts.ok() ? static_cast<int>(texts->size()) : 100;
                           }));
  for (int i = 0; i < 5; ++i) IPC_ASSERT_OK(queue.Send(1, absl::StrCat("message ", i)));
  IPC_ASSERT_OK(queue.Send(1, std::string(kQuit)));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_EQ(status.code, 5) << "five messages before quit: " << status.ToString();
}

// Bounded buffering: a full queue blocks a sender until a receiver makes room.
TEST_F(HiddenSysvTest, FullQueueBlocksTheSenderUntilThereIsRoom) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.SetMaxBytes(64));
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat stat, queue.Stat());
  EXPECT_EQ(stat.max_bytes, 64u);
  IPC_ASSERT_OK(queue.Send(1, std::string(40, 'a')));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             return queue.Send(2, std::string(40, 'b')).ok() ? 0 : 1;
                           }));
  pid_t sender = child.pid();
  WaitUntilSleeping(sender);
  IPC_ASSERT_OK_AND_ASSIGN(stat, queue.Stat());
  EXPECT_EQ(stat.messages, 1u) << "the second send waits while the queue is full";
  IPC_ASSERT_OK(queue.Receive(1).status());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, queue.Receive(2));
  EXPECT_EQ(received.text, std::string(40, 'b'));
  IPC_ASSERT_OK_AND_ASSIGN(stat, queue.Stat());
  EXPECT_EQ(stat.last_sender, sender) << "msg_lspid: the child sent last";
  EXPECT_EQ(stat.last_receiver, ::getpid()) << "msg_lrpid: this process received last";
}

// Direct addressing with more clients than the queue could hold replies for at once.
TEST_F(HiddenSysvTest, MailboxServesManyClientsRepeatedly) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  ASSERT_IMPLEMENTED(ServeMailbox(queue, 0));
  constexpr int kClients = 6, kCalls = 10;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, ipc::Child::Fork([&] {
                             return ServeMailbox(queue, kClients * kCalls).ok() ? 0 : 1;
                           }));
  std::vector<ipc::Child> clients;
  for (int c = 0; c < kClients; ++c) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child client, ipc::Child::Fork([&queue, c] {
                               for (int k = 0; k < kCalls; ++k) {
                                 absl::StatusOr<std::string> reply =
                                     CallMailbox(queue, absl::StrCat("c", c, "k", k));
                                 if (!reply.ok() || *reply != absl::StrCat("C", c, "K", k))
                                   return 1;
                               }
                               return 0;
                             }));
    clients.push_back(std::move(client));
  }
  for (ipc::Child& client : clients) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, client.Wait(absl::Seconds(15)));
    EXPECT_TRUE(status.Succeeded()) << "a client got someone else's reply: " << status.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
}

// A request whose text has no pid is EBADMSG for the server, not a crash.
TEST_F(HiddenSysvTest, MailboxRejectsARequestWithoutAPid) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(kMailboxServerType, "hello there"));
  EXPECT_THAT(ServeMailbox(queue, 1), HasErrno(EBADMSG));
}

// ----------------------------------------------------------------------------------------------
// POSIX
// ----------------------------------------------------------------------------------------------

// MQ9/MQ12: both sizes 0 means the system defaults (attr NULL), and only both.
TEST_F(HiddenPosixTest, ZeroSizesMeanTheSystemDefaults) {
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(0, 0));
  IPC_ASSERT_OK_AND_ASSIGN(QueueAttributes attributes, queue.GetAttributes());
  EXPECT_EQ(attributes.max_messages, limits.msg_default);
  EXPECT_EQ(attributes.message_size, limits.msgsize_default);
  EXPECT_THAT(MakeQueue(0, 100), HasErrno(EINVAL)) << "only one size 0";
  EXPECT_THAT(MakeQueue(-1, 100), HasErrno(EINVAL)) << "a negative size";
}

// MQ12: a default queue takes and returns a message of the full default size.
TEST_F(HiddenPosixTest, DefaultQueueCarriesAFullSizeMessage) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(0, 0));
  std::string payload(static_cast<size_t>(queue.message_size()), 'm');
  IPC_ASSERT_OK(queue.Send(payload));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  EXPECT_EQ(message.payload.size(), payload.size()) << "size the buffer from mq_getattr (MQ12)";
}

// MQ8: the mode survives a restrictive umask.
TEST_F(HiddenPosixTest, ModeIsExactDespiteTheUmask) {
  mode_t old = ::umask(077);
  std::string name = ipc::UniqueName("hq");
  QueueOptions options;
  options.mode = 0664;
  absl::StatusOr<PosixQueue> queue = PosixQueue::Create(name, options);
  ::umask(old);
  IPC_ASSERT_OK(queue.status());
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  IPC_ASSERT_OK_AND_ASSIGN(mode_t mode, queue->Mode());
  EXPECT_EQ(mode, 0664u) << "the umask narrowed the mode: fchmod after creating (MQ8)";
  options.mode = 04600;
  EXPECT_THAT(PosixQueue::Create(ipc::UniqueName("hq"), options), HasErrno(EINVAL));
}

// Exclusive creation; opening a missing queue; names that are too short or long.
TEST_F(HiddenPosixTest, CreateIsExclusiveAndNamesAreChecked) {
  std::string name = ipc::UniqueName("hq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  EXPECT_THAT(PosixQueue::Create(name), HasErrno(EEXIST));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  EXPECT_THAT(PosixQueue::Open(name), HasErrno(ENOENT));
  EXPECT_THAT(PosixQueue::Create("/"), HasErrno(EINVAL));
  EXPECT_THAT(PosixQueue::Create("/" + std::string(300, 'n')), HasErrno(EINVAL));
  EXPECT_THAT(PosixQueue::Unlink("relative"), HasErrno(EINVAL));
}

// MQ9: exactly msg_max is allowed; the error message gives the limit's value.
TEST_F(HiddenPosixTest, TheLimitItselfIsAllowed) {
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  IPC_EXPECT_OK(MakeQueue(limits.msg_max, 64).status());
  absl::StatusOr<PosixQueue> over = MakeQueue(limits.msg_max + 5, 64);
  EXPECT_THAT(over, HasErrno(EINVAL));
  EXPECT_THAT(over, MessageHas(absl::StrCat(limits.msg_max))) << "give the limit's value";
}

// MQ13: a message of exactly mq_msgsize bytes, NULs included, crosses byte for byte.
TEST_F(HiddenPosixTest, ExactSizeMessageWithNulsIsIntact) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(4, 128));
  std::string payload(128, '\0');
  for (size_t i = 0; i < payload.size(); i += 3) payload[i] = static_cast<char>('a' + i % 26);
  IPC_ASSERT_OK(queue.Send(payload));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  EXPECT_TRUE(message.payload == payload) << "the payload is bytes, not a C string (MQ13)";
}

// MQ10: shuffled priorities with repeats come out highest first, FIFO within each.
TEST_F(HiddenPosixTest, ShuffledPrioritiesComeOutSorted) {
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(limits.msg_max, 32));
  std::vector<long> priorities = {0, 7, 3, 7, kMaxPriority, 3, 0, 1, 7, 2};
  priorities.resize(static_cast<size_t>(std::min<long>(limits.msg_max, 10)));
  std::mt19937 rng(12345);
  std::shuffle(priorities.begin(), priorities.end(), rng);
  std::vector<std::pair<long, int>> expected;  // (priority, send index)
  for (size_t i = 0; i < priorities.size(); ++i) {
    IPC_ASSERT_OK(queue.Send(absl::StrCat(i), priorities[i]));
    expected.push_back({priorities[i], static_cast<int>(i)});
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](auto& x, auto& y) { return x.first > y.first; });
  for (const auto& [priority, index] : expected) {
    IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
    EXPECT_EQ(message.priority, static_cast<unsigned>(priority));
    EXPECT_EQ(message.payload, absl::StrCat(index)) << "FIFO within priority " << priority;
  }
}

// mq_timedsend on a full queue times out; a blocking descriptor still gets ETIMEDOUT.
TEST_F(HiddenPosixTest, TimedSendOnAFullQueueTimesOut) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(1, 16));
  IPC_ASSERT_OK(queue.Send("fills it"));
  ipc::Stopwatch clock;
  EXPECT_THAT(queue.TimedSend("waits", 0, absl::Milliseconds(100)), HasErrno(ETIMEDOUT));
  EXPECT_GE(clock.Elapsed(), absl::Milliseconds(90));
  EXPECT_THAT(queue.TimedSend("", 0, absl::Milliseconds(1)), HasErrno(EINVAL));
}

// MQ14: a timed receive is woken by a message from another process well before its deadline.
TEST_F(HiddenPosixTest, TimedReceiveWakesForALateMessage) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue());
  ASSERT_IMPLEMENTED(queue.TryReceive());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::SleepFor(absl::Milliseconds(50));
                             return queue.Send("late", 4).ok() ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.TimedReceive(absl::Seconds(10)));
  EXPECT_EQ(message.payload, "late");
  EXPECT_EQ(message.priority, 4u);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
}

// MQ14: Open(nonblocking) gives a descriptor whose receive is EAGAIN on an empty queue.
TEST_F(HiddenPosixTest, OpenNonBlockingGivesEagain) {
  std::string name = ipc::UniqueName("hq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue reader, PosixQueue::Open(name, /*nonblocking=*/true));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  EXPECT_THAT(reader.Receive(), HasErrno(EAGAIN));
  IPC_ASSERT_OK_AND_ASSIGN(QueueAttributes attributes, queue.GetAttributes());
  EXPECT_FALSE(attributes.nonblocking) << "O_NONBLOCK belongs to the descriptor, not the queue";
  IPC_ASSERT_OK(queue.Send("now"));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, reader.Receive());
  EXPECT_EQ(message.payload, "now");
}

// An unlinked name can be reused at once for a new, separate queue.
TEST_F(HiddenPosixTest, AnUnlinkedNameCanBeReused) {
  std::string name = ipc::UniqueName("hq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue old_queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(old_queue.Send("old"));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue new_queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  EXPECT_THAT(new_queue.TryReceive(), HasErrno(EAGAIN)) << "a new queue starts empty";
  IPC_ASSERT_OK_AND_ASSIGN(Message message, old_queue.TryReceive());
  EXPECT_EQ(message.payload, "old") << "the old descriptor still reaches the old queue";
}

// epoll reports EPOLLOUT only while there is room.
TEST_F(HiddenPosixTest, EpollReportsRoomToSend) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(2, 16));
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_NE(epoll_fd, -1);
  struct epoll_event event = {};
  event.events = EPOLLOUT;
  ASSERT_EQ(::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, queue.fd(), &event), 0);
  struct epoll_event ready;
  EXPECT_EQ(::epoll_wait(epoll_fd, &ready, 1, 0), 1) << "empty: room to send";
  IPC_ASSERT_OK(queue.Send("1"));
  IPC_ASSERT_OK(queue.Send("2"));
  EXPECT_EQ(::epoll_wait(epoll_fd, &ready, 1, 0), 0) << "full: no room";
  IPC_ASSERT_OK(queue.Receive().status());
  EXPECT_EQ(::epoll_wait(epoll_fd, &ready, 1, 0), 1) << "room again after a receive";
  ::close(epoll_fd);
}

// Cancelling a registration frees the queue for another process; bad signals are EINVAL.
TEST_F(HiddenPosixTest, CancelNotifyLetsAnotherProcessRegister) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue());
  IPC_ASSERT_OK(queue.Notify(SIGUSR1));
  auto child_registers = [&]() -> absl::StatusOr<int> {
    IPC_ASSIGN_OR_RETURN(ipc::Child child, ipc::Child::Fork([&] {
                           absl::Status status = queue.Notify(SIGUSR2);
                           if (status.ok()) return 0;
                           return ipc::ErrnoOf(status) == EBUSY ? 16 : 1;
                         }));
    IPC_ASSIGN_OR_RETURN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
    return status.code;
  };
  IPC_ASSERT_OK_AND_ASSIGN(int busy, child_registers());
  EXPECT_EQ(busy, 16) << "another process gets EBUSY while this one is registered";
  IPC_ASSERT_OK(queue.CancelNotify());
  IPC_ASSERT_OK_AND_ASSIGN(int free_now, child_registers());
  EXPECT_EQ(free_now, 0) << "after mq_notify(NULL) another process may register";
  EXPECT_THAT(queue.Notify(1000), HasErrno(EINVAL));
}

// ----------------------------------------------------------------------------------------------
// Patterns
// ----------------------------------------------------------------------------------------------

// MQ16: every error before any warning before any info, across many rounds.
TEST_F(HiddenPatternsTest, UrgencyOrderHoldsOverManyMessages) {
  std::vector<PosixQueue> queues;
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue());
    queues.push_back(std::move(queue));
  }
  IPC_ASSERT_OK_AND_ASSIGN(UrgentQueueSet set, UrgentQueueSet::Create());
  for (PosixQueue& queue : queues) IPC_ASSERT_OK(set.Add(queue));
  EXPECT_THAT(set.Add(queues[0]), HasErrno(EEXIST)) << "a queue added twice";
  for (int i = 0; i < 5; ++i) IPC_ASSERT_OK(queues[2].Send(absl::StrCat("info ", i)));
  for (int i = 0; i < 3; ++i) IPC_ASSERT_OK(queues[1].Send(absl::StrCat("warning ", i)));
  for (int i = 0; i < 2; ++i) IPC_ASSERT_OK(queues[0].Send(absl::StrCat("error ", i)));
  std::vector<size_t> ranks;
  for (int i = 0; i < 10; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(auto received, set.Receive(absl::Seconds(2)));
    ranks.push_back(received.first);
  }
  EXPECT_THAT(ranks, ElementsAre(0, 0, 1, 1, 1, 2, 2, 2, 2, 2)) << "(MQ16)";
}

// MQ16: the set sleeps until another process sends, and needs a queue to watch.
TEST_F(HiddenPatternsTest, UrgentSetWakesForAnotherProcess) {
  IPC_ASSERT_OK_AND_ASSIGN(UrgentQueueSet empty, UrgentQueueSet::Create());
  EXPECT_THAT(empty.Receive(absl::Milliseconds(10)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue error, MakeQueue());
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue warning, MakeQueue());
  IPC_ASSERT_OK_AND_ASSIGN(UrgentQueueSet set, UrgentQueueSet::Create());
  IPC_ASSERT_OK(set.Add(error));
  IPC_ASSERT_OK(set.Add(warning));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::SleepFor(absl::Milliseconds(50));
                             return warning.Send("disk 91% full").ok() ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(auto received, set.Receive(absl::Seconds(10)));
  EXPECT_EQ(received.first, 1u);
  EXPECT_EQ(received.second.payload, "disk 91% full");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
}

// Chunks: each fits in mq_msgsize, carries its header, and the count is as small as possible.
TEST_F(HiddenPatternsTest, ChunksAreFullAndNumberedInOrder) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(10, 1024));
  std::string payload(9000, 'p');
  IPC_ASSERT_OK(SendLarge(queue, payload, 77, 3));
  size_t room = 1024 - sizeof(ChunkHeader);
  size_t count = (payload.size() + room - 1) / room;  // 9 chunks
  for (size_t i = 0; i < count; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.TryReceive());
    ASSERT_GE(message.payload.size(), sizeof(ChunkHeader));
    EXPECT_EQ(message.priority, 3u);
    ChunkHeader header;
    std::memcpy(&header, message.payload.data(), sizeof header);
    EXPECT_EQ(header.message_id, 77u);
    EXPECT_EQ(header.index, i);
    EXPECT_EQ(header.count, count) << "use every byte after the header";
    EXPECT_EQ(header.total_size, payload.size());
  }
  EXPECT_THAT(queue.TryReceive(), HasErrno(EAGAIN)) << "no extra chunks";
}

// Reassembly rejects a chunk out of sequence and a chunk of another payload.
TEST_F(HiddenPatternsTest, ReassemblyRejectsBrokenSequences) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(10, 64));
  auto chunk = [](uint64_t id, uint32_t index, uint32_t count, uint64_t total) {
    ChunkHeader header{id, total, index, count};
    std::string bytes(reinterpret_cast<const char*>(&header), sizeof header);
    return bytes + std::string(10, 'c');
  };
  IPC_ASSERT_OK(queue.Send(chunk(1, 1, 2, 20)));
  EXPECT_THAT(ReceiveLarge(queue, absl::Seconds(1)), HasErrno(EBADMSG)) << "chunk 1 before 0";
  IPC_ASSERT_OK(queue.Send(chunk(1, 0, 2, 20)));
  IPC_ASSERT_OK(queue.Send(chunk(2, 1, 2, 20)));
  EXPECT_THAT(ReceiveLarge(queue, absl::Seconds(1)), HasErrno(EBADMSG)) << "mixed payloads";
  IPC_ASSERT_OK(queue.Send("short"));
  EXPECT_THAT(ReceiveLarge(queue, absl::Seconds(1)), HasErrno(EBADMSG)) << "no header";
  EXPECT_THAT(ReceiveLarge(queue, absl::Milliseconds(20)), HasErrno(ETIMEDOUT));
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue tiny, MakeQueue(2, static_cast<long>(sizeof(ChunkHeader))));
  EXPECT_THAT(SendLarge(tiny, "x", 1), HasErrno(EMSGSIZE)) << "no room after the header";
}

// A payload of many messages through a default-sized queue, sender in another process.
TEST_F(HiddenPatternsTest, TwoMebibytesThroughADefaultQueue) {
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, MakeQueue(0, 0));
  std::string payload(2 << 20, '\0');
  std::mt19937_64 rng(99);
  for (size_t i = 0; i + 8 <= payload.size(); i += 8) {
    uint64_t r = rng();
    std::memcpy(&payload[i], &r, 8);
  }
  ASSERT_IMPLEMENTED(SendLarge(queue, "", 0));
  IPC_ASSERT_OK(ReceiveLarge(queue, absl::Seconds(1)).status());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child sender, ipc::Child::Fork([&] {
                             if (!SendLarge(queue, payload, 1).ok()) return 1;
                             return SendLarge(queue, "and a second, short one", 2).ok() ? 0 : 2;
                           }));
  absl::StatusOr<std::string> first = ReceiveLarge(queue, absl::Seconds(10));
  absl::StatusOr<std::string> second = ReceiveLarge(queue, absl::Seconds(10));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, sender.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
  IPC_ASSERT_OK(first.status());
  EXPECT_TRUE(*first == payload) << "2 MiB differ after reassembly";
  IPC_ASSERT_OK(second.status());
  EXPECT_EQ(*second, "and a second, short one");
}

std::vector<Task> MakeTasks(size_t n, uint64_t first_id = 1) {
  std::vector<Task> tasks(n);
  for (size_t i = 0; i < n; ++i) {
    tasks[i] = {};
    tasks[i].id = first_id + i;
    tasks[i].priority = static_cast<uint32_t>((i * 7) % 5);
    tasks[i].length = static_cast<uint32_t>((i * 31) % (kTaskDataSize + 1));
    for (uint32_t j = 0; j < tasks[i].length; ++j) {
      tasks[i].data[j] = static_cast<uint8_t>(i * 13 + j);
    }
  }
  return tasks;
}

bool EachTaskDoneOnce(std::vector<TaskResult> results, const std::vector<Task>& tasks) {
  if (results.size() != tasks.size()) return false;
  std::sort(results.begin(), results.end(),
            [](const TaskResult& x, const TaskResult& y) { return x.id < y.id; });
  std::vector<Task> sorted = tasks;
  std::sort(sorted.begin(), sorted.end(), [](const Task& x, const Task& y) { return x.id < y.id; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (results[i].id != sorted[i].id || results[i].checksum != TaskChecksum(sorted[i])) {
      return false;
    }
  }
  return true;
}

// MQ17: 1,000 tasks over 4 workers, each done exactly once, everything reaped and unlinked.
TEST_F(HiddenPatternsTest, WorkerPoolDoesAThousandTasksOnce) {
  PoolOptions options;
  options.task_queue = ipc::UniqueName("tasks");
  options.result_queue = ipc::UniqueName("results");
  options.workers = 4;
  std::vector<Task> tasks = MakeTasks(1000);
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<TaskResult> results, RunWorkerPool(options, tasks));
  EXPECT_TRUE(EachTaskDoneOnce(results, tasks)) << "every task once, with its checksum (MQ17)";
  std::set<int32_t> workers;
  for (const TaskResult& result : results) workers.insert(result.worker_pid);
  EXPECT_LE(workers.size(), 4u);
  EXPECT_EQ(workers.count(::getpid()), 0u) << "the work is done in the forked workers";
}

// MQ17: bad options and bad tasks are refused, and leave no queue behind.
TEST_F(HiddenPatternsTest, WorkerPoolRefusesBadInput) {
  PoolOptions options;
  options.task_queue = ipc::UniqueName("tasks");
  options.result_queue = ipc::UniqueName("results");
  options.workers = 0;
  EXPECT_THAT(RunWorkerPool(options, MakeTasks(3)), HasErrno(EINVAL));
  options.workers = 2;
  std::vector<Task> tasks = MakeTasks(3);
  tasks[1].id = kStopTaskId;
  EXPECT_THAT(RunWorkerPool(options, tasks), HasErrno(EINVAL));
  tasks = MakeTasks(3);
  tasks[2].length = kTaskDataSize + 1;
  EXPECT_THAT(RunWorkerPool(options, tasks), HasErrno(EINVAL));
  options.task_queue = "no-slash";
  EXPECT_THAT(RunWorkerPool(options, MakeTasks(3)), HasErrno(EINVAL));
  options.task_queue = ipc::UniqueName("tasks");
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<TaskResult> none, RunWorkerPool(options, {}));
  EXPECT_TRUE(none.empty()) << "no tasks: no results, workers still started and stopped";
}

// MQ7: two instances at the same time, kept apart only by their unique names.
TEST_F(HiddenPatternsTest, TwoPoolsRunAtOnceWithUniqueNames) {
  std::vector<PoolOptions> options(2);
  for (PoolOptions& o : options) {
    o.task_queue = ipc::UniqueName("tasks");
    o.result_queue = ipc::UniqueName("results");
    o.workers = 2;
  }
  ASSERT_IMPLEMENTED(RunWorkerPool({}, {}));
  std::vector<ipc::Child> instances;
  for (int k = 0; k < 2; ++k) {
    IPC_ASSERT_OK_AND_ASSIGN(
        ipc::Child child, ipc::Child::Fork([&, k] {
          std::vector<Task> tasks = MakeTasks(300, 1 + 100000 * static_cast<uint64_t>(k));
          absl::StatusOr<std::vector<TaskResult>> results = RunWorkerPool(options[k], tasks);
          return results.ok() && EachTaskDoneOnce(*results, tasks) ? 0 : 1;
        }));
    instances.push_back(std::move(child));
  }
  for (ipc::Child& child : instances) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(30)));
    EXPECT_TRUE(status.Succeeded()) << "an instance saw the other's tasks or failed (MQ7)";
  }
}

// MQ11: with a delay after every send, the barrier still yields priority order.
TEST_F(HiddenPatternsTest, BarrierHoldsUnderDelays) {
  std::vector<Message> messages = {{"c", 1}, {"a", 9}, {"d", 1}, {"b", 5}, {"e", 0}, {"a2", 9}};
  auto drain_wait = [](int fd) {
    ipc::Stopwatch clock;
    struct mq_attr attr;
    while (clock.Elapsed() < absl::Milliseconds(150)) {
      if (::mq_getattr(static_cast<mqd_t>(fd), &attr) == 0 && attr.mq_curmsgs == 0) return;
      absl::SleepFor(absl::Milliseconds(1));
    }
  };
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> order,
                           RunPriorityDemo(ipc::UniqueName("demo"), messages, drain_wait));
  EXPECT_THAT(order, ElementsAre("a", "a2", "b", "c", "d", "e"))
      << "the receiver must wait at a barrier until every message is queued (MQ11)";
  EXPECT_THAT(RunPriorityDemo(ipc::UniqueName("demo"), {}), HasErrno(EINVAL));
}

// ----------------------------------------------------------------------------------------------
// Request/response: the test plays the server (wire format, retries, stale replies)
// ----------------------------------------------------------------------------------------------

struct FakeServer {
  std::string name;
  PosixQueue queue;
};

absl::StatusOr<FakeServer> MakeFakeServer() {
  std::string name = ipc::UniqueName("fake");
  QueueOptions options;
  options.max_messages = 10;
  options.message_size = sizeof(Request);
  IPC_ASSIGN_OR_RETURN(PosixQueue queue, PosixQueue::Create(name, options));
  return FakeServer{name, std::move(queue)};
}

absl::Status SendRawReply(const std::string& reply_queue, const Reply& reply) {
  IPC_ASSIGN_OR_RETURN(PosixQueue queue, PosixQueue::Open(reply_queue));
  return SendStruct(queue, reply);
}

// The request carries the op, operands, the client's pid and its reply queue's name.
TEST_F(HiddenServerTest, RequestsCarryEverythingTheServerNeeds) {
  IPC_ASSERT_OK_AND_ASSIGN(FakeServer server, MakeFakeServer());
  std::string reply_name = ipc::UniqueName("reply");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::StatusOr<Client> client =
                                 Client::Connect(server.name, reply_name);
                             if (!client.ok()) return 2;
                             absl::StatusOr<int64_t> value = client->Call(Op::kAdd, 2, 3);
                             return value.ok() && *value == 5 ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, server.queue.TimedReceive(absl::Seconds(5)));
  IPC_ASSERT_OK_AND_ASSIGN(Request request, ParseStruct<Request>(message));
  EXPECT_EQ(request.op, static_cast<int32_t>(Op::kAdd));
  EXPECT_EQ(request.a, 2);
  EXPECT_EQ(request.b, 3);
  EXPECT_EQ(request.client_pid, child.pid());
  EXPECT_EQ(std::string(request.reply_queue), reply_name);
  EXPECT_GT(request.request_id, 0u);
  IPC_ASSERT_OK(SendRawReply(reply_name, Reply{request.request_id, 5, 0, 0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "exit 2: Connect failed; exit 1: Call: " << status.ToString();
  IPC_ASSERT_OK(PosixQueue::Unlink(server.name));
  EXPECT_THAT(PosixQueue::Open(reply_name), HasErrno(ENOENT))
      << "the client's destructor unlinks its reply queue";
}

// A retry repeats the request id; a stale reply (another id) is skipped.
TEST_F(HiddenServerTest, RetriesRepeatTheIdAndStaleRepliesAreSkipped) {
  IPC_ASSERT_OK_AND_ASSIGN(FakeServer server, MakeFakeServer());
  std::string reply_name = ipc::UniqueName("reply");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             ClientOptions options;
                             options.timeout = absl::Milliseconds(200);
                             options.attempts = 5;
                             absl::StatusOr<Client> client =
                                 Client::Connect(server.name, reply_name, options);
                             if (!client.ok()) return 2;
                             absl::StatusOr<int64_t> value = client->Call(Op::kIncrement);
                             return value.ok() && *value == 42 ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(Message first, server.queue.TimedReceive(absl::Seconds(5)));
  IPC_ASSERT_OK_AND_ASSIGN(Request request, ParseStruct<Request>(first));
  // No reply to the first attempt: the client must send the same request again.
  IPC_ASSERT_OK_AND_ASSIGN(Message second, server.queue.TimedReceive(absl::Seconds(5)));
  IPC_ASSERT_OK_AND_ASSIGN(Request retry, ParseStruct<Request>(second));
  EXPECT_EQ(retry.request_id, request.request_id) << "a retry carries the same id";
  IPC_ASSERT_OK(SendRawReply(reply_name, Reply{request.request_id + 1000, -1, 0, 0}));
  IPC_ASSERT_OK(SendRawReply(reply_name, Reply{request.request_id, 42, 0, 0}));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "the client must skip the reply with another id: "
                                  << status.ToString();
  IPC_ASSERT_OK(PosixQueue::Unlink(server.name));
}

// Connecting without a server, bad names, and misuse of Call are clear errors.
TEST_F(HiddenServerTest, ClientInputIsChecked) {
  absl::StatusOr<Client> none = Client::Connect(ipc::UniqueName("absent"), ipc::UniqueName("r"));
  EXPECT_THAT(none, StatusIs(absl::StatusCode::kUnavailable)) << "no server: UNAVAILABLE";
  EXPECT_THAT(none, MessageHas("server"));
  IPC_ASSERT_OK_AND_ASSIGN(FakeServer server, MakeFakeServer());
  EXPECT_THAT(Client::Connect(server.name, "/" + std::string(kMaxReplyName, 'r')), HasErrno(EINVAL))
      << "a reply name that does not fit in Request::reply_queue";
  EXPECT_THAT(Client::Connect(server.name, "reply"), HasErrno(EINVAL));
  ClientOptions zero;
  zero.attempts = 0;
  EXPECT_THAT(Client::Connect(server.name, ipc::UniqueName("r"), zero), HasErrno(EINVAL));
  IPC_ASSERT_OK_AND_ASSIGN(Client client, Client::Connect(server.name, ipc::UniqueName("r")));
  EXPECT_THAT(client.Call(Op::kShutdown), HasErrno(EINVAL)) << "use Shutdown()";
  IPC_ASSERT_OK(PosixQueue::Unlink(server.name));
}

// ----------------------------------------------------------------------------------------------
// Request/response with the real server (mq_server)
// ----------------------------------------------------------------------------------------------

absl::StatusOr<ipc::Child> StartServer(const std::string& name,
                                       std::vector<std::string> flags = {}) {
  std::vector<std::string> args = {"mq_server", "--request_queue=" + name};
  args.insert(args.end(), flags.begin(), flags.end());
  return ipc::Child::Exec(ipc::testing::ProgramPath("mq_server"), args);
}

// Call semantics: replies dropped in transit are fetched again by retries, never re-executed.
TEST_F(HiddenServerTest, DroppedRepliesAreRetriedAndExecutedOnce) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name, {"--drop_every=3"}));
  ClientOptions options;
  options.timeout = absl::Milliseconds(150);
  options.attempts = 4;
  IPC_ASSERT_OK_AND_ASSIGN(Client client, ConnectWhenReady(name, ipc::UniqueName("r"), options));
  std::vector<int64_t> values;
  for (int i = 0; i < 12; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(int64_t value, client.Call(Op::kIncrement));
    values.push_back(value);
  }
  std::vector<int64_t> expected(12);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_THAT(values, ElementsAreArray(expected))
      << "a retried request was executed again (the counter skipped): answer retries from the "
         "cached reply";
  IPC_ASSERT_OK(client.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

// Call semantics: slow replies make the client retry; duplicates and late replies do no harm.
TEST_F(HiddenServerTest, DelayedRepliesAreNotExecutedTwice) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name, {"--reply_delay_ms=200"}));
  ClientOptions options;
  options.timeout = absl::Milliseconds(80);
  options.attempts = 8;
  IPC_ASSERT_OK_AND_ASSIGN(Client client, ConnectWhenReady(name, ipc::UniqueName("r"), options));
  for (int64_t i = 1; i <= 4; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(int64_t value, client.Call(Op::kIncrement));
    EXPECT_EQ(value, i) << "each increment executes once, however many times it is sent";
  }
  IPC_ASSERT_OK_AND_ASSIGN(int64_t sum, client.Call(Op::kAdd, 5, 6));
  EXPECT_EQ(sum, 11) << "a late reply to an earlier request must not be taken for this one";
  IPC_ASSERT_OK(client.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
}

// An unknown op is answered with EINVAL, and the server keeps serving.
TEST_F(HiddenServerTest, UnknownOpIsAnsweredWithEinval) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name));
  IPC_ASSERT_OK_AND_ASSIGN(Client client, ConnectWhenReady(name, ipc::UniqueName("r")));
  EXPECT_THAT(client.Call(static_cast<Op>(99)), HasErrno(EINVAL));
  IPC_ASSERT_OK_AND_ASSIGN(int64_t sum, client.Call(Op::kAdd, -4, 1));
  EXPECT_EQ(sum, -3);
  IPC_ASSERT_OK(client.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
}

// A second server on the same name is refused; the first keeps running.
TEST_F(HiddenServerTest, OnlyOneServerPerName) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name));
  IPC_ASSERT_OK_AND_ASSIGN(Client client, ConnectWhenReady(name, ipc::UniqueName("r")));
  ServerOptions second;
  second.request_queue = name;
  EXPECT_THAT(RunServer(second), HasErrno(EEXIST));
  IPC_ASSERT_OK_AND_ASSIGN(int64_t sum, client.Call(Op::kAdd, 1, 2));
  EXPECT_EQ(sum, 3) << "the failed second server must not remove the first one's queue";
  IPC_ASSERT_OK(client.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
}

// A client killed with SIGKILL cannot unlink its reply queue: the server does, at shutdown.
TEST_F(HiddenServerTest, KilledClientsQueueIsRemovedByTheServer) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  std::string victim_reply = ipc::UniqueName("victim");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name));
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child victim, ipc::Child::Fork([&]() -> int {
                             absl::StatusOr<Client> client = ConnectWhenReady(name, victim_reply);
                             if (!client.ok()) return 2;
                             for (bool told = false;;) {
                               if (!client->Call(Op::kIncrement).ok()) return 1;
                               if (!told && ::write(ready[1], "r", 1) == 1) told = true;
                             }
                           }));
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the victim client never got a reply";
  ::close(ready[0]);
  ::close(ready[1]);
  IPC_ASSERT_OK(victim.Kill(SIGKILL));
  IPC_ASSERT_OK(victim.Wait(absl::Seconds(5)).status());
  IPC_ASSERT_OK_AND_ASSIGN(Client control, ConnectWhenReady(name, ipc::UniqueName("r")));
  IPC_ASSERT_OK(control.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << status.ToString();
  EXPECT_TRUE(ipc::PosixObjectsNamed(victim_reply).empty())
      << "the dead client's reply queue must be unlinked by the server at shutdown";
}

// The server dies while a client waits for its reply: the client gives up with a clear error.
TEST_F(HiddenServerTest, ServerKilledDuringACall) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string name = ipc::UniqueName("server");
  std::string reply = ipc::UniqueName("r");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, StartServer(name, {"--reply_delay_ms=2000"}));
  {
    IPC_ASSERT_OK(ConnectWhenReady(name, ipc::UniqueName("probe")).status())
        << "the server never came up";
  }
  IPC_ASSERT_OK_AND_ASSIGN(
      ipc::Child client, ipc::Child::Fork([&] {
        ClientOptions options;
        options.timeout = absl::Milliseconds(200);
        options.attempts = 2;
        absl::StatusOr<Client> c = ConnectWhenReady(name, reply, options);
        if (!c.ok()) return 2;
        absl::StatusOr<int64_t> value = c->Call(Op::kIncrement);
        return value.status().code() == absl::StatusCode::kDeadlineExceeded ? 0 : 1;
      }));
  // The server has taken the request once it sleeps in its reply delay.
  absl::SleepFor(absl::Milliseconds(100));
  IPC_ASSERT_OK(server.Kill(SIGKILL));
  IPC_ASSERT_OK(server.Wait(absl::Seconds(5)).status());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, client.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << "the call must end in DEADLINE_EXCEEDED: "
                                  << status.ToString();
  IPC_EXPECT_OK(RemoveServerQueue(name));
  EXPECT_THAT(RemoveServerQueue(name), HasErrno(ENOENT));
}

}  // namespace
}  // namespace message_queues
