// common/affinity.h: which CPUs this process may use, and pinning a thread to one.
//
// Measured labs pin their threads to distinct cores so that a cache line really bounces between
// two cores (CURRICULUM FS4: unpinned threads on 2 cores hide false sharing).
#ifndef IPC_LABS_COMMON_AFFINITY_H_
#define IPC_LABS_COMMON_AFFINITY_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ipc {

// AllowedCpus()
//
// The CPUs this thread may run on (sched_getaffinity), in increasing order. Errors:
// sched_getaffinity's.
absl::StatusOr<std::vector<int>> AllowedCpus();

// PinThisThread()
//
// Restricts the calling thread to `cpu` (pthread_setaffinity_np). Errors: EINVAL for a CPU that
// is offline or not allowed, with a message naming the CPU.
absl::Status PinThisThread(int cpu);

}  // namespace ipc

#endif  // IPC_LABS_COMMON_AFFINITY_H_
