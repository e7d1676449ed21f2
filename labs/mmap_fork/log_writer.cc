// labs/mmap_fork/log_writer.cc: the writer half of the message-log exercise (MF5).
//
// Creates a MessageLog at --path and sends --count messages "message 0", "message 1", ... then
// closes it. Its partner is log_reader.cc, a separate program that maps the same file; the tests
// exec both. By hand:
//   $ log_reader --path=/tmp/log --count=100000 & log_writer --path=/tmp/log --count=100000
// With --sync it calls Sync() (msync) once at the end, as a program would before reporting
// "saved"; the reader never needs it (MF16). Exits 0 when every message went out, 1 otherwise.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "labs/mmap_fork/mmap_fork.h"

ABSL_FLAG(std::string, path, "", "where to publish the log file");
ABSL_FLAG(int, count, 100, "how many messages to send");
ABSL_FLAG(bool, sync, false, "msync the file once all messages are written");
ABSL_FLAG(int, timeout_ms, 10000, "how long one Send() may wait for a free slot");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_path);
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  if (path.empty()) {
    std::fprintf(stderr, "log_writer: --path is required\n");
    return 1;
  }
  absl::StatusOr<mmap_fork::MessageLog> log = mmap_fork::MessageLog::Create(path);
  if (!log.ok()) {
    std::fprintf(stderr, "log_writer: Create: %s\n", log.status().ToString().c_str());
    return 1;
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    absl::Status sent = log->Send(absl::StrCat("message ", i), timeout);
    if (!sent.ok()) {
      std::fprintf(stderr, "log_writer: Send(message %d): %s\n", i, sent.ToString().c_str());
      return 1;
    }
  }
  if (absl::GetFlag(FLAGS_sync)) {
    absl::Status synced = log->Sync();
    if (!synced.ok()) {
      std::fprintf(stderr, "log_writer: Sync: %s\n", synced.ToString().c_str());
      return 1;
    }
  }
  absl::Status closed = log->Close(timeout);
  if (!closed.ok()) {
    std::fprintf(stderr, "log_writer: Close: %s\n", closed.ToString().c_str());
    return 1;
  }
  return 0;
}
