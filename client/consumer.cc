#include "rill/consumer.h"

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "api/error.h"
#include "base/fmt_absl.h"
#include "client/cluster.h"
#include "client/consumer_impl.h"
#include "format/compression.h"
#include "format/record_batch.h"

namespace rill::client {

absl::Status ConsumerImpl::Assign(const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, int32_t> leaders;
  for (const auto& tp : partitions) {
    auto meta = cluster_->Topic(tp.topic, /*refresh=*/false);
    if (!meta.ok()) return meta.status();
    if (tp.partition < 0 || tp.partition >= static_cast<int32_t>(meta->leaders.size())) {
      return api::ApiError(v1::UNKNOWN_PARTITION,
                           fmt::format("UNKNOWN_PARTITION: topic '{}' has {} partitions, not {}",
                                       tp.topic, meta->leaders.size(), tp.partition));
    }
    leaders[tp] = meta->leaders[static_cast<size_t>(tp.partition)];
  }
  absl::MutexLock lock(&mu_);
  if (subscribed_) {
    return absl::FailedPreconditionError(
        "the consumer is subscribed to a group; Unsubscribe before assigning partitions");
  }
  std::map<TopicPartition, PartitionState> next;
  for (const auto& tp : partitions) {
    auto it = partitions_.find(tp);
    next[tp] = it != partitions_.end() ? std::move(it->second) : PartitionState{};
    next[tp].leader = leaders[tp];
  }
  partitions_.swap(next);
  return absl::OkStatus();
}

std::vector<TopicPartition> ConsumerImpl::Assignment() const {
  absl::MutexLock lock(&mu_);
  std::vector<TopicPartition> out;
  for (const auto& [tp, state] : partitions_) out.push_back(tp);
  return out;
}

void ConsumerImpl::SeekLocked(PartitionState* state, int64_t offset, bool sought) {
  state->sought = sought;
  state->position = offset;
  state->fetch_position = offset;
  state->batches.clear();
  state->buffered_bytes = 0;
  state->error = absl::OkStatus();
  ++state->epoch;
  // A fetch still out belongs to the old epoch: its answer is dropped, and a new one may go.
  state->fetching = false;
}

absl::Status ConsumerImpl::Seek(const TopicPartition& partition, int64_t offset) {
  if (offset < 0) {
    return api::ApiError(v1::OFFSET_OUT_OF_RANGE,
                         fmt::format("OFFSET_OUT_OF_RANGE: cannot seek to offset {}", offset));
  }
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) {
    return absl::FailedPreconditionError(fmt::format("{}-{} is not assigned to this consumer",
                                                     partition.topic, partition.partition));
  }
  SeekLocked(&it->second, offset, /*sought=*/true);
  return absl::OkStatus();
}

absl::Status ConsumerImpl::SeekTo(const std::vector<TopicPartition>& partitions, int64_t spec) {
  auto offsets = cluster_->ListOffsets(partitions, spec);
  if (!offsets.ok()) return offsets.status();
  // A timestamp no record reaches lands at the end, as in Kafka's offsetsForTimes + seek.
  std::vector<TopicPartition> to_end;
  for (const auto& [tp, offset] : *offsets) {
    if (offset < 0) to_end.push_back(tp);
  }
  std::map<TopicPartition, int64_t> ends;
  if (!to_end.empty()) {
    auto latest = cluster_->ListOffsets(to_end, v1::LATEST);
    if (!latest.ok()) return latest.status();
    ends = *latest;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [tp, offset] : *offsets) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) {
      return absl::FailedPreconditionError(
          fmt::format("{}-{} is not assigned to this consumer", tp.topic, tp.partition));
    }
    SeekLocked(&it->second, offset >= 0 ? offset : ends[tp]);
  }
  return absl::OkStatus();
}

