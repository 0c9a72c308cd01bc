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
  if (manager->options_.retention_check_interval_ms > 0) {
    manager->retention_thread_ = std::thread([m = manager.get()] { m->RetentionLoop(); });
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
  LogOptions log_options{options_.fs, &flusher_, options_.clock_ms};
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
  {
    absl::MutexLock lock(&mu_);
    if (auto it = logs_.find(name); it != logs_.end()) {
      log = std::move(it->second);
      logs_.erase(it);
    }
  }
  if (log) (void)log->Close();
  std::string dir = JoinPath(options_.data_dir, name);
  if (!options_.fs->Exists(dir)) return absl::NotFoundError(fmt::format("no log named {}", name));
  if (auto s = options_.fs->RemoveDirRecursively(dir); !s.ok()) return s;
  return options_.fs->SyncDir(options_.data_dir);
}

absl::StatusOr<std::vector<std::string>> LogManager::ListOnDisk() const {
  auto names = options_.fs->ListDir(options_.data_dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> logs;
  for (auto& name : *names) {
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

void LogManager::RetentionLoop() {
  const absl::Duration interval = absl::Milliseconds(options_.retention_check_interval_ms);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&closing), interval)) return;
    }
    EnforceRetention();
  }
}

absl::Status LogManager::Close() {
  absl::flat_hash_map<std::string, std::shared_ptr<Log>> logs;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    logs.swap(logs_);
  }
  if (retention_thread_.joinable()) retention_thread_.join();
  absl::Status first;
  for (auto& [name, log] : logs) {
    absl::Status s = log->Close();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace rill::storage
