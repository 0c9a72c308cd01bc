#include "coordinator/group_coordinator.h"

#include <chrono>
#include <random>

#include "api/error.h"
#include "base/clock.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "cluster/topic_names.h"
#include "format/record_batch.h"
#include "groups/partition_proto.h"

namespace rill::coordinator {
namespace {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;
constexpr auto kExpiryInterval = std::chrono::milliseconds(100);
constexpr size_t kReplayReadBytes = 1 << 20;

std::string NewMemberId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

}  // namespace

GroupCoordinator::GroupCoordinator(CoordinatorOptions options, cluster::TopicRegistry* topics,
                                   asio::io_context* io)
    : options_(std::move(options)), topics_(topics), io_(io) {}

GroupCoordinator::~GroupCoordinator() { Stop(); }

absl::Status GroupCoordinator::Start() {
  const int32_t partitions = options_.offsets_topic_partitions;
  auto existing = topics_->Get(cluster::kConsumerOffsetsTopic);
  if (!existing) {
    return absl::FailedPreconditionError(
        fmt::format("{} does not exist yet", cluster::kConsumerOffsetsTopic));
  }
  if (existing->partitions() != partitions) {
    logging::Warn("groups",
                  "{} has {} partitions; offsets.topic.num.partitions={} is ignored (groups are "
                  "placed by the partition count they were created with)",
                  cluster::kConsumerOffsetsTopic, existing->partitions(), partitions);
  }
  for (int32_t p = 0; p < existing->partitions(); ++p) {
    auto shard = std::make_unique<Shard>(options_.limits);
    shard->id = p;
    absl::MutexLock lock(&shard->mu);
    shard->unavailable = ApiError(v1::COORDINATOR_NOT_AVAILABLE, "loading");
    shards_.push_back(std::move(shard));
  }
  timer_ = std::make_unique<asio::steady_timer>(*io_);
  // Leadership notices count from here; the shards catch up with what happened before.
  started_.store(true, std::memory_order_release);
  for (const auto& shard : shards_) Attach(shard.get());
  ScheduleExpiry();
  return absl::OkStatus();
}

void GroupCoordinator::OnLeadership(const std::shared_ptr<cluster::Partition>& partition,
                                    bool) {
  if (partition->topic() != cluster::kConsumerOffsetsTopic || !started()) return;
  const size_t id = static_cast<size_t>(partition->id().value());
  if (id >= shards_.size()) return;
  // Replaying reads the log: not on the partition's Raft strand, which called us.
  asio::post(*io_, [this, shard = shards_[id].get()] {
    if (!stopped_) Attach(shard);
  });
}

void GroupCoordinator::Attach(Shard* shard) {
  auto partition = topics_->GetPartition(cluster::kConsumerOffsetsTopic, shard->id);
  absl::MutexLock lock(&shard->mu);
  if (!partition.ok()) {
    shard->unavailable = partition.status();
    shard->loaded_term = -1;
    return;
  }
  shard->partition = *partition;
  const cluster::ReplicaState state = (*partition)->state();
  if (!state.serving) {
    shard->unavailable = (*partition)->CheckServing();
    shard->loaded_term = -1;
    FailHeld(shard, ApiError(v1::NOT_COORDINATOR, "the group coordinator moved",
                             api::LeaderHintOf(shard->unavailable)));
    return;
  }
  if (shard->loaded_term == state.term && !shard->stale.load()) return;
  FailHeld(shard, ApiError(v1::COORDINATOR_NOT_AVAILABLE, "the group coordinator is reloading"));
  shard->store = std::make_unique<groups::GroupStore>(options_.limits);
  shard->stale = false;
  shard->unavailable = Replay(shard);
  if (shard->unavailable.ok()) {
    shard->loaded_term = state.term;
    logging::Info("groups", "coordinating the groups of {}-{} (leader epoch {})",
                  cluster::kConsumerOffsetsTopic, shard->id, state.term);
  } else {
    shard->loaded_term = -1;
    if (ErrorCodeOf(shard->unavailable) != v1::NOT_LEADER) {
      logging::Error("groups", "the groups of {}-{} are unavailable: {}",
                     cluster::kConsumerOffsetsTopic, shard->id, shard->unavailable.message());
    }
  }
}

void GroupCoordinator::FailHeld(Shard* shard, const absl::Status& status) {
  auto joins = std::move(shard->held_joins);
  auto syncs = std::move(shard->held_syncs);
  shard->held_joins.clear();
  shard->held_syncs.clear();
  for (auto& [key, done] : joins) {
    groups::ClassicJoinResult result;
    result.status = status;
    result.member_id = key.second;
    done(std::move(result));
  }
  for (auto& [key, done] : syncs) done(groups::ClassicSyncResult::Failed(status));
}

void GroupCoordinator::Stop() {
  if (!stopped_.exchange(true)) {
    for (const auto& shard : shards_) {
      absl::MutexLock lock(&shard->mu);
      FailHeld(shard.get(), ApiError(v1::COORDINATOR_NOT_AVAILABLE, "the broker is stopping"));
    }
  }
  // The pending timer fires within one interval and, seeing stopped_, does not rearm.
  absl::MutexLock lock(&timer_mu_);
  timer_mu_.Await(absl::Condition(
      +[](bool* pending) { return !*pending; }, &timer_pending_));
}

absl::Status GroupCoordinator::Replay(Shard* shard) {
  cluster::Partition& partition = *shard->partition;
  int64_t offset = partition.log_start_offset().value();
  const int64_t end = partition.high_watermark().value();
  const int64_t now = base::WallClockMs();
  size_t records = 0;
  while (offset < end) {
    cluster::FetchResult read = partition.Fetch(Offset(offset), kReplayReadBytes);
    if (!read.status.ok()) return read.status;
    std::string_view rest = read.batches;
    if (rest.empty()) break;
    while (!rest.empty()) {
      auto header = format::ParseBatchHeader(rest, partition.max_batch_bytes());
      if (!header.ok()) return header.status();
      std::string_view batch = rest.substr(0, header->size_bytes());
      rest.remove_prefix(header->size_bytes());
      // Raft's own entries (a leader's no-op, membership changes) hold no group records.
      if (header->is_control()) continue;
      format::RecordReader reader(batch, *header);
      format::RecordView r;
      while (reader.Next(&r)) {
        if (header->base_offset + r.offset_delta < offset) continue;
        if (!r.key) continue;
        groups::GroupLogRecord record{std::string(*r.key), std::nullopt};
        if (r.value) record.value = std::string(*r.value);
        if (auto s = shard->store->Apply(record, now); !s.ok()) {
          return absl::DataLossError(fmt::format(
              "{}-{} at offset {}: {}", cluster::kConsumerOffsetsTopic, shard->partition->id(),
              header->base_offset + r.offset_delta, s.message()));
        }
        ++records;
      }
      if (!reader.status().ok()) return reader.status();
    }
    offset = read.next_offset.value();
  }
  if (records > 0) {
    logging::Debug("groups", "{}-{}: replayed {} records", cluster::kConsumerOffsetsTopic,
                   shard->partition->id(), records);
  }
  return absl::OkStatus();
}

absl::StatusOr<GroupCoordinator::Shard*> GroupCoordinator::ShardFor(const std::string& group_id) {
  if (auto s = groups::ValidateGroupId(group_id); !s.ok()) return s;
  if (!started() || shards_.empty()) {
    return ApiError(v1::COORDINATOR_NOT_AVAILABLE, "the group coordinator is not running yet");
  }
  Shard* shard = shards_[static_cast<size_t>(groups::GroupPartitionFor(
                             group_id, static_cast<int32_t>(shards_.size())))]
                     .get();
  absl::MutexLock lock(&shard->mu);
  if (ErrorCodeOf(shard->unavailable) == v1::NOT_LEADER && shard->partition != nullptr) {
    // Followers hear of a new leader after the shard detached: the hint is asked for now.
    absl::Status now = shard->partition->CheckServing();
    shard->unavailable =
        now.ok() ? ApiError(v1::COORDINATOR_NOT_AVAILABLE, "loading") : std::move(now);
  }
  if (ErrorCodeOf(shard->unavailable) == v1::NOT_LEADER) {
    // Another broker hosts this group's partition of the offsets topic, and coordinates it.
    return ApiError(v1::NOT_COORDINATOR,
                    fmt::format("group '{}' is coordinated elsewhere: {}", group_id,
                                shard->unavailable.message()),
                    api::LeaderHintOf(shard->unavailable));
  }
  if (!shard->unavailable.ok()) {
    return ApiError(v1::COORDINATOR_NOT_AVAILABLE,
                    fmt::format("{}-{} is unavailable: {}", cluster::kConsumerOffsetsTopic,
                                shard->id, shard->unavailable.message()));
  }
  if (shard->stale.load()) {
    return ApiError(v1::COORDINATOR_NOT_AVAILABLE,
                    fmt::format("{}-{} is reloading after a failed write",
                                cluster::kConsumerOffsetsTopic, shard->id));
  }
  return shard;
}

groups::TopicCatalog GroupCoordinator::Catalog() const {
  groups::TopicCatalog catalog;
  for (const auto& t : topics_->List()) catalog[t.name()] = t.partitions();
  return catalog;
}

void GroupCoordinator::Append(Shard* shard, const std::vector<groups::GroupLogRecord>& records,
                              std::function<void(absl::Status)> done) {
  if (records.empty()) {
    done(absl::OkStatus());
    return;
  }
  // Batches within the log's limit, handed over together: validated and written as one.
  const size_t limit = shard->partition->max_batch_bytes();
  const int64_t now = base::WallClockMs();
  std::vector<std::string> batches;
  format::BatchBuilder builder;
  for (const auto& r : records) {
    const size_t size = r.key.size() + (r.value ? r.value->size() : 0) + 32;
    if (!builder.empty() && builder.size_bytes() + size > limit) batches.push_back(builder.Build());
    builder.Append(now, std::string_view(r.key),
                   r.value ? std::optional<std::string_view>(*r.value) : std::nullopt);
  }
  batches.push_back(builder.Build());
  const std::vector<std::string_view> chunks(batches.begin(), batches.end());
  shard->partition->Produce(
      chunks, cluster::Acks::kAll,
      [this, shard, done = std::move(done)](cluster::ProduceResult result) {
        if (!result.status.ok()) {
          // The store holds changes the log may not: replay before serving again.
          if (!shard->stale.exchange(true)) {
            logging::Warn("groups", "{}-{}: append failed, reloading its groups: {}",
                          cluster::kConsumerOffsetsTopic, shard->id, result.status.message());
            asio::post(*io_, [this, shard] {
              if (!stopped_) Attach(shard);
            });
          }
          done(ErrorCodeOf(result.status) == v1::NOT_LEADER
                   ? ApiError(v1::NOT_COORDINATOR, std::string(result.status.message()),
                              api::LeaderHintOf(result.status))
                   : ApiError(v1::COORDINATOR_NOT_AVAILABLE,
                              std::string(result.status.message())));
          return;
        }
        done(absl::OkStatus());
      });
}

void GroupCoordinator::AppendAndRelease(
    Shard* shard, const std::vector<groups::GroupLogRecord>& records,
    std::map<std::string, groups::ClassicCompletions> released,
    std::function<void(absl::Status)> done) {
  // The held callbacks leave the shard now: a later call may hold new ones under the same keys.
  std::vector<std::pair<JoinDone, groups::ClassicJoinResult>> joins;
  std::vector<std::pair<SyncDone, groups::ClassicSyncResult>> syncs;
  for (auto& [group_id, completions] : released) {
    for (auto& [member_id, result] : completions.joins) {
      auto held = shard->held_joins.extract({group_id, member_id});
      if (!held.empty()) joins.emplace_back(std::move(held.mapped()), std::move(result));
    }
    for (auto& [member_id, result] : completions.syncs) {
      auto held = shard->held_syncs.extract({group_id, member_id});
      if (!held.empty()) syncs.emplace_back(std::move(held.mapped()), std::move(result));
    }
  }
  Append(shard, records,
         [joins = std::move(joins), syncs = std::move(syncs),
          done = std::move(done)](absl::Status s) mutable {
           for (auto& [answer, result] : joins) {
             if (!s.ok() && result.status.ok()) result.status = s;
             answer(std::move(result));
           }
           for (auto& [answer, result] : syncs) {
             if (!s.ok() && result.status.ok()) result.status = s;
             answer(std::move(result));
           }
           done(s);
         });
}

template <typename Result, typename Callback>
void GroupCoordinator::AnswerOrHold(Shard* shard, const std::string& group_id,
                                    const std::string& member_id, std::optional<Result> result,
                                    Callback done, std::map<std::pair<std::string, std::string>, Callback>* held,
                                    Result replaced,
                                    const std::vector<groups::GroupLogRecord>& records,
                                    groups::ClassicCompletions released) {
  if (result.has_value()) {
    AppendAndRelease(shard, records, {{group_id, std::move(released)}},
                     [done = std::move(done), result = std::move(*result)](absl::Status s) mutable {
                       if (!s.ok() && result.status.ok()) result.status = s;
                       done(std::move(result));
                     });
    return;
  }
  auto [it, added] = held->try_emplace({group_id, member_id}, nullptr);
  if (!added) it->second(std::move(replaced));
  it->second = std::move(done);
  AppendAndRelease(shard, records, {{group_id, std::move(released)}}, [](absl::Status) {});
}

void GroupCoordinator::JoinGroup(const std::string& group_id,
                                 const groups::ClassicJoinRequest& request, JoinDone done) {
  auto shard = ShardFor(group_id);
  if (!shard.ok()) {
    groups::ClassicJoinResult result;
    result.status = shard.status();
    result.member_id = request.member_id;
    done(std::move(result));
    return;
  }
  std::string member_id = request.member_id;
  auto new_member_id = [&] {
    member_id = fmt::format("{}-{}", request.client_id.empty() ? "member" : request.client_id,
                            NewMemberId());
    return member_id;
  };
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  groups::ClassicCompletions released;
  auto result = (*shard)->store->JoinGroup(group_id, request, base::WallClockMs(), new_member_id,
                                          &released, &records);
  AnswerOrHold(*shard, group_id, member_id, std::move(result), std::move(done),
               &(*shard)->held_joins,
               groups::ClassicJoinResult::Failed(
                   ApiError(v1::REBALANCE_IN_PROGRESS, "a later JoinGroup replaced this one"),
                   member_id),
               records, std::move(released));
}

void GroupCoordinator::SyncGroup(const std::string& group_id,
                                 const groups::ClassicSyncRequest& request, SyncDone done) {
  auto shard = ShardFor(group_id);
  if (!shard.ok()) {
    done(groups::ClassicSyncResult::Failed(shard.status()));
    return;
  }
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  groups::ClassicCompletions released;
  auto result =
      (*shard)->store->SyncGroup(group_id, request, base::WallClockMs(), &released, &records);
  AnswerOrHold(*shard, group_id, request.member_id, std::move(result), std::move(done),
               &(*shard)->held_syncs,
               groups::ClassicSyncResult::Failed(
                   ApiError(v1::REBALANCE_IN_PROGRESS, "a later SyncGroup replaced this one")),
               records, std::move(released));
}

absl::Status GroupCoordinator::ClassicHeartbeat(const std::string& group_id,
                                                const std::string& member_id,
                                                int32_t generation) {
  auto shard = ShardFor(group_id);
  if (!shard.ok()) return shard.status();
  absl::MutexLock lock(&(*shard)->mu);
  return (*shard)->store->ClassicHeartbeat(group_id, member_id, generation, base::WallClockMs());
}

void GroupCoordinator::LeaveGroup(
    const std::string& group_id, const std::vector<std::string>& member_ids,
    std::function<void(absl::Status, std::vector<absl::Status>)> done) {
  auto shard = ShardFor(group_id);
  if (!shard.ok()) {
    done(shard.status(), {});
    return;
  }
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  groups::ClassicCompletions released;
  std::vector<absl::Status> results;
  const int64_t now = base::WallClockMs();
  for (const auto& member_id : member_ids) {
    results.push_back((*shard)->store->LeaveGroup(group_id, member_id, now, &released, &records));
  }
  AppendAndRelease(*shard, records, {{group_id, std::move(released)}},
                   [done = std::move(done), results = std::move(results)](absl::Status s) {
                     done(s, results);
                   });
}

void GroupCoordinator::Heartbeat(const v1::GroupHeartbeatRequest& request,
                                 v1::GroupHeartbeatResponse* response, Done done) {
  auto shard = ShardFor(request.group_id());
  if (!shard.ok()) {
    SetError(shard.status(), response->mutable_error());
    done();
    return;
  }
  groups::HeartbeatRequest req;
  req.group_id = request.group_id();
  req.member_id = request.member_id();
  req.member_epoch = request.member_epoch();
  req.instance_id = request.instance_id();
  req.client_id = request.client_id();
  req.rebalance_timeout_ms = request.rebalance_timeout_ms();
  req.subscribed_topics.assign(request.subscribed_topics().begin(),
                               request.subscribed_topics().end());
  req.subscribed_regex = request.subscribed_regex();
  req.owned = groups::FromProto(request.owned());
  const groups::TopicCatalog catalog = Catalog();
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  auto result = (*shard)->store->Heartbeat(req, catalog, base::WallClockMs(), NewMemberId, &records);
  if (!result.ok()) {
    SetError(result.status(), response->mutable_error());
    // A rejected heartbeat may still have changed something (a stale incarnation removed).
    Append(*shard, records, [done](absl::Status) { done(); });
    return;
  }
  response->set_member_id(result->member_id);
  response->set_member_epoch(result->member_epoch);
  response->set_heartbeat_interval_ms(result->heartbeat_interval_ms);
  groups::ToProto(result->assignment, response->mutable_assignment());
  Append(*shard, records, [response, done](absl::Status s) {
    if (!s.ok()) SetError(s, response->mutable_error());
    done();
  });
}

void GroupCoordinator::CommitOffsets(const v1::CommitOffsetsRequest& request,
                                     v1::CommitOffsetsResponse* response, Done done) {
  auto shard = ShardFor(request.group_id());
  if (!shard.ok()) {
    SetError(shard.status(), response->mutable_error());
    done();
    return;
  }
  std::vector<groups::OffsetCommit> commits;
  for (const auto& t : request.topics()) {
    for (const auto& p : t.partitions()) {
      commits.push_back({{t.topic(), p.partition()}, p.offset(), p.metadata()});
    }
  }
  const groups::TopicCatalog catalog = Catalog();
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  std::vector<absl::Status> results;
  absl::Status s =
      (*shard)->store->CommitOffsets(request.group_id(), request.member_id(), request.member_epoch(),
                                    commits, catalog, base::WallClockMs(), &results, &records);
  if (!s.ok()) {
    SetError(s, response->mutable_error());
    done();
    return;
  }
  for (size_t i = 0; i < commits.size(); ++i) {
    auto* entry = response->add_partitions();
    entry->set_topic(commits[i].partition.topic);
    entry->set_partition(commits[i].partition.partition);
    SetError(results[i], entry->mutable_error());
  }
  Append(*shard, records, [response, done](absl::Status s) {
    if (!s.ok()) {
      SetError(s, response->mutable_error());
      for (auto& p : *response->mutable_partitions()) {
        if (p.error().code() == v1::NONE) SetError(s, p.mutable_error());
      }
    }
    done();
  });
}

void GroupCoordinator::FetchOffsets(const v1::FetchOffsetsRequest& request,
                                    v1::FetchOffsetsResponse* response) {
  auto shard = ShardFor(request.group_id());
  if (!shard.ok()) {
    SetError(shard.status(), response->mutable_error());
    return;
  }
  const groups::PartitionSet wanted = groups::FromProto(request.partitions());
  absl::MutexLock lock(&(*shard)->mu);
  for (const auto& [tp, offset] : (*shard)->store->FetchOffsets(request.group_id(), wanted)) {
    auto* entry = response->add_offsets();
    entry->set_topic(tp.topic);
    entry->set_partition(tp.partition);
    entry->set_offset(offset.offset);
    entry->set_metadata(offset.metadata);
    entry->set_commit_time_ms(offset.commit_time_ms);
  }
}

void GroupCoordinator::ListGroups(v1::ListGroupsResponse* response) {
  if (!started()) return;
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    for (const auto& [id, d] : shard->store->ListGroups()) {
      auto* g = response->add_groups();
      g->set_group_id(id);
      g->set_state(d.state);
      g->set_members(static_cast<int32_t>(d.members.size()));
      g->set_type(d.type);
    }
  }
}

