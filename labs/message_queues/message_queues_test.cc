// labs/message_queues/message_queues_test.cc: the public tests of the message-queue lab.
//
// Each test is one sentence about message_queues.h, checked with real processes (ipc::Child) and
// exact errnos. The "FindTheBug" tests run the notes' broken code (broken.h) beside yours: the
// broken one must misbehave and yours must not; ANSWERS.md asks you why. Every test is
// leak-checked: a queue left behind fails it. The grader runs more tests of the same contract.
//   bazel --output_base=... test //labs/message_queues:message_queues_test
//   bazel-bin/labs/message_queues/message_queues_test --gtest_filter='SysvQueueTest.*'
#include "labs/message_queues/message_queues.h"
#include "labs/message_queues/message_queues_test_util.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "common/process.h"
#include "common/testing/testing.h"
#include "common/timing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "labs/message_queues/broken.h"

namespace message_queues {
namespace {

using ::ipc::testing::HasErrno;
using ::ipc::testing::IsOk;
using ::ipc::testing::MessageHas;
using ::ipc::testing::StatusIs;
using ::message_queues::test_util::ConnectWhenReady;
using ::message_queues::test_util::WaitUntilSleeping;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class SysvQueueTest : public ipc::testing::LeakCheckedTest {};
class PosixQueueTest : public ipc::testing::LeakCheckedTest {};
class PatternsTest : public ipc::testing::LeakCheckedTest {};
class ServerTest : public ipc::testing::LeakCheckedTest {};
class FindTheBugTest : public ipc::testing::LeakCheckedTest {};

// ----------------------------------------------------------------------------------------------
// System V
// ----------------------------------------------------------------------------------------------

// MQ1: an IPC_PRIVATE queue has no key to find it by, but a forked child inherits its id; the
// parent removes it (the leak check proves it).
TEST_F(SysvQueueTest, PrivateQueueWorksAcrossFork) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             return queue.Send(1, "hello from the child").ok() ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, queue.Receive(0));
  EXPECT_EQ(received.type, 1);
  EXPECT_EQ(received.text, "hello from the child")
      << "Receive must return the text without its NUL (MQ2)";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "the child's Send failed: " << status.ToString();
  IPC_EXPECT_OK(queue.Remove()) << "Remove() is msgctl(IPC_RMID)";
}

// MQ6: a created queue has exactly the permission bits asked for (0600 by default), never 0.
TEST_F(SysvQueueTest, CreatedQueueHasExplicitMode) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(ipc::UniqueSysvKey()));
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat stat, queue.Stat());
  EXPECT_EQ(stat.mode, 0600u) << "pass IPC_CREAT | IPC_EXCL | mode to msgget (MQ6)";
  EXPECT_EQ(stat.owner_uid, ::geteuid());
  EXPECT_EQ(stat.messages, 0u);
}

// MQ1/SV3: creation is exclusive: a second Create under the same key is EEXIST, not a share.
TEST_F(SysvQueueTest, CreateIsExclusive) {
  key_t key = ipc::UniqueSysvKey();
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(key));
  EXPECT_THAT(SysvQueue::Create(key), HasErrno(EEXIST)) << "use IPC_CREAT | IPC_EXCL";
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue opened, SysvQueue::Open(key));
  EXPECT_EQ(opened.id(), queue.id());
}

// MQ2: mtype must be > 0; the text must be non-empty and fit in mtext with its NUL.
TEST_F(SysvQueueTest, SendRejectsBadTypesAndSizes) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  EXPECT_THAT(queue.Send(0, "x"), HasErrno(EINVAL)) << "mtype 0 is not a valid type (MQ2)";
  EXPECT_THAT(queue.Send(-3, "x"), HasErrno(EINVAL)) << "mtype must be > 0 (MQ2)";
  EXPECT_THAT(queue.Send(1, ""), HasErrno(EINVAL)) << "an empty text is rejected";
  EXPECT_THAT(queue.Send(1, std::string(kSysvMaxText + 1, 'x')), HasErrno(EMSGSIZE))
      << "256 characters plus the NUL do not fit in mtext[256] (MQ2)";
  IPC_EXPECT_OK(queue.Send(1, std::string(kSysvMaxText, 'x'))) << "255 characters do fit";
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat stat, queue.Stat());
  EXPECT_EQ(stat.messages, 1u) << "only the valid message may be queued";
  EXPECT_EQ(stat.bytes_queued, kSysvMaxText + 1) << "the size passed is the text length + 1 (MQ2)";
}

