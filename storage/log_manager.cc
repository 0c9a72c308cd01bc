#include "storage/log_manager.h"

#include "absl/time/time.h"
#include "base/fmt_absl.h"
#include "base/logging.h"

namespace rill::storage {

absl::Status ValidateLogName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") {
    return absl::InvalidArgumentError(fmt::format("invalid log name '{}'", name));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          fmt::format("invalid log name '{}': only [A-Za-z0-9._-] are allowed", name));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LogManager>> LogManager::Open(LogManagerOptions options) {
  if (auto s = options.fs->CreateDirs(options.data_dir); !s.ok()) return s;
  std::unique_ptr<LogManager> manager(new LogManager(std::move(options)));
  const std::string path = JoinPath(manager->options_.data_dir, kRecoveryPointsFileName);
  if (manager->options_.fs->Exists(path)) {
    auto points = ReadWholeFile(manager->options_.fs, path, kMaxRecoveryPointsFileBytes);
    auto decoded = points.ok() ? DecodeRecoveryPoints(*points, path)
                               : absl::StatusOr<RecoveryPoints>(points.status());
    if (decoded.ok()) {
      absl::MutexLock lock(&manager->mu_);
      manager->recovery_points_ = std::move(*decoded);
    } else {
      // Without the points, recovery works as if none had been recorded: a corrupt batch in
      // the tail of a log is cut as a torn write would be. Said loudly, since that may drop
      // acknowledged records.
      logging::Error("storage", "recovery points unreadable, recovering without them: {}",
                     decoded.status().message());
    }
  }
  if (manager->options_.retention_check_interval_ms > 0 ||
      manager->options_.recovery_point_interval_ms > 0) {
    manager->background_thread_ = std::thread([m = manager.get()] { m->BackgroundLoop(); });
  }
  return manager;
}

LogManager::~LogManager() {
  absl::Status s = Close();
  if (!s.ok()) logging::Error("storage", "closing logs: {}", s.message());
}

absl::StatusOr<std::shared_ptr<Log>> LogManager::GetOrCreate(const std::string& name,
                                                             const LogConfig& config) {
  if (auto s = ValidateLogName(name); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (closing_) return absl::FailedPreconditionError("log manager is closed");
  if (auto it = logs_.find(name); it != logs_.end()) return it->second;
  LogOptions log_options{options_.fs, &flusher_, options_.clock_ms, std::nullopt};
  if (auto it = recovery_points_.find(name); it != recovery_points_.end()) {
    log_options.recovery_point = it->second;
  }
  auto log = Log::Open(JoinPath(options_.data_dir, name), config, std::move(log_options));
  if (!log.ok()) return log.status();
  std::shared_ptr<Log> shared = std::move(*log);
  logs_.emplace(name, shared);
  return shared;
}

std::shared_ptr<Log> LogManager::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = logs_.find(name);
  return it == logs_.end() ? nullptr : it->second;
}

absl::Status LogManager::Delete(const std::string& name) {
  if (auto s = ValidateLogName(name); !s.ok()) return s;
  std::shared_ptr<Log> log;
  bool had_point = false;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = logs_.find(name); it != logs_.end()) {
      log = std::move(it->second);
      logs_.erase(it);
    }
    had_point = recovery_points_.erase(name) > 0;
  }
  if (log) (void)log->Close();
  std::string dir = JoinPath(options_.data_dir, name);
  if (!options_.fs->Exists(dir)) return absl::NotFoundError(fmt::format("no log named {}", name));
  // A log created later under the same name must not inherit this one's recovery point.
  if (had_point) {
    if (auto s = CheckpointRecoveryPoints(); !s.ok()) return s;
  }
  if (auto s = options_.fs->RemoveDirRecursively(dir); !s.ok()) return s;
  return options_.fs->SyncDir(options_.data_dir);
}