std::vector<groups::GroupDescription> GroupCoordinator::List() {
  std::vector<groups::GroupDescription> out;
  if (!started()) return out;
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    if (!shard->unavailable.ok()) continue;
    for (auto& [id, d] : shard->store->ListGroups()) out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<groups::GroupDescription> GroupCoordinator::Describe(const std::string& group_id) {
  auto shard = ShardFor(group_id);
  if (!shard.ok()) return shard.status();
  absl::MutexLock lock(&(*shard)->mu);
  return (*shard)->store->Describe(group_id);
}

std::vector<GroupMetrics> GroupCoordinator::Metrics() {
  v1::ListGroupsResponse listed;
  ListGroups(&listed);
  std::vector<GroupMetrics> out;
  for (const auto& g : listed.groups()) {
    v1::DescribeGroupRequest request;
    request.set_group_id(g.group_id());
    v1::DescribeGroupResponse described;
    DescribeGroup(request, &described);
    if (described.error().code() != v1::NONE) continue;
    GroupMetrics m{g.group_id(), described.members_size(), {}};
    for (const auto& p : described.partitions()) m.lag_by_topic[p.topic()] += p.lag();
    out.push_back(std::move(m));
  }
  return out;
}

void GroupCoordinator::DescribeGroup(const v1::DescribeGroupRequest& request,
                                     v1::DescribeGroupResponse* response) {
  absl::StatusOr<groups::GroupDescription> described = Describe(request.group_id());
  if (!described.ok()) {
    SetError(described.status(), response->mutable_error());
    return;
  }
  response->set_group_id(described->group_id);
  response->set_state(described->state);
  response->set_group_epoch(described->group_epoch);
  response->set_assignor(described->assignor);
  response->set_type(described->type);
  response->set_protocol_type(described->protocol_type);
  response->set_protocol(described->protocol);
  // Lag rows: every partition with a committed offset or an owner.
  std::map<groups::TopicPartition, std::string> owners;
  for (const auto& m : described->members) {
    auto* md = response->add_members();
    md->set_member_id(m.member_id);
    md->set_instance_id(m.instance_id);
    md->set_client_id(m.client_id);
    md->set_client_host(m.client_host);
    md->set_member_epoch(m.member_epoch);
    for (const auto& t : m.subscribed_topics) md->add_subscribed_topics(t);
    md->set_subscribed_regex(m.subscribed_regex);
    groups::ToProto(m.assigned, md->mutable_assignment());
    groups::ToProto(m.pending, md->mutable_pending());
    for (const auto& tp : m.assigned) owners[tp] = m.member_id;
  }
  std::set<groups::TopicPartition> rows;
  for (const auto& [tp, offset] : described->offsets) rows.insert(tp);
  for (const auto& [tp, owner] : owners) rows.insert(tp);
  int64_t total = 0;
  for (const auto& tp : rows) {
    auto* row = response->add_partitions();
    row->set_topic(tp.topic);
    row->set_partition(tp.partition);
    auto committed = described->offsets.find(tp);
    row->set_committed_offset(committed != described->offsets.end() ? committed->second.offset
                                                                    : -1);
    if (auto owner = owners.find(tp); owner != owners.end()) row->set_member_id(owner->second);
    auto partition = topics_->GetPartition(tp.topic, tp.partition);
    if (!partition.ok()) {
      row->set_log_end_offset(-1);
      row->set_log_start_offset(-1);
      row->set_lag(0);
      continue;
    }
    const int64_t end = (*partition)->high_watermark().value();
    const int64_t start = (*partition)->log_start_offset().value();
    row->set_log_end_offset(end);
    row->set_log_start_offset(start);
    const int64_t from = row->committed_offset() >= 0 ? row->committed_offset() : start;
    row->set_lag(std::max<int64_t>(0, end - std::max(from, start)));
    total += row->lag();
  }
  response->set_total_lag(total);
}

void GroupCoordinator::DeleteGroup(const v1::DeleteGroupRequest& request,
                                   v1::DeleteGroupResponse* response, Done done) {
  auto shard = ShardFor(request.group_id());
  if (!shard.ok()) {
    SetError(shard.status(), response->mutable_error());
    done();
    return;
  }
  absl::MutexLock lock(&(*shard)->mu);
  std::vector<groups::GroupLogRecord> records;
  if (auto s = (*shard)->store->DeleteGroup(request.group_id(), &records); !s.ok()) {
    SetError(s, response->mutable_error());
    done();
    return;
  }
  Append(*shard, records, [response, done](absl::Status s) {
    SetError(s, response->mutable_error());
    done();
  });
}

void GroupCoordinator::ResetOffsets(const v1::ResetOffsetsRequest& request,
                                    v1::ResetOffsetsResponse* response, Done done) {
  auto fail = [&](const absl::Status& s) {
    SetError(s, response->mutable_error());
    done();
  };
  auto shard = ShardFor(request.group_id());
  if (!shard.ok()) return fail(shard.status());
  if (request.target_case() == v1::ResetOffsetsRequest::TARGET_NOT_SET) {
    return fail(ApiError(v1::INVALID_REQUEST,
                         "say where to reset to (earliest, latest, offset, "
                         "timestamp or shift)"));
  }
  auto topic = topics_->Get(request.topic());
  if (!topic) {
    return fail(
        ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", request.topic())));
  }
  std::vector<int32_t> partitions(request.partitions().begin(), request.partitions().end());
  if (partitions.empty()) {
    for (int32_t p = 0; p < topic->partitions(); ++p) partitions.push_back(p);
  }
  groups::PartitionSet wanted;
  for (int32_t p : partitions) wanted.insert({request.topic(), p});
  std::map<groups::TopicPartition, groups::CommittedOffset> current;
  {
    absl::MutexLock lock(&(*shard)->mu);
    current = (*shard)->store->FetchOffsets(request.group_id(), wanted);
  }
  std::map<groups::TopicPartition, int64_t> targets;
  for (int32_t p : partitions) {
    auto partition = topics_->GetPartition(request.topic(), p);
    if (!partition.ok()) return fail(partition.status());
    const int64_t start = (*partition)->log_start_offset().value();
    const int64_t end = (*partition)->high_watermark().value();
    const int64_t previous = current[{request.topic(), p}].offset;
    int64_t next = 0;
    switch (request.target_case()) {
      case v1::ResetOffsetsRequest::kToEarliest:
        next = start;
        break;
      case v1::ResetOffsetsRequest::kToLatest:
        next = end;
        break;
      case v1::ResetOffsetsRequest::kToOffset:
        if (request.to_offset() < 0) {
          return fail(ApiError(v1::INVALID_OFFSET,
                               fmt::format("cannot reset to offset {}", request.to_offset())));
        }
        next = request.to_offset();
        break;
      case v1::ResetOffsetsRequest::kToTimestampMs: {
        auto found = (*partition)->FindOffsetByTimestamp(request.to_timestamp_ms());
        if (!found.ok()) return fail(found.status());
        next = *found ? std::min((*found)->value(), end) : end;
        break;
      }
      case v1::ResetOffsetsRequest::kShiftBy:
        next = (previous >= 0 ? previous : start) + request.shift_by();
        break;
      default:
        break;
    }
    // Like Kafka's tool: out-of-range targets land on the nearest valid offset.
    next = std::clamp(next, start, end);
    targets[{request.topic(), p}] = next;
    auto* row = response->add_partitions();
    row->set_partition(p);
    row->set_previous_offset(previous);
    row->set_new_offset(next);
  }
  absl::MutexLock lock(&(*shard)->mu);
  if (!request.execute()) {
    // A dry run still tells whether executing would be refused.
    auto described = (*shard)->store->Describe(request.group_id());
    if (described.ok() && !described->members.empty()) {
      response->clear_partitions();
      return fail(ApiError(v1::GROUP_NOT_EMPTY,
                           fmt::format("group '{}' has {} active members; stop "
                                       "them before resetting its offsets",
                                       request.group_id(), described->members.size())));
    }
    done();
    return;
  }
  std::vector<groups::GroupLogRecord> records;
  if (auto s =
          (*shard)->store->ResetOffsets(request.group_id(), targets, base::WallClockMs(), &records);
      !s.ok()) {
    response->clear_partitions();
    return fail(s);
  }
  Append(*shard, records, [response, done](absl::Status s) {
    SetError(s, response->mutable_error());
    done();
  });
}

void GroupCoordinator::ScheduleExpiry() {
  {
    absl::MutexLock lock(&timer_mu_);
    timer_pending_ = true;
  }
  timer_->expires_after(kExpiryInterval);
  timer_->async_wait([this](const std::error_code& ec) {
    if (!ec && !stopped_.load()) {
      ExpireSessions();
      if (!stopped_.load()) {
        ScheduleExpiry();
        return;
      }
    }
    absl::MutexLock lock(&timer_mu_);
    timer_pending_ = false;
  });
}

void GroupCoordinator::ExpireSessions() {
  const int64_t now = base::WallClockMs();
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    if (shard->stale.load() || !shard->unavailable.ok()) continue;
    std::vector<groups::GroupLogRecord> records;
    std::map<std::string, groups::ClassicCompletions> released;
    shard->store->ExpireSessions([this] { return Catalog(); }, now, &released, &records);
    AppendAndRelease(shard.get(), records, std::move(released), [](absl::Status) {});
  }
}

}  // namespace rill::coordinator