// MQ3: a positive type takes the first message of that type and leaves older ones of others.
TEST_F(SysvQueueTest, PositiveTypeSkipsOlderMessagesOfOtherTypes) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(1, "first, type 1"));
  IPC_ASSERT_OK(queue.Send(2, "second, type 2"));
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived two, queue.Receive(2));
  EXPECT_EQ(two.text, "second, type 2") << "msgrcv's msgtyp > 0 selects that type (MQ3)";
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived one, queue.Receive(0));
  EXPECT_EQ(one.text, "first, type 1");
}

// MSG_NOERROR versus E2BIG: a message longer than the buffer stays queued unless truncating.
TEST_F(SysvQueueTest, ShortBufferGivesE2bigUnlessTruncating) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(5, "a message of more than sixteen bytes"));
  SysvReceiveOptions small;
  small.buffer_size = 16;
  EXPECT_THAT(queue.Receive(0, small), HasErrno(E2BIG))
      << "pass buffer_size to msgrcv as msgsz (MQ2)";
  small.truncate = true;
  IPC_ASSERT_OK_AND_ASSIGN(SysvReceived cut, queue.Receive(0, small));
  EXPECT_EQ(cut.text, "a message of mor") << "MSG_NOERROR keeps the first buffer_size bytes";
}

// IPC_NOWAIT: an empty queue gives ENOMSG; a full queue gives the sender EAGAIN.
TEST_F(SysvQueueTest, NowaitFailsInsteadOfWaiting) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  SysvReceiveOptions nowait;
  nowait.nowait = true;
  EXPECT_THAT(queue.Receive(0, nowait), HasErrno(ENOMSG)) << "IPC_NOWAIT on an empty queue";
  IPC_ASSERT_OK(queue.SetMaxBytes(64)) << "msgctl(IPC_SET) with a smaller msg_qbytes";
  IPC_ASSERT_OK(queue.Send(1, std::string(40, 'a'), /*nowait=*/true));
  EXPECT_THAT(queue.Send(1, std::string(40, 'b'), /*nowait=*/true), HasErrno(EAGAIN))
      << "41 + 41 bytes exceed msg_qbytes 64: IPC_NOWAIT must fail with EAGAIN";
}

// MQ5: removing the queue wakes a blocked receiver with EIDRM; DrainUntilShutdown treats that
// as an orderly end and the child exits 0.
TEST_F(SysvQueueTest, RemovingTheQueueEndsABlockedReceiver) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(99, std::string(kQuit)));
  ASSERT_IMPLEMENTED(DrainUntilShutdown(queue, 99));  // returns at once: "quit" is queued
  IPC_ASSERT_OK(queue.Send(1, "one"));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::StatusOr<std::vector<std::string>> texts =
                                 DrainUntilShutdown(queue, 1);
                             return texts.ok() && texts->size() == 1 ? 0 : 1;
                           }));
  WaitUntilSleeping(child.pid());
  IPC_ASSERT_OK(queue.Remove());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded())
      << "a receiver blocked in msgrcv gets EIDRM when the queue is removed; DrainUntilShutdown "
         "must return OK with the texts so far (MQ5): "
      << status.ToString();
}

// MQ5: the sentinel path: "quit" ends the drain and is not collected.
TEST_F(SysvQueueTest, DrainStopsAtQuit) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  IPC_ASSERT_OK(queue.Send(1, "a"));
  IPC_ASSERT_OK(queue.Send(2, "not mine"));
  IPC_ASSERT_OK(queue.Send(1, "b"));
  IPC_ASSERT_OK(queue.Send(1, std::string(kQuit)));
  IPC_ASSERT_OK(queue.Send(1, "after quit"));
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> texts, DrainUntilShutdown(queue, 1));
  EXPECT_THAT(texts, ElementsAre("a", "b")) << "receive only `type`, stop at \"quit\" (MQ5)";
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat stat, queue.Stat());
  EXPECT_EQ(stat.messages, 2u) << "the type-2 message and the one after quit stay queued";
}

// MQ4: ReceiveMostUrgent takes the lowest type first, whatever the send order.
TEST_F(SysvQueueTest, MostUrgentReceivesLowestTypeFirst) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  for (long type : {3, 1, 2}) IPC_ASSERT_OK(queue.Send(type, absl::StrCat("type ", type)));
  std::vector<long> order;
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, ReceiveMostUrgent(queue, 3));
    order.push_back(received.type);
  }
  EXPECT_THAT(order, ElementsAre(1, 2, 3)) << "use a negative msgtyp: -3 (MQ4)";
}

