// solutions/message_queues/bench.cc: message throughput between two processes, four ways.
//
// A System V queue, a POSIX queue, a pipe and a Unix-domain socket (SOCK_SEQPACKET, so it keeps
// message boundaries like the queues) each carry messages of 64 B, 4 KiB and the largest size
// both queue kinds allow (min(msgsize_max, msgmax), 8 KiB here) from this process to a forked
// consumer. One iteration is a batch of kBatch messages ending with the consumer's one-byte ack,
// so every message counted was received. After Google Benchmark's table the program prints each
// mechanism's throughput as a ratio to the pipe's, measured in the same run (MQ19, MQ20):
//   bazel run -c opt //solutions/message_queues:bench
// Queue sizes are the system defaults a user gets (POSIX maxmsg 10, SysV msg_qbytes = msgmnb),
// because that is what a program meets without privileges.
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/names.h"
#include "common/process.h"
#include "common/timing.h"

namespace {

constexpr int kBatch = 256;  // messages per iteration, then one ack

enum Mechanism { kSysv = 0, kPosix = 1, kPipe = 2, kSocket = 3 };
const char* const kNames[] = {"sysv_queue", "posix_queue", "pipe", "unix_socket"};

long ReadLong(const char* path) {
  std::ifstream in(path);
  long value = 0;
  in >> value;
  return value;
}

size_t LargestMessage() {
  long posix = ReadLong("/proc/sys/fs/mqueue/msgsize_max");
  long sysv = ReadLong("/proc/sys/kernel/msgmax");
  return static_cast<size_t>(std::min(posix, sysv));
}

// messages/s by (mechanism, size), from the last (reported) run of each benchmark.
std::map<std::pair<int, size_t>, double>& Rates() {
  static auto* rates = new std::map<std::pair<int, size_t>, double>;
  return *rates;
}

[[noreturn]] void Die(const char* call) {
  std::perror(call);
  std::exit(1);
}

// Reads or writes exactly n bytes of a stream (the pipe), retrying short transfers and EINTR.
bool ReadFull(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, p, n);
    if (got == -1 && errno == EINTR) continue;  // interrupted: read the rest
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}
bool WriteFull(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t put = ::write(fd, p, n);
    if (put == -1 && errno == EINTR) continue;  // interrupted: write the rest
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

// One data channel (producer -> consumer) of any kind, made before fork so both sides hold it.
struct Channel {
  Mechanism kind;
  size_t size;
  int msqid = -1;
  mqd_t mq = static_cast<mqd_t>(-1);
  std::string mq_name;
  int fds[2] = {-1, -1};  // pipe: [read, write]; socketpair: [consumer, producer]
  std::vector<char> buffer;

  Channel(Mechanism k, size_t s) : kind(k), size(s), buffer(sizeof(long) + s + 8192) {
    switch (kind) {
      case kSysv:
        msqid = ::msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
        if (msqid == -1) Die("msgget");
        break;
      case kPosix: {
        mq_name = ipc::UniqueName("bench");
        mq_attr attr = {};
        attr.mq_maxmsg = ReadLong("/proc/sys/fs/mqueue/msg_default");
        attr.mq_msgsize = static_cast<long>(size);
        mq = ::mq_open(mq_name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
        if (mq == static_cast<mqd_t>(-1)) Die("mq_open");
        if (::mq_unlink(mq_name.c_str()) == -1) Die("mq_unlink");  // both ends already hold it
        break;
      }
      case kPipe:
        if (::pipe(fds) == -1) Die("pipe");
        break;
      case kSocket:
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == -1) Die("socketpair");
        break;
    }
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    if (msqid != -1) ::msgctl(msqid, IPC_RMID, nullptr);
    if (mq != static_cast<mqd_t>(-1)) ::mq_close(mq);
    for (int fd : fds) {
      if (fd != -1) ::close(fd);
    }
  }

  // Producer side; byte 0 of the payload is 1 for "stop".
  bool Send(bool stop) {
    char* text = buffer.data() + sizeof(long);
    text[0] = stop ? 1 : 0;
    switch (kind) {
      case kSysv: {
        long type = 1;
        std::memcpy(buffer.data(), &type, sizeof type);
        while (::msgsnd(msqid, buffer.data(), size, 0) == -1) {
          if (errno != EINTR) return false;
        }
        return true;
      }
      case kPosix:
        while (::mq_send(mq, text, size, 0) == -1) {
          if (errno != EINTR) return false;
        }
        return true;
      case kPipe:
        return WriteFull(fds[1], text, size);
      case kSocket:
        while (::send(fds[1], text, size, 0) == -1) {
          if (errno != EINTR) return false;
        }
        return true;
    }
    return false;
  }

  // Consumer side: returns 1 for data, 0 for stop, -1 on error.
  int Receive() {
    char* text = buffer.data() + sizeof(long);
    ssize_t n = -1;
    switch (kind) {
      case kSysv:
        do n = ::msgrcv(msqid, buffer.data(), size, 0, 0);
        while (n == -1 && errno == EINTR);
        break;
      case kPosix:
        do n = ::mq_receive(mq, text, size, nullptr);
        while (n == -1 && errno == EINTR);
        break;
      case kPipe:
        n = ReadFull(fds[0], text, size) ? static_cast<ssize_t>(size) : -1;
        break;
      case kSocket:
        do n = ::recv(fds[0], text, size, 0);
        while (n == -1 && errno == EINTR);
        break;
    }
    if (n != static_cast<ssize_t>(size)) return -1;
    return text[0] == 1 ? 0 : 1;
  }
};

void BM_Throughput(benchmark::State& state) {
  Mechanism kind = static_cast<Mechanism>(state.range(0));
  size_t size = static_cast<size_t>(state.range(1));
  Channel channel(kind, size);
  int ack[2];
  if (::pipe(ack) == -1) Die("pipe");

  absl::StatusOr<ipc::Child> consumer = ipc::Child::Fork([&]() -> int {
    for (int received = 0;;) {
      int r = channel.Receive();
      if (r <= 0) return r == 0 ? 0 : 1;
      if (++received % kBatch == 0) {
        char byte = 'a';
        if (!WriteFull(ack[1], &byte, 1)) return 2;
      }
    }
  });
  if (!consumer.ok()) {
    state.SkipWithError(std::string(consumer.status().message()).c_str());
    return;
  }

  ipc::Stopwatch clock;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      if (!channel.Send(false)) Die("send");
    }
    char byte;
    if (!ReadFull(ack[0], &byte, 1)) Die("read ack");
  }
  double seconds = absl::ToDoubleSeconds(clock.Elapsed());
  int64_t messages = state.iterations() * kBatch;
  state.SetItemsProcessed(messages);
  state.SetBytesProcessed(messages * static_cast<int64_t>(size));
  Rates()[{kind, size}] = static_cast<double>(messages) / seconds;

  channel.Send(true);
  absl::StatusOr<ipc::ExitStatus> exit = consumer->Wait(absl::Seconds(10));
  if (!exit.ok() || !exit->Succeeded()) state.SkipWithError("the consumer failed");
  ::close(ack[0]);
  ::close(ack[1]);
  state.SetLabel(kNames[kind]);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {int64_t{64}, int64_t{4096}, static_cast<int64_t>(LargestMessage())}) {
    for (int kind : {kPipe, kSocket, kSysv, kPosix}) b->Args({kind, size});
  }
}
BENCHMARK(BM_Throughput)->Apply(Sizes)->ArgNames({"mech", "bytes"})->MinTime(0.3)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  // The ratios, each against the pipe at the same message size, all from this one run.
  std::printf("\nthroughput relative to a pipe (messages/s ratio; > 1 is faster), same run:\n");
  std::printf("%-8s %14s %12s %12s %12s\n", "bytes", "pipe msg/s", "unix_socket", "sysv_queue",
              "posix_queue");
  for (size_t size : {size_t{64}, size_t{4096}, LargestMessage()}) {
    auto rate = [&](int kind) {
      auto it = Rates().find({kind, size});
      return it == Rates().end() ? 0.0 : it->second;
    };
    double pipe = rate(kPipe);
    if (pipe == 0) continue;
    std::printf("%-8zu %14.0f %12.2f %12.2f %12.2f\n", size, pipe, rate(kSocket) / pipe,
                rate(kSysv) / pipe, rate(kPosix) / pipe);
  }
  return 0;
}
