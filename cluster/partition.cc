#include "cluster/partition.h"

#include <chrono>
#include <vector>

#include "api/error.h"
#include "base/clock.h"
#include "base/fmt_absl.h"
#include "format/record_batch.h"

namespace rill::cluster {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;

namespace {

// What a client may not write even in a well-formed batch.
absl::Status CheckClientBatch(const format::BatchHeader& header, const format::BatchStats& stats,
                              const storage::LogConfig& config, int64_t now_ms) {
  if (header.is_control()) {
    return ApiError(v1::INVALID_RECORD, "control batches are written by the broker only");
  }
  if (header.is_transactional()) {
    return ApiError(v1::INVALID_RECORD,
                    "transactional batches are not accepted: Rill has no transactions yet");
  }
  if (header.timestamp_type() == format::TimestampType::kLogAppendTime) {
    return ApiError(v1::INVALID_RECORD,
                    "LogAppendTime batches are stamped by the broker; clients send CreateTime");
  }
  if (config.message_timestamp_before_max_ms >= 0 &&
      stats.min_timestamp < now_ms - config.message_timestamp_before_max_ms) {
    return ApiError(
        v1::INVALID_TIMESTAMP,
        fmt::format("timestamp {} is more than message.timestamp.before.max.ms={} "
                    "before the broker's time {}",
                    stats.min_timestamp, config.message_timestamp_before_max_ms, now_ms));
  }
  if (config.message_timestamp_after_max_ms >= 0 &&
      stats.max_timestamp > now_ms + config.message_timestamp_after_max_ms) {
    return ApiError(
        v1::INVALID_TIMESTAMP,
        fmt::format("timestamp {} is more than message.timestamp.after.max.ms={} "
                    "after the broker's time {}",
                    stats.max_timestamp, config.message_timestamp_after_max_ms, now_ms));
  }
  return absl::OkStatus();
}

// The newest epoch in the log, read once (0 for a log that never had one).
int32_t NewestEpoch(const storage::Log& log) {
  const std::vector<storage::TermIndex::Entry> epochs = log.epochs();
  return epochs.empty() ? 0 : epochs.back().epoch;
}

}  // namespace

Partition::Partition(std::string topic, PartitionId id, std::shared_ptr<storage::Log> log)
    : topic_(std::move(topic)),
      id_(id),
      log_(std::move(log)),
      // Batches a client wrote before the broker stamped epochs may carry any epoch; continuing
      // from the log's own keeps every append at or above it.
      leader_epoch_(std::max(0, NewestEpoch(*log_))) {}

absl::StatusOr<Offset> Partition::DeleteRecordsBefore(std::optional<Offset> offset) {
  const Offset high_watermark = this->high_watermark();
  const Offset target = offset.value_or(high_watermark);
  if (target < Offset(0) || target > high_watermark) {
    return ApiError(v1::OFFSET_OUT_OF_RANGE,
                    fmt::format("cannot delete records before offset {} of {}-{}: its high "
                                "watermark is {}",
                                target, topic_, id_, high_watermark));
  }
  if (absl::Status s = log_->DeletePrefix(target); !s.ok()) {
    return ApiError(v1::STORAGE_ERROR, fmt::format("{}-{}: {}", topic_, id_, s.message()));
  }
  return log_->start_offset();
}

FetchResult Partition::Fetch(Offset start, size_t max_bytes) const {
  FetchResult result;
  // The high watermark is read first: the start offset can only move up to it, never past.
  result.high_watermark = high_watermark();
  result.log_start = log_->start_offset();
  result.next_offset = start;
  if (start < result.log_start || start > result.high_watermark) {
    result.status =
        ApiError(v1::OFFSET_OUT_OF_RANGE, fmt::format("offset {} is outside [{}, {}]", start,
                                                      result.log_start, result.high_watermark));
    return result;
  }
  if (start == result.high_watermark || max_bytes == 0) return result;
  auto read = log_->Read(start, max_bytes, result.high_watermark);
  if (!read.ok()) {
    result.status = read.status();
    return result;
  }
  result.batches = std::move(read->batches);
  result.next_offset = read->next_offset;
  return result;
}

absl::StatusOr<std::optional<Offset>> Partition::FindOffsetByTimestamp(int64_t timestamp) const {
  const Offset high_watermark = this->high_watermark();
  auto found = log_->FindOffsetByTimestamp(timestamp);
  if (!found.ok() || !found->has_value() || **found < high_watermark) return found;
  return std::optional<Offset>();
}

absl::Status Partition::UpdateConfig(const storage::LogConfig& config) {
  return log_->UpdateConfig(config);
}

void Partition::Produce(const std::vector<std::string_view>& chunks, Acks acks,
                        std::function<void(ProduceResult)> done) {
  const storage::LogConfig config = log_->config();
  const format::ValidationLimits limits{config.max_batch_bytes,
                                        config.max_uncompressed_batch_bytes};
  const int64_t now_ms = base::WallClockMs();
  // Split into batches and validate every one before writing any, so a request is applied to a
  // partition whole or not at all.
  std::vector<std::string_view> batches;
  for (std::string_view rest : chunks) {
    while (!rest.empty()) {
      auto header = format::ParseBatchHeader(rest, limits.max_batch_bytes);
      if (header.ok() && header->size_bytes() > rest.size()) {
        header = absl::InvalidArgumentError(fmt::format(
            "batch claims {} bytes but only {} were sent", header->size_bytes(), rest.size()));
      }
      format::BatchStats stats;
      if (header.ok()) {
        header = format::ValidateBatch(rest.substr(0, header->size_bytes()), limits, &stats);
      }
      if (!header.ok()) {
        done({absl::IsResourceExhausted(header.status())
                  ? ApiError(v1::MESSAGE_TOO_LARGE, std::string(header.status().message()))
                  : ApiError(v1::CORRUPT_MESSAGE, std::string(header.status().message())),
              Offset(-1)});
        return;
      }
      if (absl::Status s = CheckClientBatch(*header, stats, config, now_ms); !s.ok()) {
        done({s, Offset(-1)});
        return;
      }
      batches.push_back(rest.substr(0, header->size_bytes()));
      rest.remove_prefix(header->size_bytes());
    }
  }
  if (batches.empty()) {
    done({ApiError(v1::CORRUPT_MESSAGE, "no record batches in the request"), Offset(-1)});
    return;
  }

  // Completion is counted: one for the submission itself plus one per append whose durability
  // is awaited, so `done` runs exactly once, after the last of them.
  struct State {
    std::function<void(ProduceResult)> done;
    absl::Mutex mu;
    int outstanding ABSL_GUARDED_BY(mu) = 1;
    absl::Status status ABSL_GUARDED_BY(mu);
    Offset base_offset{-1};
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  auto finish_one = [state, topic = topic_](absl::Status s) {
    absl::Status result;
    {
      absl::MutexLock lock(&state->mu);
      if (!s.ok() && state->status.ok()) {
        // A closed log is a partition whose topic was deleted while the request was under way.
        state->status =
            absl::IsFailedPrecondition(s)
                ? ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' was deleted", topic))
                : ApiError(v1::STORAGE_ERROR, std::string(s.message()));
      }
      if (--state->outstanding > 0) return;
      result = state->status;
    }
    state->done({result, result.ok() ? state->base_offset : Offset(-1)});
  };

  const bool await_durable = acks == Acks::kAll;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (await_durable) {
      absl::MutexLock lock(&state->mu);
      ++state->outstanding;
    }
    storage::AppendOptions options;
    options.validated = true;  // every batch passed ValidateBatch above, with the log's limit
    options.leader_epoch = leader_epoch_;
    auto appended = log_->Append(std::string(batches[i]), options,
                                 [this, await_durable, finish_one](absl::Status s) {
                                   WakeWaiters();
                                   if (await_durable) finish_one(s);
                                 });
    if (!appended.ok()) {
      // Validated batches fail here only when the disk or the log does (full, failed,
      // closed): the earlier batches of the request may be written.
      if (await_durable) finish_one(absl::OkStatus());
      finish_one(appended.status());
      return;
    }
    if (i == 0 && acks != Acks::kNone) state->base_offset = appended->base_offset;
  }
  finish_one(absl::OkStatus());
}

uint64_t Partition::AddWaiter(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_waiter_id_++;
  waiters_.emplace(id, std::move(wake));
  return id;
}

void Partition::RemoveWaiter(uint64_t id) {
  absl::MutexLock lock(&mu_);
  waiters_.erase(id);
}

void Partition::WakeWaiters() {
  absl::flat_hash_map<uint64_t, std::function<void()>> waiters;
  {
    absl::MutexLock lock(&mu_);
    waiters.swap(waiters_);
  }
  for (auto& [id, wake] : waiters) wake();
}

}  // namespace rill::cluster
