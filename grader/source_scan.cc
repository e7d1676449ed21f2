// grader/source_scan.cc: see source_scan.h.
#include "grader/source_scan.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace grader {
namespace {

struct Pattern {
  const char* needle;  // matched without case or spaces
  const char* why;
};

// Each needle is written without spaces; lines are compared with their spaces removed, so
// `__attribute__ (( constructor` matches too.
constexpr Pattern kPatterns[] = {
    {"((constructor", "runs code before main() (constructor attribute)"},
    {"init_priority", "orders static initializers (init_priority)"},
    {"ipclabs_", "names the grader's variables or descriptors (IPCLABS_*)"},
    {"/proc/self/cmdline", "reads its own command line (where the grader names the case)"},
    {"/proc/self/fd", "walks its own descriptors (the grader's verdict pipe is one)"},
    {"testing::internal", "uses GoogleTest's internals"},
    {"unittest::getinstance", "reaches GoogleTest's global test runner"},
    {"testeventlistener", "defines or installs a GoogleTest event listener"},
    {"gtest_output", "touches GoogleTest's report file"},
    {"gtest_filter", "reads the case filter"},
};

}  // namespace

bool IsSourceFile(absl::string_view path) {
  for (absl::string_view ext : {".cc", ".cpp", ".cxx", ".c", ".h", ".hpp", ".hh", ".inc"}) {
    if (absl::EndsWith(path, ext)) return true;
  }
  return false;
}

std::vector<std::string> ScanStudentSource(absl::string_view path, absl::string_view content) {
  std::vector<std::string> findings;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++number;
    std::string squeezed;
    for (char c : line) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
        squeezed.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
      }
    }
    for (const Pattern& pattern : kPatterns) {
      if (absl::StrContains(squeezed, pattern.needle)) {
        findings.push_back(absl::StrCat(path, ":", number, ": ", pattern.why));
      }
    }
  }
  return findings;
}

}  // namespace grader