absl::Status ConsumerImpl::ResolvePositions(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return absl::OkStatus();
  // A sought position lost to OFFSET_OUT_OF_RANGE resets by seek_offset_reset; any other by
  // auto_offset_reset.
  std::vector<TopicPartition> earliest, latest;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& tp : partitions) {
      auto it = partitions_.find(tp);
      const OffsetReset reset =
          it != partitions_.end() ? ResetPolicy(it->second) : options_.auto_offset_reset;
      if (reset == OffsetReset::kNone) {
        return api::ApiError(v1::OFFSET_OUT_OF_RANGE,
                             "OFFSET_OUT_OF_RANGE: no position and auto offset reset is none");
      }
      (reset == OffsetReset::kEarliest ? earliest : latest).push_back(tp);
    }
  }
  for (const auto& [spec, group] : {std::pair{v1::EARLIEST, &earliest}, {v1::LATEST, &latest}}) {
    if (group->empty()) continue;
    auto offsets = cluster_->ListOffsets(*group, spec);
    if (!offsets.ok()) return offsets.status();
    absl::MutexLock lock(&mu_);
    for (const auto& [tp, offset] : *offsets) {
      auto it = partitions_.find(tp);
      if (it != partitions_.end() && it->second.position == kNoPosition) {
        SeekLocked(&it->second, offset);
      }
    }
  }
  return absl::OkStatus();
}

void ConsumerImpl::ReportConnection(absl::Status status) {
  if (!options_.on_connection_status) return;
  absl::MutexLock lock(&connection_mu_);
  if (unreachable_reported_ == !status.ok()) return;
  unreachable_reported_ = !status.ok();
  options_.on_connection_status(status);
}

absl::StatusOr<int64_t> ConsumerImpl::Position(const TopicPartition& partition) {
  {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) {
      return absl::FailedPreconditionError(fmt::format("{}-{} is not assigned to this consumer",
                                                       partition.topic, partition.partition));
    }
    if (it->second.position != kNoPosition) return it->second.position;
  }
  if (auto s = ResolvePositions({partition}); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  return partitions_[partition].position;
}

bool ConsumerImpl::Fetchable(const PartitionState& state) const {
  if (!state.error.ok() || state.fetching || state.buffered_bytes >= options_.prefetch_bytes) {
    return false;
  }
  if (state.fetch_position == kNoPosition) return true;  // to be resolved first
  if (auto b = backoff_until_.find(state.leader);
      b != backoff_until_.end() && std::chrono::steady_clock::now() < b->second) {
    return false;
  }
  auto it = fetches_in_flight_.find(state.leader);
  return it == fetches_in_flight_.end() || it->second < kMaxFetchesPerBroker;
}

void ConsumerImpl::RunFetcher() {
  while (true) {
    std::vector<TopicPartition> unresolved;
    std::set<std::string> stale;
    std::vector<std::shared_ptr<FetchCall>> calls;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (closing_ || !stale_topics_.empty()) return true;
        for (const auto& [tp, s] : partitions_) {
          if (Fetchable(s)) return true;
        }
        return false;
      };
      mu_.AwaitWithTimeout(absl::Condition(&has_work), absl::Milliseconds(100));
      if (closing_) {
        // Long-polls would otherwise hold Close up for up to max_wait.
        for (FetchCall* call : calls_) call->context.TryCancel();
        auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.empty(); };
        mu_.Await(absl::Condition(&drained));
        return;
      }
      stale.swap(stale_topics_);
      // Per leader, the partitions to fetch now, spread over as many requests as the leader
      // has room for.
      std::map<int32_t, std::vector<TopicPartition>> ready;
      for (auto& [tp, state] : partitions_) {
        if (!Fetchable(state) || stale.count(tp.topic) > 0) continue;
        if (state.fetch_position == kNoPosition) {
          unresolved.push_back(tp);
          continue;
        }
        ready[state.leader].push_back(tp);
      }
      for (auto& [leader, tps] : ready) {
        const int room = kMaxFetchesPerBroker - fetches_in_flight_[leader];
        const size_t requests = std::min(tps.size(), static_cast<size_t>(room));
        const size_t first = calls.size();
        for (size_t i = 0; i < requests; ++i) {
          auto call = std::make_shared<FetchCall>();
          call->leader = leader;
          call->request.set_max_wait_ms(options_.fetch_max_wait_ms);
          call->request.set_min_bytes(options_.fetch_min_bytes);
          call->request.set_max_bytes(options_.fetch_max_bytes);
          call->context.set_deadline(std::chrono::system_clock::now() +
                                     std::chrono::milliseconds(options_.fetch_max_wait_ms +
                                                               cluster_->request_timeout_ms()));
          calls.push_back(std::move(call));
        }
        for (size_t i = 0; i < tps.size(); ++i) {
          FetchCall& call = *calls[first + i % requests];
          PartitionState& state = partitions_[tps[i]];
          auto* p = call.request.add_partitions();
          p->set_topic(tps[i].topic);
          p->set_partition(tps[i].partition);
          p->set_fetch_offset(state.fetch_position);
          p->set_max_bytes(options_.max_partition_fetch_bytes);
          call.epochs[tps[i]] = state.epoch;
          state.fetching = true;
        }
        fetches_in_flight_[leader] += static_cast<int>(requests);
      }
      for (const auto& call : calls) calls_.insert(call.get());
    }
    for (auto& call : calls) {
      FetchCall* raw = call.get();
      auto* stub = cluster_->RillStub(raw->leader, &raw->address);
      stub->async()->Fetch(&raw->context, &raw->request, &raw->response,
                           [this, call = std::move(call)](grpc::Status rpc) mutable {
                             OnFetched(std::move(call), rpc);
                           });
    }
    for (const std::string& topic : stale) {
      auto meta = cluster_->Topic(topic, /*refresh=*/true);
      absl::MutexLock lock(&mu_);
      for (auto& [tp, state] : partitions_) {
        if (tp.topic != topic) continue;
        if (meta.ok() && tp.partition < static_cast<int32_t>(meta->leaders.size())) {
          state.leader = meta->leaders[static_cast<size_t>(tp.partition)];
        } else if (!meta.ok() && !api::IsRetriable(meta.status())) {
          state.error = meta.status();
        }
      }
    }
    if (!unresolved.empty()) {
      if (absl::Status s = ResolvePositions(unresolved); !s.ok()) {
        absl::MutexLock lock(&mu_);
        for (const auto& tp : unresolved) {
          auto it = partitions_.find(tp);
          if (it != partitions_.end()) it->second.error = s;
        }
      }
    }
  }
}

