// grader/grade.cc: one submission, staged, built, run and scored (grade.h).
#include "grader/grade.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "grader/files.h"
#include "grader/scoring.h"
#include "grader/source_scan.h"

namespace grader {
namespace {

constexpr char kGraderVersion[] = "ipclabs-grader 1";

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  for (const char* ext : {".tar.gz", ".tgz", ".tar"}) {
    if (absl::EndsWith(base, ext)) base.resize(base.size() - strlen(ext));
  }
  return base;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Holds an exclusive flock on a job slot's lock file for as long as it lives.
class SlotLock {
 public:
  SlotLock() = default;
  SlotLock(SlotLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SlotLock& operator=(SlotLock&&) = delete;
  SlotLock(const SlotLock&) = delete;
  SlotLock& operator=(const SlotLock&) = delete;
  ~SlotLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }

  // Takes slot `wanted`, or the first free one of 0..63 if wanted < 0 (waiting for `wanted`).
  static absl::StatusOr<std::pair<SlotLock, int>> Take(const std::string& state, int wanted) {
    for (int k = wanted < 0 ? 0 : wanted; k < 64; ++k) {
      std::string path = absl::StrCat(state, "/stage-", k, ".lock");
      SlotLock lock;
      lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (lock.fd_ == -1) return ipc::ErrnoError("open", path);
      int op = wanted < 0 ? (LOCK_EX | LOCK_NB) : LOCK_EX;  // a fixed slot waits its turn
      bool busy = false;
      while (::flock(lock.fd_, op) == -1) {
        if (errno == EINTR) continue;  // interrupted while waiting: wait again
        if (errno != EWOULDBLOCK) return ipc::ErrnoError("flock", path);
        busy = true;
        break;
      }
      if (busy) continue;  // another grader holds it: try the next slot
      return std::pair<SlotLock, int>(std::move(lock), k);
    }
    return absl::ResourceExhaustedError(absl::StrCat("all 64 job slots in ", state, " are busy"));
  }

 private:
  int fd_ = -1;
};

// A hash of the pristine files a lab's tests are built from (everything in labs/<lab> except
// the student files, and grader/hidden/<lab>): the key of its case-list cache.
std::string PristineLabKey(const std::string& tree, const LabConfig& config) {
  Hasher hasher;
  hasher.Add(kGraderVersion);
  std::string lab_dir = absl::StrCat(tree, "/labs/", config.name);
  DIR* d = ::opendir(lab_dir.c_str());
  std::vector<std::string> names;
  if (d != nullptr) {
    while (struct dirent* e = ::readdir(d)) names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name == "." || name == ".." ||
        std::find(config.student_files.begin(), config.student_files.end(), name) !=
            config.student_files.end()) {
      continue;
    }
    hasher.Add(name).Add(ReadFile(absl::StrCat(lab_dir, "/", name)).value_or("(folder)"));
  }
  std::string hidden = absl::StrCat(tree, "/grader/hidden/", config.name);
  if (Exists(hidden)) hasher.Add(HashTree(hidden).value_or("?"));
  return hasher.Hex();
}

// Copies a built test binary and the programs beside it (the executables in its folder, which
// is where ProgramPath looks) into `to`, readable and executable by everyone.
absl::StatusOr<std::string> CopyBinary(const std::string& binary, const std::string& to) {
  if (absl::Status s = MakeDirs(to); !s.ok()) return s;
  std::string from = binary.substr(0, binary.find_last_of('/'));
  DIR* d = ::opendir(from.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", from);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) names.push_back(e->d_name);
  ::closedir(d);
  for (const std::string& name : names) {
    if (name == "." || name == ".." || name.find('.') != std::string::npos) continue;
    std::string src = absl::StrCat(from, "/", name);
    struct stat st;
    if (::stat(src.c_str(), &st) == -1 || !S_ISREG(st.st_mode) || (st.st_mode & 0100) == 0) {
      continue;
    }
    IPC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(src, int64_t{1} << 30));
    if (absl::Status s = WriteFileAtomically(absl::StrCat(to, "/", name), bytes, 0755); !s.ok()) {
      return s;
    }
  }
  return absl::StrCat(to, "/", binary.substr(binary.find_last_of('/') + 1));
}

// Hashes one student file as the grader will see it (never following a link).
void HashStudentFile(const std::string& path, Hasher& hasher) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == -1) {
    hasher.Add("missing");
  } else if (!S_ISREG(st.st_mode)) {
    hasher.Add(absl::StrCat("special ", st.st_mode));
  } else if (st.st_size > (int64_t{1} << 24)) {
    hasher.Add(absl::StrCat("large ", st.st_size, " ", st.st_mtime));
  } else {
    hasher.Add(ReadFile(path).value_or("unreadable"));
  }
}

}  // namespace

