// labs/semaphores/sem_producer.cc: puts items into a NamedChannel that another process created.
//
// The producer half of Part 3. It is not the creator's child: it finds the channel by its prefix
// alone (NamedChannel::Open), puts `items` consecutive values starting at `first`, and exits. The
// tests exec it next to sem_consumer; you can run both by hand too:
//
//   bazel build //labs/semaphores:all && B=bazel-bin/labs/semaphores
//   # a creator must make the channel first (the tests do); then:
//   $B/sem_producer --prefix=/my.chan --items=10 & $B/sem_consumer --prefix=/my.chan --items=10
//
// Exits 0 when every item is in the channel, 1 (with the error on stderr) otherwise.
// Partner: sem_consumer.cc. Your code runs through semaphores.h; this file is not yours.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "labs/semaphores/semaphores.h"

ABSL_FLAG(std::string, prefix, "", "the channel's name prefix, as given to NamedChannel::Create");
ABSL_FLAG(int64_t, items, 10, "how many items to put");
ABSL_FLAG(int64_t, first, 1, "the first item; the producer puts first, first+1, ...");
ABSL_FLAG(int, every_ms, 0, "pause before each item, in milliseconds");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<semaphores::NamedChannel> channel =
      semaphores::NamedChannel::Open(absl::GetFlag(FLAGS_prefix));
  if (!channel.ok()) {
    std::fprintf(stderr, "sem_producer: NamedChannel::Open: %s\n",
                 channel.status().ToString().c_str());
    return 1;
  }
  const int64_t first = absl::GetFlag(FLAGS_first);
  for (int64_t i = 0; i < absl::GetFlag(FLAGS_items); ++i) {
    absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_every_ms)));
    absl::Status status = channel->Put(static_cast<uint64_t>(first + i));
    if (!status.ok()) {
      std::fprintf(stderr, "sem_producer: Put(%lld): %s\n", static_cast<long long>(first + i),
                   status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
