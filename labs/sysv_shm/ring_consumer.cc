// labs/sysv_shm/ring_consumer.cc: pop items from the shared ring and print them, one per line.
//
// Opens (or creates) the SharedRing under --key, pops --count items (sleeping --delay_us after
// each), prints each as a decimal line, then prints "count=N" (the ring's shared count, which
// must be 0 when every item was taken: SV11) and, with --remove (the default), removes the ring.
//
//   $ ring_consumer --key=4660 --count=100 & ring_producer --key=4660 --count=100
//
// Exit code 0 when every item arrived; 1 with the error on stderr otherwise (the ring is removed
// on that path too). Partner: ring_producer.cc.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "labs/sysv_shm/sysv_shm.h"

ABSL_FLAG(int, key, 0, "System V key of the ring");
ABSL_FLAG(int, count, 100, "items to pop");
ABSL_FLAG(int, delay_us, 0, "sleep after each item");
ABSL_FLAG(int, start_delay_us, 0, "sleep before opening the ring");
ABSL_FLAG(int, timeout_ms, 5000, "how long to wait for the ring and for each item");
ABSL_FLAG(bool, remove, true, "remove the ring at the end");
ABSL_FLAG(bool, quiet, false, "print only the count line, not every item");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SleepFor(absl::Microseconds(absl::GetFlag(FLAGS_start_delay_us)));
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  absl::StatusOr<sysv_shm::SharedRing> ring =
      sysv_shm::SharedRing::OpenOrCreate(absl::GetFlag(FLAGS_key), timeout);
  if (!ring.ok()) {
    std::fprintf(stderr, "ring_consumer: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  int exit_code = 0;
  const bool quiet = absl::GetFlag(FLAGS_quiet);
  int64_t sum = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    absl::StatusOr<int32_t> value = ring->Pop(timeout);
    if (!value.ok()) {
      std::fprintf(stderr, "ring_consumer: item %d: %s\n", i, value.status().ToString().c_str());
      exit_code = 1;
      break;
    }
    sum += *value;
    if (!quiet) std::printf("%d\n", *value);
    if (absl::GetFlag(FLAGS_delay_us) > 0) absl::SleepFor(absl::Microseconds(absl::GetFlag(FLAGS_delay_us)));
  }
  std::printf("sum=%lld\ncount=%d\n", static_cast<long long>(sum), ring->Count());
  if (absl::GetFlag(FLAGS_remove)) {
    absl::Status status = ring->Remove();
    if (!status.ok()) {
      std::fprintf(stderr, "ring_consumer: %s\n", status.ToString().c_str());
      exit_code = 1;
    }
  }
  return exit_code;
}