// Direct addressing: one queue is every client's mailbox; the reply's type is the client's pid.
TEST_F(SysvQueueTest, MailboxRepliesReachTheRightClient) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  ASSERT_IMPLEMENTED(ServeMailbox(queue, 0));
  constexpr int kClients = 4;
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server, ipc::Child::Fork([&] {
                             return ServeMailbox(queue, kClients).ok() ? 0 : 1;
                           }));
  std::vector<ipc::Child> clients;
  for (int i = 0; i < kClients; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child client, ipc::Child::Fork([&queue, i] {
                               std::string text = absl::StrCat("client ", i, " pid ", ::getpid());
                               absl::StatusOr<std::string> reply = CallMailbox(queue, text);
                               std::string upper = text;
                               std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
                               return reply.ok() && *reply == upper ? 0 : 1;
                             }));
    clients.push_back(std::move(client));
  }
  for (ipc::Child& client : clients) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, client.Wait(absl::Seconds(10)));
    EXPECT_TRUE(status.Succeeded())
        << "each client must get the upper-cased text of its own request (reply mtype = its "
           "pid): "
        << status.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << "ServeMailbox: " << status.ToString();
}

// ----------------------------------------------------------------------------------------------
// POSIX
// ----------------------------------------------------------------------------------------------

// MQ8: the queue has exactly the mode and attributes requested (mode and attr both passed).
TEST_F(PosixQueueTest, CreateUsesExactlyTheRequestedModeAndAttributes) {
  std::string name = ipc::UniqueName("mq");
  QueueOptions options;
  options.max_messages = 7;
  options.message_size = 300;
  options.mode = 0640;
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, options));
  IPC_ASSERT_OK_AND_ASSIGN(QueueAttributes attributes, queue.GetAttributes());
  EXPECT_EQ(attributes.max_messages, 7) << "pass a filled mq_attr to mq_open (MQ8)";
  EXPECT_EQ(attributes.message_size, 300) << "pass a filled mq_attr to mq_open (MQ8)";
  EXPECT_EQ(attributes.current_messages, 0);
  EXPECT_EQ(queue.message_size(), 300);
  IPC_ASSERT_OK_AND_ASSIGN(mode_t mode, queue.Mode());
  EXPECT_EQ(mode, 0640u) << "pass the mode to mq_open, and fchmod in case the umask narrowed it";
  IPC_EXPECT_OK(PosixQueue::Unlink(name));
}

// MQ15: names are checked before mq_open: a leading slash and no other.
TEST_F(PosixQueueTest, BadNamesAreRejectedWithAClearMessage) {
  EXPECT_THAT(PosixQueue::Create("no-slash"), HasErrno(EINVAL));
  EXPECT_THAT(PosixQueue::Create("no-slash"), MessageHas("'/'"));
  EXPECT_THAT(PosixQueue::Create("/logs/error"), HasErrno(EINVAL))
      << "a second slash must be refused by your validation (MQ15), not reach mq_open";
  EXPECT_THAT(PosixQueue::Create("/logs/error"), MessageHas("/logs/error"));
}

// MQ9: asking for more than /proc/sys/fs/mqueue/msg_max is EINVAL, naming the limit.
TEST_F(PosixQueueTest, AskingBeyondTheLimitNamesTheLimit) {
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  std::string name = ipc::UniqueName("mq");
  QueueOptions options;
  options.max_messages = limits.msg_max + 1;
  absl::StatusOr<PosixQueue> queue = PosixQueue::Create(name, options);
  EXPECT_THAT(queue, HasErrno(EINVAL));
  EXPECT_THAT(queue, MessageHas("msg_max")) << "say which limit was exceeded (MQ9)";
  options.max_messages = 1;
  options.message_size = limits.msgsize_max + 1;
  EXPECT_THAT(PosixQueue::Create(name, options), MessageHas("msgsize_max"));
}

// MQ10: highest priority first, FIFO within one priority, when everything is queued first.
TEST_F(PosixQueueTest, HigherPriorityFirstAndFifoWithinAPriority) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  std::vector<std::pair<std::string, long>> sent = {{"normal-a", 5}, {"low", 1},  {"vip-a", 10},
                                                    {"normal-b", 5}, {"quit", 0}, {"vip-b", 10}};
  for (const auto& [payload, priority] : sent) IPC_ASSERT_OK(queue.Send(payload, priority));
  std::vector<std::string> order;
  for (size_t i = 0; i < sent.size(); ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
    order.push_back(message.payload);
  }
  EXPECT_THAT(order, ElementsAre("vip-a", "vip-b", "normal-a", "normal-b", "low", "quit"))
      << "(MQ10)";
}

