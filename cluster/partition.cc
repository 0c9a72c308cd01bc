#include "cluster/partition.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "api/error.h"
#include "base/clock.h"
#include "absl/synchronization/notification.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "cluster/replica_mover.h"
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

// The error a produce, read or offset lookup gets on a replica that does not serve.
absl::Status NotLeader(const std::string& topic, PartitionId id, NodeId leader) {
  if (leader == kNoNode) {
    return ApiError(v1::NOT_LEADER,
                    fmt::format("{}-{} has no leader at the moment; retry", topic, id));
  }
  return ApiError(v1::NOT_LEADER, fmt::format("broker {} leads {}-{}", leader, topic, id),
                  leader.value());
}

}  // namespace

Partition::Partition(std::string topic, TopicId topic_id, PartitionId id,
                     std::shared_ptr<storage::Log> log, LeadershipListener listener)
    : topic_(std::move(topic)),
      topic_id_(topic_id),
      id_(id),
      log_(std::move(log)),
      listener_(std::move(listener)) {}

absl::StatusOr<std::shared_ptr<Partition>> Partition::Open(std::string topic, TopicId topic_id,
                                                           PartitionId id,
                                                           std::shared_ptr<storage::Log> log,
                                                           std::vector<NodeId> first_members,
                                                           const ReplicaContext& context,
                                                           LeadershipListener listener) {
  std::shared_ptr<Partition> partition(
      new Partition(std::move(topic), topic_id, id, log, std::move(listener)));
  partition->self_ = partition;
  {
    absl::MutexLock lock(&partition->mu_);
    if (!first_members.empty()) partition->assignment_.preferred = first_members[0];
  }
  partition->self_id_ = context.self;
  partition->promotion_max_lag_ = context.raft.promotion_max_lag;
  partition->move_done_ = context.move_done;
  partition->io_ = context.io;
  log->SetRetentionByOwner();
  raft::RaftConfig config = context.raft;
  config.id = context.self;
  config.bootstrap.voters = first_members;
  config.bootstrap.learners.clear();
  config.hand_out_committed = false;
  config.skip_noop_on_empty_log = true;
  RaftGroupCallbacks callbacks;
  Partition* raw = partition.get();
  callbacks.changed = [raw](const RaftGroupStatus& status) { raw->OnRaftChange(status); };
  // The producer state follows every write to the log (set below, before the group gets any
  // message or tick).
  callbacks.appending = [raw](raft::Index after, const std::vector<raft::Entry>& entries) {
    if (!raw->producers_) return absl::OkStatus();
    return raw->producers_->Appending(after, entries, base::WallClockMs());
  };
  callbacks.snapshot_installed = [raw](raft::Index index) {
    if (raw->producers_) raw->producers_->SnapshotInstalled(index);
  };
  auto group = RaftGroup::Open(rpc::GroupKey{topic_id, id}, std::move(config), std::move(log),
                               context.meta, context.transport, context.io, std::move(callbacks));
  if (!group.ok()) return group.status();
  partition->group_ = std::move(*group);
  auto producers = ProducerTracker::Open(&partition->group_->log(), context.meta,
                                         ProducerStateKey(topic_id, id), context.producers,
                                         base::WallClockMs());
  if (!producers.ok()) {
    partition->group_->Close();
    return producers.status();
  }
  partition->producers_ = std::move(*producers);
  partition->producer_id_expiration_ms_ = context.producer_id_expiration_ms;
  const RaftGroupStatus status = partition->group_->status();
  partition->high_watermark_.store(status.applied.value(), std::memory_order_release);
  const bool sole_voter = status.conf.voters.size() == 1 && status.conf.voters[0] == context.self;
  const bool preferred_of_new_group = status.term == raft::Term(0) && !first_members.empty() &&
                                      first_members[0] == context.self &&
                                      status.conf.IsVoter(context.self);
  if (sole_voter || preferred_of_new_group) partition->group_->Campaign();
  return partition;
}

Partition::~Partition() { Close(); }

