// labs/epoll/epoll_given.cc: the plumbing of epoll.h that is given, not a task.
//
// BackendName() and moving and destroying a FlagChannel are the same in every implementation:
// naming a backend is not the lesson, and a FlagChannel hands its shared word and its eventfd over
// (or unmaps the word; the ScopedFd closes the eventfd). This file is linked into both your library
// and the reference, and the grader always takes it from the pristine tree: do not edit it.
// Partner: epoll.cc (yours: every TODO(student)). What stays in epoll.cc although it looks like
// plumbing (the servers' constructors, move operations, destructors and stats()) needs your
// definition of each server's State, which only epoll.cc can see.
#include <sys/mman.h>

#include <utility>

#include "labs/epoll/epoll.h"

namespace epoll {

absl::string_view BackendName(Backend backend) {
  switch (backend) {
    case Backend::kSelect:
      return "select";
    case Backend::kPoll:
      return "poll";
    case Backend::kEpollLevel:
      return "epoll-lt";
    case Backend::kEpollEdge:
      return "epoll-et";
  }
  return "unknown";
}

// The moved-from channel is left empty (no word, no eventfd): its calls fail with
// FAILED_PRECONDITION, and its destructor does nothing.
FlagChannel& FlagChannel::operator=(FlagChannel&& other) noexcept {
  if (this != &other) {
    if (word_ != nullptr) ::munmap(word_, sizeof *word_);  // munmap cannot fail on our own word
    word_ = std::exchange(other.word_, nullptr);
    event_fd_ = std::move(other.event_fd_);
  }
  return *this;
}

// Unmaps the word in this process only (other processes keep their mapping); event_fd_'s
// ScopedFd closes the eventfd.
FlagChannel::~FlagChannel() {
  if (word_ != nullptr) ::munmap(word_, sizeof *word_);
}

}  // namespace epoll
