// labs/mmap_fork/mmap_fork.cc: YOUR implementation of mmap_fork.h (the only file you hand in,
// with ANSWERS.md).
//
// Work through the handout (README.md) part by part; each TODO(student) below names the task and
// the contract to meet, which mmap_fork.h spells out. The plumbing that every part needs (moves,
// destructors) is written for you. Test as you go:
//   bazel test //labs/mmap_fork:mmap_fork_test
// and see README.md for the tests that check each task.
#include "labs/mmap_fork/mmap_fork.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/status.h"
#include "common/timing.h"

namespace mmap_fork {

// ---------------------------------------------------------------------------------------------
// Part 1: Mapping
// ---------------------------------------------------------------------------------------------

absl::StatusOr<Mapping> Mapping::Anonymous(size_t bytes, Sharing sharing) {
  (void)bytes;
  (void)sharing;
  return absl::UnimplementedError(
      "TODO(student): Mapping::Anonymous (task 1.1): mmap with MAP_ANONYMOUS and MAP_SHARED or "
      "MAP_PRIVATE, fd -1");
}

absl::StatusOr<Mapping> Mapping::MapFile(int fd, const FileMapOptions& options) {
  (void)fd;
  (void)options;
  return absl::UnimplementedError(
      "TODO(student): Mapping::MapFile (task 1.2): the length from fstat, then mmap (and "
      "madvise MADV_RANDOM when asked)");
}

absl::Status Mapping::Sync() const {
  return absl::UnimplementedError("TODO(student): Mapping::Sync (task 1.3): msync(MS_SYNC)");
}

absl::StatusOr<size_t> Mapping::ResidentPages() const {
  return absl::UnimplementedError(
      "TODO(student): Mapping::ResidentPages (task 1.3): count the resident pages with mincore");
}

// ---------------------------------------------------------------------------------------------
// Part 2: the counter
// ---------------------------------------------------------------------------------------------

absl::Status InitCounter(SharedCounter* counter, LockKind kind) {
  (void)counter;
  (void)kind;
  return absl::UnimplementedError(
      "TODO(student): InitCounter (task 2.1): a PTHREAD_PROCESS_SHARED mutex (and "
      "PTHREAD_MUTEX_ROBUST for LockKind::kRobust)");
}

absl::StatusOr<CounterLock> CounterLock::Acquire(SharedCounter* counter) {
  (void)counter;
  return absl::UnimplementedError(
      "TODO(student): CounterLock::Acquire (tasks 2.1 and 2.3): pthread_mutex_lock; on "
      "EOWNERDEAD repair the counter and call pthread_mutex_consistent");
}

absl::Status AddToCounter(SharedCounter* counter, int64_t delta) {
  (void)counter;
  (void)delta;
  return absl::UnimplementedError(
      "TODO(student): AddToCounter (task 2.1): lock, then staged / dirty / value / dirty in "
      "that order");
}

absl::StatusOr<CounterState> ReadCounter(SharedCounter* counter) {
  (void)counter;
  return absl::UnimplementedError("TODO(student): ReadCounter (task 2.1): read under the lock");
}

absl::Status RaceOnCounter(SharedCounter* counter, int children, int iterations,
                           absl::Duration timeout) {
  (void)counter;
  (void)children;
  (void)iterations;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): RaceOnCounter (task 2.2): fork the children with ipc::Child, add 2 in "
      "the parent, reap every child");
}

// ---------------------------------------------------------------------------------------------
// Part 3: the cache
// ---------------------------------------------------------------------------------------------

absl::StatusOr<SharedCache> SharedCache::Attach(const Mapping& mapping, size_t capacity) {
  (void)mapping;
  (void)capacity;
  return absl::UnimplementedError(
      "TODO(student): SharedCache::Attach (task 3.1): check the mapping, then initialise once "
      "(compare-and-swap init_state 0 -> 1) a PTHREAD_PROCESS_SHARED, writer-preferring rwlock");
}

absl::Status SharedCache::Set(absl::string_view key, absl::string_view value, absl::Duration ttl) {
  (void)key;
  (void)value;
  (void)ttl;
  return absl::UnimplementedError("TODO(student): SharedCache::Set (task 3.2)");
}

absl::StatusOr<std::string> SharedCache::Get(absl::string_view key) {
  (void)key;
  return absl::UnimplementedError("TODO(student): SharedCache::Get (task 3.2)");
}

