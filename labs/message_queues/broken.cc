// labs/message_queues/broken.cc: the notes' mistakes, reproduced on purpose (see broken.h).
// The tests in message_queues_test.cc run them; ANSWERS.md is where you explain them.
#include "labs/message_queues/broken.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process.h"
#include "common/status.h"

namespace message_queues::broken {

absl::StatusOr<std::vector<long>> CollectLogTypes(int msqid, int count) {
  std::vector<long> types;
  struct {
    long mtype;
    char mtext[256];
  } message;
  for (int i = 0; i < count; ++i) {
    // "msgtyp 0 returns the most urgent (lowest) type first" -- the notes' claim.
    if (::msgrcv(msqid, &message, sizeof message.mtext, 0, 0) == -1) {
      return ipc::ErrnoError("msgrcv", absl::StrCat("queue ", msqid));
    }
    types.push_back(message.mtype);
  }
  return types;
}

absl::StatusOr<int> CreateQueueWithoutMode(key_t key) {
  int id = ::msgget(key, IPC_CREAT);  // no "| 0600": the low 9 bits are the mode
  if (id == -1) return ipc::ErrnoError("msgget", absl::StrCat("key 0x", absl::Hex(key)));
  return id;
}

absl::Status ReceiveIntoFixedBuffer(int mq_fd) {
  char buffer[256];  // "big enough for our messages"
  unsigned priority;
  if (::mq_receive(static_cast<mqd_t>(mq_fd), buffer, sizeof buffer, &priority) == -1) {
    return ipc::ErrnoError("mq_receive", absl::StrCat("fd ", mq_fd));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ReceiveAndTerminate(int mq_fd) {
  struct {
    char text[256];
    char canary[16];
  } buffer;
  std::memset(buffer.canary, 0x5a, sizeof buffer.canary);
  unsigned priority;
  ssize_t n = ::mq_receive(static_cast<mqd_t>(mq_fd), buffer.text, sizeof buffer.text, &priority);
  if (n == -1) return ipc::ErrnoError("mq_receive", absl::StrCat("fd ", mq_fd));
  // The notes' line is `text[n] = '\0';`. Since n == 256 is undefined behaviour, an optimiser may
  // assume n < 256 and move or drop things; hiding the pointer from it (the empty asm) makes
  // this build do what the notes' build did: store one byte past the array.
  char* text = buffer.text;
  asm volatile("" : "+r"(text));
  text[n] = '\0';                 // "terminate the string": n can be 256
  asm volatile("" ::: "memory");  // the store above happens before the canary is read
  // Read the canary through a volatile pointer, so the compiler cannot assume it is untouched.
  volatile unsigned char* after =
      reinterpret_cast<volatile unsigned char*>(&buffer) + sizeof buffer.text;
  return after[0] == 0x5a;
}

absl::Status OpenNestedName(const std::string& name) {
  mqd_t mq = ::mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
  if (mq == static_cast<mqd_t>(-1)) return ipc::ErrnoError("mq_open", name);
  ::mq_close(mq);
  ::mq_unlink(name.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PriorityDemoWithoutBarrier(
    const std::string& name, const std::vector<Message>& messages,
    const std::function<void(int fd)>& after_each_send) {
  struct mq_attr attr = {};
  attr.mq_maxmsg = 10;
  attr.mq_msgsize = 256;
  mqd_t mq = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  if (mq == static_cast<mqd_t>(-1)) return ipc::ErrnoError("mq_open", name);
  ::mq_unlink(name.c_str());  // the demo's leak is not the bug under study: no name is left
  int fds[2];
  if (::pipe(fds) == -1) {
    absl::Status status = ipc::ErrnoError("pipe", "");
    ::mq_close(mq);
    return status;
  }
  absl::StatusOr<ipc::Child> receiver = ipc::Child::Fork([&]() -> int {
    ::close(fds[0]);
    std::string out;
    char text[257];
    for (;;) {
      // No barrier: this receiver may already be waiting when the first message is sent.
      ssize_t n = ::mq_receive(mq, text, 256, nullptr);
      if (n == -1) return 3;
      if (std::string(text, static_cast<size_t>(n)) == "quit") break;
      absl::StrAppend(&out, absl::string_view(text, static_cast<size_t>(n)), "\n");
    }
    return ::write(fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 4;
  });
  ::close(fds[1]);
  absl::Status status;
  if (!receiver.ok()) status = receiver.status();
  for (size_t i = 0; status.ok() && i <= messages.size(); ++i) {
    std::string payload = i < messages.size() ? messages[i].payload : "quit";
    unsigned priority = i < messages.size() ? messages[i].priority : 0;
    if (::mq_send(mq, payload.data(), payload.size(), priority) == -1) {
      status = ipc::ErrnoError("mq_send", name);
    } else if (i < messages.size() && after_each_send) {
      after_each_send(static_cast<int>(mq));
    }
  }
  std::string out;
  char chunk[1024];
  ssize_t n;
  while (status.ok() && (n = ::read(fds[0], chunk, sizeof chunk)) > 0)
    out.append(chunk, static_cast<size_t>(n));
  ::close(fds[0]);
  ::mq_close(mq);
  if (!status.ok()) return status;
  absl::StatusOr<ipc::ExitStatus> exit = receiver->Wait(absl::Seconds(10));
  if (!exit.ok()) return exit.status();
  if (!exit->Succeeded()) return absl::InternalError("the receiver " + exit->ToString());
  std::vector<std::string> order = absl::StrSplit(out, '\n', absl::SkipEmpty());
  return order;
}

}  // namespace message_queues::broken
