// grader/lab_config.cc: parsing and validating lab.json (see lab_config.h).
//
// Validation is strict on purpose: an instructor's typo must stop the grader with a sentence that
// points at the key, not grade a class with a default nobody chose.
#include "grader/lab_config.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "grader/files.h"
#include "nlohmann/json.hpp"

namespace grader {
namespace {

using Json = nlohmann::json;

// Reports the first problem found, naming the file and the JSON path.
class Checker {
 public:
  explicit Checker(absl::string_view where) : where_(where) {}

  absl::Status Error(absl::string_view path, absl::string_view rule) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", path, ": ", rule));
  }

  // Refuses keys outside `allowed` (typos would otherwise fall back to defaults silently).
  absl::Status OnlyKeys(const Json& object, absl::string_view path,
                        std::initializer_list<const char*> allowed) const {
    for (auto it = object.begin(); it != object.end(); ++it) {
      bool known = std::any_of(allowed.begin(), allowed.end(),
                               [&](const char* key) { return it.key() == key; });
      if (!known) {
        std::string list;
        for (const char* key : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", key);
        return Error(absl::StrCat(path, path.empty() ? "" : ".", it.key()),
                     absl::StrCat("unknown key (known here: ", list, ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const Json& object, const char* key, absl::string_view path,
                                     bool required) const {
    if (!object.contains(key)) {
      if (required) return Error(Path(path, key), "is required (a string)");
      return std::string();
    }
    const Json& value = object.at(key);
    if (!value.is_string() || value.get<std::string>().empty()) {
      return Error(Path(path, key), absl::StrCat("must be a non-empty string, got ", value.dump()));
    }
    return value.get<std::string>();
  }

  // A number in [low, high]; nullopt if absent and not required.
  absl::StatusOr<std::optional<double>> Number(const Json& object, const char* key,
                                               absl::string_view path, double low, double high,
                                               bool required) const {
    if (!object.contains(key)) {
      if (required) return Error(Path(path, key), "is required (a number)");
      return std::optional<double>();
    }
    const Json& value = object.at(key);
    if (!value.is_number() || !(value.get<double>() >= low && value.get<double>() <= high)) {
      std::string range = std::isinf(high) ? absl::StrFormat(">= %g", low)
                                           : absl::StrFormat("between %g and %g", low, high);
      return Error(Path(path, key),
                   absl::StrCat("must be a number ", range, ", got ", value.dump()));
    }
    return std::optional<double>(value.get<double>());
  }

  absl::StatusOr<std::optional<double>> Integer(const Json& object, const char* key,
                                                absl::string_view path, double low,
                                                double high) const {
    absl::StatusOr<std::optional<double>> n = Number(object, key, path, low, high, false);
    if (n.ok() && n->has_value() && std::floor(**n) != **n) {
      return Error(Path(path, key), absl::StrCat("must be a whole number, got ", **n));
    }
    return n;
  }

  static std::string Path(absl::string_view path, absl::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }

 private:
  std::string where_;
};

constexpr double kInf = HUGE_VAL;

absl::StatusOr<BinaryKind> ParseBinary(const Checker& check, const Json& object,
                                       absl::string_view path, BinaryKind fallback) {
  if (!object.contains("binary")) return fallback;
  const Json& value = object.at("binary");
  if (value == "public") return BinaryKind::kPublic;
  if (value == "hidden") return BinaryKind::kHidden;
  return check.Error(Checker::Path(path, "binary"),
                     absl::StrCat("must be \"public\" or \"hidden\", got ", value.dump()));
}

absl::Status ParseLimits(const Checker& check, const Json& json, LabLimits& limits) {
  if (!json.is_object()) return check.Error("limits", "must be an object");
  if (absl::Status s = check.OnlyKeys(json, "limits",
                                      {"timeout_seconds", "memory_mb", "processes", "cpu_seconds",
                                       "open_files", "file_size_mb", "tmpfs_mb"});
      !s.ok()) {
    return s;
  }
  IPC_ASSIGN_OR_RETURN(auto open_files, check.Integer(json, "open_files", "limits", 16, 1 << 20));
  IPC_ASSIGN_OR_RETURN(auto file_size, check.Integer(json, "file_size_mb", "limits", 1, 1 << 20));
  IPC_ASSIGN_OR_RETURN(auto tmpfs, check.Integer(json, "tmpfs_mb", "limits", 1, 65536));
  if (open_files) limits.open_files = static_cast<int>(*open_files);
  if (file_size) limits.file_size_mb = static_cast<int64_t>(*file_size);
  if (tmpfs) limits.tmpfs_mb = static_cast<int64_t>(*tmpfs);
  IPC_ASSIGN_OR_RETURN(auto timeout,
                       check.Number(json, "timeout_seconds", "limits", 0.1, 3600, false));
  IPC_ASSIGN_OR_RETURN(auto memory, check.Integer(json, "memory_mb", "limits", 16, 65536));
  IPC_ASSIGN_OR_RETURN(auto processes, check.Integer(json, "processes", "limits", 1, 4096));
  IPC_ASSIGN_OR_RETURN(auto cpu, check.Number(json, "cpu_seconds", "limits", 0.1, 36000, false));
  if (timeout) limits.timeout_seconds = *timeout;
  if (memory) limits.memory_mb = static_cast<int64_t>(*memory);
  if (processes) limits.processes = static_cast<int>(*processes);
  if (cpu) limits.cpu_seconds = *cpu;
  return absl::OkStatus();
}

absl::StatusOr<RubricItem> ParseRubricItem(const Checker& check, const Json& json,
                                           const std::string& path) {
  if (!json.is_object()) return check.Error(path, "must be an object");
  if (absl::Status s = check.OnlyKeys(json, path,
                                      {"binary", "case", "points", "timeout_seconds", "memory_mb",
                                       "file_size_mb"});
      !s.ok()) {
    return s;
  }
  RubricItem item;
  IPC_ASSIGN_OR_RETURN(item.binary, ParseBinary(check, json, path, BinaryKind::kPublic));
  IPC_ASSIGN_OR_RETURN(item.pattern, check.String(json, "case", path, true));
  IPC_ASSIGN_OR_RETURN(auto points, check.Number(json, "points", path, 0, 1e6, true));
  item.points = *points;
  IPC_ASSIGN_OR_RETURN(item.timeout_seconds,
                       check.Number(json, "timeout_seconds", path, 0.1, 3600, false));
  IPC_ASSIGN_OR_RETURN(auto memory, check.Integer(json, "memory_mb", path, 16, 65536));
  if (memory) item.memory_mb = static_cast<int64_t>(*memory);
  IPC_ASSIGN_OR_RETURN(auto file_size, check.Integer(json, "file_size_mb", path, 1, 1 << 20));
  if (file_size) item.file_size_mb = static_cast<int64_t>(*file_size);
  return item;
}

absl::StatusOr<SpeedItem> ParseSpeedItem(const Checker& check, const Json& json,
                                         const std::string& path) {
  if (!json.is_object()) return check.Error(path, "must be an object");
  if (absl::Status s = check.OnlyKeys(json, path,
                                      {"name", "binary", "student_case", "baseline_case", "metric",
                                       "runs", "higher_is_better", "thresholds"});
      !s.ok()) {
    return s;
  }
  SpeedItem item;
  IPC_ASSIGN_OR_RETURN(item.name, check.String(json, "name", path, true));
  IPC_ASSIGN_OR_RETURN(item.binary, ParseBinary(check, json, path, BinaryKind::kHidden));
  IPC_ASSIGN_OR_RETURN(item.student_case, check.String(json, "student_case", path, true));
  IPC_ASSIGN_OR_RETURN(item.baseline_case, check.String(json, "baseline_case", path, true));
  if (item.student_case == item.baseline_case) {
    return check.Error(path, "student_case and baseline_case must be different cases");
  }
  for (const std::string* name : {&item.student_case, &item.baseline_case}) {
    if (name->find_first_of("*?:") != std::string::npos) {
      return check.Error(path, absl::StrCat("a speed case must be one exact case name, got \"",
                                            *name, "\""));
    }
  }
  IPC_ASSIGN_OR_RETURN(item.metric, check.String(json, "metric", path, false));
  IPC_ASSIGN_OR_RETURN(auto runs, check.Integer(json, "runs", path, 1, 101));
  if (runs) item.runs = static_cast<int>(*runs);
  if (json.contains("higher_is_better")) {
    if (!json.at("higher_is_better").is_boolean()) {
      return check.Error(Checker::Path(path, "higher_is_better"), "must be true or false");
    }
    item.higher_is_better = json.at("higher_is_better").get<bool>();
  }
  std::string tpath = Checker::Path(path, "thresholds");
  if (!json.contains("thresholds") || !json.at("thresholds").is_array() ||
      json.at("thresholds").empty()) {
    return check.Error(tpath, "is required: a non-empty list of {\"ratio\": r, \"points\": p}");
  }
  for (size_t i = 0; i < json.at("thresholds").size(); ++i) {
    const Json& t = json.at("thresholds")[i];
    std::string tp = absl::StrCat(tpath, "[", i, "]");
    if (!t.is_object()) return check.Error(tp, "must be an object");
    if (absl::Status s = check.OnlyKeys(t, tp, {"ratio", "points"}); !s.ok()) return s;
    IPC_ASSIGN_OR_RETURN(auto ratio, check.Number(t, "ratio", tp, 1e-6, 1e6, true));
    IPC_ASSIGN_OR_RETURN(auto points, check.Number(t, "points", tp, 0, 1e6, true));
    if (!item.thresholds.empty() && *ratio <= item.thresholds.back().ratio) {
      return check.Error(tp, "ratios must be strictly increasing");
    }
    if (!item.thresholds.empty() && *points < item.thresholds.back().points) {
      return check.Error(tp, "a higher ratio must not earn fewer points");
    }
    item.thresholds.push_back({*ratio, *points});
  }
  return item;
}

// Matches from pattern[p] and name[n] on; iterative with one backtrack point per '*'.
bool Match(absl::string_view pattern, absl::string_view name) {
  size_t p = 0, n = 0, star = absl::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

const char* BinaryKindName(BinaryKind kind) {
  return kind == BinaryKind::kPublic ? "public" : "hidden";
}

double SpeedItem::max_points() const {
  double best = 0;
  for (const SpeedThreshold& t : thresholds) best = std::max(best, t.points);
  return best;
}

bool MatchesPattern(absl::string_view pattern, absl::string_view name) {
  return Match(pattern, name);
}

bool IsSafeRelativePath(absl::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return path.find('\0') == absl::string_view::npos;
}

absl::StatusOr<LabConfig> LabConfig::Parse(absl::string_view text, absl::string_view where,
                                           absl::string_view folder) {
  Checker check(where);
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not valid JSON"));
  }
  if (!json.is_object()) return check.Error("(top level)", "must be a JSON object");
  if (absl::Status s = check.OnlyKeys(json, "",
                                      {"name", "title", "student_files", "limits", "leak_penalty",
                                       "max_points", "rubric", "speed"});
      !s.ok()) {
    return s;
  }
  LabConfig config;
  IPC_ASSIGN_OR_RETURN(config.name, check.String(json, "name", "", true));
  if (config.name != folder) {
    return check.Error("name", absl::StrCat("is \"", config.name, "\" but the lab's folder is \"",
                                            folder, "\"; they must be the same"));
  }
  IPC_ASSIGN_OR_RETURN(config.title, check.String(json, "title", "", false));
  if (config.title.empty()) config.title = config.name;

  if (!json.contains("student_files") || !json.at("student_files").is_array() ||
      json.at("student_files").empty()) {
    return check.Error("student_files", "is required: a non-empty list of file names");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < json.at("student_files").size(); ++i) {
    const Json& file = json.at("student_files")[i];
    std::string path = absl::StrCat("student_files[", i, "]");
    if (!file.is_string() || !IsSafeRelativePath(file.get<std::string>())) {
      return check.Error(path, absl::StrCat("must be a path inside the lab folder (relative, no "
                                            "\"..\"), got ",
                                            file.dump()));
    }
    if (file.get<std::string>() == "lab.json" || file.get<std::string>() == "BUILD") {
      return check.Error(path, "lab.json and BUILD always come from the pristine tree");
    }
    if (!seen.insert(file.get<std::string>()).second) {
      return check.Error(path, absl::StrCat("\"", file.get<std::string>(), "\" is listed twice"));
    }
    config.student_files.push_back(file.get<std::string>());
  }
  if (json.contains("limits")) {
    if (absl::Status s = ParseLimits(check, json.at("limits"), config.limits); !s.ok()) return s;
  }
  IPC_ASSIGN_OR_RETURN(auto penalty, check.Number(json, "leak_penalty", "", 0, 1, false));
  if (penalty) config.leak_penalty = *penalty;
  IPC_ASSIGN_OR_RETURN(config.max_points, check.Number(json, "max_points", "", 0, 1e6, false));

  if (!json.contains("rubric") || !json.at("rubric").is_array() || json.at("rubric").empty()) {
    return check.Error("rubric", "is required: a non-empty list of {binary, case, points}");
  }
  for (size_t i = 0; i < json.at("rubric").size(); ++i) {
    IPC_ASSIGN_OR_RETURN(RubricItem item, ParseRubricItem(check, json.at("rubric")[i],
                                                          absl::StrCat("rubric[", i, "]")));
    config.rubric.push_back(std::move(item));
  }
  if (json.contains("speed")) {
    if (!json.at("speed").is_array()) return check.Error("speed", "must be a list");
    for (size_t i = 0; i < json.at("speed").size(); ++i) {
      IPC_ASSIGN_OR_RETURN(SpeedItem item, ParseSpeedItem(check, json.at("speed")[i],
                                                          absl::StrCat("speed[", i, "]")));
      config.speed.push_back(std::move(item));
    }
  }
  return config;
}

absl::StatusOr<LabConfig> LabConfig::Load(const std::string& root, const std::string& folder) {
  std::string rel = absl::StrCat("labs/", folder, "/lab.json");
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(root, "/", rel), 1 << 20);
  if (!text.ok()) return text.status();
  return Parse(*text, rel, folder);
}

const RubricItem* LabConfig::ItemFor(BinaryKind binary, absl::string_view case_name) const {
  for (const RubricItem& item : rubric) {
    if (item.binary == binary && MatchesPattern(item.pattern, case_name)) return &item;
  }
  return nullptr;
}

CaseLimits LabConfig::LimitsFor(const RubricItem* item) const {
  CaseLimits out;
  double timeout = limits.timeout_seconds;
  int64_t memory = limits.memory_mb;
  if (item != nullptr && item->timeout_seconds) timeout = *item->timeout_seconds;
  if (item != nullptr && item->memory_mb) memory = *item->memory_mb;
  out.timeout = absl::Seconds(timeout);
  out.cpu = absl::Seconds(std::max(limits.cpu_seconds, timeout));
  out.memory_bytes = memory << 20;
  out.max_processes = limits.processes;
  out.open_files = limits.open_files;
  int64_t file_size = item != nullptr && item->file_size_mb ? *item->file_size_mb
                                                            : limits.file_size_mb;
  out.file_size_bytes = file_size << 20;
  out.tmpfs_bytes = limits.tmpfs_mb << 20;
  return out;
}

bool LabConfig::IsSpeedCase(BinaryKind binary, absl::string_view case_name) const {
  return std::any_of(speed.begin(), speed.end(), [&](const SpeedItem& item) {
    return item.binary == binary &&
           (item.student_case == case_name || item.baseline_case == case_name);
  });
}

absl::StatusOr<std::vector<std::string>> FindLabs(const std::string& root) {
  std::string labs = absl::StrCat(root, "/labs");
  DIR* d = ::opendir(labs.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", labs);
  std::vector<std::string> found;
  while (struct dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st;
    std::string json = absl::StrCat(labs, "/", name, "/lab.json");
    if (::stat(json.c_str(), &st) == 0 && S_ISREG(st.st_mode)) found.push_back(name);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace grader
