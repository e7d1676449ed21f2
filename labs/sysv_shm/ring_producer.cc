// labs/sysv_shm/ring_producer.cc: push squares into the shared ring (001 §1.2's producer, fixed).
//
// Opens (or creates) the SharedRing under --key and pushes i*i for i in [--first, --first +
// --count) (wrapped to int32 past 46340), sleeping --delay_us between items, after an optional
// --start_delay_us. It may start before or after the consumer, and it may be restarted: it never
// re-initialises a ring that exists (SV9, SV10). It never removes the ring: the consumer does.
//
//   $ ring_consumer --key=4660 --count=100 & ring_producer --key=4660 --count=100
//
// Exit code 0 when every item was pushed; 1 with the error on stderr otherwise.
// Partner: ring_consumer.cc.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "labs/sysv_shm/sysv_shm.h"

ABSL_FLAG(int, key, 0, "System V key of the ring");
ABSL_FLAG(int, first, 0, "first i (the item is i*i)");
ABSL_FLAG(int, count, 100, "items to push");
ABSL_FLAG(int, delay_us, 0, "sleep between items");
ABSL_FLAG(int, start_delay_us, 0, "sleep before opening the ring");
ABSL_FLAG(int, timeout_ms, 5000, "how long to wait for the ring and for each free slot");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SleepFor(absl::Microseconds(absl::GetFlag(FLAGS_start_delay_us)));
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  absl::StatusOr<sysv_shm::SharedRing> ring =
      sysv_shm::SharedRing::OpenOrCreate(absl::GetFlag(FLAGS_key), timeout);
  if (!ring.ok()) {
    std::fprintf(stderr, "ring_producer: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  const int first = absl::GetFlag(FLAGS_first);
  for (int i = first; i < first + absl::GetFlag(FLAGS_count); ++i) {
    // i*i wraps past 46340 (--count=1000000 in the stress test): wrap it on purpose, unsigned.
    const auto square = static_cast<int32_t>(static_cast<uint32_t>(i) * static_cast<uint32_t>(i));
    absl::Status status = ring->Push(square, timeout);
    if (!status.ok()) {
      std::fprintf(stderr, "ring_producer: item %d: %s\n", i, status.ToString().c_str());
      return 1;
    }
    if (absl::GetFlag(FLAGS_delay_us) > 0) absl::SleepFor(absl::Microseconds(absl::GetFlag(FLAGS_delay_us)));
  }
  return 0;
}
