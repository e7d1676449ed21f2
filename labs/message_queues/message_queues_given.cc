// labs/message_queues/message_queues_given.cc: the plumbing of message_queues.h that is given,
// not a task.
//
// Moving and destroying a SysvQueue (an owning handle removes its queue), a PosixQueue
// (mq_close) and an UrgentQueueSet (closes its epoll set), and SysvQueue::Attach, are the same in
// every implementation. This file is linked into both your library and the reference, and the
// grader always takes it from the pristine tree: do not edit it. Partner: message_queues.cc.
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <utility>

#include "labs/message_queues/message_queues.h"

namespace message_queues {

SysvQueue SysvQueue::Attach(int id) { return SysvQueue(id, /*owned=*/false); }

SysvQueue::SysvQueue(SysvQueue&& other) noexcept
    : id_(std::exchange(other.id_, -1)), owned_(std::exchange(other.owned_, false)) {}

SysvQueue& SysvQueue::operator=(SysvQueue&& other) noexcept {
  if (this != &other) {
    if (owned_ && id_ != -1) ::msgctl(id_, IPC_RMID, nullptr);  // best effort, as the destructor
    id_ = std::exchange(other.id_, -1);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

SysvQueue::~SysvQueue() {
  // An owning handle removes its queue even on a failure path; errors cannot be reported here.
  if (owned_ && id_ != -1) ::msgctl(id_, IPC_RMID, nullptr);
}

PosixQueue::PosixQueue(PosixQueue&& other) noexcept
    : mqd_(std::exchange(other.mqd_, static_cast<mqd_t>(-1))),
      name_(std::move(other.name_)),
      message_size_(other.message_size_) {}

PosixQueue& PosixQueue::operator=(PosixQueue&& other) noexcept {
  if (this != &other) {
    if (mqd_ != static_cast<mqd_t>(-1)) ::mq_close(mqd_);
    mqd_ = std::exchange(other.mqd_, static_cast<mqd_t>(-1));
    name_ = std::move(other.name_);
    message_size_ = other.message_size_;
  }
  return *this;
}

PosixQueue::~PosixQueue() {
  if (mqd_ != static_cast<mqd_t>(-1)) ::mq_close(mqd_);  // closing cannot fail usefully here
}

UrgentQueueSet::UrgentQueueSet(UrgentQueueSet&& other) noexcept
    : epoll_fd_(std::exchange(other.epoll_fd_, -1)), queues_(std::move(other.queues_)) {}

UrgentQueueSet& UrgentQueueSet::operator=(UrgentQueueSet&& other) noexcept {
  if (this != &other) {
    if (epoll_fd_ != -1) ::close(epoll_fd_);
    epoll_fd_ = std::exchange(other.epoll_fd_, -1);
    queues_ = std::move(other.queues_);
  }
  return *this;
}

UrgentQueueSet::~UrgentQueueSet() {
  if (epoll_fd_ != -1) ::close(epoll_fd_);
}


}  // namespace message_queues