std::string StateDirFor(const std::string& tree) {
  return ExpandHome(absl::StrCat("~/.cache/ipclabs/grader/", BaseName(tree), "-",
                                 Hasher().Add(tree).Hex().substr(0, 8)));
}

absl::StatusOr<std::vector<std::string>> SelectLabs(const std::string& tree,
                                                    const std::vector<std::string>& wanted) {
  IPC_ASSIGN_OR_RETURN(std::vector<std::string> all, FindLabs(tree));
  if (all.empty()) {
    return absl::NotFoundError(absl::StrCat("no labs in ", tree, "/labs (each lab needs a lab.json)"));
  }
  if (wanted.empty()) return all;
  for (const std::string& lab : wanted) {
    if (std::find(all.begin(), all.end(), lab) == all.end()) {
      return absl::NotFoundError(absl::StrCat("there is no lab \"", lab, "\" in ", tree,
                                              "/labs; the labs are: ", absl::StrJoin(all, ", ")));
    }
  }
  return wanted;
}

absl::StatusOr<std::string> SubmissionFingerprint(const std::string& tree,
                                                  const std::vector<std::string>& labs,
                                                  const std::string& submission) {
  Hasher hasher;
  hasher.Add(kGraderVersion);
  std::vector<std::string> parts = {"common", "tools"};
  for (const std::string& lab : labs) {
    parts.push_back(absl::StrCat("labs/", lab));
    parts.push_back(absl::StrCat("grader/hidden/", lab));
  }
  for (const std::string& part : parts) {
    std::string dir = absl::StrCat(tree, "/", part);
    if (Exists(dir)) {
      IPC_ASSIGN_OR_RETURN(std::string h, HashTree(dir));
      hasher.Add(part).Add(h);
    }
  }
  struct stat st;
  if (::stat(submission.c_str(), &st) == -1) return ipc::ErrnoError("stat", submission);
  if (S_ISREG(st.st_mode)) {
    IPC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(submission, int64_t{1} << 30));
    return hasher.Add("archive").Add(bytes).Hex();
  }
  std::string base = submission;
  if (::lstat(absl::StrCat(submission, "/labs").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    base = absl::StrCat(submission, "/labs");
  }
  for (const std::string& lab : labs) {
    absl::StatusOr<LabConfig> config = LabConfig::Load(tree, lab);
    if (!config.ok()) continue;  // the tree hash above covers a broken lab.json
    for (const std::string& file : config->student_files) {
      hasher.Add(lab).Add(file);
      HashStudentFile(absl::StrCat(base, "/", lab, "/", file), hasher);
    }
  }
  return hasher.Hex();
}