std::string ProducerStateKey(TopicId topic_id, PartitionId id) {
  return fmt::format("producers/{}-{}", topic_id, id);
}

void Partition::Tick() {
  group_->Tick();
  DriveMove();
  // The producer state's upkeep (expiry, snapshots) about once a second of ticks.
  constexpr int kTicksPerUpkeep = 10;
  if (ticks_to_upkeep_.fetch_sub(1, std::memory_order_relaxed) > 0) return;
  ticks_to_upkeep_.store(kTicksPerUpkeep, std::memory_order_relaxed);
  group_->Run([this] { producers_->Maintain(base::WallClockMs(), producer_id_expiration_ms_); });
}

absl::StatusOr<std::optional<raft::Index>> Partition::AdmitIdempotent(
    const format::BatchHeader& header) {
  const SequenceCheck check = producers_->Check(header);
  const int32_t last_sequence = IncrementSequence(header.base_sequence, header.last_offset_delta);
  switch (check.verdict) {
    case SequenceVerdict::kAppend:
      return std::nullopt;
    case SequenceVerdict::kDuplicate:
      return raft::Index(check.original.last_offset.value() + 1);
    case SequenceVerdict::kOutOfOrder:
      return ApiError(v1::OUT_OF_ORDER_SEQUENCE,
                      fmt::format("{}-{}: producer {} epoch {} sent sequences {}..{}, expected {}",
                                  topic_, id_, header.producer_id, header.producer_epoch,
                                  header.base_sequence, last_sequence, check.expected_sequence));
    case SequenceVerdict::kFenced:
      return ApiError(v1::INVALID_PRODUCER_EPOCH,
                      fmt::format("{}-{}: producer {} epoch {} is fenced by epoch {}", topic_,
                                  id_, header.producer_id, header.producer_epoch,
                                  check.current_epoch));
    case SequenceVerdict::kUnknownProducer:
      return ApiError(v1::UNKNOWN_PRODUCER_ID,
                      fmt::format("{}-{}: no state for producer {} (expired or never written) "
                                  "and sequence {} is not its first",
                                  topic_, id_, header.producer_id, header.base_sequence));
  }
  return absl::InternalError("unknown sequence verdict");
}

void Partition::Close() {
  if (group_) group_->Close();
  WakeWaiters();
}

void Partition::OnRaftChange(const RaftGroupStatus& status) {
  bool was_serving;
  {
    absl::MutexLock lock(&mu_);
    was_serving = state_.serving;
    state_.role = status.role;
    state_.term = status.term.value();
    state_.leader = status.leader;
    state_.serving = status.serving;
  }
  const int64_t before =
      high_watermark_.exchange(status.applied.value(), std::memory_order_acq_rel);
  if (before != status.applied.value()) WakeWaiters();
  if (was_serving != status.serving && listener_ && io_ != nullptr) {
    // Off the group's strand: should the notice hold the partition's last reference, its
    // destructor (which waits for the strand's work) must not run on that strand.
    if (auto self = self_.lock()) {
      asio::post(*io_, [listener = listener_, self = std::move(self), serving = status.serving] {
        listener(self, serving);
      });
    }
  }
}

ReplicaState Partition::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Status Partition::CheckServing() const {
  const ReplicaState s = state();
  if (s.serving) return absl::OkStatus();
  return NotLeader(topic_, id_, s.leader);
}

absl::StatusOr<Offset> Partition::DeleteRecordsBefore(std::optional<Offset> offset) {
  if (absl::Status s = CheckServing(); !s.ok()) return s;
  const Offset high_watermark = this->high_watermark();
  const Offset target = offset.value_or(high_watermark);
  if (target < Offset(0) || target > high_watermark) {
    return ApiError(v1::OFFSET_OUT_OF_RANGE,
                    fmt::format("cannot delete records before offset {} of {}-{}: its high "
                                "watermark is {}",
                                target, topic_, id_, high_watermark));
  }
  if (target <= log_->start_offset()) return log_->start_offset();
  // Raft compacts at entry boundaries; the batch holding `target` stays, read from `target`.
  const raft::Index boundary = group_->log().BoundaryAtOrBefore(raft::Index(target.value()));
  absl::Status status;
  if (boundary > group_->log().SnapshotMetadata().index) {
    absl::Notification compacted;
    group_->Compact(boundary, [&](absl::Status s) {
      status = s;
      compacted.Notify();
    });
    compacted.WaitForNotification();
  }
  if (status.ok() && target > log_->start_offset()) status = log_->DeletePrefix(target);
  if (!status.ok()) {
    return ApiError(v1::STORAGE_ERROR, fmt::format("{}-{}: {}", topic_, id_, status.message()));
  }
  return log_->start_offset();
}

