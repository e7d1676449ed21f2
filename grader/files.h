// grader/files.h: the few file operations the grader repeats, each checked and named.
//
// Reading a whole file (with a size cap, so a student's 10 GB file cannot exhaust memory),
// writing one atomically (a report is either the old one or the new one, never half), removing a
// tree, a scratch directory that removes itself, and a content hash for "has this changed?".
// Partner: every other file in grader/. Tests: grader/stage_test.cc uses them throughout.
#ifndef IPC_LABS_GRADER_FILES_H_
#define IPC_LABS_GRADER_FILES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grader {

// ReadFile()
//
// Returns the contents of `path`. Errors: open/read failures as ipc::ErrnoError sentences;
// RESOURCE_EXHAUSTED if the file holds more than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path, int64_t max_bytes = int64_t{64}
                                                                                   << 20);

// WriteFileAtomically()
//
// Writes `contents` to `path` through a temporary file in the same folder and rename(2), with
// mode `mode`. Errors: the failing call's ipc::ErrnoError.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode = 0644);

// MakeDirs()
//
// mkdir -p with `mode` for the folders it creates. Errors: mkdir's, or ENOTDIR.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// RemoveTree()
//
// Removes `path` and everything below it, never following a symbolic link. A missing path is OK.
absl::Status RemoveTree(const std::string& path);

// ScratchDir
//
// A fresh folder (mkdtemp under $TMPDIR or /tmp) that is removed with everything in it when the
// object is destroyed. Move-only.
class ScratchDir {
 public:
  // ScratchDir::Create()
  //
  // Makes "<tmp>/<prefix>XXXXXX" with `mode`. Errors: mkdtemp's, chmod's.
  static absl::StatusOr<ScratchDir> Create(absl::string_view prefix, mode_t mode = 0700);

  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&& other) noexcept;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  // ScratchDir::path()
  //
  // The folder's absolute path.
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Hasher
//
// A 64-bit FNV-1a hash, for change detection (resume, caches); not a defence against an attacker
// who wants a collision (nothing relies on that).
class Hasher {
 public:
  // Hasher::Add()
  //
  // Mixes in `data`, then its length (so "ab"+"c" and "a"+"bc" differ).
  Hasher& Add(absl::string_view data);

  // Hasher::Hex()
  //
  // The hash so far, as 16 hex digits.
  std::string Hex() const;

 private:
  uint64_t state_ = 1469598103934665603ULL;  // the FNV-1a offset basis
};

// HashTree()
//
// Hashes every regular file and symbolic link under `path` (names and contents, in sorted order),
// never following links. Errors: a file cannot be read.
absl::StatusOr<std::string> HashTree(const std::string& path);

// ExpandHome()
//
// "~/x" -> "$HOME/x"; anything else is returned as it is.
std::string ExpandHome(const std::string& path);

}  // namespace grader

#endif  // IPC_LABS_GRADER_FILES_H_
