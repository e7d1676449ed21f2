// labs/sysv_shm/shm_tool.cc: a small ftok / ipcs stand-in built on the contract.
//
// Prints the System V key that KeyFromPath derives for a path and project id (SV1: two programs
// exec'd separately must print the same key), or one segment's IPC_STAT as InspectSegment
// formats it (SV16: compare it with `ipcs -m -i ID`). The tests exec it; so can you:
//
//   $ shm_tool --key_of=/tmp --proj_id=65      -> 0x4100xxxx
//   $ shm_tool --inspect=5                     -> shmid=5 key=0x... bytes=1024 nattch=0 ...
//
// Exit code 0 on success; 1 with the error on stderr otherwise. Partner: sysv_shm.h.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "labs/sysv_shm/sysv_shm.h"

ABSL_FLAG(std::string, key_of, "", "print the key that KeyFromPath(key_of, proj_id) derives");
ABSL_FLAG(int, proj_id, 65, "the ftok project id (001-003 use 65, 'A')");
ABSL_FLAG(int, inspect, -1, "print InspectSegment(ID) for this shmid");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_key_of).empty()) {
    absl::StatusOr<key_t> key =
        sysv_shm::KeyFromPath(absl::GetFlag(FLAGS_key_of), absl::GetFlag(FLAGS_proj_id));
    if (!key.ok()) {
      std::fprintf(stderr, "shm_tool: %s\n", key.status().ToString().c_str());
      return 1;
    }
    std::printf("0x%08x\n", static_cast<unsigned>(*key));
    return 0;
  }
  if (absl::GetFlag(FLAGS_inspect) >= 0) {
    absl::StatusOr<std::string> line = sysv_shm::InspectSegment(absl::GetFlag(FLAGS_inspect));
    if (!line.ok()) {
      std::fprintf(stderr, "shm_tool: %s\n", line.status().ToString().c_str());
      return 1;
    }
    std::printf("%s\n", line->c_str());
    return 0;
  }
  std::fprintf(stderr, "usage: shm_tool --key_of=PATH [--proj_id=N] | --inspect=SHMID\n");
  return 2;
}