// MQ14: a non-blocking receive on an empty queue fails with EAGAIN at once.
TEST_F(PosixQueueTest, NonBlockingReceiveOnAnEmptyQueueGivesEagain) {
  std::string name = ipc::UniqueName("mq");
  QueueOptions options;
  options.nonblocking = true;
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, options));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  ipc::Stopwatch clock;
  EXPECT_THAT(queue.Receive(), HasErrno(EAGAIN)) << "O_NONBLOCK on an empty queue (MQ14)";
  // A loose bound: it catches a sleep-and-retry loop, not a slow machine.
  EXPECT_LT(clock.Elapsed(), absl::Milliseconds(500)) << "EAGAIN must come at once, no sleeping";
  IPC_ASSERT_OK_AND_ASSIGN(QueueAttributes attributes, queue.GetAttributes());
  EXPECT_TRUE(attributes.nonblocking);
  IPC_ASSERT_OK(queue.SetNonBlocking(false));
  IPC_ASSERT_OK_AND_ASSIGN(attributes, queue.GetAttributes());
  EXPECT_FALSE(attributes.nonblocking) << "SetNonBlocking is mq_setattr";
  EXPECT_THAT(queue.TryReceive(), HasErrno(EAGAIN))
      << "TryReceive never waits, even on a blocking descriptor";
}

// MQ14: the blocking variant waits with mq_timedreceive: ETIMEDOUT after the timeout.
TEST_F(PosixQueueTest, TimedReceiveTimesOut) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  ipc::Stopwatch clock;
  EXPECT_THAT(queue.TimedReceive(absl::Milliseconds(100)), HasErrno(ETIMEDOUT));
  EXPECT_GE(clock.Elapsed(), absl::Milliseconds(90)) << "it must wait for the timeout";
}

// Bad input, each a clear error with its errno.
TEST_F(PosixQueueTest, BadSendsAreRejected) {
  std::string name = ipc::UniqueName("mq");
  QueueOptions options;
  options.max_messages = 2;
  options.message_size = 16;
  options.nonblocking = true;
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, options));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  EXPECT_THAT(queue.Send(""), HasErrno(EINVAL)) << "an empty message";
  EXPECT_THAT(queue.Send(std::string(17, 'x')), HasErrno(EMSGSIZE)) << "longer than mq_msgsize";
  EXPECT_THAT(queue.Send("x", -1), HasErrno(EINVAL)) << "a negative priority is not 4294967295";
  EXPECT_THAT(queue.Send("x", kMaxPriority + 1), HasErrno(EINVAL));
  IPC_ASSERT_OK(queue.Send("1"));
  IPC_ASSERT_OK(queue.Send("2"));
  EXPECT_THAT(queue.Send("3"), HasErrno(EAGAIN)) << "full, and the descriptor is non-blocking";
}

// Unlinking removes the name at once; open descriptors keep working until closed.
TEST_F(PosixQueueTest, UnlinkWhileOpenKeepsDescriptorsWorking) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue writer, PosixQueue::Create(name));
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue reader, PosixQueue::Open(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  EXPECT_THAT(PosixQueue::Open(name), HasErrno(ENOENT)) << "the name is gone after mq_unlink";
  EXPECT_THAT(PosixQueue::Unlink(name), HasErrno(ENOENT));
  IPC_ASSERT_OK(writer.Send("still here", 3));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, reader.Receive());
  EXPECT_EQ(message.payload, "still here");
  EXPECT_EQ(message.priority, 3u);
}

// A POSIX queue descriptor is a file descriptor on Linux: epoll reports it readable.
TEST_F(PosixQueueTest, DescriptorWorksWithEpoll) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_NE(epoll_fd, -1);
  struct epoll_event event = {};
  event.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, queue.fd(), &event), 0)
      << "fd() must return the mqd_t, which epoll accepts";
  struct epoll_event ready;
  EXPECT_EQ(::epoll_wait(epoll_fd, &ready, 1, 0), 0) << "an empty queue is not readable";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child,
                           ipc::Child::Fork([&] { return queue.Send("wake up").ok() ? 0 : 1; }));
  EXPECT_EQ(::epoll_wait(epoll_fd, &ready, 1, 5000), 1) << "a queued message makes it readable";
  ::close(epoll_fd);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded());
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  EXPECT_EQ(message.payload, "wake up");
}

