// solutions/epoll/bench.cc: requests per second of the reference echo servers, as ratios to poll.
//
// For 1, 16 and 256 active clients and 0, 1,000 and 10,000 idle connections held open, runs the
// same load (load::RunLoad: each active client does request/response round trips of 64 bytes)
// against the poll, epoll level-triggered, epoll edge-triggered and io_uring servers, each in its
// own child process, and prints one table of requests per second for poll and the others as
// ratios to poll, all measured in this one run (EP6: epoll stays flat as idle connections grow;
// poll does not). Each cell runs for about 0.4 s. Then Google Benchmark compares the io_uring
// file copy with the read/write loop. Run:
//   bazel run -c opt //solutions/epoll:bench
//   bazel run -c opt //solutions/epoll:bench -- --benchmark_filter=none    (the table only)
// Needs about 2 x 10,300 descriptors: the soft RLIMIT_NOFILE is raised to the hard limit, and
// rows that do not fit are reported as skipped, with the reason.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "common/status.h"
#include "labs/epoll/epoll.h"
#include "labs/epoll/load.h"

namespace epoll {
namespace {

enum class Server { kPoll, kEpollLevel, kEpollEdge, kUring };
constexpr Server kServers[] = {Server::kPoll, Server::kEpollLevel, Server::kEpollEdge,
                               Server::kUring};
constexpr const char* kNames[] = {"poll", "epoll-lt", "epoll-et", "io_uring"};

load::ServerBody Body(Server server, ScopedFd listener, rlim_t files) {
  if (server != Server::kUring) {
    ServerOptions options;
    options.backend = server == Server::kPoll         ? Backend::kPoll
                      : server == Server::kEpollLevel ? Backend::kEpollLevel
                                                      : Backend::kEpollEdge;
    options.log = [](absl::string_view) {};
    return load::EchoServerBody(std::move(listener), options, files);
  }
  auto fd = std::make_shared<ScopedFd>(std::move(listener));
  return [fd, files](ServerStats* stats, const std::function<void()>& ready) -> absl::Status {
    IPC_RETURN_IF_ERROR(load::RaiseFileLimit(files));
    IPC_ASSIGN_OR_RETURN(UringEchoServer ring, UringEchoServer::Create(std::move(*fd), 1024));
    static UringEchoServer* current = nullptr;
    current = &ring;
    struct sigaction action {};
    action.sa_handler = [](int) { (void)current->Stop(); };
    if (::sigaction(SIGTERM, &action, nullptr) == -1)
      return ipc::ErrnoError("sigaction", "SIGTERM");
    ready();
    absl::Status run = ring.Run();
    *stats = ring.stats();
    return run;
  };
}

absl::StatusOr<double> Measure(Server server, const load::SocketDir& dir, int active, int idle) {
  const rlim_t files = static_cast<rlim_t>(idle + active + 64);
  IPC_RETURN_IF_ERROR(load::RaiseFileLimit(files));
  const std::string path =
      dir.Path(absl::StrCat(kNames[static_cast<int>(server)], ".", active, ".", idle));
  const Endpoint where = Endpoint::Unix(path);
  IPC_ASSIGN_OR_RETURN(ScopedFd listener, Listen(where, 4096));
  IPC_ASSIGN_OR_RETURN(load::ServerProcess process,
                       load::StartServer(Body(server, std::move(listener), files)));
  load::LoadOptions options;
  options.where = where;
  options.clients = active;
  options.idle = idle;
  options.payload = 64;
  options.requests = 1 << 30;
  options.run_for = absl::Milliseconds(400);
  options.timeout = absl::Seconds(60);
  absl::StatusOr<load::LoadResult> result = load::RunLoad(options);
  absl::Status finished = process.Finish().status();
  ::unlink(path.c_str());
  IPC_RETURN_IF_ERROR(result.status());
  IPC_RETURN_IF_ERROR(finished);
  return result->RequestsPerSecond();
}

void PrintTable() {
  absl::StatusOr<load::SocketDir> dir = load::SocketDir::Create();
  if (!dir.ok()) {
    std::printf("cannot make a socket directory: %s\n", dir.status().ToString().c_str());
    return;
  }
  const bool uring = UringAvailable().ok();
  std::printf("Echo servers, 64-byte requests, requests/s for poll and ratios to poll (one run)\n");
  if (!uring) std::printf("io_uring: %s\n", std::string(UringAvailable().message()).c_str());
  std::printf("%7s %7s | %12s | %9s %9s %9s\n", "active", "idle", "poll req/s", "epoll-lt",
              "epoll-et", "io_uring");
  for (int idle : {0, 1000, 10000}) {
    for (int active : {1, 16, 256}) {
      double rate[4] = {0, 0, 0, 0};
      std::string problem;
      for (Server server : kServers) {
        if (server == Server::kUring && !uring) continue;
        absl::StatusOr<double> r = Measure(server, *dir, active, idle);
        if (!r.ok()) {
          problem = absl::StrCat(kNames[static_cast<int>(server)], ": ", r.status().message());
          break;
        }
        rate[static_cast<int>(server)] = *r;
      }
      if (!problem.empty()) {
        std::printf("%7d %7d | skipped: %s\n", active, idle, problem.c_str());
        continue;
      }
      auto ratio = [&](Server s) -> std::string {
        double v = rate[static_cast<int>(s)];
        return v > 0 ? absl::StrFormat("%.2fx", v / rate[0]) : std::string("-");
      };
      std::printf("%7d %7d | %12.0f | %9s %9s %9s\n", active, idle, rate[0],
                  ratio(Server::kEpollLevel).c_str(), ratio(Server::kEpollEdge).c_str(),
                  ratio(Server::kUring).c_str());
      std::fflush(stdout);
    }
  }
}

// The io_uring copy against the read/write loop, on a 16 MiB file in /tmp.
void BM_Copy(benchmark::State& state, bool uring) {
  const std::string src = absl::StrCat("/tmp/epoll-bench-src.", ::getpid());
  const std::string dst = absl::StrCat("/tmp/epoll-bench-dst.", ::getpid());
  {
    ScopedFd f(::open(src.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    std::string block(1 << 20, 'x');
    for (int i = 0; i < 16; ++i) (void)!::write(f.get(), block.data(), block.size());
  }
  for (auto _ : state) {
    ScopedFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    ScopedFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    absl::StatusOr<uint64_t> copied = uring ? CopyFileUring(in.get(), out.get(), 128 * 1024)
                                            : CopyFileReadWrite(in.get(), out.get(), 128 * 1024);
    if (!copied.ok()) {
      state.SkipWithError(std::string(copied.status().message()).c_str());
      break;
    }
    state.SetBytesProcessed(state.bytes_processed() + static_cast<int64_t>(*copied));
  }
  ::unlink(src.c_str());
  ::unlink(dst.c_str());
}
BENCHMARK_CAPTURE(BM_Copy, read_write_loop, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Copy, io_uring_linked, true)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace epoll

int main(int argc, char** argv) {
  epoll::PrintTable();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