absl::Status LogManager::Rename(const std::string& from, const std::string& to) {
  if (auto s = ValidateLogName(from); !s.ok()) return s;
  if (auto s = ValidateLogName(to); !s.ok()) return s;
  const std::string from_dir = JoinPath(options_.data_dir, from);
  const std::string to_dir = JoinPath(options_.data_dir, to);
  bool had_point = false;
  {
    absl::MutexLock lock(&mu_);
    if (logs_.contains(from) || logs_.contains(to)) {
      return absl::FailedPreconditionError(
          fmt::format("cannot rename log {} to {}: it is open", from, to));
    }
    if (!options_.fs->Exists(from_dir)) {
      return absl::NotFoundError(fmt::format("no log named {}", from));
    }
    if (options_.fs->Exists(to_dir)) {
      return absl::AlreadyExistsError(fmt::format("log {} already exists", to));
    }
    if (auto it = recovery_points_.find(from); it != recovery_points_.end()) {
      recovery_points_[to] = it->second;
      had_point = true;
    }
  }
  if (had_point) {
    if (auto s = CheckpointRecoveryPoints(); !s.ok()) return s;
  }
  if (auto s = options_.fs->Rename(from_dir, to_dir); !s.ok()) return s;
  if (auto s = options_.fs->SyncDir(options_.data_dir); !s.ok()) return s;
  if (!had_point) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    recovery_points_.erase(from);
  }
  return CheckpointRecoveryPoints();
}

absl::StatusOr<std::vector<std::string>> LogManager::ListOnDisk() const {
  auto names = options_.fs->ListDir(options_.data_dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> logs;
  for (auto& name : *names) {
    // The recovery points file (and its temporary copy) lives beside the log directories.
    if (name.rfind(kRecoveryPointsFileName, 0) == 0) continue;
    if (ValidateLogName(name).ok() && options_.fs->Exists(JoinPath(options_.data_dir, name))) {
      logs.push_back(std::move(name));
    }
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

RetentionResult LogManager::EnforceRetention() {
  std::vector<std::shared_ptr<Log>> logs;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, log] : logs_) logs.push_back(log);
  }
  RetentionResult total;
  for (const auto& log : logs) {
    auto result = log->EnforceRetention();
    if (!result.ok()) {
      logging::Warn("storage", "retention of {} failed: {}", log->dir(), result.status().message());
      continue;
    }
    total.segments_deleted += result->segments_deleted;
    total.bytes_deleted += result->bytes_deleted;
  }
  return total;
}

absl::Status LogManager::CheckpointRecoveryPoints() {
  absl::MutexLock write_lock(&checkpoint_mu_);
  RecoveryPoints points;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, log] : logs_) recovery_points_[name] = log->durable_offset().value();
    points = recovery_points_;
  }
  // An idle broker would otherwise rewrite (and sync) the same file every second.
  if (written_points_ && *written_points_ == points) return absl::OkStatus();
  absl::Status s =
      WriteFileAtomically(options_.fs, JoinPath(options_.data_dir, kRecoveryPointsFileName),
                          EncodeRecoveryPoints(points));
  if (s.ok()) written_points_ = std::move(points);
  return s;
}

void LogManager::BackgroundLoop() {
  // One thread, two schedules: each task runs when its interval has passed (0: never).
  const int64_t retention_ms = options_.retention_check_interval_ms;
  const int64_t checkpoint_ms = options_.recovery_point_interval_ms;
  const int64_t tick_ms = retention_ms > 0 && checkpoint_ms > 0
                              ? std::min(retention_ms, checkpoint_ms)
                              : std::max(retention_ms, checkpoint_ms);
  absl::Time next_retention = absl::Now() + absl::Milliseconds(retention_ms);
  absl::Time next_checkpoint = absl::Now() + absl::Milliseconds(checkpoint_ms);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&closing), absl::Milliseconds(tick_ms))) return;
    }
    const absl::Time now = absl::Now();
    if (checkpoint_ms > 0 && now >= next_checkpoint) {
      if (auto s = CheckpointRecoveryPoints(); !s.ok()) {
        logging::Warn("storage", "writing recovery points failed: {}", s.message());
      }
      next_checkpoint = now + absl::Milliseconds(checkpoint_ms);
    }
    if (retention_ms > 0 && now >= next_retention) {
      EnforceRetention();
      next_retention = now + absl::Milliseconds(retention_ms);
    }
  }
}

absl::Status LogManager::Close() {
  absl::flat_hash_map<std::string, std::shared_ptr<Log>> logs;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    logs.swap(logs_);
  }
  if (background_thread_.joinable()) background_thread_.join();
  absl::Status first;
  for (auto& [name, log] : logs) {
    absl::Status s = log->Close();
    if (first.ok() && !s.ok()) first = s;
  }
  if (!logs.empty()) {
    // The last word on where each log was durable, now that all of it is.
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, log] : logs) recovery_points_[name] = log->durable_offset().value();
    }
    absl::Status s = CheckpointRecoveryPoints();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace rill::storage