// mq_notify is one-shot: one signal for the first message into an empty queue, then none until
// the process registers again.
TEST_F(PosixQueueTest, NotifyIsOneShot) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &usr1, &old), 0);  // SIGUSR1 stays pending for sigtimedwait
  struct timespec wait = {2, 0};
  struct timespec brief = {0, 100 * 1000 * 1000};

  IPC_ASSERT_OK(queue.Notify(SIGUSR1));
  IPC_ASSERT_OK(queue.Send("first"));
  EXPECT_EQ(::sigtimedwait(&usr1, nullptr, &wait), SIGUSR1) << "registered: one notification";
  IPC_ASSERT_OK(queue.Receive().status());
  IPC_ASSERT_OK(queue.Send("second"));
  EXPECT_EQ(::sigtimedwait(&usr1, nullptr, &brief), -1)
      << "the registration was used up by the first notification";
  IPC_ASSERT_OK(queue.Receive().status());
  IPC_ASSERT_OK(queue.Notify(SIGUSR1)) << "after a notification, register again";
  IPC_ASSERT_OK(queue.Send("third"));
  EXPECT_EQ(::sigtimedwait(&usr1, nullptr, &wait), SIGUSR1);
  IPC_ASSERT_OK(queue.Receive().status());
  ASSERT_EQ(::sigprocmask(SIG_SETMASK, &old, nullptr), 0);
}

// Only one process may be registered: another gets EBUSY until the first goes away.
TEST_F(PosixQueueTest, NotifyIsBusyWhileAnotherProcessIsRegistered) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  ASSERT_IMPLEMENTED(queue.CancelNotify());
  int ready[2], done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             int rc = queue.Notify(SIGUSR2).ok() ? 0 : 1;
                             char byte = 'r';
                             if (::write(ready[1], &byte, 1) != 1) return 2;
                             if (::read(done[0], &byte, 1) < 0)
                               return 3;  // stay registered until the parent has looked
                             return rc;
                           }));
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  EXPECT_THAT(queue.Notify(SIGUSR1), HasErrno(EBUSY)) << "another process is registered";
  ASSERT_EQ(::write(done[1], &byte, 1), 1);
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "the child's Notify failed: " << status.ToString();
  for (int fd : {ready[0], ready[1], done[0], done[1]}) ::close(fd);
  IPC_EXPECT_OK(queue.Notify(SIGUSR1)) << "the registration ends with the process that made it";
  IPC_EXPECT_OK(queue.CancelNotify());
}

// MQ18: a trivially copyable struct crosses as bytes; the wrong size is EBADMSG.
TEST_F(PosixQueueTest, StructsCrossAsBytes) {
  struct Order {
    int32_t id;
    int32_t quantity;
    double price;
  };
  std::string name = ipc::UniqueName("mq");
  QueueOptions options;
  options.message_size = sizeof(Order);
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, options));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  IPC_ASSERT_OK(SendStruct(queue, Order{7, 3, 9.5}, 10));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  IPC_ASSERT_OK_AND_ASSIGN(Order order, ParseStruct<Order>(message));
  EXPECT_EQ(order.id, 7);
  EXPECT_EQ(order.price, 9.5);
  EXPECT_THAT(SendStruct(queue, std::array<char, sizeof(Order) + 1>{}), HasErrno(EMSGSIZE))
      << "a struct larger than mq_msgsize is refused at run time (MQ18)";
}

// ----------------------------------------------------------------------------------------------
// Patterns built on the queues
// ----------------------------------------------------------------------------------------------

// MQ16: with info and error both ready, error is handled first, whatever epoll reports first.
TEST_F(PatternsTest, UrgentQueueSetServesErrorBeforeInfo) {
  std::vector<std::string> names = {ipc::UniqueName("error"), ipc::UniqueName("warning"),
                                    ipc::UniqueName("info")};
  std::vector<PosixQueue> queues;
  for (const std::string& name : names) {
    IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));
    IPC_ASSERT_OK(PosixQueue::Unlink(name));
    queues.push_back(std::move(queue));
  }
  IPC_ASSERT_OK_AND_ASSIGN(UrgentQueueSet set, UrgentQueueSet::Create());
  for (PosixQueue& queue : queues) IPC_ASSERT_OK(set.Add(queue));
  IPC_ASSERT_OK(queues[2].Send("info 1"));
  IPC_ASSERT_OK(queues[2].Send("info 2"));
  IPC_ASSERT_OK(queues[0].Send("error 1"));
  std::vector<std::string> handled;
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(auto received, set.Receive(absl::Seconds(2)));
    handled.push_back(received.second.payload);
  }
  EXPECT_THAT(handled, ElementsAre("error 1", "info 1", "info 2"))
      << "check the queues in urgency order after epoll_wait returns (MQ16)";
  EXPECT_THAT(set.Receive(absl::Milliseconds(50)), HasErrno(ETIMEDOUT));
}