void ConsumerImpl::OnFetched(std::shared_ptr<FetchCall> call, const grpc::Status& rpc) {
  if (rpc.error_code() == grpc::StatusCode::UNAVAILABLE) {
    ReportConnection(absl::UnavailableError(fmt::format(
        "broker {} ({}) is unreachable: {}", call->leader, call->address, rpc.error_message())));
  } else if (rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // A long-poll is answered at fetch_max_wait_ms; past that and a request timeout, the broker
    // is there but not answering (stopped, overloaded, cut off).
    ReportConnection(absl::DeadlineExceededError(
        fmt::format("broker {} ({}) did not answer a fetch within {} ms", call->leader,
                    call->address, options_.fetch_max_wait_ms + cluster_->request_timeout_ms())));
  } else if (rpc.ok()) {
    ReportConnection(absl::OkStatus());
  }
  absl::MutexLock lock(&mu_);
  if (!rpc.ok() && rpc.error_code() != grpc::StatusCode::CANCELLED) {
    // The broker is unreachable: back off briefly, and look its partitions up again.
    backoff_until_[call->leader] =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    for (const auto& [tp, epoch] : call->epochs) stale_topics_.insert(tp.topic);
  }
  for (auto& p : *call->response.mutable_partitions()) {
    TopicPartition tp{p.topic(), p.partition()};
    auto it = partitions_.find(tp);
    auto sent = call->epochs.find(tp);
    if (it == partitions_.end() || sent == call->epochs.end() || it->second.epoch != sent->second) {
      continue;
    }
    PartitionState& state = it->second;
    state.fetching = false;
    absl::Status error = api::FromError(p.error());
    if (!error.ok()) {
      const auto code = api::ErrorCodeOf(error);
      const OffsetReset reset = ResetPolicy(state);
      if (code == v1::OFFSET_OUT_OF_RANGE && reset != OffsetReset::kNone) {
        state.position = kNoPosition;
        state.fetch_position = kNoPosition;
      } else if (code == v1::OFFSET_OUT_OF_RANGE) {
        std::string message(error.message());
        if (message.starts_with("OFFSET_OUT_OF_RANGE: ")) message.erase(0, 21);
        state.error = api::ApiError(
            v1::OFFSET_OUT_OF_RANGE,
            fmt::format("OFFSET_OUT_OF_RANGE: {}-{}: {}", tp.topic, tp.partition, message));
      } else if (code == v1::NOT_LEADER || code == v1::UNKNOWN_TOPIC) {
        stale_topics_.insert(tp.topic);
      } else if (!api::IsRetriable(error)) {
        state.error = error;
      }
      continue;
    }
    state.sought = false;
    auto buffer = std::make_shared<const std::string>(std::move(*p.mutable_records()));
    std::string_view records = *buffer;
    while (records.size() >= format::kBatchHeaderBytes) {
      auto header = format::ParseBatchHeader(records, kMaxFetchedBatchBytes);
      if (!header.ok() || header->size_bytes() > records.size()) {
        state.error =
            absl::DataLossError(fmt::format("{}-{}: malformed batch from the broker at offset {}",
                                            tp.topic, tp.partition, state.fetch_position));
        break;
      }
      if (header->next_offset() > state.fetch_position) {
        state.batches.push_back({buffer, records.substr(0, header->size_bytes()), std::nullopt});
        state.buffered_bytes += header->size_bytes();
        state.fetch_position = header->next_offset();
      }
      records.remove_prefix(header->size_bytes());
    }
  }
  // Partitions the answer did not cover (a failed or cancelled call) may be fetched again.
  for (const auto& [tp, epoch] : call->epochs) {
    auto it = partitions_.find(tp);
    if (it != partitions_.end() && it->second.epoch == epoch) it->second.fetching = false;
  }
  --fetches_in_flight_[call->leader];
  calls_.erase(call.get());
  // The call (and its gRPC context) goes before calls_ can be seen empty: once it is, Close
  // may destroy the channel.
  call.reset();
}

