// labs/message_queues/message_queues_test_util.h: helpers that the public tests
// (message_queues_test.cc) and the grader's hidden tests of this lab share, so that both run one
// copy of them: a fast failure for a call that is still the skeleton's, a wait for a process to
// block in the kernel, and a client that waits for its server.
//
// Built by labs/message_queues/BUILD as :test_util (testonly, compiled against
// message_queues.h only). Partner: message_queues_test_util.cc.
#ifndef IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_TEST_UTIL_H_
#define IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_TEST_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/testing/testing.h"
#include "gmock/gmock.h"
#include "labs/message_queues/message_queues.h"

// ASSERT_IMPLEMENTED(expr): fails the test at once when `expr` (an absl::Status or StatusOr) is
// still the skeleton's UNIMPLEMENTED, so that no test forks or waits on code that does not exist
// yet.
#define ASSERT_IMPLEMENTED(expr)                                                    \
  ASSERT_THAT((expr),                                                               \
              ::testing::Not(                                                       \
                  ::ipc::testing::StatusIs(absl::StatusCode::kUnimplemented)))      \
      << #expr << " is still a TODO(student) in message_queues.cc: implement it first"

namespace message_queues::test_util {

// ConnectWhenReady()
//
// Client::Connect(server, reply, options), retried every 5 ms for up to 5 s while it fails with
// UNAVAILABLE (the server, started asynchronously, has not created its queue yet). Returns the
// client, or the last error (any other error at once).
absl::StatusOr<Client> ConnectWhenReady(const std::string& server, const std::string& reply,
                                        const ClientOptions& options = {});

// WaitUntilSleeping()
//
// Waits (at most 5 s) until process `pid` sleeps in the kernel (state S): blocked in msgrcv,
// mq_receive or a send on a full queue. Fails the test (ADD_FAILURE) if the process ends first
// or never blocks.
void WaitUntilSleeping(pid_t pid);

}  // namespace message_queues::test_util

#endif  // IPC_LABS_LABS_MESSAGE_QUEUES_MESSAGE_QUEUES_TEST_UTIL_H_
