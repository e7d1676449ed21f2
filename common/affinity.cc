// common/affinity.cc: see affinity.h.
#include "common/affinity.h"

#include <pthread.h>
#include <sched.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace ipc {

absl::StatusOr<std::vector<int>> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == -1) return ErrnoError("sched_getaffinity", "self");
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

absl::Status PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pthread_* functions return the error number instead of setting errno.
  if (int err = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); err != 0) {
    return ErrnoError("pthread_setaffinity_np", absl::StrCat("CPU ", cpu), err);
  }
  return absl::OkStatus();
}

}  // namespace ipc
