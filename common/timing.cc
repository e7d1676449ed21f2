// common/timing.cc: see timing.h.
#include "common/timing.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace ipc {
namespace {

struct timespec ClockIn(clockid_t clock, absl::Duration timeout) {
  struct timespec now;
  ::clock_gettime(clock, &now);  // cannot fail for these clocks
  return absl::ToTimespec(absl::DurationFromTimespec(now) + timeout);
}

struct StatFields {
  char state;
  uint64_t utime_ticks;
  uint64_t stime_ticks;
};

absl::StatusOr<StatFields> ReadStat(pid_t pid) {
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  std::ifstream in(path);
  if (!in) return ErrnoError("open", path);
  std::string line;
  std::getline(in, line);
  // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return absl::DataLossError(absl::StrCat(path, ": no ')' in ", line));
  std::istringstream fields(line.substr(close + 1));
  StatFields stat{};
  std::string skip;
  fields >> stat.state;  // field 3
  for (int field = 4; field <= 13; ++field) fields >> skip;
  fields >> stat.utime_ticks >> stat.stime_ticks;  // fields 14, 15
  if (!fields) return absl::DataLossError(absl::StrCat(path, ": could not parse ", line));
  return stat;
}

}  // namespace

absl::Duration MonotonicNow() {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::DurationFromTimespec(now);
}

struct timespec DeadlineIn(absl::Duration timeout) { return ClockIn(CLOCK_REALTIME, timeout); }

struct timespec MonotonicDeadlineIn(absl::Duration timeout) {
  return ClockIn(CLOCK_MONOTONIC, timeout);
}

absl::StatusOr<absl::Duration> ProcessCpuTime(pid_t pid) {
  absl::StatusOr<StatFields> stat = ReadStat(pid);
  if (!stat.ok()) return stat.status();
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(stat->utime_ticks + stat->stime_ticks) /
                       static_cast<double>(ticks_per_second));
}

absl::StatusOr<char> ProcessState(pid_t pid) {
  absl::StatusOr<StatFields> stat = ReadStat(pid);
  if (!stat.ok()) return stat.status();
  return stat->state;
}

double Median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

absl::StatusOr<uint64_t> VoluntaryContextSwitches(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": no such process"));
  std::string line;
  constexpr absl::string_view kField = "voluntary_ctxt_switches:";
  while (std::getline(in, line)) {
    if (absl::string_view(line).substr(0, kField.size()) != kField) continue;
    uint64_t switches = 0;
    if (!absl::SimpleAtoi(absl::string_view(line).substr(kField.size()), &switches)) {
      return absl::InternalError(absl::StrCat(path, ": cannot parse \"", line, "\""));
    }
    return switches;
  }
  return absl::InternalError(absl::StrCat(path, " has no voluntary_ctxt_switches line"));
}

}  // namespace ipc
