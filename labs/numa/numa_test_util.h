// labs/numa/numa_test_util.h: helpers the public and the hidden tests share. Not yours to change.
//
// The nodes with memory, a fake sysfs file, an address-space limit for a child that must see
// mmap fail, and the body of the guest cases (one QEMU boot per node count runs every multi-node
// case of the binary; each guest case reports its own case's verdict). Partner files:
// numa_test_util.cc, numa_guest.h, numa_test.cc and the hidden tests.
#ifndef IPC_LABS_LABS_NUMA_NUMA_TEST_UTIL_H_
#define IPC_LABS_LABS_NUMA_NUMA_TEST_UTIL_H_

#include <string>
#include <vector>

namespace numa::test_util {

// The nodes this process may allocate on (numa_all_nodes_ptr), increasing.
std::vector<int> MemoryNodes();

// Writes `text` to `path`, creating the directories on the way.
void WriteFile(const std::string& path, const std::string& text);

// Limits this process's address space (RLIMIT_AS) to what it has mapped now, so that the next
// mmap fails with ENOMEM. For forked children only. Returns false if setrlimit failed.
bool LimitAddressSpaceToNow();

// CheckCaseInGuest()
//
// The body of a guest case: skips inside a guest, under ASan/TSan, or when there is no guest
// kernel (numa_guest.h, GuestDir); fails at once if Task 2 or Task 4 is unfinished; otherwise
// boots (once per node count per process) a guest with `nodes` nodes running `suite`.* and
// expects `suite`.`name` to have passed there, printing the console when it did not.
void CheckCaseInGuest(int nodes, const std::string& suite, const std::string& name);

}  // namespace numa::test_util

#endif  // IPC_LABS_LABS_NUMA_NUMA_TEST_UTIL_H_
