// labs/lockfree_ring/ring_producer.cc: pushes numbered, checksummed messages into a ring that
// another process created (CURRICULUM LR10, LR14: two processes, not two threads).
//
//   ring_producer --name=/ring --kind=slots --count=1000000 [--seed=1] &
//   ring_consumer --name=/ring --kind=slots --count=1000000 [--seed=1]
//
// Partner: ring_consumer.cc, which checks every message. Exits 0 when all were pushed, 1 with a
// message on stderr otherwise. Slot rings carry stress::SlotMessage (the ring's slot size must
// be 64); record rings carry stress::MakeRecord records of random sizes.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "labs/lockfree_ring/lockfree_ring.h"
#include "labs/lockfree_ring/stress.h"

ABSL_FLAG(std::string, name, "", "the ring's POSIX shared-memory name, e.g. /ring");
ABSL_FLAG(std::string, kind, "slots", "slots or records");
ABSL_FLAG(uint64_t, count, 1000, "how many messages to push");
ABSL_FLAG(uint64_t, seed, 1, "varies the message contents (the consumer must use the same)");
ABSL_FLAG(int64_t, timeout_ms, 10000, "give up when one push waits this long");

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "ring_producer: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string name = absl::GetFlag(FLAGS_name);
  const uint64_t count = absl::GetFlag(FLAGS_count);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const absl::Duration timeout = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));

  absl::StatusOr<lockfree_ring::SharedRing> ring = lockfree_ring::SharedRing::Open(name);
  if (!ring.ok()) return Fail("open", ring.status());

  if (absl::GetFlag(FLAGS_kind) == "records") {
    absl::StatusOr<lockfree_ring::RecordProducer> producer =
        lockfree_ring::RecordProducer::Attach(*ring);
    if (!producer.ok()) return Fail("attach", producer.status());
    const size_t max_size = std::min<size_t>(producer->MaxRecordSize(), 1024);
    for (uint64_t i = 0; i < count; ++i) {
      absl::Status pushed =
          producer->Push(lockfree_ring::stress::MakeRecord(i, seed, max_size), timeout);
      if (!pushed.ok()) return Fail("push", pushed);
    }
    return 0;
  }
  absl::StatusOr<lockfree_ring::SlotProducer> producer = lockfree_ring::SlotProducer::Attach(*ring);
  if (!producer.ok()) return Fail("attach", producer.status());
  if (producer->slot_size() != sizeof(lockfree_ring::stress::SlotMessage)) {
    std::fprintf(stderr, "ring_producer: the ring's slots are %u bytes, not 64\n",
                 producer->slot_size());
    return 1;
  }
  for (uint64_t i = 0; i < count; ++i) {
    lockfree_ring::stress::SlotMessage message = lockfree_ring::stress::MakeSlotMessage(i, seed);
    absl::Status pushed = producer->Push(&message, timeout);
    if (!pushed.ok()) return Fail("push", pushed);
  }
  return 0;
}