// A payload far larger than mq_msgsize crosses intact, split and reassembled.
TEST_F(PatternsTest, OneMebibyteCrossesIntact) {
  std::string name = ipc::UniqueName("big");
  QueueOptions options;
  options.max_messages = 10;
  options.message_size = 4096;
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, options));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>((i * 2654435761u) >> 13);
  ASSERT_IMPLEMENTED(SendLarge(queue, "", 0));
  IPC_ASSERT_OK(ReceiveLarge(queue, absl::Seconds(1)).status()) << "the empty payload";
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child sender, ipc::Child::Fork([&] {
                             return SendLarge(queue, payload, 42).ok() ? 0 : 1;
                           }));
  absl::StatusOr<std::string> received = ReceiveLarge(queue, absl::Seconds(5));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, sender.Wait(absl::Seconds(10)));
  EXPECT_TRUE(status.Succeeded()) << "SendLarge in the child: " << status.ToString();
  IPC_ASSERT_OK(received.status());
  ASSERT_EQ(received->size(), payload.size());
  EXPECT_TRUE(*received == payload) << "the reassembled bytes differ from those sent";
}

// MQ17: a pool of forked workers does every task exactly once and leaves nothing behind.
TEST_F(PatternsTest, WorkerPoolDoesEveryTaskOnce) {
  PoolOptions options;
  options.task_queue = ipc::UniqueName("tasks");
  options.result_queue = ipc::UniqueName("results");
  options.workers = 3;
  std::vector<Task> tasks(300);
  for (size_t i = 0; i < tasks.size(); ++i) {
    tasks[i] = {};
    tasks[i].id = i + 1;
    tasks[i].priority = static_cast<uint32_t>(i % 4);
    tasks[i].length = static_cast<uint32_t>(i % kTaskDataSize);
    for (uint32_t j = 0; j < tasks[i].length; ++j) tasks[i].data[j] = static_cast<uint8_t>(i + j);
  }
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<TaskResult> results, RunWorkerPool(options, tasks));
  ASSERT_EQ(results.size(), tasks.size()) << "one result per task (MQ17)";
  std::sort(results.begin(), results.end(),
            [](const TaskResult& x, const TaskResult& y) { return x.id < y.id; });
  for (size_t i = 0; i < tasks.size(); ++i) {
    ASSERT_EQ(results[i].id, tasks[i].id) << "a task was done twice or never (MQ17)";
    EXPECT_EQ(results[i].checksum, TaskChecksum(tasks[i])) << "task " << tasks[i].id;
  }
}

// ----------------------------------------------------------------------------------------------
// Request/response server (exec'd as mq_server)
// ----------------------------------------------------------------------------------------------

// Many client processes at once; each gets the answers to its own questions; an orderly
// shutdown removes the server's queue.
TEST_F(ServerTest, ManyClientsGetTheirOwnReplies) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string server_name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server,
                           ipc::Child::Exec(ipc::testing::ProgramPath("mq_server"),
                                            {"mq_server", "--request_queue=" + server_name}));
  constexpr int kClients = 5;
  std::vector<std::string> reply_names;
  for (int i = 0; i < kClients + 1; ++i) reply_names.push_back(ipc::UniqueName("reply"));
  std::vector<ipc::Child> clients;
  for (int i = 0; i < kClients; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::Child client, ipc::Child::Fork([&, i]() -> int {
                               absl::StatusOr<Client> client =
                                   ConnectWhenReady(server_name, reply_names[i]);
                               if (!client.ok()) return 2;
                               for (int k = 0; k < 20; ++k) {
                                 absl::StatusOr<int64_t> sum = client->Call(Op::kAdd, i * 1000, k);
                                 if (!sum.ok() || *sum != i * 1000 + k) return 1;
                               }
                               return 0;
                             }));
    clients.push_back(std::move(client));
  }
  for (ipc::Child& client : clients) {
    IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, client.Wait(absl::Seconds(20)));
    EXPECT_TRUE(status.Succeeded())
        << "a client got a wrong or no answer (exit 1) or could not connect (exit 2): "
        << status.ToString();
  }
  IPC_ASSERT_OK_AND_ASSIGN(Client control, ConnectWhenReady(server_name, reply_names[kClients]));
  IPC_ASSERT_OK(control.Shutdown());
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, server.Wait(absl::Seconds(5)));
  EXPECT_TRUE(status.Succeeded()) << "RunServer returns OK after kShutdown: " << status.ToString();
  EXPECT_THAT(PosixQueue::Open(server_name), HasErrno(ENOENT))
      << "the server unlinks its request queue on the way out";
}

