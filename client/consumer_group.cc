// Consumer group membership and offset commits of ConsumerImpl (see consumer_impl.h).
#include <algorithm>
#include <future>

#include "api/error.h"
#include "api/topic_partitions.h"
#include "base/fmt_absl.h"
#include "client/consumer_impl.h"

namespace rill::client {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kLeaveEpoch = -1;
constexpr int kStaticLeaveEpoch = -2;

std::vector<TopicPartition> Sorted(const std::set<TopicPartition>& set) {
  return {set.begin(), set.end()};
}

}  // namespace

absl::Status ConsumerImpl::Subscribe(std::vector<std::string> topics, std::string pattern,
                                     RebalanceListener listener) {
  if (options_.group_id.empty()) {
    return absl::FailedPreconditionError("Subscribe needs ConsumerOptions::group_id");
  }
  if (topics.empty() && pattern.empty()) {
    return absl::InvalidArgumentError("subscribe to at least one topic or a pattern");
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  absl::MutexLock lock(&mu_);
  if (!subscribed_ && !partitions_.empty()) {
    return absl::FailedPreconditionError(
        "the consumer has partitions from Assign; assign none before subscribing");
  }
  subscribed_ = true;
  subscribed_topics_ = std::move(topics);
  subscribed_pattern_ = std::move(pattern);
  listener_ = std::move(listener);
  heartbeat_now_ = true;
  next_auto_commit_ = Clock::now() + std::chrono::milliseconds(options_.auto_commit_interval_ms);
  return absl::OkStatus();
}

void ConsumerImpl::RunMembership() {
  while (true) {
    v1::GroupHeartbeatRequest request;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return closing_ || (subscribed_ && !lost_ && heartbeat_now_);
      };
      mu_.AwaitWithTimeout(absl::Condition(&due), absl::Milliseconds(heartbeat_interval_ms_));
      if (closing_) return;
      // Expelled: nothing is sent until Poll has dropped the partitions (the rejoin then owns
      // none, so no partition ever has two readers on this side).
      if (!subscribed_ || lost_) continue;
      heartbeat_now_ = false;
      request.set_group_id(options_.group_id);
      request.set_member_id(member_id_);
      request.set_member_epoch(member_epoch_);
      request.set_instance_id(options_.group_instance_id);
      request.set_client_id(options_.client_id);
      request.set_rebalance_timeout_ms(options_.rebalance_timeout_ms);
      for (const auto& t : subscribed_topics_) request.add_subscribed_topics(t);
      request.set_subscribed_regex(subscribed_pattern_);
      std::set<TopicPartition> owned;
      for (const auto& [tp, state] : partitions_) owned.insert(tp);
      api::AppendTopicPartitions(owned, request.mutable_owned());
    }
    std::string address;
    auto* stub = cluster_->GroupsStub(options_.group_id, &address);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(cluster_->request_timeout_ms()));
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      heartbeat_context_ = &context;
    }
    v1::GroupHeartbeatResponse response;
    grpc::Status rpc = stub->Heartbeat(&context, request, &response);

    absl::MutexLock lock(&mu_);
    heartbeat_context_ = nullptr;
    if (!subscribed_ || request.member_epoch() != member_epoch_ ||
        request.member_id() != member_id_) {
      continue;  // unsubscribed or rejoined meanwhile: this answer is stale
    }
    if (!rpc.ok()) continue;  // unreachable: try again at the next interval
    absl::Status error = api::FromError(response.error());
    if (!error.ok()) {
      const auto code = api::ErrorCodeOf(error);
      if (cluster_->NoteCoordinator(options_.group_id, error)) {
        heartbeat_now_ = true;  // at once, to the coordinator it names
      } else if (code == v1::UNKNOWN_MEMBER_ID || code == v1::FENCED_MEMBER_EPOCH) {
        member_id_.clear();
        member_epoch_ = 0;
        target_.reset();
        lost_ = true;
      } else if (!api::IsRetriable(error)) {
        membership_error_ = error;
      }
      continue;
    }
    member_id_ = response.member_id();
    member_epoch_ = response.member_epoch();
    heartbeat_interval_ms_ = std::max(10, response.heartbeat_interval_ms());
    std::set<TopicPartition> target;
    for (const auto& t : response.assignment()) {
      for (int32_t p : t.partitions()) target.insert({t.topic(), p});
    }
    std::set<TopicPartition> owned;
    for (const auto& [tp, state] : partitions_) owned.insert(tp);
    if (target != owned) {
      target_ = std::move(target);
    } else {
      target_.reset();
    }
  }
}