absl::Status ConsumerImpl::Drain(const TopicPartition& tp, PartitionState* state,
                                 std::vector<ConsumerRecord>* out) {
  while (!state->batches.empty() && out->size() < options_.max_poll_records) {
    const std::string_view batch = state->batches.front().bytes;
    auto header = format::ParseBatchHeader(batch, kMaxFetchedBatchBytes);
    if (header.ok() && format::ComputeBatchCrc(batch) != header->crc) {
      header = absl::InvalidArgumentError("CRC mismatch");
    }
    if (!header.ok()) {
      return absl::DataLossError(fmt::format("{}-{}: batch at offset {} is corrupt: {}", tp.topic,
                                             tp.partition, state->position,
                                             header.status().message()));
    }
    bool consumed_all = true;
    if (!header->is_control()) {
      std::string_view records = batch.substr(format::kBatchHeaderBytes);
      if (header->compression() != format::Compression::kNone) {
        auto& decompressed = state->batches.front().records;
        if (!decompressed) {
          decompressed.emplace();
          if (absl::Status s =
                  format::Decompress(header->compression(), records,
                                     format::kMaxUncompressedBatchBytes, &*decompressed);
              !s.ok()) {
            decompressed.reset();
            return absl::DataLossError(fmt::format("{}-{}: batch at offset {} cannot be read: {}",
                                                   tp.topic, tp.partition, header->base_offset,
                                                   s.message()));
          }
        }
        records = *decompressed;
      }
      format::RecordReader reader(records, header->record_count);
      format::RecordView r;
      while (reader.Next(&r)) {
        const int64_t offset = header->base_offset + r.offset_delta;
        if (offset < state->position) continue;
        if (out->size() >= options_.max_poll_records) {
          consumed_all = false;
          break;
        }
        ConsumerRecord record;
        record.topic = tp.topic;
        record.partition = tp.partition;
        record.offset = offset;
        const bool append_time = header->timestamp_type() == format::TimestampType::kLogAppendTime;
        record.timestamp_ms =
            append_time ? header->max_timestamp : header->base_timestamp + r.timestamp_delta;
        record.timestamp_type =
            append_time ? TimestampType::kLogAppendTime : TimestampType::kCreateTime;
        if (r.key) record.key = std::string(*r.key);
        if (r.value) record.value = std::string(*r.value);
        for (const auto& h : r.headers) {
          record.headers.push_back(
              {std::string(h.key),
               h.value ? std::optional<std::string>(std::string(*h.value)) : std::nullopt});
        }
        out->push_back(std::move(record));
        state->position = offset + 1;
      }
      if (consumed_all && !reader.status().ok()) {
        return absl::DataLossError(fmt::format("{}-{}: batch at offset {} is malformed: {}",
                                               tp.topic, tp.partition, header->base_offset,
                                               reader.status().message()));
      }
    }
    if (!consumed_all) break;
    state->position = std::max(state->position, header->next_offset());
    state->buffered_bytes -= batch.size();
    state->batches.pop_front();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConsumerRecord>> ConsumerImpl::Poll(int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  bool membership_applies = true;
  while (true) {
    // Group changes are applied here, on the caller's thread, so the listener runs there.
    if (membership_applies) {
      if (absl::Status s = ApplyMembership(); !s.ok()) {
        membership_applies = false;  // retried on the next Poll, not in a loop
        return s;
      }
      MaybeAutoCommit();
    }
    absl::MutexLock lock(&mu_);
    auto ready = [this, &membership_applies]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (closing_ || !membership_error_.ok()) return true;
      if (membership_applies && (lost_ || target_.has_value())) return true;
      for (const auto& [tp, s] : partitions_) {
        if (!s.batches.empty() || !s.error.ok()) return true;
      }
      return false;
    };
    const auto remaining = std::max<std::chrono::steady_clock::duration>(
        deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(remaining));
    if (!membership_error_.ok()) return std::exchange(membership_error_, absl::OkStatus());
    if (membership_applies && (lost_ || target_.has_value()) &&
        std::chrono::steady_clock::now() < deadline) {
      continue;
    }
    break;
  }
  absl::MutexLock lock(&mu_);
  std::vector<ConsumerRecord> out;
  for (auto& [tp, state] : partitions_) {
    if (!state.error.ok()) {
      // Reported once; the fetcher then tries the partition again.
      absl::Status error = state.error;
      state.error = absl::OkStatus();
      if (out.empty()) return error;
      break;
    }
    if (auto s = Drain(tp, &state, &out); !s.ok()) {
      // Fetched again from the first record not returned (a fetch under way is dropped).
      SeekLocked(&state, state.position);
      if (out.empty()) return s;
      break;
    }
  }
  return out;
}

}  // namespace rill::client

