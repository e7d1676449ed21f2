// labs/posix_shm/shm_reader.cc: waits for one message in a mailbox, prints it, removes the mailbox.
//
// The reader half of the flag handshake (partner: shm_writer.cc). It may start before the writer
// (PS5): it attaches (creating the mailbox if needed) and sleeps in the kernel until the flag goes
// up, instead of failing with ENOENT or printing an empty slot as the notes' `writer & reader`
// did. It clears the flag through its own read/write mapping (PS16), prints the values, then
// removes the name (PS4).
//
//   $ shm_reader --name=/demo &
//   $ shm_writer --name=/demo --i32=42 --f64=3.1415
//   i32=42 f64=3.1415
//
// The float64 is printed in the shortest form that reads back to the same double (std::to_chars).
// Errors are one sentence on stderr and exit code 1 (2 for bad flags); the mailbox is removed on
// every path unless --keep is given.
#include <charconv>
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
ABSL_FLAG(int32_t, timeout_ms, 5000, "how long to wait for the writer");
ABSL_FLAG(bool, keep, false, "leave the mailbox in /dev/shm instead of unlinking it");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Receives one int32 and one float64 from a POSIX shm mailbox.");
  absl::ParseCommandLine(argc, argv);
  const std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) {
    std::fprintf(stderr, "shm_reader: --name is required (for example --name=/demo)\n");
    return 2;
  }

  absl::StatusOr<posix_shm::Mailbox> mailbox = posix_shm::Mailbox::Attach(name);
  if (!mailbox.ok()) {
    std::fprintf(stderr, "shm_reader: cannot attach to the mailbox: %s\n",
                 mailbox.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<posix_shm::Message> message =
      mailbox->Receive(absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)));

  // Remove the name on every path: a reader that gives up must not leave the object behind.
  if (!absl::GetFlag(FLAGS_keep)) {
    absl::Status unlinked = mailbox->Unlink();
    if (!unlinked.ok() && message.ok()) {
      std::fprintf(stderr, "shm_reader: cannot remove the mailbox: %s\n",
                   unlinked.ToString().c_str());
      return 1;
    }
  }
  if (!message.ok()) {
    std::fprintf(stderr, "shm_reader: no message: %s\n", message.status().ToString().c_str());
    return 1;
  }
  char f64[64];
  std::to_chars_result r = std::to_chars(f64, f64 + sizeof f64, message->f64);
  *r.ptr = '\0';
  std::printf("i32=%d f64=%s\n", message->i32, f64);
  return 0;
}
