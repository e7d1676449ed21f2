// common/ipc_snapshot.h: a list of the live IPC objects, to prove that nothing leaked.
//
// System V objects are listed from /proc/sysvipc/{shm,sem,msg} (they belong to the caller's IPC
// namespace). POSIX shared memory and named semaphores are files in /dev/shm ("sem.NAME" for a
// semaphore), and POSIX message queues are files in /dev/mqueue where an mqueue filesystem is
// mounted there (otherwise they cannot be listed, and `mqueue_listed` says so). The grader takes
// a snapshot inside each test case's namespaces after it exits; tests take one before and after.
#ifndef IPC_LABS_COMMON_IPC_SNAPSHOT_H_
#define IPC_LABS_COMMON_IPC_SNAPSHOT_H_

#include <sys/types.h>

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace ipc {

// One live IPC object.
struct IpcObject {
  enum class Kind { kSysvShm, kSysvSem, kSysvMsg, kPosixShm, kPosixSem, kPosixMq };
  Kind kind;
  std::string name;  // POSIX: "/NAME"; System V: "key 0x1234 id 5" (key 0 is IPC_PRIVATE)
  key_t key = 0;     // System V only
  int id = -1;       // System V only
  uint64_t size = 0;  // bytes (shm, POSIX files); semaphores in the set; messages queued
  pid_t creator_pid = 0;  // shm only: cpid
  int nattch = 0;         // shm only

  // IpcObject::ToString()
  //
  // "System V shared memory segment key 0x00001234 id 5 (4096 bytes, 0 attached)",
  // "POSIX shared memory /ring-1 (4096 bytes)", "POSIX semaphore /full", ...
  std::string ToString() const;

  bool operator==(const IpcObject& other) const {
    return kind == other.kind && name == other.name;
  }
};

// KindName()
//
// "System V shared memory segment", "POSIX message queue", ...
absl::string_view KindName(IpcObject::Kind kind);

// Where to look; the defaults are the real places.
struct SnapshotOptions {
  std::string proc_sysvipc = "/proc/sysvipc";
  std::string dev_shm = "/dev/shm";
  std::string dev_mqueue = "/dev/mqueue";
  // Only POSIX objects whose name (without the slash, and without "sem.") starts with this.
  std::string posix_prefix;
};

// A snapshot of the live IPC objects.
struct IpcSnapshot {
  std::vector<IpcObject> objects;
  bool mqueue_listed = false;  // false when no mqueue filesystem is mounted at dev_mqueue

  // IpcSnapshot::Take()
  //
  // Lists the live objects. Errors: reading /proc/sysvipc or /dev/shm failed (the status names
  // the file). A missing /dev/mqueue is not an error: mqueue_listed is false.
  static absl::StatusOr<IpcSnapshot> Take(const SnapshotOptions& options = {});

  // IpcSnapshot::NewSince()
  //
  // The objects in this snapshot that are not in `before`.
  std::vector<IpcObject> NewSince(const IpcSnapshot& before) const;
};

// PosixObjectsNamed()
//
// Probes one POSIX name (as made by UniqueName) without creating anything: returns the objects
// that exist under it, as shared memory, a named semaphore or a message queue. Works without
// /dev/mqueue being mounted (it asks mq_open).
std::vector<IpcObject> PosixObjectsNamed(const std::string& name);

}  // namespace ipc

#endif  // IPC_LABS_COMMON_IPC_SNAPSHOT_H_
