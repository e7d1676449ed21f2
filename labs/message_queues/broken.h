// labs/message_queues/broken.h: the course notes' broken patterns, kept so tests can show them
// failing ("find the bug"). Not yours to edit, and not code to copy: each function reproduces
// one mistake from the notes on purpose, and its comment says which CURRICULUM row it is. The
// tests in message_queues_test.cc run each one beside your code; explain in ANSWERS.md why it
// fails. Everything here uses raw system calls, so it behaves the same whatever your library does.
#ifndef IPC_LABS_LABS_MESSAGE_QUEUES_BROKEN_H_
#define IPC_LABS_LABS_MESSAGE_QUEUES_BROKEN_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "labs/message_queues/message_queues.h"

namespace message_queues::broken {

// CollectLogTypes()
//
// The notes' "priority" log collector (MQ4): receives `count` messages from System V queue
// `msqid` with msgrcv(..., msgtyp = 0, ...), whose comment claims ERROR (type 1) comes out first,
// and returns the types in the order received. Errors: msgrcv's.
absl::StatusOr<std::vector<long>> CollectLogTypes(int msqid, int count);

// CreateQueueWithoutMode()
//
// The notes' comparison snippet (MQ6): msgget(key, IPC_CREAT), no permission bits. Returns the
// id of the queue it created or found; the caller removes it. Errors: msgget's.
absl::StatusOr<int> CreateQueueWithoutMode(key_t key);

// ReceiveIntoFixedBuffer()
//
// The notes' non-blocking demo and order/payment receiver (MQ12): mq_receive into a 256-byte
// buffer whatever the queue's mq_msgsize. Returns the result of one receive (OK with a message
// queued in a queue whose mq_msgsize <= 256). Errors: mq_receive's.
absl::Status ReceiveIntoFixedBuffer(int mq_fd);

// ReceiveAndTerminate()
//
// The notes' posix_message_queue receiver (MQ13): receives into `char text[256]` of a queue with
// mq_msgsize 256, then writes text[n] = '\0' to print it as a C string. Returns true if the bytes
// just after the buffer (a canary) survived. Errors: mq_receive's.
absl::StatusOr<bool> ReceiveAndTerminate(int mq_fd);

// OpenNestedName()
//
// The notes' Practical 1 (MQ15): mq_open(name, O_CREAT | O_RDWR, 0600, NULL) with a name such as
// "/logs/error", unvalidated. Closes and unlinks the queue if it was created. Errors: mq_open's.
absl::Status OpenNestedName(const std::string& name);

// PriorityDemoWithoutBarrier()
//
// The notes' priority demo (MQ10, MQ11): forks a receiver that starts receiving at once from queue
// `name`, sends `messages` and then "quit" (priority 0), and returns the payloads in the order the
// receiver got them. `after_each_send(fd)` runs after each send (a test hook). Unlinks the queue.
// Errors: any call's.
absl::StatusOr<std::vector<std::string>> PriorityDemoWithoutBarrier(
    const std::string& name, const std::vector<Message>& messages,
    const std::function<void(int fd)>& after_each_send);

}  // namespace message_queues::broken

#endif  // IPC_LABS_LABS_MESSAGE_QUEUES_BROKEN_H_