absl::Status Partition::TransferLeadership(NodeId to) {
  if (const ReplicaState s = state(); s.role != raft::Role::kLeader) {
    return NotLeader(topic_, id_, s.leader);
  }
  absl::Status status;
  absl::Notification started;
  group_->TransferLeadership(to, [&](absl::Status s) {
    status = s;
    started.Notify();
  });
  started.WaitForNotification();
  if (absl::IsInvalidArgument(status)) {
    return ApiError(v1::INVALID_REQUEST,
                    fmt::format("{}-{}: broker {} is not one of its voting replicas", topic_, id_,
                                to));
  }
  return status.ok() ? status : ReplicateError(status);
}

NodeId Partition::preferred_replica() const {
  absl::MutexLock lock(&mu_);
  return assignment_.preferred;
}

Partition::Assignment Partition::assignment() const {
  absl::MutexLock lock(&mu_);
  return assignment_;
}

void Partition::SetAssignment(Assignment assignment) {
  absl::MutexLock lock(&mu_);
  assignment_ = std::move(assignment);
}

bool Partition::ReturnLeadershipToPreferred() {
  const RaftGroupStatus status = group_->status();
  const NodeId preferred = preferred_replica();
  if (status.role != raft::Role::kLeader || !status.serving || preferred == kNoNode ||
      status.leader == preferred || !status.conf.IsVoter(preferred)) {
    return false;
  }
  auto match = status.matches.find(preferred);
  if (match == status.matches.end() || match->second < status.last_index) return false;
  group_->TransferLeadership(preferred, [this, preferred](absl::Status s) {
    if (!s.ok()) {
      logging::Debug("partition", "{}-{}: leadership not handed to broker {}: {}", topic_, id_,
                     preferred, s.message());
    }
  });
  return true;
}