absl::StatusOr<SubmissionReport> GradeSubmission(const GradeOptions& options, Sandbox& sandbox) {
  absl::Time start = absl::Now();
  SubmissionReport report;
  std::string submission_path =
      options.submission.empty() ? absl::StrCat(options.tree, "/labs") : options.submission;
  report.submission = submission_path;
  report.student = options.student.empty() ? BaseName(submission_path) : options.student;
  report.warnings = sandbox.warnings();
  IPC_ASSIGN_OR_RETURN(std::vector<std::string> lab_names, SelectLabs(options.tree, options.labs));

  std::string state = options.state_dir.empty() ? StateDirFor(options.tree) : options.state_dir;
  if (absl::Status s = MakeDirs(state, 0700); !s.ok()) return s;
  CaseListCache cache(absl::StrCat(state, "/case-lists"));

  // Load every lab.json: a broken one is that lab's grader error, not the others'.
  std::map<std::string, LabConfig> configs;
  for (const std::string& name : lab_names) {
    LabReport lab;
    lab.name = name;
    lab.title = name;
    absl::StatusOr<LabConfig> config = LabConfig::Load(options.tree, name);
    if (!config.ok()) {
      lab.outcome = LabOutcome::kGraderError;
      lab.max_known = false;
      lab.grader_errors.push_back(std::string(config.status().message()));
    } else {
      configs.emplace(name, *config);
      lab.title = config->title;
    }
    report.labs.push_back(std::move(lab));
  }
  auto finish = [&]() {
    for (LabReport& lab : report.labs) {
      auto it = configs.find(lab.name);
      if (lab.outcome != LabOutcome::kGraded && it != configs.end()) {
        RunOptions run;
        run.cache = &cache;
        run.cache_key = PristineLabKey(options.tree, it->second);
        ScoreUnbuiltLab(it->second, run, lab);
      }
    }
    report.Total();
    report.wall_time = absl::Now() - start;
    return report;
  };

  // Stage 1: open the submission (a tarball is unpacked and checked here).
  absl::StatusOr<Submission> submission =
      OpenSubmission(submission_path, lab_names, options.limits);
  if (!submission.ok()) {
    std::string why = absl::StrCat("the submission could not be opened: ",
                                   submission.status().message());
    report.refusals.push_back(why);
    for (LabReport& lab : report.labs) {
      if (lab.outcome == LabOutcome::kGraded) {
        lab.outcome = LabOutcome::kMissing;
        lab.problems.push_back(why);
      }
    }
    return finish();
  }
  report.refusals = submission->refusals;

  // Stage 2: a pristine copy of the tree in this job slot, then the student files.
  IPC_ASSIGN_OR_RETURN(auto slot, SlotLock::Take(state, options.slot));
  std::string stage = absl::StrCat(state, "/stage-", slot.second);
  std::vector<std::string> exclude = options.exclude;
  // A submission kept inside the tree (a folder of class submissions, say) is not copied into
  // every stage; the tree's own labs/ is the pristine skeleton and always is.
  std::string labs_dir = absl::StrCat(options.tree, "/labs");
  if (submission_path != labs_dir && !absl::StartsWith(submission_path, labs_dir + "/") &&
      submission_path != options.tree) {
    exclude.push_back(submission_path);
  }
  if (absl::Status s = SyncTree(options.tree, stage, exclude); !s.ok()) {
    report.grader_errors.push_back(absl::StrCat("staging the tree: ", s.ToString()));
    for (LabReport& lab : report.labs) lab.outcome = LabOutcome::kGraderError;
    return finish();
  }
  std::vector<BuildRequest> requests;
  for (LabReport& lab : report.labs) {
    auto it = configs.find(lab.name);
    if (it == configs.end()) continue;
    absl::StatusOr<LabStaging> staging = StageLab(it->second, *submission, stage, options.limits);
    if (!staging.ok()) {
      lab.outcome = LabOutcome::kGraderError;
      lab.grader_errors.push_back(absl::StrCat("staging: ", staging.status().ToString()));
      continue;
    }
    lab.problems = staging->problems;
    for (const std::string& note : staging->notes) lab.problems.push_back(note);
    if (!staging->ok) {
      lab.outcome = LabOutcome::kMissing;
      continue;
    }
    // Signs of a forger in the student's code are for the instructor (source_scan.h).
    for (const std::string& file : it->second.student_files) {
      if (!IsSourceFile(file)) continue;
      std::string shown = absl::StrCat("labs/", lab.name, "/", file);
      absl::StatusOr<std::string> text = ReadFile(absl::StrCat(stage, "/", shown));
      if (!text.ok()) continue;  // not staged (missing files were reported above)
      for (std::string& finding : ScanStudentSource(shown, *text)) {
        lab.suspicions.push_back(std::move(finding));
      }
    }
    requests.push_back({lab.name, Exists(absl::StrCat(stage, "/grader/hidden/", lab.name, "/BUILD"))});
  }
  if (requests.empty()) return finish();

  // Stage 3: one Bazel build for every lab that staged.
  absl::StatusOr<BuildResult> build = BuildLabs(stage, requests, options.bazel);
  if (!build.ok()) {
    report.grader_errors.push_back(absl::StrCat("building: ", build.status().ToString()));
    for (const BuildRequest& r : requests) {
      for (LabReport& lab : report.labs) {
        if (lab.name == r.lab) lab.outcome = LabOutcome::kGraderError;
      }
    }
    return finish();
  }

  // Stage 4: run and score each lab that built, from binaries copied where the sandbox can read.
  absl::StatusOr<ScratchDir> bin = ScratchDir::Create("ipclabs-run-", 0755);
  if (!bin.ok()) return bin.status();
  for (LabReport& lab : report.labs) {
    auto built = build->labs.find(lab.name);
    if (built == build->labs.end()) continue;
    if (!built->second.ok) {
      lab.outcome = LabOutcome::kBuildFailed;
      lab.build_errors = built->second.errors;
      continue;
    }
    const LabConfig& config = configs.at(lab.name);
    LabBinaries binaries;
    absl::StatusOr<std::string> pub =
        CopyBinary(built->second.public_binary, absl::StrCat(bin->path(), "/", lab.name, "/public"));
    absl::StatusOr<std::string> hid =
        built->second.hidden_binary.empty()
            ? absl::StatusOr<std::string>("")
            : CopyBinary(built->second.hidden_binary,
                         absl::StrCat(bin->path(), "/", lab.name, "/hidden"));
    if (!pub.ok() || !hid.ok()) {
      lab.outcome = LabOutcome::kGraderError;
      lab.grader_errors.push_back(absl::StrCat(
          "copying the binaries: ", (!pub.ok() ? pub.status() : hid.status()).ToString()));
      continue;
    }
    binaries.public_binary = *pub;
    binaries.hidden_binary = *hid;
    RunOptions run;
    run.jobs = options.jobs;
    run.cache = &cache;
    run.cache_key = PristineLabKey(options.tree, config);
    RunLab(config, binaries, sandbox, run, lab);
  }
  return finish();
}

}  // namespace grader
