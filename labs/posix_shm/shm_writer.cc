// labs/posix_shm/shm_writer.cc: puts one message (an int32 and a float64) into a mailbox.
//
// The writer half of the notes' flag handshake, done right: it attaches to the mailbox (creating
// it if the reader has not yet), waits until the slot is empty, writes the two values and raises
// the flag. It leaves the object for the reader, which removes it after reading (PS4). Its
// partner is shm_reader.cc; either may start first (PS5):
//
//   $ shm_reader --name=/demo &
//   $ shm_writer --name=/demo --i32=42 --f64=3.1415
//   i32=42 f64=3.1415                      <- printed by the reader
//
// Errors are printed as one sentence on stderr, and the exit code is 1 (2 for bad flags).
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "labs/posix_shm/posix_shm.h"

ABSL_FLAG(std::string, name, "", "the mailbox's POSIX name, e.g. /demo (required)");
ABSL_FLAG(int32_t, i32, 42, "the int32 to send");
ABSL_FLAG(double, f64, 3.1415, "the float64 to send");
ABSL_FLAG(int32_t, timeout_ms, 5000, "how long to wait for the reader to empty the slot");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Sends one int32 and one float64 through a POSIX shm mailbox.");
  absl::ParseCommandLine(argc, argv);
  const std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) {
    std::fprintf(stderr, "shm_writer: --name is required (for example --name=/demo)\n");
    return 2;
  }

  absl::StatusOr<posix_shm::Mailbox> mailbox = posix_shm::Mailbox::Attach(name);
  if (!mailbox.ok()) {
    std::fprintf(stderr, "shm_writer: cannot attach to the mailbox: %s\n",
                 mailbox.status().ToString().c_str());
    return 1;
  }
  absl::Status sent = mailbox->Send({absl::GetFlag(FLAGS_i32), absl::GetFlag(FLAGS_f64)},
                                    absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  if (!sent.ok()) {
    std::fprintf(stderr, "shm_writer: cannot send: %s\n", sent.ToString().c_str());
    return 1;
  }
  // The object stays: the reader unlinks it once it has read the message (PS4).
  return 0;
}
