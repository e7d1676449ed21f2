// labs/message_queues/message_queues_test_util.cc: the helpers of message_queues_test_util.h,
// shared by the public and the hidden tests of the message-queue lab.
#include "labs/message_queues/message_queues_test_util.h"

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/timing.h"
#include "gtest/gtest.h"

namespace message_queues::test_util {

absl::StatusOr<Client> ConnectWhenReady(const std::string& server, const std::string& reply,
                                        const ClientOptions& options) {
  ipc::Stopwatch clock;
  for (;;) {
    absl::StatusOr<Client> client = Client::Connect(server, reply, options);
    if (client.ok() || client.status().code() != absl::StatusCode::kUnavailable ||
        clock.Elapsed() > absl::Seconds(5)) {
      return client;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void WaitUntilSleeping(pid_t pid) {
  ipc::Stopwatch clock;
  while (clock.Elapsed() < absl::Seconds(5)) {
    absl::StatusOr<char> state = ipc::ProcessState(pid);
    if (!state.ok() || *state == 'Z') {
      ADD_FAILURE() << "process " << pid << " ended instead of blocking in a receive or send";
      return;
    }
    if (*state == 'S') return;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ADD_FAILURE() << "process " << pid << " never blocked";
}

}  // namespace message_queues::test_util
