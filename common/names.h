// common/names.h: IPC object names and keys that never collide.
//
// Tests run in parallel (Bazel shards, the grader's jobs, a student's two terminals), and
// /dev/shm is shared by all of them outside the grader's sandbox. Every name a test uses comes
// from UniqueName(), which carries the process id of the test and a counter, so two runs never
// share an object (CURRICULUM SE6, MQ7: generic names like "/mutex" collide).
#ifndef IPC_LABS_COMMON_NAMES_H_
#define IPC_LABS_COMMON_NAMES_H_

#include <sys/types.h>

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"

namespace ipc {

// The longest POSIX IPC name Linux accepts, not counting the leading slash (NAME_MAX).
inline constexpr size_t kMaxPosixNameLength = 255;

// UniqueName()
//
// Returns a fresh POSIX IPC name "/ipclabs.<pid>.<random>.<tag>.<n>": a leading slash, no other
// slash, well under NAME_MAX. <pid> and <random> are fixed the first time this process asks (so
// children forked later keep the parent's prefix), <n> counts up. `tag` must be short and contain no '/'.
// Every name returned is remembered: IssuedNames() lists them (the leak checker probes them).
std::string UniqueName(absl::string_view tag);

// NamePrefix()
//
// Returns the prefix all of this process's UniqueName()s share, without the slash:
// "ipclabs.<pid>.<random>.".
std::string NamePrefix();

// IssuedNames()
//
// Returns every name UniqueName() returned in this process (and in its ancestors before fork).
std::vector<std::string> IssuedNames();

// UniqueSysvKey()
//
// Returns a System V key that no live shared-memory segment, semaphore set or message queue uses
// now, chosen at random (never IPC_PRIVATE). Only a hint: create with IPC_EXCL all the same.
key_t UniqueSysvKey();

// ValidatePosixName()
//
// Returns OK if `name` is a portable POSIX IPC name: a leading '/', at least one more character,
// no other '/', at most kMaxPosixNameLength characters after the slash. Otherwise
// INVALID_ARGUMENT with a sentence that says which rule `name` breaks, prefixed by `what`
// ("shm_open name"). On Linux a second slash makes mq_open fail with EACCES and shm_open create
// a file in a subdirectory of /dev/shm (CURRICULUM MQ15).
absl::Status ValidatePosixName(absl::string_view name, absl::string_view what = "IPC name");

}  // namespace ipc

#endif  // IPC_LABS_COMMON_NAMES_H_
