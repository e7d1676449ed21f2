// labs/mmap_fork/notes_sender.cc: the course notes' file-backed sender, bug included (MF6).
//
// "Find the bug" material, not yours to fix here: fix the pattern in your MessageLog instead.
// This is the notes' (001 §2.1) sender, cut to the part that fails: the shared struct holds a
// count, two indexes and 100 messages of 64 bytes (12 + 6,400 = 6,412 bytes), but the file is
// sized, and mapped, with a constant 4,096. The first memset of the struct runs off the end of
// the mapping. In the notes' run nothing was mapped after those 4,096 bytes, so the sender died
// of SIGSEGV (exit 139) before sending anything; this program reserves an inaccessible page
// after the mapping so that it dies the same way on every run, whatever the address-space layout.
// The test that execs it is LogFindTheBugTest in mmap_fork_test.cc. By hand:
//   $ notes_sender --path=/tmp/mmap_shared; echo $?     # 139
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(std::string, path, "", "the shared file (the notes used /tmp/mmap_shared)");

namespace {

// The notes' struct, as written there.
struct SharedData {
  int message_count;
  int read_index;
  int write_index;
  char messages[100][64];
};

constexpr size_t kSharedSize = 4096;  // the bug: a constant, not sizeof(SharedData)

}  // namespace

// The sanitizers catch SIGSEGV to print a report and exit 1; this program is meant to show the
// plain crash, so let the kernel's default action (death by SIGSEGV) happen under them too.
extern "C" const char* __asan_default_options() { return "handle_segv=0"; }
extern "C" const char* __ubsan_default_options() { return "handle_segv=0"; }
extern "C" const char* __tsan_default_options() { return "handle_segv=0"; }

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string path = absl::GetFlag(FLAGS_path);
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd == -1) {
    std::perror("open");
    return 1;
  }
  if (::ftruncate(fd, kSharedSize) == -1) {
    std::perror("ftruncate");
    return 1;
  }
  // Reserve two pages with no access, then map the file over the first: the page after the
  // mapping is guaranteed to fault, as the unmapped page after it did in the notes' run.
  void* reserved = ::mmap(nullptr, 2 * kSharedSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserved == MAP_FAILED) {
    std::perror("mmap (reserve)");
    return 1;
  }
  void* mapped = ::mmap(reserved, kSharedSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  if (mapped == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* shared = static_cast<SharedData*>(mapped);
  std::printf("notes_sender: clearing %zu bytes in a %zu-byte mapping\n", sizeof(SharedData),
              kSharedSize);
  std::fflush(stdout);
  std::memset(shared, 0, sizeof(SharedData));  // dies here: bytes 4096..6411 are not mapped
  shared->message_count = 0;
  std::printf("notes_sender: survived the memset (the bug did not show)\n");
  return 0;
}
