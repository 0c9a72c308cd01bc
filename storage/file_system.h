// The small file interface storage is written against, so tests can substitute a file system
// that injects faults and throws away unsynced data (see tests/storage/fault_injection_fs.h).
//
// Errors are absl::Status: NotFound for missing paths, ResourceExhausted for a full disk,
// Internal/DataLoss for I/O errors. Implementations are thread-safe; a File may be read
// concurrently with writes to other ranges.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill::storage {

class File {
 public:
  virtual ~File() = default;

  // Writes all of `data` at byte `position`.
  virtual absl::Status WriteAt(uint64_t position, std::string_view data) = 0;
  // Reads up to `size` bytes at `position` into `out`; returns how many were read (fewer only
  // at end of file).
  virtual absl::StatusOr<size_t> Read(uint64_t position, size_t size, char* out) const = 0;
  // Same, into a string resized to what was read.
  absl::Status ReadAt(uint64_t position, size_t size, std::string* out) const;
  // Makes every completed write durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for reading and writing, creating it when `create` is true.
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, bool create) = 0;
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  virtual absl::Status RemoveDirRecursively(const std::string& path) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes creations, renames and removals of entries in the directory durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;

  // The process-wide POSIX file system.
  static FileSystem* Default();
};

// Replaces `path` with `contents` atomically and durably: write a temporary file, sync it,
// rename it over `path`, sync the directory.
absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path,
                                 std::string_view contents);
absl::StatusOr<std::string> ReadWholeFile(FileSystem* fs, const std::string& path,
                                          size_t max_bytes);

std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace rill::storage
