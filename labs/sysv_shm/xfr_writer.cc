// labs/sysv_shm/xfr_writer.cc: copy standard input into a System V segment, block by block.
//
// The writer half of the classic pair (TLPI's svshm_xfr_writer.c): creates the transfer segment
// under --key and hands stdin to xfr_reader through it with SendFile(), one kTransferBlockSize
// block at a time, each block waiting for the reader to take the previous one.
//
//   $ xfr_writer --key=4660 < infile &  xfr_reader --key=4660 > outfile;  cmp infile outfile
//
// Exit code 0 when the reader has every byte; 1 with the error on stderr otherwise.
// Partner: xfr_reader.cc.
#include <unistd.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "labs/sysv_shm/sysv_shm.h"

ABSL_FLAG(int, key, 0, "System V key of the transfer segment (not IPC_PRIVATE)");
ABSL_FLAG(int, timeout_ms, 5000, "how long to wait for the reader, per block");
ABSL_FLAG(int, block_delay_ms, 0, "sleep before each block (to slow the writer down in tests)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sysv_shm::TransferOptions options;
  options.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  options.block_delay = absl::Milliseconds(absl::GetFlag(FLAGS_block_delay_ms));
  absl::Status status = sysv_shm::SendFile(absl::GetFlag(FLAGS_key), STDIN_FILENO, options);
  if (!status.ok()) {
    std::fprintf(stderr, "xfr_writer: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
