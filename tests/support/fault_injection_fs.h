// A FileSystem for tests that models what a power loss keeps (in the spirit of LevelDB's
// FaultInjectionTestEnv): data written but not synced, files created and removals made
// without a directory sync, may be lost.
//
// Model: a file's durable length is its length at its last Sync() (a later Truncate lowers
// it). A created file survives only once its directory is synced; a removed file comes back
// unless its directory is synced. Renames are durable at once (a simplification: our atomic
// replace always syncs the directory right after). Sync() does not call fdatasync, which keeps
// tests fast; durability is what this class tracks.
#pragma once

#include <memory>
#include <random>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "storage/file_system.h"

namespace rill::testing {

class FaultInjectionFileSystem final : public storage::FileSystem {
 public:
  FaultInjectionFileSystem() : base_(storage::FileSystem::Default()) {}

  // After this every operation fails, as if the machine had stopped.
  void Crash();
  // Applies the power loss: every file is cut back to its durable length, plus (when `torn`)
  // a random part of what was written after it, sometimes with a hole of zeros; files never made
  // durable vanish; removals not made durable are undone. Then the file system works again.
  void DropUnsyncedData(std::mt19937_64* rng, bool torn);

  // Makes the next `n` file syncs succeed and every later one fail with an I/O error.
  void FailSyncsAfter(int n);
  // Makes every write fail with "no space left" while set.
  void SetDiskFull(bool full);

  absl::StatusOr<std::unique_ptr<storage::File>> Open(const std::string& path,
                                                      bool create) override;
  absl::Status CreateDirs(const std::string& path) override {
    return Guard([&] { return base_->CreateDirs(path); });
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveDirRecursively(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& path) override;
  bool Exists(const std::string& path) override;

 private:
  friend class FaultInjectionFile;
  struct FileState {
    uint64_t durable_size = 0;
    bool entry_durable = true;
  };

  template <typename F>
  absl::Status Guard(F f) {
    if (crashed()) return absl::InternalError("simulated crash");
    return f();
  }
  bool crashed() const;
  absl::Status CheckWrite();
  absl::Status CheckSync();
  void OnSync(const std::string& path, uint64_t size);
  void OnTruncate(const std::string& path, uint64_t size);

  storage::FileSystem* base_;
  mutable absl::Mutex mu_;
  bool crashed_ ABSL_GUARDED_BY(mu_) = false;
  bool disk_full_ ABSL_GUARDED_BY(mu_) = false;
  int syncs_left_ ABSL_GUARDED_BY(mu_) = -1;
  absl::flat_hash_map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  // Removed paths (moved aside to path + kRemovedSuffix) whose removal is not durable yet.
  std::set<std::string> pending_removals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::testing
