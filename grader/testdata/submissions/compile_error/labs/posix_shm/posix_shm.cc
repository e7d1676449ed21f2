// A submission that does not compile: the grader must score posix_shm zero and show the
// compiler's first errors (grader/e2e_test.sh checks "error:" in feedback.md).
#include "labs/posix_shm/posix_shm.h"

namespace ipc {

int ThisDoesNotCompile() { return undeclared_variable }

}  // namespace ipc