absl::Status ConsumerImpl::ApplyMembership() {
  std::set<TopicPartition> revoked, added;
  RebalanceListener listener;
  {
    absl::MutexLock lock(&mu_);
    listener = listener_;
    if (lost_) {
      std::set<TopicPartition> lost;
      for (const auto& [tp, state] : partitions_) lost.insert(tp);
      partitions_.clear();
      lost_ = false;
      heartbeat_now_ = true;
      if (!lost.empty() && listener.on_lost) {
        mu_.Unlock();
        listener.on_lost(Sorted(lost));
        mu_.Lock();
      }
      return absl::OkStatus();
    }
    if (!target_) return absl::OkStatus();
    for (const auto& [tp, state] : partitions_) {
      if (target_->count(tp) == 0) revoked.insert(tp);
    }
    for (const auto& tp : *target_) {
      if (partitions_.count(tp) == 0) added.insert(tp);
    }
  }
  if (!revoked.empty()) {
    if (listener.on_revoked) listener.on_revoked(Sorted(revoked));
    if (options_.enable_auto_commit) {
      std::map<TopicPartition, OffsetAndMetadata> positions;
      {
        absl::MutexLock lock(&mu_);
        positions = Positions(&revoked);
      }
      // Best effort: a failed commit means those records are read again by the next owner.
      (void)Commit(std::move(positions));
    }
    absl::MutexLock lock(&mu_);
    for (const auto& tp : revoked) partitions_.erase(tp);
    heartbeat_now_ = true;
  }
  if (!added.empty()) {
    auto committed = Committed(Sorted(added));
    if (!committed.ok()) return committed.status();
    std::map<TopicPartition, int32_t> leaders;
    for (const auto& tp : added) {
      auto meta = cluster_->Topic(tp.topic, /*refresh=*/false);
      leaders[tp] = meta.ok() && tp.partition < static_cast<int32_t>(meta->leaders.size())
                        ? meta->leaders[static_cast<size_t>(tp.partition)]
                        : -1;
    }
    absl::MutexLock lock(&mu_);
    for (const auto& tp : added) {
      PartitionState& state = partitions_[tp];
      state.leader = leaders[tp];
      if (auto it = committed->find(tp); it != committed->end() && it->second >= 0) {
        SeekLocked(&state, it->second);
      }
    }
    heartbeat_now_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    // Applied; a newer answer that arrived meanwhile stays for the next turn.
    if (target_) {
      std::set<TopicPartition> owned;
      for (const auto& [tp, state] : partitions_) owned.insert(tp);
      if (*target_ == owned) target_.reset();
    }
  }
  if (!added.empty() && listener.on_assigned) listener.on_assigned(Sorted(added));
  return absl::OkStatus();
}

std::map<TopicPartition, OffsetAndMetadata> ConsumerImpl::Positions(
    const std::set<TopicPartition>* only) const {
  std::map<TopicPartition, OffsetAndMetadata> out;
  for (const auto& [tp, state] : partitions_) {
    if (only != nullptr && only->count(tp) == 0) continue;
    if (state.position >= 0) out[tp] = {state.position, ""};
  }
  return out;
}

void ConsumerImpl::MaybeAutoCommit() {
  std::map<TopicPartition, OffsetAndMetadata> positions;
  {
    absl::MutexLock lock(&mu_);
    if (!options_.enable_auto_commit || options_.group_id.empty() ||
        Clock::now() < next_auto_commit_) {
      return;
    }
    next_auto_commit_ = Clock::now() + std::chrono::milliseconds(options_.auto_commit_interval_ms);
    positions = Positions(nullptr);
  }
  if (positions.empty()) return;
  SendCommit(std::move(positions), nullptr);
}

void ConsumerImpl::SendCommit(std::map<TopicPartition, OffsetAndMetadata> offsets,
                              std::function<void(absl::Status)> done) {
  if (options_.group_id.empty()) {
    if (done) done(absl::FailedPreconditionError("committing needs ConsumerOptions::group_id"));
    return;
  }
  struct Call {
    grpc::ClientContext context;
    v1::CommitOffsetsRequest request;
    v1::CommitOffsetsResponse response;
  };
  auto call = std::make_shared<Call>();
  call->request.set_group_id(options_.group_id);
  {
    absl::MutexLock lock(&mu_);
    if (subscribed_) {
      call->request.set_member_id(member_id_);
      call->request.set_member_epoch(member_epoch_);
    } else {
      call->request.set_member_epoch(-1);
    }
    ++commits_in_flight_;
  }
  v1::OffsetCommitTopic* topic = nullptr;
  for (const auto& [tp, offset] : offsets) {
    if (topic == nullptr || topic->topic() != tp.topic) {
      topic = call->request.add_topics();
      topic->set_topic(tp.topic);
    }
    auto* p = topic->add_partitions();
    p->set_partition(tp.partition);
    p->set_offset(offset.offset);
    p->set_metadata(offset.metadata);
  }
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(cluster_->request_timeout_ms()));
  std::string address;
  auto* stub = cluster_->GroupsStub(options_.group_id, &address);
  Call* raw = call.get();
  stub->async()->CommitOffsets(
      &raw->context, &raw->request, &raw->response,
      [this, call, done = std::move(done), address](grpc::Status rpc) mutable {
        absl::Status result;
        if (!rpc.ok()) {
          result =
              absl::UnavailableError(fmt::format("broker {}: {}", address, rpc.error_message()));
        } else {
          result = api::FromError(call->response.error());
          for (const auto& p : call->response.partitions()) {
            if (!result.ok()) break;
            result = api::FromError(p.error());
          }
          // The next commit goes to the coordinator this one was sent on to.
          cluster_->NoteCoordinator(options_.group_id, result);
        }
        if (done) done(result);
        call.reset();
        absl::MutexLock lock(&mu_);
        --commits_in_flight_;
      });
}

