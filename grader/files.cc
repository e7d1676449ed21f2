// grader/files.cc: the file helpers of files.h. Every call is checked on the next line and fails
// as an ipc::ErrnoError sentence naming the call and the path.
#include "grader/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace grader {
namespace {

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n == -1 && errno == EINTR) continue;  // interrupted: write the rest
    if (n == -1) return ipc::ErrnoError("write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status HashInto(const std::string& root, const std::string& rel, Hasher& hasher) {
  std::string dir = rel.empty() ? root : absl::StrCat(root, "/", rel);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", dir);
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string child_rel = rel.empty() ? name : absl::StrCat(rel, "/", name);
    std::string child = absl::StrCat(root, "/", child_rel);
    struct stat st;
    if (::lstat(child.c_str(), &st) == -1) return ipc::ErrnoError("lstat", child);
    if (S_ISDIR(st.st_mode)) {
      if (absl::Status s = HashInto(root, child_rel, hasher); !s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(child.c_str(), target, sizeof target);
      if (n == -1) return ipc::ErrnoError("readlink", child);
      hasher.Add("link").Add(child_rel).Add(absl::string_view(target, static_cast<size_t>(n)));
    } else if (S_ISREG(st.st_mode)) {
      absl::StatusOr<std::string> contents = ReadFile(child);
      if (!contents.ok()) return contents.status();
      hasher.Add("file").Add(child_rel).Add(*contents);
    } else {
      hasher.Add("special").Add(child_rel);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, int64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() == -1) return ipc::ErrnoError("open", path);
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == -1 && errno == EINTR) continue;  // interrupted: read again
    if (n == -1) return ipc::ErrnoError("read", path);
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
    if (static_cast<int64_t>(contents.size()) > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("%s is larger than %d bytes", path, max_bytes));
    }
  }
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode) {
  std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (fd.get() == -1) return ipc::ErrnoError("open", temp);
    if (absl::Status s = WriteAll(fd.get(), contents, temp); !s.ok()) {
      ::unlink(temp.c_str());
      return s;
    }
    if (::fchmod(fd.get(), mode) == -1) return ipc::ErrnoError("fchmod", temp);
  }
  if (::rename(temp.c_str(), path.c_str()) == -1) {
    absl::Status status = ipc::ErrnoError("rename", absl::StrCat(temp, " -> ", path));
    ::unlink(temp.c_str());
    return status;
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return ipc::ErrnoError("mkdir", path, ENOTDIR);
  }
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirs(path.substr(0, slash), mode); !s.ok()) return s;
  }
  if (::mkdir(path.c_str(), mode) == -1 && errno != EEXIST) return ipc::ErrnoError("mkdir", path);
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == -1) {
    if (errno == ENOENT) return absl::OkStatus();  // already gone
    return ipc::ErrnoError("lstat", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) == -1 && errno != ENOENT) return ipc::ErrnoError("unlink", path);
    return absl::OkStatus();
  }
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ipc::ErrnoError("opendir", path);
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    if (absl::Status s = RemoveTree(absl::StrCat(path, "/", name)); !s.ok()) return s;
  }
  if (::rmdir(path.c_str()) == -1 && errno != ENOENT) return ipc::ErrnoError("rmdir", path);
  return absl::OkStatus();
}

absl::StatusOr<ScratchDir> ScratchDir::Create(absl::string_view prefix, mode_t mode) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix,
                                   "XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) return ipc::ErrnoError("mkdtemp", templ);
  if (::chmod(templ.c_str(), mode) == -1) return ipc::ErrnoError("chmod", templ);
  return ScratchDir(templ);
}

ScratchDir& ScratchDir::operator=(ScratchDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) (void)RemoveTree(path_);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) (void)RemoveTree(path_);  // best effort: nothing to tell anyone
}

Hasher& Hasher::Add(absl::string_view data) {
  auto mix = [this](unsigned char byte) {
    state_ ^= byte;
    state_ *= 1099511628211ULL;  // the FNV-1a 64-bit prime
  };
  for (char c : data) mix(static_cast<unsigned char>(c));
  uint64_t length = data.size();
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(length >> (8 * i)));
  return *this;
}

std::string Hasher::Hex() const { return absl::StrFormat("%016x", state_); }

absl::StatusOr<std::string> HashTree(const std::string& path) {
  Hasher hasher;
  if (absl::Status s = HashInto(path, "", hasher); !s.ok()) return s;
  return hasher.Hex();
}

std::string ExpandHome(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return absl::StrCat(home, path.substr(1));
  }
  return path;
}

}  // namespace grader
