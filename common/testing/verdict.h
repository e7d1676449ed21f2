// common/testing/verdict.h: how a test binary tells the grader each case's result.
//
// A test's exit code and its --gtest_output file can both be forged by student code linked into
// the same binary (a static initializer that writes a passing report, or `_exit(0)` before any
// assertion runs). So the grader gives every test process two descriptors it owns:
//
//   IPCLABS_VERDICT_FD=N   a pipe the grader reads: one JSON object per line (below)
//   IPCLABS_NONCE_FD=M     a pipe holding a fresh random nonce, read once at the start of main()
//
// The listener in test_main.cc reads the nonce, closes that descriptor, removes both variables
// from the environment, and writes, each line carrying the nonce:
//
//   {"nonce":"…","event":"start","binary":"…"}
//   {"nonce":"…","event":"case","suite":"S","name":"N","result":"passed|failed|skipped",
//    "elapsed_ms":12,"failures":[{"file":"f.cc","line":3,"message":"…"}]}
//   {"nonce":"…","event":"end","passed":1,"failed":0}
//
// A case passes only if its "case" line says passed, the "end" line follows, and the process
// exits 0. In grader mode the listener also registers IpcLabsGraderSentinel.MustFail, a case the
// grader runs once per binary: a report in which it passed is forged.
//
// No in-process channel is proof against a determined forger (student code shares the address
// space); the grader reports what it suspects to the instructor.
#ifndef IPC_LABS_COMMON_TESTING_VERDICT_H_
#define IPC_LABS_COMMON_TESTING_VERDICT_H_

namespace ipc::testing {

inline constexpr char kVerdictFdEnv[] = "IPCLABS_VERDICT_FD";
inline constexpr char kNonceFdEnv[] = "IPCLABS_NONCE_FD";
inline constexpr char kSentinelSuite[] = "IpcLabsGraderSentinel";
inline constexpr char kSentinelName[] = "MustFail";

}  // namespace ipc::testing

#endif  // IPC_LABS_COMMON_TESTING_VERDICT_H_
