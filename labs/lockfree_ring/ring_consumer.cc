// labs/lockfree_ring/ring_consumer.cc: pops the messages ring_producer pushes and checks each
// one: the right sequence number, the right bytes (CURRICULUM LR10, LR14).
//
//   ring_producer --name=/ring --kind=slots --count=1000000 &
//   ring_consumer --name=/ring --kind=slots --count=1000000
//
// Partner: ring_producer.cc. Prints "received N messages, all in order and intact" and exits 0,
// or says which message was wrong (exit 2) or which call failed (exit 1). After the last message
// it expects the producer to go away: one more Pop must fail with EPIPE (exit 3 otherwise).
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
ABSL_FLAG(uint64_t, count, 1000, "how many messages to expect");
ABSL_FLAG(uint64_t, seed, 1, "the producer's --seed");
ABSL_FLAG(int64_t, timeout_ms, 10000, "give up when one pop waits this long");

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "ring_consumer: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

int Wrong(uint64_t i) {
  std::fprintf(stderr,
               "ring_consumer: message %llu is wrong (lost, duplicated, reordered or torn); "
               "look at the order of copy and publish in TryPush and TryPop\n",
               static_cast<unsigned long long>(i));
  return 2;
}

// After the last message the producer detaches: the next Pop must say so.
int ExpectEnd(const absl::Status& end, uint64_t count) {
  if (end.ok() || end.code() == absl::StatusCode::kDeadlineExceeded) {
    std::fprintf(stderr,
                 "ring_consumer: after %llu messages expected EPIPE (producer gone), got %s\n",
                 static_cast<unsigned long long>(count), end.ToString().c_str());
    return 3;
  }
  std::printf("received %llu messages, all in order and intact\n",
              static_cast<unsigned long long>(count));
  return 0;
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
    absl::StatusOr<lockfree_ring::RecordConsumer> consumer =
        lockfree_ring::RecordConsumer::Attach(*ring);
    if (!consumer.ok()) return Fail("attach", consumer.status());
    const size_t max_size = std::min<size_t>(consumer->capacity() / 2 - 8, 1024);
    std::string record;
    for (uint64_t i = 0; i < count; ++i) {
      absl::Status popped = consumer->Pop(&record, timeout);
      if (!popped.ok()) return Fail("pop", popped);
      if (record != lockfree_ring::stress::MakeRecord(i, seed, max_size)) return Wrong(i);
    }
    return ExpectEnd(consumer->Pop(&record, timeout), count);
  }
  absl::StatusOr<lockfree_ring::SlotConsumer> consumer = lockfree_ring::SlotConsumer::Attach(*ring);
  if (!consumer.ok()) return Fail("attach", consumer.status());
  lockfree_ring::stress::SlotMessage message;
  for (uint64_t i = 0; i < count; ++i) {
    absl::Status popped = consumer->Pop(&message, timeout);
    if (!popped.ok()) return Fail("pop", popped);
    if (!lockfree_ring::stress::SlotMessageIs(message, i, seed)) return Wrong(i);
  }
  return ExpectEnd(consumer->Pop(&message, timeout), count);
}