// A dead server: the client's call fails after its attempts with a clear error, and the
// supervisor removes the queue the killed server could not.
TEST_F(ServerTest, ClientTimesOutWhenTheServerIsDead) {
  ASSERT_IMPLEMENTED(RunServer({}));
  std::string server_name = ipc::UniqueName("server");
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child server,
                           ipc::Child::Exec(ipc::testing::ProgramPath("mq_server"),
                                            {"mq_server", "--request_queue=" + server_name}));
  ClientOptions options;
  options.timeout = absl::Milliseconds(150);
  options.attempts = 2;
  IPC_ASSERT_OK_AND_ASSIGN(Client client,
                           ConnectWhenReady(server_name, ipc::UniqueName("reply"), options));
  IPC_ASSERT_OK_AND_ASSIGN(int64_t sum, client.Call(Op::kAdd, 2, 3));
  EXPECT_EQ(sum, 5);
  IPC_ASSERT_OK(server.Kill(SIGKILL));
  IPC_ASSERT_OK(server.Wait(absl::Seconds(5)).status());
  absl::StatusOr<int64_t> dead = client.Call(Op::kAdd, 1, 1);
  EXPECT_THAT(dead, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(dead, HasErrno(ETIMEDOUT));
  EXPECT_THAT(dead, MessageHas(server_name)) << "name the server that did not answer";
  IPC_EXPECT_OK(RemoveServerQueue(server_name)) << "SIGKILL skipped the server's own cleanup";
}

// ----------------------------------------------------------------------------------------------
// Find the bug: the notes' code beside yours (answer in ANSWERS.md)
// ----------------------------------------------------------------------------------------------

// MQ4: the notes' collector uses msgtyp 0 and claims ERROR comes first. It does not.
TEST_F(FindTheBugTest, TypeZeroIsFifoNotPriority) {
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue queue, SysvQueue::Create(IPC_PRIVATE));
  for (long type : {3, 1, 2}) IPC_ASSERT_OK(queue.Send(type, "log line"));
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<long> broken, broken::CollectLogTypes(queue.id(), 3));
  EXPECT_THAT(broken, ElementsAre(3, 1, 2)) << "msgtyp 0 returns messages in send order";
  for (long type : {3, 1, 2}) IPC_ASSERT_OK(queue.Send(type, "log line"));
  std::vector<long> yours;
  for (int i = 0; i < 3; ++i) {
    IPC_ASSERT_OK_AND_ASSIGN(SysvReceived received, ReceiveMostUrgent(queue, 3));
    yours.push_back(received.type);
  }
  EXPECT_THAT(yours, ElementsAre(1, 2, 3)) << "ReceiveMostUrgent: a negative msgtyp (MQ4)";
}

// MQ6: msgget(key, IPC_CREAT) creates a queue with mode 0.
TEST_F(FindTheBugTest, QueueCreatedWithoutModeIsUnusable) {
  IPC_ASSERT_OK_AND_ASSIGN(int broken_id, broken::CreateQueueWithoutMode(ipc::UniqueSysvKey()));
  // Raw calls here, so that the broken queue is removed whatever state your library is in.
  struct msqid_ds ds;
  int stat_rc = ::msgctl(broken_id, IPC_STAT, &ds);
  int stat_errno = errno;
  ASSERT_EQ(::msgctl(broken_id, IPC_RMID, nullptr), 0) << "the creator may still remove it";
  if (::geteuid() == 0) {
    // Root bypasses the permission bits, so the mode-0 queue still works; its mode shows the bug.
    ASSERT_EQ(stat_rc, 0);
    EXPECT_EQ(ds.msg_perm.mode & 0777, 0u) << "the low 9 bits of msgflg are the mode: none given";
  } else {
    EXPECT_EQ(stat_rc, -1);
    EXPECT_EQ(stat_errno, EACCES) << "mode 0: even the creator may not read its own queue";
  }
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueue yours, SysvQueue::Create(ipc::UniqueSysvKey()));
  IPC_ASSERT_OK_AND_ASSIGN(SysvQueueStat your_stat, yours.Stat());
  EXPECT_EQ(your_stat.mode, 0600u) << "(MQ6)";
}

