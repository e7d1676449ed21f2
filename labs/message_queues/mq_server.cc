// labs/message_queues/mq_server.cc: the request/response server as a program.
//
// Runs message_queues::RunServer() on one well-known request queue until a client sends
// Op::kShutdown; exits 0 after an orderly shutdown, 1 (with the error on stderr) otherwise.
// The tests exec it so they can kill it like any real server; its partner is Client in
// message_queues.h.
//   mq_server --request_queue=/my-server [--drop_every=3] [--reply_delay_ms=250]
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "labs/message_queues/message_queues.h"

ABSL_FLAG(std::string, request_queue, "", "the server's well-known request queue, \"/name\"");
ABSL_FLAG(int, drop_every, 0, "drop the reply of every N-th executed request (tests); 0: none");
ABSL_FLAG(int, reply_delay_ms, 0, "wait this long before each fresh reply (tests)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  message_queues::ServerOptions options;
  options.request_queue = absl::GetFlag(FLAGS_request_queue);
  options.drop_every = absl::GetFlag(FLAGS_drop_every);
  options.reply_delay = absl::Milliseconds(absl::GetFlag(FLAGS_reply_delay_ms));
  absl::Status status = message_queues::RunServer(options);
  if (!status.ok()) {
    std::fprintf(stderr, "mq_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
