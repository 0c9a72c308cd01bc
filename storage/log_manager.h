// LogManager: the logs of one data directory, one subdirectory per partition log
// ("<topic>-<partition>"), sharing one Flusher, with a background thread that checkpoints
// every log's recovery point (storage/recovery_points.h) into one file and runs retention.
//
// Thread-safety: every method is thread-safe. Logs are handed out as shared_ptr so a caller
// may keep using one while another thread deletes it (its files stay readable until released).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/file_system.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/recovery_points.h"

namespace rill::storage {

struct LogManagerOptions {
  std::string data_dir = "rill-data";
  FileSystem* fs = FileSystem::Default();
  std::function<int64_t()> clock_ms;
  // log.retention.check.interval.ms; 0 disables the background pass (tests call
  // EnforceRetention themselves).
  int64_t retention_check_interval_ms = 5 * 60 * 1000;
  // How often the recovery points are written (one small synced file); 0 disables the
  // background checkpoint (tests call CheckpointRecoveryPoints themselves). After a crash, a
  // corrupt batch written since the last checkpoint is cut as a torn tail would be; one below
  // it makes the log fail to open with DataLoss.
  int64_t recovery_point_interval_ms = 1000;
};

// Log names are used as directory names: 1 to 255 characters of [A-Za-z0-9._-], not "." or "..".
absl::Status ValidateLogName(std::string_view name);

class LogManager {
 public:
  static absl::StatusOr<std::unique_ptr<LogManager>> Open(LogManagerOptions options);
  ~LogManager();

  // Opens the named log (recovering it) or creates it. An already open log is returned as it
  // is; its config is left unchanged.
  absl::StatusOr<std::shared_ptr<Log>> GetOrCreate(const std::string& name,
                                                   const LogConfig& config);
  std::shared_ptr<Log> Get(const std::string& name) const;
  // Closes the log and removes its directory.
  absl::Status Delete(const std::string& name);
  // Renames a log that is not open, with its recovery point. Crash-safe: the point is recorded
  // under the new name before the directory moves. NotFound when `from` is not on disk,
  // AlreadyExists when `to` is, FailedPrecondition when either is open.
  absl::Status Rename(const std::string& from, const std::string& to);
  // Names of the log directories on disk, open or not (for a broker to reopen at start).
  absl::StatusOr<std::vector<std::string>> ListOnDisk() const;

  // One retention pass over every open log.
  RetentionResult EnforceRetention();
  // Records every open log's durable offset as its recovery point, keeping the recorded points
  // of logs on disk that are not open, and writes them durably.
  absl::Status CheckpointRecoveryPoints();
  // Closes every log cleanly; the first error is returned. Idempotent.
  absl::Status Close();

  Flusher& flusher() { return flusher_; }
  const std::string& data_dir() const { return options_.data_dir; }

 private:
  explicit LogManager(LogManagerOptions options) : options_(std::move(options)) {}
  void BackgroundLoop();

  const LogManagerOptions options_;
  Flusher flusher_;
  // Serializes checkpoint writes, so that the last one written holds the newest points.
  absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // What the file holds, once this manager wrote it.
  std::optional<RecoveryPoints> written_points_ ABSL_GUARDED_BY(checkpoint_mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Log>> logs_ ABSL_GUARDED_BY(mu_);
  RecoveryPoints recovery_points_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread background_thread_;
};

}  // namespace rill::storage
