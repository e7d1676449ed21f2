// grader/bazel_build.cc: one Bazel build per submission, read through its build events.
#include "grader/bazel_build.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/process.h"
#include "common/status.h"
#include "grader/files.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

using Json = nlohmann::json;

// The lab a label belongs to, or "".
std::string LabOfLabel(absl::string_view label) {
  for (absl::string_view prefix : {"//labs/", "//grader/hidden/"}) {
    if (absl::ConsumePrefix(&label, prefix)) {
      size_t end = label.find_first_of(":/");
      return std::string(label.substr(0, end));
    }
  }
  return "";
}

std::string PathOfUri(const std::string& uri) {
  absl::string_view path = uri;
  absl::ConsumePrefix(&path, "file://");
  return std::string(path);
}

}  // namespace

std::string PublicTarget(absl::string_view lab) {
  return absl::StrCat("//labs/", lab, ":", lab, "_test");
}

std::string HiddenTarget(absl::string_view lab) {
  return absl::StrCat("//grader/hidden/", lab, ":student/", lab, "_hidden_test");
}

std::string TrimCompilerErrors(absl::string_view output, const std::string& stage, int max_errors,
                               int max_lines) {
  std::vector<std::string> kept;
  int errors = 0;
  bool cut = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    // Bazel's sandbox debug lines: "1795440920.34: src/main/tools/linux-sandbox..."
    if (absl::StrContains(line, "src/main/tools/linux-sandbox")) continue;
    if (absl::StartsWith(line, "Use --sandbox_debug") || absl::StartsWith(line, "Target ")) {
      continue;
    }
    std::string clean = absl::StrReplaceAll(line, {{stage + "/", ""}, {stage, "."}});
    if (absl::StrContains(clean, "error:") || absl::StrContains(clean, "undefined reference")) {
      if (errors == max_errors) {
        cut = true;
        break;
      }
      ++errors;
    }
    if (static_cast<int>(kept.size()) == max_lines) {
      cut = true;
      break;
    }
    kept.push_back(std::move(clean));
  }
  while (!kept.empty() && absl::StripAsciiWhitespace(kept.back()).empty()) kept.pop_back();
  std::string text = absl::StrJoin(kept, "\n");
  if (cut) absl::StrAppend(&text, "\n[... more errors follow; fix these first]");
  return text;
}

std::map<std::string, LabBuild> ParseBuildEvents(absl::string_view bep,
                                                 const std::vector<BuildRequest>& labs,
                                                 const std::string& stage,
                                                 std::string* unattributed) {
  std::map<std::string, LabBuild> result;
  std::map<std::string, std::string> completed_binary;  // label -> binary path (success only)
  std::set<std::string> labels;
  for (const BuildRequest& r : labs) {
    result[r.lab];
    labels.insert(PublicTarget(r.lab));
    if (r.hidden) labels.insert(HiddenTarget(r.lab));
  }
  std::map<std::string, std::string> raw_errors;  // lab -> concatenated stderr
  for (absl::string_view line : absl::StrSplit(bep, '\n', absl::SkipEmpty())) {
    Json event = Json::parse(line.begin(), line.end(), nullptr, false);
    if (event.is_discarded() || !event.contains("id")) continue;
    const Json& id = event["id"];
    if (id.contains("targetCompleted") && event.contains("completed")) {
      std::string label = id["targetCompleted"].value("label", "");
      const Json& completed = event["completed"];
      if (completed.value("success", false) && completed.contains("importantOutput") &&
          !completed["importantOutput"].empty()) {
        completed_binary[label] = PathOfUri(completed["importantOutput"][0].value("uri", ""));
      }
    } else if (id.contains("actionCompleted") && event.contains("action")) {
      const Json& action = event["action"];
      if (action.value("success", false)) continue;
      std::string label = action.value("label", id["actionCompleted"].value("label", ""));
      std::string text;
      if (action.contains("stderr") && action["stderr"].contains("uri")) {
        text = ReadFile(PathOfUri(action["stderr"]["uri"]), 1 << 20).value_or("");
      }
      if (text.empty()) text = absl::StrCat(action.value("type", "an action"), " of ", label,
                                            " failed");
      std::string lab = LabOfLabel(label);
      if (result.count(lab) > 0) {
        absl::StrAppend(&raw_errors[lab], text, "\n");
      } else if (unattributed != nullptr) {
        absl::StrAppend(unattributed, label, ": ", text, "\n");
      }
    } else if (id.contains("progress") && event.contains("progress")) {
      // Analysis errors (a missing header, a bad BUILD) arrive here, not as actions.
      std::string stderr_text = event["progress"].value("stderr", "");
      for (absl::string_view l : absl::StrSplit(stderr_text, '\n')) {
        if (!absl::StartsWith(l, "ERROR: ")) continue;
        for (const BuildRequest& r : labs) {
          if (absl::StrContains(l, absl::StrCat("/labs/", r.lab, "/")) ||
              absl::StrContains(l, absl::StrCat("//labs/", r.lab, ":"))) {
            if (raw_errors[r.lab].empty()) absl::StrAppend(&raw_errors[r.lab], l, "\n");
          }
        }
      }
    }
  }
  for (const BuildRequest& r : labs) {
    LabBuild& lab = result[r.lab];
    auto pub = completed_binary.find(PublicTarget(r.lab));
    auto hid = completed_binary.find(HiddenTarget(r.lab));
    lab.ok = pub != completed_binary.end() && (!r.hidden || hid != completed_binary.end());
    if (lab.ok) {
      lab.public_binary = pub->second;
      if (r.hidden) lab.hidden_binary = hid->second;
    } else {
      lab.errors = TrimCompilerErrors(raw_errors[r.lab], stage);
      if (lab.errors.empty()) {
        lab.errors = "the build failed without a compiler message for this lab";
      }
    }
  }
  return result;
}