namespace rill {

Consumer::Consumer(std::unique_ptr<client::ConsumerImpl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() { Close(); }

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ConsumerOptions& options) {
  if (options.fetch_max_wait_ms < 0 || options.fetch_min_bytes < 0 ||
      options.max_partition_fetch_bytes <= 0 || options.fetch_max_bytes <= 0 ||
      options.max_poll_records == 0 || options.prefetch_bytes == 0) {
    return absl::InvalidArgumentError("consumer options out of range");
  }
  auto cluster = client::Cluster::Create(options.client);
  if (!cluster.ok()) return cluster.status();
  return std::unique_ptr<Consumer>(
      new Consumer(std::make_unique<client::ConsumerImpl>(options, std::move(*cluster))));
}

absl::Status Consumer::Assign(const std::vector<TopicPartition>& partitions) {
  return impl_->Assign(partitions);
}
std::vector<TopicPartition> Consumer::Assignment() const { return impl_->Assignment(); }
absl::Status Consumer::Seek(const TopicPartition& partition, int64_t offset) {
  return impl_->Seek(partition, offset);
}
absl::Status Consumer::SeekToBeginning(const std::vector<TopicPartition>& partitions) {
  return impl_->SeekTo(partitions, v1::EARLIEST);
}
absl::Status Consumer::SeekToEnd(const std::vector<TopicPartition>& partitions) {
  return impl_->SeekTo(partitions, v1::LATEST);
}
absl::Status Consumer::SeekToTimestamp(const TopicPartition& partition, int64_t timestamp_ms) {
  if (timestamp_ms < 0) return absl::InvalidArgumentError("timestamp must not be negative");
  return impl_->SeekTo({partition}, timestamp_ms);
}
absl::StatusOr<int64_t> Consumer::Position(const TopicPartition& partition) {
  return impl_->Position(partition);
}
absl::StatusOr<std::vector<ConsumerRecord>> Consumer::Poll(int timeout_ms) {
  return impl_->Poll(timeout_ms);
}
absl::Status Consumer::Subscribe(const std::vector<std::string>& topics,
                                 RebalanceListener listener) {
  return impl_->Subscribe(topics, "", std::move(listener));
}
absl::Status Consumer::SubscribePattern(const std::string& pattern, RebalanceListener listener) {
  return impl_->Subscribe({}, pattern, std::move(listener));
}
void Consumer::Unsubscribe() { impl_->Unsubscribe(); }
absl::Status Consumer::Commit() { return impl_->Commit(std::nullopt); }
absl::Status Consumer::Commit(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  return impl_->Commit(offsets);
}
void Consumer::CommitAsync(std::function<void(absl::Status)> done) {
  impl_->CommitAsync(std::move(done));
}
absl::StatusOr<std::map<TopicPartition, int64_t>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions) {
  return impl_->Committed(partitions);
}
std::string Consumer::MemberId() const { return impl_->MemberId(); }
void Consumer::Close() {
  if (impl_) impl_->Close();
}

}  // namespace rill