absl::Status SharedCache::Erase(absl::string_view key) {
  (void)key;
  return absl::UnimplementedError("TODO(student): SharedCache::Erase (task 3.2)");
}

absl::StatusOr<size_t> SharedCache::Size() {
  return absl::UnimplementedError("TODO(student): SharedCache::Size (task 3.2)");
}

absl::StatusOr<ReadView> SharedCache::BeginRead() {
  return absl::UnimplementedError(
      "TODO(student): SharedCache::BeginRead (task 3.3): pthread_rwlock_rdlock");
}

absl::StatusOr<ReadView> SharedCache::TryBeginRead() {
  return absl::UnimplementedError(
      "TODO(student): SharedCache::TryBeginRead (task 3.3): pthread_rwlock_tryrdlock");
}

absl::StatusOr<WriteBatch> SharedCache::BeginWrite() {
  return absl::UnimplementedError(
      "TODO(student): SharedCache::BeginWrite (task 3.3): pthread_rwlock_wrlock");
}

absl::StatusOr<WriteBatch> SharedCache::TryBeginWrite() {
  return absl::UnimplementedError(
      "TODO(student): SharedCache::TryBeginWrite (task 3.3): pthread_rwlock_trywrlock");
}

ReadView& ReadView::operator=(ReadView&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) ::pthread_rwlock_unlock(&header_->lock);
    header_ = std::exchange(other.header_, nullptr);
  }
  return *this;
}

ReadView::~ReadView() {
  if (header_ != nullptr) ::pthread_rwlock_unlock(&header_->lock);
}

absl::StatusOr<std::string> ReadView::Get(absl::string_view key) const {
  (void)key;
  return absl::UnimplementedError("TODO(student): ReadView::Get (task 3.3)");
}

WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : header_(std::exchange(other.header_, nullptr)) {}

WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  if (this != &other) {
    if (header_ != nullptr) ::pthread_rwlock_unlock(&header_->lock);
    header_ = std::exchange(other.header_, nullptr);
  }
  return *this;
}

WriteBatch::~WriteBatch() {
  if (header_ != nullptr) ::pthread_rwlock_unlock(&header_->lock);  // the commit
}

absl::Status WriteBatch::Set(absl::string_view key, absl::string_view value, absl::Duration ttl) {
  (void)key;
  (void)value;
  (void)ttl;
  return absl::UnimplementedError("TODO(student): WriteBatch::Set (task 3.3)");
}

absl::StatusOr<std::string> WriteBatch::Get(absl::string_view key) const {
  (void)key;
  return absl::UnimplementedError("TODO(student): WriteBatch::Get (task 3.3)");
}

absl::Status WriteBatch::Erase(absl::string_view key) {
  (void)key;
  return absl::UnimplementedError("TODO(student): WriteBatch::Erase (task 3.3)");
}

// ---------------------------------------------------------------------------------------------
// Part 4: the message log
// ---------------------------------------------------------------------------------------------

absl::StatusOr<MessageLog> MessageLog::Create(const std::string& path) {
  (void)path;
  return absl::UnimplementedError(
      "TODO(student): MessageLog::Create (task 4.1): build the file under a temporary name, "
      "sized from sizeof(LogFile), then rename() it onto the path");
}

absl::StatusOr<MessageLog> MessageLog::Open(const std::string& path, absl::Duration timeout) {
  (void)path;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MessageLog::Open (task 4.1): wait for a fresh kLogReady file, map it, "
      "claim it (kLogTaken), unlink the name");
}

void MessageLog::UnlinkIfOurs() {
  // Task 4.1 (used by Open() and the destructor): remove path_ only if it still names this log's file (compare
  // st_dev and st_ino with dev_ and ino_), so that a newer writer's file is never removed.
}

absl::Status MessageLog::Send(absl::string_view message, absl::Duration timeout) {
  (void)message;
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MessageLog::Send (task 4.2): wait on free_slots, fill the slot, post items");
}

absl::StatusOr<std::string> MessageLog::Receive(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MessageLog::Receive (task 4.2): wait on items, copy the slot, post "
      "free_slots");
}

absl::Status MessageLog::Sync() const {
  return absl::UnimplementedError("TODO(student): MessageLog::Sync (task 4.3): msync the file");
}

absl::Status MessageLog::Close(absl::Duration timeout) {
  (void)timeout;
  return absl::UnimplementedError(
      "TODO(student): MessageLog::Close (task 4.3): send the end-of-log mark");
}

}  // namespace mmap_fork
