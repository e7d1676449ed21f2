// labs/numa/numa_guest.h: run a test binary's multi-node cases in a QEMU machine with N nodes.
// Not yours to change.
//
// This machine has one NUMA node, so the cases that need two (interleave alternating page by
// page, bind to node 1, migrating pages, first touch from node 1's CPUs) would always skip here.
// RunInGuest boots Debian's kernel under QEMU's TCG emulator (-accel tcg: nested KVM is not
// available here; -nic none) with N emulated nodes, straight from its uncompressed vmlinux (PVH:
// no BIOS, no decompression), with an initramfs built on the fly from busybox, this very test
// binary and the shared libraries it has loaded. The guest's /init runs the binary with a
// --gtest_filter, all the cases of one boot together (about 3 s), prints GoogleTest's output on
// the serial console, and reports the overall verdict through QEMU's isa-debug-exit device
// (writing to I/O port 0xf4 through /dev/port), because QEMU's own exit status says nothing about
// the guest. Each case's verdict is read from the console.
//
// The kernel and busybox come from a cache made once by tools/numa_guest_setup.sh (`labctl
// setup` runs it); nothing is downloaded or extracted here. Emulated nodes have no timing
// difference: never measure local against remote latency in the guest.
//
// Partner files: numa_guest.cc, numa_test.cc (GuestTest.*), the hidden tests (HiddenGuestTest.*).
#ifndef IPC_LABS_LABS_NUMA_NUMA_GUEST_H_
#define IPC_LABS_LABS_NUMA_NUMA_GUEST_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace numa::guest {

// The environment variable /init sets inside the guest: tests may check it.
inline constexpr char kInGuestEnv[] = "IPCLABS_NUMA_GUEST";

// InGuest()
//
// True inside a guest booted by RunInGuest (kInGuestEnv is set).
bool InGuest();

// GuestDir()
//
// The cache with `vmlinux` and `busybox`: $IPCLABS_NUMA_GUEST_DIR, else
// <home of the effective user>/.cache/ipclabs/numa-guest, else /var/cache/ipclabs/numa-guest.
// Errors: NOT_FOUND with a sentence naming the places looked at and the setup command; also
// NOT_FOUND when qemu-system-x86_64 is not on PATH (nor in /usr/bin).
absl::StatusOr<std::string> GuestDir();

// GuestResult
//
// What one boot did.
struct GuestResult {
  std::map<std::string, std::string> cases;  // "Suite.Name" -> "passed", "failed" or "skipped"
  bool all_passed = false;  // the guest's own verdict through isa-debug-exit: exit code 0
  absl::Duration wall;      // from starting QEMU to its exit
  std::string console;      // the serial console, for failure messages
};

// RunInGuest()
//
// Boots a guest with `nodes` nodes (1..8), one CPU and 128 MiB per node (256 MiB on node 0,
// which also holds the kernel), node n's CPU being CPU nodes-1-n, and runs this binary
// (/proc/self/exe) inside with --gtest_filter=`filter`. `scratch` is a writable directory for
// the initramfs. Errors: GuestDir()'s; the initramfs cannot be written; QEMU cannot start;
// DEADLINE_EXCEEDED after `timeout` (QEMU is killed); INTERNAL when the guest never reported a
// verdict (kernel panic, init failure), with the last console lines.
absl::StatusOr<GuestResult> RunInGuest(int nodes, const std::string& filter,
                                       const std::string& scratch,
                                       absl::Duration timeout = absl::Seconds(90));

// BootOnce()
//
// RunInGuest(nodes, filter, $TEST_TMPDIR or /tmp) the first time this process asks for `nodes`,
// and the same result afterwards: every guest case of one test binary shares one boot. Prints
// the boot's wall time to stdout. Not thread-safe (GoogleTest runs cases one at a time).
const absl::StatusOr<GuestResult>& BootOnce(int nodes, const std::string& filter);

}  // namespace numa::guest

#endif  // IPC_LABS_LABS_NUMA_NUMA_GUEST_H_
