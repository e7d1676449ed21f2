// labs/semaphores/sem_consumer.cc: takes items from a NamedChannel and prints them, one a line.
//
// The consumer half of Part 3 (see sem_producer.cc for how to run the pair). It opens the channel
// by its prefix, takes `items` items and prints each to stdout as a decimal number on its own
// line, so a test can check that every item arrived once and in order.
//
// Exits 0 after `items` items, 1 (with the error on stderr) otherwise.
// Partner: sem_producer.cc. Your code runs through semaphores.h; this file is not yours.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "labs/semaphores/semaphores.h"

ABSL_FLAG(std::string, prefix, "", "the channel's name prefix, as given to NamedChannel::Create");
ABSL_FLAG(int64_t, items, 10, "how many items to take");
ABSL_FLAG(int, every_ms, 0, "pause before each take, in milliseconds (a slow consumer)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<semaphores::NamedChannel> channel =
      semaphores::NamedChannel::Open(absl::GetFlag(FLAGS_prefix));
  if (!channel.ok()) {
    std::fprintf(stderr, "sem_consumer: NamedChannel::Open: %s\n",
                 channel.status().ToString().c_str());
    return 1;
  }
  for (int64_t i = 0; i < absl::GetFlag(FLAGS_items); ++i) {
    absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_every_ms)));
    absl::StatusOr<uint64_t> item = channel->Take();
    if (!item.ok()) {
      std::fprintf(stderr, "sem_consumer: Take: %s\n", item.status().ToString().c_str());
      return 1;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(*item));
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
