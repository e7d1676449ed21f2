// common/names.cc: see names.h.
#include "common/names.h"

#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"

namespace ipc {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<std::string>& Registry() {
  static auto* names = new std::vector<std::string>();
  return *names;
}

// The prefix is chosen once per process and inherited by children forked later. The pid alone is
// not unique: every Bazel test sandbox has its own PID namespace, so concurrent tests all run as
// the same small pid while sharing /dev/shm. A random tag makes two processes' prefixes differ.
const std::string& Prefix() {
  static const std::string* prefix = [] {
    std::random_device random;
    uint32_t tag = random();
    return new std::string(absl::StrCat("ipclabs.", ::getpid(), ".", absl::Hex(tag, absl::kZeroPad8), "."));
  }();
  return *prefix;
}

// A key is in use if any of the three kinds of object answers to it.
bool SysvKeyInUse(key_t key) {
  return ::shmget(key, 0, 0) != -1 || errno != ENOENT ||  //
         ::semget(key, 0, 0) != -1 || errno != ENOENT ||  //
         ::msgget(key, 0) != -1 || errno != ENOENT;
}

}  // namespace

std::string NamePrefix() { return Prefix(); }

std::string UniqueName(absl::string_view tag) {
  static std::atomic<unsigned> counter{0};
  std::string name = absl::StrCat("/", NamePrefix(), tag, ".", counter.fetch_add(1));
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().push_back(name);
  return name;
}

std::vector<std::string> IssuedNames() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Registry();
}

key_t UniqueSysvKey() {
  static thread_local std::mt19937 rng(std::random_device{}() ^ ::getpid());
  std::uniform_int_distribution<key_t> dist(0x10000, 0x7fffffff);
  for (;;) {
    key_t key = dist(rng);
    if (key != IPC_PRIVATE && !SysvKeyInUse(key)) return key;
  }
}

absl::Status ValidatePosixName(absl::string_view name, absl::string_view what) {
  if (name.empty() || name[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", name, "\" must start with '/' (for example \"/my-region\")"));
  }
  if (name.size() == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"/\" needs at least one character after the slash"));
  }
  if (name.find('/', 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", name, "\" has a '/' after the first character; Linux allows only the leading one"));
  }
  if (name.size() - 1 > kMaxPosixNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is ", name.size() - 1,
                                                   " characters after the slash; the limit is ",
                                                   kMaxPosixNameLength, " (NAME_MAX)"));
  }
  return absl::OkStatus();
}

}  // namespace ipc
