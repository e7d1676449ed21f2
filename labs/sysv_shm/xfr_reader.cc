// labs/sysv_shm/xfr_reader.cc: copy a System V segment's blocks to standard output.
//
// The reader half of the classic pair (TLPI's svshm_xfr_reader.c): waits for xfr_writer's
// segment under --key, marks it for removal as soon as it is attached, and writes every block to
// stdout with ReceiveFile(). If the writer dies mid-transfer it says so and exits 1; the segment
// is gone either way.
//
//   $ xfr_reader --key=4660 > outfile &  xfr_writer --key=4660 < infile
//
// Exit code 0 when the whole file arrived; 1 with the error on stderr otherwise.
// Partner: xfr_writer.cc.
#include <unistd.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "labs/sysv_shm/sysv_shm.h"

ABSL_FLAG(int, key, 0, "System V key of the transfer segment");
ABSL_FLAG(int, timeout_ms, 5000, "how long to wait for the writer and for each block");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sysv_shm::TransferOptions options;
  options.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  absl::Status status = sysv_shm::ReceiveFile(absl::GetFlag(FLAGS_key), STDOUT_FILENO, options);
  if (!status.ok()) {
    std::fprintf(stderr, "xfr_reader: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
