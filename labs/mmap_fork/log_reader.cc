// labs/mmap_fork/log_reader.cc: the reader half of the message-log exercise (MF5).
//
// Opens the MessageLog at --path (waiting for the writer if it starts first), receives until the
// end of the log and checks that it got exactly --count messages, "message 0", "message 1", ...
// in order, each once. Its partner is log_writer.cc; see there for how to run both by hand.
// Exits 0 when everything arrived in order; otherwise prints what went wrong and exits 1.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "labs/mmap_fork/mmap_fork.h"

ABSL_FLAG(std::string, path, "", "where the writer publishes the log file");
ABSL_FLAG(int, count, 100, "how many messages to expect");
ABSL_FLAG(int, timeout_ms, 10000, "how long Open() and each Receive() may wait");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_path);
  const int count = absl::GetFlag(FLAGS_count);
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  absl::StatusOr<mmap_fork::MessageLog> log = mmap_fork::MessageLog::Open(path, timeout);
  if (!log.ok()) {
    std::fprintf(stderr, "log_reader: Open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  for (int i = 0;; ++i) {
    absl::StatusOr<std::string> message = log->Receive(timeout);
    if (absl::IsOutOfRange(message.status())) {  // the writer closed the log
      if (i == count) return 0;
      std::fprintf(stderr, "log_reader: the log ended after %d messages; expected %d\n", i, count);
      return 1;
    }
    if (!message.ok()) {
      std::fprintf(stderr, "log_reader: Receive #%d: %s\n", i, message.status().ToString().c_str());
      return 1;
    }
    std::string expected = absl::StrCat("message ", i);
    if (*message != expected) {
      std::fprintf(stderr, "log_reader: message #%d is \"%s\"; expected \"%s\" (lost, repeated "
                   "or reordered)\n", i, message->c_str(), expected.c_str());
      return 1;
    }
  }
}
