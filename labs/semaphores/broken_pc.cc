// labs/semaphores/broken_pc.cc: the producer/consumer of notes 002, broken on purpose.
//
// Both roles open their three named semaphores with O_CREAT but without O_EXCL, and "initialise"
// them with the values a fresh run needs (mutex 1, empty 5, full 0). sem_open ignores those values
// when the name already exists, so a semaphore left behind by a crashed run keeps its old count
// (CURRICULUM SE5). In the notes the names were fixed ("/mutex", "/empty", "/full", "/pc_buf"),
// so two runs at once share one buffer (SE6); here the tests pass one prefix to both "runs" to
// stand in for a fixed name (a test never uses a fixed name: it would collide with other tests).
// The slot indexes are each process's own, as in the notes. Every call is checked, so the bugs
// under study are the only ones. Not student-owned; do not fix: explain it in ANSWERS.md.
//
//   broken_pc --role=producer --prefix=/demo --items=10 [--first=1] &
//   broken_pc --role=consumer --prefix=/demo --items=10      # prints one item per line
//
// Partner: sem_producer.cc and sem_consumer.cc, the same job over your NamedChannel.
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "labs/semaphores/semaphores.h"

ABSL_FLAG(std::string, role, "", "producer or consumer");
ABSL_FLAG(std::string, prefix, "",
          "the channel's name prefix (stands in for the notes' fixed names)");
ABSL_FLAG(int, items, 10, "how many items to put or take");
ABSL_FLAG(int, first, 1, "the producer's first item; it puts first, first+1, ...");

namespace {

constexpr int kSlots = 5;  // the notes' BUFFER_SIZE

[[noreturn]] void Die(const char* call, const std::string& object) {
  std::fprintf(stderr, "broken_pc: %s(%s): %s\n", call, object.c_str(), std::strerror(errno));
  std::exit(1);
}

sem_t* OpenOrCreate(const std::string& name, unsigned value) {
  // BUG (on purpose): without O_EXCL an existing semaphore is opened as it is, and `value` is
  // silently ignored.
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT, 0666, value);
  if (sem == SEM_FAILED) Die("sem_open", name);
  return sem;
}

void WaitOn(sem_t* sem, const std::string& name) {
  while (::sem_wait(sem) == -1) {
    if (errno != EINTR) Die("sem_wait", name);
  }
}

void PostTo(sem_t* sem, const std::string& name) {
  if (::sem_post(sem) == -1) Die("sem_post", name);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string role = absl::GetFlag(FLAGS_role);
  const semaphores::ChannelNames names = semaphores::ChannelNamesFor(absl::GetFlag(FLAGS_prefix));
  if (role != "producer" && role != "consumer") {
    std::fprintf(stderr, "broken_pc: --role must be producer or consumer\n");
    return 2;
  }

  sem_t* mutex = OpenOrCreate(names.mutex, 1);
  sem_t* empty = OpenOrCreate(names.empty, kSlots);
  sem_t* full = OpenOrCreate(names.full, 0);
  int fd = ::shm_open(names.buffer.c_str(), O_CREAT | O_RDWR, 0666);
  if (fd == -1) Die("shm_open", names.buffer);
  if (::ftruncate(fd, sizeof(int) * kSlots) == -1) Die("ftruncate", names.buffer);
  void* memory = ::mmap(nullptr, sizeof(int) * kSlots, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) Die("mmap", names.buffer);
  if (::close(fd) == -1) Die("close", names.buffer);
  int* slots = static_cast<int*>(memory);

  const int items = absl::GetFlag(FLAGS_items);
  int index = 0;  // this process's own "in" (producer) or "out" (consumer) index
  for (int i = 0; i < items; ++i) {
    if (role == "producer") {
      WaitOn(empty, names.empty);
      WaitOn(mutex, names.mutex);
      slots[index] = absl::GetFlag(FLAGS_first) + i;
      index = (index + 1) % kSlots;
      PostTo(mutex, names.mutex);
      PostTo(full, names.full);
    } else {
      WaitOn(full, names.full);
      WaitOn(mutex, names.mutex);
      std::printf("%d\n", slots[index]);
      index = (index + 1) % kSlots;
      PostTo(mutex, names.mutex);
      PostTo(empty, names.empty);
    }
  }
  std::fflush(stdout);
  // The notes' teardown: close everything; the consumer, last to finish, unlinks the names.
  if (::munmap(memory, sizeof(int) * kSlots) == -1) Die("munmap", names.buffer);
  for (sem_t* sem : {mutex, empty, full}) {
    if (::sem_close(sem) == -1) Die("sem_close", "");
  }
  if (role == "consumer") {
    for (const std::string* name : {&names.mutex, &names.empty, &names.full}) {
      if (::sem_unlink(name->c_str()) == -1 && errno != ENOENT) Die("sem_unlink", *name);
    }
    if (::shm_unlink(names.buffer.c_str()) == -1 && errno != ENOENT)
      Die("shm_unlink", names.buffer);
  }
  return 0;
}