void Partition::DriveMove() {
  const Assignment assignment = this->assignment();
  const auto now = std::chrono::steady_clock::now();
  const auto elapsed = now - last_grant_;
  last_grant_ = now;
  if (assignment.move_target.empty() || assignment.move_throttle_bytes_per_second == 0) {
    if (throttling_) group_->ThrottleLearners(std::nullopt);
    throttling_ = false;
  } else {
    // The grant follows the clock, not the tick count, so a late tick does not slow the copy;
    // a first or long-delayed tick grants at most a second's worth.
    const double seconds =
        throttling_ ? std::min(std::chrono::duration<double>(elapsed).count(), 1.0) : 0.1;
    group_->ThrottleLearners(static_cast<size_t>(
        static_cast<double>(assignment.move_throttle_bytes_per_second) * seconds));
    throttling_ = true;
  }
  if (assignment.move_target.empty()) return;
  if (move_ticks_to_wait_ > 0) {
    --move_ticks_to_wait_;
    return;
  }
  const RaftGroupStatus status = group_->status();
  if (status.role != raft::Role::kLeader || !status.serving ||
      move_change_pending_.load(std::memory_order_acquire)) {
    return;
  }
  MoveView view;
  view.conf = status.conf;
  view.leader = self_id_;
  view.matches = status.matches;
  view.last_index = status.last_index;
  view.promotion_max_lag = promotion_max_lag_;
  const MoveStep step = NextMoveStep(view, assignment.move_target);
  // Steps that take more than a tick to show (a transfer, the controller's answer) are not
  // repeated every tick.
  constexpr int kTicksBetweenSlowSteps = 10;
  switch (step.kind) {
    case MoveStep::Kind::kWait:
      return;
    case MoveStep::Kind::kChange: {
      move_change_pending_.store(true, std::memory_order_release);
      const raft::ConfChange change = step.change;
      std::weak_ptr<Partition> weak = self_;
      group_->ProposeConfChange(change, [weak, change](absl::StatusOr<raft::Index> index) {
        auto self = weak.lock();
        if (self == nullptr) return;
        self->move_change_pending_.store(false, std::memory_order_release);
        if (index.ok()) {
          logging::Info("partition", "{}-{}: move: {} broker {} (entry {})", self->topic_,
                        self->id_, raft::ConfChangeName(change.type), change.node, *index);
        } else if (!absl::IsFailedPrecondition(index.status())) {
          logging::Warn("partition", "{}-{}: move: {} broker {} refused: {}", self->topic_,
                        self->id_, raft::ConfChangeName(change.type), change.node,
                        index.status().message());
        }
      });
      return;
    }
    case MoveStep::Kind::kTransferLeadership:
      move_ticks_to_wait_ = kTicksBetweenSlowSteps;
      logging::Info("partition", "{}-{}: move: this broker leaves the replicas; handing "
                    "leadership to broker {}", topic_, id_, step.to);
      group_->TransferLeadership(step.to, [](absl::Status) {});
      return;
    case MoveStep::Kind::kDone:
      move_ticks_to_wait_ = kTicksBetweenSlowSteps;
      if (move_done_) move_done_(topic_id_, id_, status.conf.voters);
      return;
  }
}

void Partition::EnforceRetention() {
  const std::optional<Offset> point = log_->RetentionPoint();
  if (!point) return;
  const raft::Index index = std::min(raft::Index(point->value()), raft::Index(high_watermark()));
  if (index <= group_->log().SnapshotMetadata().index) return;
  group_->Compact(group_->log().BoundaryAtOrBefore(index), [this](absl::Status s) {
    if (!s.ok()) {
      logging::Warn("partition", "{}-{}: retention could not delete segments: {}", topic_, id_,
                    s.message());
    }
  });
}

