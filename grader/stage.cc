// grader/stage.cc: opening submissions, mirroring the tree, copying student files (stage.h).
//
// Student files are read with openat(2) from the submission folder one component at a time,
// each with O_NOFOLLOW: a symbolic link anywhere on the way (the lab folder itself, a
// subfolder, the file) is refused instead of followed, so a link to /etc/shadow or to another
// student's folder never reaches the stage. O_NONBLOCK keeps a FIFO from blocking the open.
#include "grader/stage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "grader/archive.h"

namespace grader {
namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

bool IsDir(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", path);
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

const char* KindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a folder";
  return "not a regular file";
}

// True if two regular files hold the same bytes (sizes already equal).
bool SameContent(const std::string& a, const std::string& b) {
  absl::StatusOr<std::string> x = ReadFile(a, int64_t{1} << 30);
  absl::StatusOr<std::string> y = ReadFile(b, int64_t{1} << 30);
  return x.ok() && y.ok() && *x == *y;
}

absl::Status CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  IPC_ASSIGN_OR_RETURN(std::string contents, ReadFile(from, int64_t{1} << 30));
  return WriteFileAtomically(to, contents, mode);
}

absl::Status Mirror(const std::string& from, const std::string& to, bool top,
                    const std::set<std::string>& exclude) {
  struct stat st;
  if (::lstat(to.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    if (absl::Status s = RemoveTree(to); !s.ok()) return s;
  }
  if (absl::Status s = MakeDirs(to); !s.ok()) return s;
  IPC_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(from));
  std::set<std::string> kept;
  for (const std::string& name : names) {
    if (top && (name == ".git" || name == ".grader" || name == "solutions" ||
                absl::StartsWith(name, "bazel-"))) {
      continue;
    }
    std::string src = absl::StrCat(from, "/", name);
    std::string dst = absl::StrCat(to, "/", name);
    if (exclude.count(src) > 0) continue;
    kept.insert(name);
    struct stat s_src;
    if (::lstat(src.c_str(), &s_src) == -1) return ipc::ErrnoError("lstat", src);
    struct stat s_dst;
    bool have = ::lstat(dst.c_str(), &s_dst) == 0;
    if (S_ISDIR(s_src.st_mode)) {
      if (absl::Status s = Mirror(src, dst, false, exclude); !s.ok()) return s;
    } else if (S_ISLNK(s_src.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(src.c_str(), target, sizeof target - 1);
      if (n == -1) return ipc::ErrnoError("readlink", src);
      target[n] = '\0';
      char current[4096];
      ssize_t m = have && S_ISLNK(s_dst.st_mode)
                      ? ::readlink(dst.c_str(), current, sizeof current - 1)
                      : -1;
      if (m == n && std::equal(target, target + n, current)) continue;
      if (absl::Status s = RemoveTree(dst); !s.ok()) return s;
      if (::symlink(target, dst.c_str()) == -1) return ipc::ErrnoError("symlink", dst);
    } else if (S_ISREG(s_src.st_mode)) {
      mode_t mode = (s_src.st_mode & 0111) != 0 ? 0755 : 0644;
      if (have && S_ISREG(s_dst.st_mode) && s_dst.st_size == s_src.st_size &&
          (s_dst.st_mode & 0777) == mode && SameContent(src, dst)) {
        continue;  // unchanged: keep its mtime, so Bazel need not even rehash it
      }
      if (have) {
        if (absl::Status s = RemoveTree(dst); !s.ok()) return s;
      }
      if (absl::Status s = CopyFile(src, dst, mode); !s.ok()) return s;
    }
    // Sockets and FIFOs in the pristine tree are not part of any build: left out.
  }
  IPC_ASSIGN_OR_RETURN(std::vector<std::string> present, ListDir(to));
  for (const std::string& name : present) {
    if (kept.count(name) > 0) continue;
    if (top && absl::StartsWith(name, "bazel-")) continue;  // the stage's own convenience links
    if (absl::Status s = RemoveTree(absl::StrCat(to, "/", name)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Opens `rel` below the folder `dir_fd` without following any link. Fills `problem` with a
// sentence for a refusal or a missing file (and returns -1 then).
Fd OpenInside(int dir_fd, const std::string& rel, const std::string& shown, std::string& problem,
              struct stat& st) {
  std::vector<std::string> parts = absl::StrSplit(rel, '/');
  Fd current(::dup(dir_fd));
  if (current.get() == -1) {
    problem = absl::StrCat("could not read ", shown, ": dup failed");
    return Fd();
  }
  std::string so_far;
  for (size_t i = 0; i < parts.size(); ++i) {
    bool last = i + 1 == parts.size();
    so_far = so_far.empty() ? parts[i] : absl::StrCat(so_far, "/", parts[i]);
    int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (last ? O_NONBLOCK : O_DIRECTORY);
    Fd next(::openat(current.get(), parts[i].c_str(), flags));
    if (next.get() == -1) {
      int err = errno;
      struct stat link_st;
      bool is_link = ::fstatat(current.get(), parts[i].c_str(), &link_st, AT_SYMLINK_NOFOLLOW) == 0;
      if (err == ENOENT) {
        problem = absl::StrCat("missing ", shown);
      } else if (is_link && S_ISLNK(link_st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlinkat(current.get(), parts[i].c_str(), target, sizeof target - 1);
        std::string to = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
        problem = absl::StrCat("refused ", shown, ": ", last ? "it" : so_far,
                               " is a symbolic link (to ", to,
                               "); submit the file itself, links are never followed");
      } else if (is_link && !last && !S_ISDIR(link_st.st_mode)) {
        problem = absl::StrCat("refused ", shown, ": ", so_far, " is not a folder");
      } else {
        problem = absl::StrCat("refused ", shown, ": ",
                               ipc::ErrnoError("open", so_far, err).message());
      }
      return Fd();
    }
    current = std::move(next);
  }
  if (::fstat(current.get(), &st) == -1) {
    problem = absl::StrCat("refused ", shown, ": ", ipc::ErrnoError("fstat", shown).message());
    return Fd();
  }
  if (!S_ISREG(st.st_mode)) {
    problem = absl::StrCat("refused ", shown, ": it is ", KindOf(st.st_mode),
                           "; only regular files are accepted");
    return Fd();
  }
  return current;
}

}  // namespace

bool IsWrittenAnswer(absl::string_view file) {
  return absl::EndsWith(file, ".md") || absl::EndsWith(file, ".txt");
}

absl::StatusOr<Submission> OpenSubmission(const std::string& path,
                                          const std::vector<std::string>& labs,
                                          const StageLimits& limits) {
  Submission submission;
  struct stat st;
  if (::stat(path.c_str(), &st) == -1) return ipc::ErrnoError("stat", path);
  std::string base = path;
  if (S_ISREG(st.st_mode) && (absl::EndsWith(path, ".tar.gz") || absl::EndsWith(path, ".tgz") ||
                              absl::EndsWith(path, ".tar"))) {
    IPC_ASSIGN_OR_RETURN(ScratchDir dir, ScratchDir::Create("ipclabs-submission-"));
    ExtractLimits extract;
    extract.max_file_bytes = limits.max_file_bytes;
    IPC_ASSIGN_OR_RETURN(ExtractResult result, ExtractTarGz(path, dir.path(), extract));
    submission.refusals = std::move(result.refusals);
    for (auto& [rel, why] : result.refused_paths) {
      submission.refused_paths[absl::StrCat(dir.path(), "/", rel)] = why;
    }
    base = dir.path();
    IPC_ASSIGN_OR_RETURN(std::vector<std::string> top, ListDir(base));
    if (top.size() == 1 && IsDir(absl::StrCat(base, "/", top[0])) && top[0] != "labs" &&
        std::find(labs.begin(), labs.end(), top[0]) == labs.end()) {
      base = absl::StrCat(base, "/", top[0]);  // "alice/labs/..." or "alice/<lab>/..."
    }
    submission.unpacked = std::move(dir);
  } else if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is neither a folder nor a .tar.gz: a submission is a folder shaped like labs/, "
              "a repository root holding labs/, or a .tar.gz of either"));
  }
  if (IsDir(absl::StrCat(base, "/labs"))) base = absl::StrCat(base, "/labs");
  submission.base = base;
  return submission;
}

absl::Status SyncTree(const std::string& root, const std::string& stage,
                      const std::vector<std::string>& exclude) {
  std::set<std::string> excluded(exclude.begin(), exclude.end());
  return Mirror(root, stage, /*top=*/true, excluded);
}

absl::StatusOr<LabStaging> StageLab(const LabConfig& config, const Submission& submission,
                                    const std::string& stage, const StageLimits& limits) {
  LabStaging staging;
  std::string lab_dir = absl::StrCat(submission.base, "/", config.name);
  Fd dir(::open(submission.base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() == -1) return ipc::ErrnoError("open", submission.base);

  struct Ready {
    std::string rel;
    std::string contents;
    mode_t mode;
  };
  std::vector<Ready> ready;
  for (const std::string& file : config.student_files) {
    std::string shown = absl::StrCat("labs/", config.name, "/", file);
    // A written answer's problem is a note; a code file's stops the lab.
    auto report = [&](std::string problem) {
      if (IsWrittenAnswer(file)) {
        staging.notes.push_back(absl::StrCat(
            problem, " (a written answer the tests do not use: the lab is graded without it)"));
      } else {
        staging.problems.push_back(std::move(problem));
      }
    };
    auto refused = submission.refused_paths.find(absl::StrCat(lab_dir, "/", file));
    if (refused != submission.refused_paths.end()) {
      report(absl::StrCat("refused ", shown, ": ", refused->second));
      continue;
    }
    std::string problem;
    struct stat st;
    Fd fd = OpenInside(dir.get(), absl::StrCat(config.name, "/", file), shown, problem, st);
    if (fd.get() == -1) {
      report(problem);
      continue;
    }
    if (st.st_size > limits.max_file_bytes) {
      report(absl::StrCat("refused ", shown, ": it is ", st.st_size, " bytes, over the limit of ",
                          limits.max_file_bytes, " bytes"));
      continue;
    }
    std::string contents;
    char buffer[1 << 16];
    bool too_big = false;
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n == -1 && errno == EINTR) continue;  // interrupted: read again
      if (n == -1) return ipc::ErrnoError("read", shown);
      if (n == 0) break;
      contents.append(buffer, static_cast<size_t>(n));
      if (static_cast<int64_t>(contents.size()) > limits.max_file_bytes) {
        too_big = true;  // it grew after fstat: same answer
        break;
      }
    }
    if (too_big) {
      report(absl::StrCat("refused ", shown, ": it is over the limit of ", limits.max_file_bytes,
                          " bytes"));
      continue;
    }
    ready.push_back({file, std::move(contents), static_cast<mode_t>(0644)});
  }
  staging.ok = staging.problems.empty();
  if (!staging.ok) return staging;
  for (const Ready& r : ready) {
    std::string to = absl::StrCat(stage, "/labs/", config.name, "/", r.rel);
    if (absl::Status s = MakeDirs(to.substr(0, to.find_last_of('/'))); !s.ok()) return s;
    struct stat st;
    if (::lstat(to.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      if (absl::Status s = RemoveTree(to); !s.ok()) return s;
    }
    if (absl::Status s = WriteFileAtomically(to, r.contents, r.mode); !s.ok()) return s;
  }
  return staging;
}

}  // namespace grader