// MQ12: a 256-byte buffer on a default queue (mq_msgsize 8192) fails every receive.
TEST_F(FindTheBugTest, ReceiveBufferSmallerThanMsgsizeFails) {
  std::string name = ipc::UniqueName("mq");
  QueueOptions defaults;
  defaults.max_messages = 0;  // both 0: the system defaults, as mq_open(name, flags, mode, NULL)
  defaults.message_size = 0;
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name, defaults));
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  IPC_ASSERT_OK_AND_ASSIGN(MqLimits limits, ReadMqLimits());
  EXPECT_EQ(queue.message_size(), limits.msgsize_default);
  IPC_ASSERT_OK(queue.Send("small message"));
  EXPECT_THAT(broken::ReceiveIntoFixedBuffer(queue.fd()), HasErrno(EMSGSIZE))
      << "mq_receive refuses any buffer smaller than mq_msgsize, even for a short message";
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  EXPECT_EQ(message.payload, "small message") << "size the buffer from mq_getattr (MQ12)";
}

// MQ13: a message of exactly mq_msgsize bytes; the notes' NUL goes one past the buffer.
TEST_F(FindTheBugTest, TerminatorOnePastTheBuffer) {
  std::string name = ipc::UniqueName("mq");
  IPC_ASSERT_OK_AND_ASSIGN(PosixQueue queue, PosixQueue::Create(name));  // mq_msgsize 256
  IPC_ASSERT_OK(PosixQueue::Unlink(name));
  IPC_ASSERT_OK(queue.Send(std::string(256, 'x')));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::Child child, ipc::Child::Fork([&] {
                             absl::StatusOr<bool> canary = broken::ReceiveAndTerminate(queue.fd());
                             return canary.ok() && *canary ? 0 : 1;
                           }));
  IPC_ASSERT_OK_AND_ASSIGN(ipc::ExitStatus status, child.Wait(absl::Seconds(5)));
  EXPECT_FALSE(status.Succeeded())
      << "text[n] = '\\0' with n == 256 writes past char text[256] (or a sanitizer stops it)";
  std::string full(256, 'y');
  IPC_ASSERT_OK(queue.Send(full));
  IPC_ASSERT_OK_AND_ASSIGN(Message message, queue.Receive());
  EXPECT_EQ(message.payload, full) << "a message of exactly mq_msgsize bytes, intact (MQ13)";
}

// MQ15: Linux refuses a second slash in a queue name with EACCES, which reads like a permission
// problem; your validation says what is really wrong.
TEST_F(FindTheBugTest, NestedQueueNameFailsWithEacces) {
  std::string nested = ipc::UniqueName("logs") + "/error";
  EXPECT_THAT(broken::OpenNestedName(nested), HasErrno(EACCES));
  EXPECT_THAT(PosixQueue::Create(nested), HasErrno(EINVAL));
  EXPECT_THAT(PosixQueue::Create(nested), MessageHas("'/'"))
      << "say that the name has a second slash (MQ15)";
}

// MQ11: without a barrier, a receiver already blocked in mq_receive gets messages in send order.
// The test makes that happen every time by waiting after each send until the queue is drained;
// with your barrier, the same hook cannot change the order.
TEST_F(FindTheBugTest, PriorityOrderWithoutABarrierDependsOnTiming) {
  std::vector<Message> messages = {{"p10", 10}, {"p1", 1}, {"p5", 5}};
  // Waits (at most `limit`) until the receiver has taken every queued message.
  auto wait_until_drained = [](absl::Duration limit) {
    return [limit](int fd) {
      ipc::Stopwatch clock;
      struct mq_attr attr;
      while (clock.Elapsed() < limit) {
        if (::mq_getattr(static_cast<mqd_t>(fd), &attr) == 0 && attr.mq_curmsgs == 0) return;
        absl::SleepFor(absl::Milliseconds(1));
      }
    };
  };
  IPC_ASSERT_OK_AND_ASSIGN(
      std::vector<std::string> broken_order,
      broken::PriorityDemoWithoutBarrier(ipc::UniqueName("demo"), messages,
                                         wait_until_drained(absl::Seconds(5))));
  EXPECT_THAT(broken_order, ElementsAre("p10", "p1", "p5"))
      << "the receiver was waiting, so each message was taken as soon as it was sent";
  IPC_ASSERT_OK_AND_ASSIGN(std::vector<std::string> your_order,
                           RunPriorityDemo(ipc::UniqueName("demo"), messages,
                                           wait_until_drained(absl::Milliseconds(300))));
  EXPECT_THAT(your_order, ElementsAre("p10", "p5", "p1"))
      << "hold the receiver at a barrier until every message is queued (MQ11)";
}

}  // namespace
}  // namespace message_queues