FetchResult Partition::Fetch(Offset start, size_t max_bytes) const {
  FetchResult result;
  if (absl::Status s = CheckServing(); !s.ok()) {
    result.status = s;
    result.next_offset = start;
    return result;
  }
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
  if (absl::Status s = CheckServing(); !s.ok()) return s;
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
  struct ValidBatch {
    std::string_view bytes;
    int64_t offsets;
    // From an idempotent producer: checked against the producer state before it is written.
    std::optional<format::BatchHeader> idempotent;
  };
  std::vector<ValidBatch> batches;
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
              Offset(-1), {}});
        return;
      }
      if (absl::Status s = CheckClientBatch(*header, stats, config, now_ms); !s.ok()) {
        done({s, Offset(-1), {}});
        return;
      }
      std::optional<format::BatchHeader> idempotent;
      if (header->producer_id >= 0) {
        if (header->producer_epoch < 0 || header->base_sequence < 0) {
          done({ApiError(v1::INVALID_RECORD,
                         fmt::format("a batch of producer {} has epoch {} and sequence {}; an "
                                     "idempotent producer's are never negative",
                                     header->producer_id, header->producer_epoch,
                                     header->base_sequence)),
                Offset(-1), {}});
          return;
        }
        idempotent = *header;
      }
      batches.push_back(
          {rest.substr(0, header->size_bytes()), header->last_offset_delta + 1, idempotent});
      rest.remove_prefix(header->size_bytes());
    }
  }
  if (batches.empty()) {
    done({ApiError(v1::CORRUPT_MESSAGE, "no record batches in the request"), Offset(-1), {}});
    return;
  }

  // Only a leader takes writes; a deposed one answers NOT_LEADER at once rather than after
  // its proposal is refused.
  if (const ReplicaState replica = state(); replica.role != raft::Role::kLeader) {
    done({NotLeader(topic_, id_, replica.leader), Offset(-1), {}});
    return;
  }
  // Completion is counted: one for the submission itself plus one per batch whose answer is
  // awaited, so `done` runs exactly once, after the last of them.
  struct State {
    std::function<void(ProduceResult)> done;
    absl::Mutex mu;
    int outstanding ABSL_GUARDED_BY(mu) = 1;
    absl::Status status ABSL_GUARDED_BY(mu);
    std::vector<Offset> batch_offsets ABSL_GUARDED_BY(mu);
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  state->batch_offsets.assign(batches.size(), Offset(-1));
  auto finish_one = [state](absl::Status s, size_t batch, Offset base) {
    ProduceResult result;
    {
      absl::MutexLock lock(&state->mu);
      if (!s.ok() && state->status.ok()) state->status = s;
      if (batch < state->batch_offsets.size()) state->batch_offsets[batch] = base;
      if (--state->outstanding > 0) return;
      result.status = state->status;
      if (result.status.ok() && !state->batch_offsets.empty() &&
          state->batch_offsets.front() >= Offset(0)) {
        result.base_offset = state->batch_offsets.front();
        result.batch_offsets = std::move(state->batch_offsets);
      }
    }
    state->done(std::move(result));
  };

  const ReplicateWait wait =
      acks == Acks::kAll ? ReplicateWait::kCommitted : ReplicateWait::kLocalDurable;
  for (size_t i = 0; i < batches.size(); ++i) {
    const ValidBatch& batch = batches[i];
    if (acks != Acks::kNone) {
      absl::MutexLock lock(&state->mu);
      ++state->outstanding;
    }
    ProposalGate gate;
    if (batch.idempotent) {
      gate.admit = [this, header = *batch.idempotent] { return AdmitIdempotent(header); };
      gate.proposed = [this, header = *batch.idempotent](raft::Index index, raft::Term term) {
        producers_->Proposed(header, index, term, base::WallClockMs());
      };
    }
    group_->Replicate(
        std::string(batch.bytes), batch.offsets, wait,
        [this, acks, i, offsets = batch.offsets, finish_one](absl::StatusOr<raft::Index> index) {
          if (acks == Acks::kNone) return;
          if (index.ok()) {
            finish_one(absl::OkStatus(), i, Offset(index->value() - offsets));
          } else {
            finish_one(ReplicateError(index.status()), i, Offset(-1));
          }
        },
        std::move(gate));
  }
  finish_one(absl::OkStatus(), batches.size(), Offset(-1));
}

absl::Status Partition::ReplicateError(const absl::Status& status) const {
  // The producer state's refusals are answers already.
  switch (api::ErrorCodeOf(status)) {
    case v1::OUT_OF_ORDER_SEQUENCE:
    case v1::INVALID_PRODUCER_EPOCH:
    case v1::UNKNOWN_PRODUCER_ID:
      return status;
    default:
      break;
  }
  if (absl::IsFailedPrecondition(status) || absl::IsUnavailable(status)) {
    // Not (or no longer) the leader: the write may or may not be committed by the next one.
    return NotLeader(topic_, id_, state().leader);
  }
  if (absl::IsResourceExhausted(status)) {
    return ApiError(v1::REQUEST_TIMED_OUT,
                    fmt::format("{}-{}: followers are too far behind ({}); retry", topic_, id_,
                                status.message()));
  }
  return ApiError(v1::STORAGE_ERROR, fmt::format("{}-{}: {}", topic_, id_, status.message()));
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

size_t FetchBytesFor(int64_t partition_max_bytes, int64_t response_max_bytes,
                     int64_t response_bytes) {
  const int64_t budget = std::min(partition_max_bytes, response_max_bytes - response_bytes);
  if (partition_max_bytes <= 0 || response_max_bytes == 0 ||
      (budget <= 0 && response_bytes > 0)) {
    return 0;
  }
  return static_cast<size_t>(std::max<int64_t>(budget, 1));
}

}  // namespace rill::cluster
