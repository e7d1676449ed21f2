// labs/epoll/echo_server.cc: the echo server of epoll.h as a program you can run and kill.
//
// Listens on a Unix socket path or a TCP loopback port, serves frames (4-byte little-endian
// length, then the payload) until SIGTERM or SIGINT arrives through the server's signalfd, then
// closes every client, removes its socket file, prints what it did and exits 0:
//
//   $ echo_server --unix=/tmp/echo.sock --backend=epoll-et &
//   listening on unix:/tmp/echo.sock (epoll-et)
//   $ kill %1
//   stopped: accepted=3 closed=3 frames=300 rejected=0 idle_closed=0 ...
//
// Partner: load.h's clients (the tests exec this program to check the SIGTERM shutdown).
// Errors are one sentence on stderr, exit code 1 (2 for bad flags).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "labs/epoll/epoll.h"

ABSL_FLAG(std::string, unix, "", "listen on this Unix socket path (it must not exist)");
ABSL_FLAG(int32_t, tcp, -1, "listen on 127.0.0.1:PORT instead (0: any free port)");
ABSL_FLAG(std::string, backend, "epoll-et", "select, poll, epoll-lt or epoll-et");
ABSL_FLAG(int32_t, idle_ms, 0, "close clients idle this long (0: never)");
ABSL_FLAG(int32_t, max_frame, 64 * 1024, "the largest payload accepted");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Serves length-prefixed echo frames from one thread.");
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_unix);
  const int32_t port = absl::GetFlag(FLAGS_tcp);
  if (path.empty() == (port < 0)) {
    std::fprintf(stderr, "echo_server: give exactly one of --unix=PATH and --tcp=PORT\n");
    return 2;
  }
  epoll::ServerOptions options;
  const std::string backend = absl::GetFlag(FLAGS_backend);
  bool known = false;
  for (epoll::Backend b : {epoll::Backend::kSelect, epoll::Backend::kPoll,
                           epoll::Backend::kEpollLevel, epoll::Backend::kEpollEdge}) {
    if (epoll::BackendName(b) == backend) {
      options.backend = b;
      known = true;
    }
  }
  if (!known) {
    std::fprintf(stderr, "echo_server: unknown --backend=%s (select, poll, epoll-lt, epoll-et)\n",
                 backend.c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_idle_ms) > 0) {
    options.idle_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_idle_ms));
  }
  options.max_frame = static_cast<size_t>(absl::GetFlag(FLAGS_max_frame));

  const epoll::Endpoint where = path.empty() ? epoll::Endpoint::Tcp(static_cast<uint16_t>(port))
                                             : epoll::Endpoint::Unix(path);
  absl::StatusOr<epoll::ScopedFd> listener = epoll::Listen(where);
  if (!listener.ok()) {
    std::fprintf(stderr, "echo_server: cannot listen: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<epoll::Endpoint> bound = epoll::BoundEndpoint(listener->get());
  absl::StatusOr<epoll::EchoServer> server =
      epoll::EchoServer::Create(std::move(*listener), options);
  int code = 0;
  if (!server.ok()) {
    std::fprintf(stderr, "echo_server: cannot start: %s\n", server.status().ToString().c_str());
    code = 1;
  } else {
    if (bound.ok() && bound->is_unix()) {
      std::printf("listening on unix:%s (%s)\n", bound->unix_path.c_str(), backend.c_str());
    } else if (bound.ok()) {
      std::printf("listening on 127.0.0.1:%u (%s)\n", bound->tcp_port, backend.c_str());
    }
    std::fflush(stdout);
    absl::Status run = server->Run();
    const epoll::ServerStats& s = server->stats();
    std::printf(
        "stopped: accepted=%llu closed=%llu frames=%llu rejected=%llu idle_closed=%llu "
        "accept_emfile=%llu open=%zu\n",
        static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.closed),
        static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.rejected),
        static_cast<unsigned long long>(s.idle_closed),
        static_cast<unsigned long long>(s.accept_emfile), server->connections());
    std::fflush(stdout);
    if (!run.ok()) {
      std::fprintf(stderr, "echo_server: %s\n", run.ToString().c_str());
      code = 1;
    }
  }
  if (!path.empty()) ::unlink(path.c_str());  // the socket file is ours: leave nothing behind
  return code;
}