absl::Status ConsumerImpl::Commit(
    std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets) {
  if (!offsets) {
    absl::MutexLock lock(&mu_);
    offsets = Positions(nullptr);
  }
  if (offsets->empty()) return absl::OkStatus();
  std::promise<absl::Status> result;
  auto future = result.get_future();
  SendCommit(std::move(*offsets), [&result](absl::Status s) { result.set_value(std::move(s)); });
  return future.get();
}

void ConsumerImpl::CommitAsync(std::function<void(absl::Status)> done) {
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  {
    absl::MutexLock lock(&mu_);
    offsets = Positions(nullptr);
  }
  if (offsets.empty()) {
    if (done) done(absl::OkStatus());
    return;
  }
  SendCommit(std::move(offsets), std::move(done));
}

absl::StatusOr<std::map<TopicPartition, int64_t>> ConsumerImpl::Committed(
    const std::vector<TopicPartition>& partitions) {
  if (options_.group_id.empty()) {
    return absl::FailedPreconditionError("committed offsets need ConsumerOptions::group_id");
  }
  v1::FetchOffsetsRequest request;
  request.set_group_id(options_.group_id);
  api::AppendTopicPartitions(std::set<TopicPartition>(partitions.begin(), partitions.end()),
                             request.mutable_partitions());
  v1::FetchOffsetsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(cluster_->request_timeout_ms()));
  std::string address;
  grpc::Status rpc =
      cluster_->GroupsStub(options_.group_id, &address)->FetchOffsets(&context, request, &response);
  if (!rpc.ok()) {
    return absl::UnavailableError(fmt::format("broker {}: {}", address, rpc.error_message()));
  }
  if (absl::Status s = api::FromError(response.error()); !s.ok()) {
    cluster_->NoteCoordinator(options_.group_id, s);
    return s;
  }
  std::map<TopicPartition, int64_t> out;
  for (const auto& tp : partitions) out[tp] = -1;
  for (const auto& o : response.offsets()) out[{o.topic(), o.partition()}] = o.offset();
  return out;
}

std::string ConsumerImpl::MemberId() const {
  absl::MutexLock lock(&mu_);
  return member_id_;
}

void ConsumerImpl::LeaveGroup() {
  v1::GroupHeartbeatRequest request;
  {
    absl::MutexLock lock(&mu_);
    if (member_id_.empty()) return;
    request.set_group_id(options_.group_id);
    request.set_member_id(member_id_);
    request.set_member_epoch(options_.group_instance_id.empty() ? kLeaveEpoch : kStaticLeaveEpoch);
    request.set_instance_id(options_.group_instance_id);
    member_id_.clear();
    member_epoch_ = 0;
  }
  std::string address;
  auto* stub = cluster_->GroupsStub(options_.group_id, &address);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(cluster_->request_timeout_ms()));
  v1::GroupHeartbeatResponse response;
  // Best effort: if it does not arrive, the session timeout removes the member instead.
  (void)stub->Heartbeat(&context, request, &response);
}

void ConsumerImpl::Unsubscribe() {
  std::set<TopicPartition> owned;
  RebalanceListener listener;
  {
    absl::MutexLock lock(&mu_);
    if (!subscribed_) return;
    for (const auto& [tp, state] : partitions_) owned.insert(tp);
    listener = listener_;
  }
  if (!owned.empty() && listener.on_revoked) listener.on_revoked(Sorted(owned));
  if (options_.enable_auto_commit) (void)Commit(std::nullopt);
  LeaveGroup();
  absl::MutexLock lock(&mu_);
  subscribed_ = false;
  partitions_.clear();
  target_.reset();
  lost_ = false;
  subscribed_topics_.clear();
  subscribed_pattern_.clear();
  listener_ = {};
}

void ConsumerImpl::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
  }
  bool subscribed;
  {
    absl::MutexLock lock(&mu_);
    subscribed = subscribed_;
  }
  if (subscribed) {
    Unsubscribe();
  } else if (options_.enable_auto_commit && !options_.group_id.empty()) {
    (void)Commit(std::nullopt);
  }
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    if (heartbeat_context_ != nullptr) heartbeat_context_->TryCancel();
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return commits_in_flight_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }
  if (fetcher_.joinable()) fetcher_.join();
  if (membership_.joinable()) membership_.join();
}

}  // namespace rill::client
