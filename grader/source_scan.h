// grader/source_scan.h: flags student code that reaches for the grader's verdict channel.
//
// Student code is linked into the test binary, so no in-process channel is proof against a
// determined forger (DESIGN.md, "The verdict channel"). What a forger needs leaves marks in the
// source: code that runs before main() (constructor attributes, init_priority), the grader's
// descriptors and variables (IPCLABS_*), the command line (/proc/self/cmdline, where the case
// name is), GoogleTest's internals and listeners, or its report file. None of these is needed by
// any lab. A match is a suspicion for the instructor to read, never a change of score.
#ifndef IPC_LABS_GRADER_SOURCE_SCAN_H_
#define IPC_LABS_GRADER_SOURCE_SCAN_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace grader {

// ScanStudentSource()
//
// Returns one sentence per suspicious line of `content` (the text of the student file `path`,
// as named in reports): "labs/x/x.cc:12: runs code before main() (constructor attribute)".
// Comments are not skipped: a forger could hide nothing there, and a false alarm only asks an
// instructor to look.
std::vector<std::string> ScanStudentSource(absl::string_view path, absl::string_view content);

// IsSourceFile()
//
// True for the C and C++ files the scan reads (.cc, .cpp, .cxx, .c, .h, .hpp, .hh, .inc).
bool IsSourceFile(absl::string_view path);

}  // namespace grader

#endif  // IPC_LABS_GRADER_SOURCE_SCAN_H_