absl::StatusOr<BuildResult> BuildLabs(const std::string& stage,
                                      const std::vector<BuildRequest>& labs,
                                      const BazelOptions& options) {
  BuildResult result;
  absl::Time start = absl::Now();
  IPC_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Create("ipclabs-build-"));
  std::string bep = absl::StrCat(scratch.path(), "/bep.json");
  std::string log = absl::StrCat(scratch.path(), "/bazel.log");

  std::vector<std::string> args = {options.bazel};
  for (const std::string& s : options.startup_options) args.push_back(s);
  for (const char* s :
       {"build", "--keep_going", "--dynamic_mode=off", "--symlink_prefix=/", "--color=no",
        "--curses=no", "--show_progress_rate_limit=30", "--nosandbox_debug"}) {
    args.push_back(s);
  }
  args.push_back(absl::StrCat("--build_event_json_file=", bep));
  if (!options.disk_cache.empty()) {
    args.push_back(absl::StrCat("--disk_cache=", ExpandHome(options.disk_cache)));
  }
  for (const std::string& s : options.build_options) args.push_back(s);
  args.push_back("--");
  for (const BuildRequest& r : labs) {
    args.push_back(PublicTarget(r.lab));
    if (r.hidden) args.push_back(HiddenTarget(r.lab));
  }

  // The child changes into the stage and runs Bazel with its output in the log.
  absl::StatusOr<ipc::Child> child = ipc::Child::Fork([&]() -> int {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) return 126;
    if (::dup2(fd, STDOUT_FILENO) == -1 || ::dup2(fd, STDERR_FILENO) == -1) return 126;
    if (::chdir(stage.c_str()) == -1) {
      std::perror("chdir(stage)");
      return 126;
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::perror(argv[0]);  // only reached when exec failed
    return 127;
  });
  if (!child.ok()) return child.status();
  IPC_ASSIGN_OR_RETURN(ipc::ExitStatus status, child->Wait(options.timeout));
  result.wall_time = absl::Now() - start;
  std::string output = ReadFile(log, 64 << 20).value_or("");
  result.log_tail = output.size() > 4000 ? output.substr(output.size() - 4000) : output;
  if (status.kind != ipc::ExitStatus::Kind::kExited) {
    return absl::DeadlineExceededError(absl::StrCat("bazel build ", status.ToString(), "\n",
                                                    result.log_tail));
  }
  result.exit_code = status.code;
  if (status.code == 127) {
    return absl::NotFoundError(absl::StrCat("could not run ", options.bazel, ": ", output));
  }
  absl::StatusOr<std::string> events = ReadFile(bep, 256 << 20);
  if (!events.ok() || events->empty()) {
    return absl::InternalError(absl::StrCat("bazel build (exit ", status.code,
                                            ") wrote no build events:\n", result.log_tail));
  }
  std::string unattributed;
  result.labs = ParseBuildEvents(*events, labs, stage, &unattributed);
  if (!unattributed.empty()) {
    absl::StrAppend(&result.log_tail, "\nfailures outside any lab:\n",
                    TrimCompilerErrors(unattributed, stage));
  }
  // Exit 1 is "some targets failed" (the students'); anything else with nothing built is ours.
  bool any_ok = false;
  for (const auto& [lab, build] : result.labs) any_ok |= build.ok;
  if (status.code != 0 && status.code != 1 && !any_ok) {
    return absl::InternalError(absl::StrCat("bazel build failed with exit code ", status.code,
                                            ":\n", result.log_tail));
  }
  return result;
}

}  // namespace grader
