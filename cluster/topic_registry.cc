#include "cluster/topic_registry.h"

#include <algorithm>
#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "api/error.h"
#include "base/clock.h"
#include "base/file_limits.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "cluster/topic_names.h"

namespace rill::cluster {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;
namespace {

constexpr char kTopicKeyPrefix[] = "topics/";
constexpr size_t kMaxTopics = 100000;

std::string LogName(const v1::TopicRecord& topic, int32_t partition) {
  return cluster::PartitionLogName(topic.name(), *TopicId::FromBytes(topic.topic_id()),
                                   PartitionId(partition));
}

// Where partitions lived before directories carried the topic id.
std::string LegacyLogName(const std::string& topic, int32_t partition) {
  return fmt::format("{}-{}", topic, partition);
}

}  // namespace

TopicRegistry::TopicRegistry(storage::MetaStore* meta, storage::LogManager* logs,
                             storage::LogConfig log_defaults, TopicLimits limits,
                             ReplicaContext replication, Partition::LeadershipListener listener)
    : meta_(meta),
      logs_(logs),
      log_defaults_(log_defaults),
      limits_(limits),
      replication_(std::move(replication)),
      listener_(std::move(listener)) {}

TopicRegistry::~TopicRegistry() {
  for (const auto& partition : AllPartitions()) partition->Close();
}

storage::LogConfig TopicRegistry::LogConfigFor(const v1::TopicRecord& topic) const {
  TopicConfigs configs(topic.configs().begin(), topic.configs().end());
  auto config = ApplyTopicConfigs(log_defaults_, configs);
  // Stored configs were validated when set; should the defaults have changed since so they no
  // longer combine, the defaults win rather than leaving the topic unusable.
  if (!config.ok()) {
    logging::Warn("broker", "topic {}: stored configs no longer apply ({}); using defaults",
                  topic.name(), config.status().message());
    return log_defaults_;
  }
  return *config;
}

absl::Status TopicRegistry::Load() {
  auto stored = meta_->Scan(kTopicKeyPrefix, kMaxTopics);
  if (!stored.ok()) return stored.status();
  auto before = logs_->ListOnDisk();
  if (!before.ok()) return before.status();
  const absl::flat_hash_set<std::string> dirs(before->begin(), before->end());
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> known;
  for (const auto& [key, value] : *stored) {
    Topic topic;
    if (!topic.record.ParseFromString(value)) {
      return absl::DataLossError(fmt::format("meta store entry {} is not a topic record", key));
    }
    const std::string& name = topic.record.name();
    if (auto s = MigrateToTopicId(&topic.record, dirs); !s.ok()) return s;
    const storage::LogConfig config = LogConfigFor(topic.record);
    topic.partitions.resize(static_cast<size_t>(topic.record.partitions()));
    for (int32_t p = 0; p < topic.record.partitions(); ++p) {
      if (!Hosts(topic.record, p)) continue;
      known.insert(LogName(topic.record, p));
      OpenHosted(&topic, p, config);
    }
    std::string key_name = name;
    topics_.emplace(std::move(key_name), std::move(topic));
  }
  auto on_disk = logs_->ListOnDisk();
  if (!on_disk.ok()) return on_disk.status();
  for (const std::string& dir : *on_disk) {
    if (known.contains(dir)) continue;
    logging::Warn("broker", "removing log directory {}: it belongs to no topic", dir);
    if (auto s = logs_->Delete(dir); !s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

bool TopicRegistry::Hosts(const v1::TopicRecord& record, int32_t partition) const {
  if (!record.from_metadata_log()) return true;
  const auto& hosted = record.hosted_partitions();
  return std::find(hosted.begin(), hosted.end(), partition) != hosted.end();
}

std::vector<NodeId> TopicRegistry::FirstMembersOf(const v1::TopicRecord& record,
                                                  int32_t partition) const {
  if (!record.from_metadata_log() || partition >= record.replicas_size()) {
    return {replication_.self};
  }
  const v1::PartitionReplicas& replicas = record.replicas(partition);
  std::vector<NodeId> out;
  for (int32_t node : replicas.first_members_size() > 0 ? replicas.first_members()
                                                         : replicas.nodes()) {
    out.push_back(NodeId(node));
  }
  return out;
}

Partition::Assignment TopicRegistry::AssignmentOf(const v1::TopicRecord& record,
                                                  int32_t partition) const {
  Partition::Assignment out;
  if (!record.from_metadata_log() || partition >= record.replicas_size()) {
    out.preferred = replication_.self;
    return out;
  }
  const v1::PartitionReplicas& replicas = record.replicas(partition);
  if (replicas.nodes_size() > 0) out.preferred = NodeId(replicas.nodes(0));
  for (int32_t node : replicas.target()) out.move_target.push_back(NodeId(node));
  out.move_throttle_bytes_per_second = replicas.move_throttle_bytes_per_second();
  return out;
}

void TopicRegistry::OpenHosted(Topic* topic, int32_t partition,
                               const storage::LogConfig& config) {
  const std::string& name = topic->record.name();
  const TopicId topic_id = *TopicId::FromBytes(topic->record.topic_id());
  auto log = logs_->GetOrCreate(LogName(topic->record, partition), config);
  absl::StatusOr<std::shared_ptr<Partition>> opened =
      log.ok() ? absl::StatusOr<std::shared_ptr<Partition>>(nullptr) : log.status();
  if (log.ok()) {
    opened = Partition::Open(name, topic_id, PartitionId(partition), *log,
                             FirstMembersOf(topic->record, partition), replication_, listener_);
  }
  if (opened.ok()) {
    (*opened)->SetAssignment(AssignmentOf(topic->record, partition));
    topic->partitions[static_cast<size_t>(partition)] = *opened;
    by_group_[rpc::GroupKey{topic_id, PartitionId(partition)}] = *opened;
    topic->offline.erase(partition);
    return;
  }
  // One damaged partition must not keep the others from serving.
  logging::Error("broker", "partition {}-{} is offline: {}", name, partition,
                 opened.status().message());
  topic->offline.emplace(partition, opened.status());
}

void TopicRegistry::Reconcile(const MetadataImage& image) {
  std::vector<std::pair<v1::TopicRecord, std::vector<std::shared_ptr<Partition>>>> removed;
  std::vector<Dropped> dropped;
  {
    absl::MutexLock lock(&mu_);
    ReconcileLocked(image, &removed, &dropped);
  }
  for (const auto& [record, partitions] : removed) Remove(record, partitions);
  for (const Dropped& d : dropped) {
    if (d.partition != nullptr) d.partition->Close();
    DeletePartitionData(d.record, d.index);
    logging::Info("broker", "partition {}-{} moved off this broker: its replica is deleted",
                  d.record.name(), d.index);
  }
}

void TopicRegistry::Remove(const v1::TopicRecord& record,
                           const std::vector<std::shared_ptr<Partition>>& partitions) {
  for (const auto& partition : partitions) {
    if (partition != nullptr) partition->Close();
  }
  for (int32_t p = 0; p < record.partitions(); ++p) {
    if (Hosts(record, p)) DeletePartitionData(record, p);
  }
}

void TopicRegistry::DeletePartitionData(const v1::TopicRecord& record, int32_t partition) {
  const TopicId topic_id = *TopicId::FromBytes(record.topic_id());
  absl::Status s = logs_->Delete(LogName(record, partition));
  if (!s.ok() && !absl::IsNotFound(s)) {
    logging::Warn("broker", "deleting partition {}-{}: {}", record.name(), partition,
                  s.message());
  }
  s = RaftGroup::DeleteState(meta_, rpc::GroupKey{topic_id, PartitionId(partition)});
  if (s.ok()) {
    s = ProducerTracker::DeleteSnapshot(meta_, ProducerStateKey(topic_id, PartitionId(partition)));
  }
  if (!s.ok()) {
    logging::Warn("broker", "deleting the Raft state of {}-{}: {}", record.name(), partition,
                  s.message());
  }
}

void TopicRegistry::ReconcileLocked(
    const MetadataImage& image,
    std::vector<std::pair<v1::TopicRecord, std::vector<std::shared_ptr<Partition>>>>* removed,
    std::vector<Dropped>* dropped) {
  const NodeId self = replication_.self;
  for (auto it = topics_.begin(); it != topics_.end();) {
    const v1::TopicRecord& record = it->second.record;
    const TopicInfo* info = image.TopicByName(it->first);
    const bool replaced = info != nullptr && info->id.ToBytes() != record.topic_id();
    if ((info == nullptr && record.from_metadata_log()) || replaced) {
      if (auto s = meta_->Delete(kTopicKeyPrefix + it->first); !s.ok()) {
        logging::Error("broker", "cannot remove topic {}: {}", it->first, s.message());
        ++it;
        continue;
      }
      const TopicId topic_id = *TopicId::FromBytes(record.topic_id());
      for (size_t p = 0; p < it->second.partitions.size(); ++p) {
        by_group_.erase(rpc::GroupKey{topic_id, PartitionId(static_cast<int32_t>(p))});
      }
      logging::Info("broker", "removed topic {} ({}): {}", it->first, topic_id,
                    replaced ? "a newer topic has its name" : "deleted");
      removed->emplace_back(record, std::move(it->second.partitions));
      it = topics_.erase(it);
      continue;
    }
    ++it;
  }
  for (const auto& [id, info] : image.topics()) {
    v1::TopicRecord record;
    record.set_name(info.name);
    record.set_topic_id(id.ToBytes());
    record.set_partitions(static_cast<int32_t>(info.partitions.size()));
    record.set_replication_factor(info.replication_factor);
    record.mutable_configs()->insert(info.configs.begin(), info.configs.end());
    record.set_from_metadata_log(true);
    for (size_t p = 0; p < info.partitions.size(); ++p) {
      const PartitionAssignment& assignment = info.partitions[p];
      auto* stored = record.add_replicas();
      for (NodeId replica : assignment.replicas) stored->add_nodes(replica.value());
      for (NodeId replica : assignment.initial_replicas) {
        stored->add_first_members(replica.value());
      }
      for (NodeId replica : assignment.target_replicas) stored->add_target(replica.value());
      stored->set_move_throttle_bytes_per_second(assignment.move_throttle_bytes_per_second);
      const auto hosts = assignment.Hosts();
      if (std::find(hosts.begin(), hosts.end(), self) != hosts.end()) {
        record.add_hosted_partitions(static_cast<int32_t>(p));
      }
    }
    auto [it, created] = topics_.try_emplace(info.name);
    Topic& topic = it->second;
    record.set_created_ms(created ? base::WallClockMs() : topic.record.created_ms());
    const bool configs_changed =
        !created && TopicConfigs(topic.record.configs().begin(), topic.record.configs().end()) !=
                        info.configs;
    const bool changed = created || record.SerializeAsString() != topic.record.SerializeAsString();
    if (changed) {
      // The record first: should the broker stop while logs open, the next start opens them.
      if (auto s = Store(record); !s.ok()) {
        logging::Error("broker", "cannot store topic {}: {}", info.name, s.message());
        if (created) topics_.erase(it);
        continue;
      }
    }
    topic.record = record;
    const storage::LogConfig config = LogConfigFor(record);
    topic.partitions.resize(info.partitions.size());
    topic.leaders.clear();
    const TopicId topic_id = info.id;
    for (size_t p = 0; p < info.partitions.size(); ++p) {
      const auto& replicas = info.partitions[p].replicas;
      topic.leaders.push_back(replicas.empty() ? kNoNode : replicas.front());
      const int32_t partition = static_cast<int32_t>(p);
      if (!Hosts(record, partition)) {
        // A move took the partition off this broker: its replica goes once no longer needed.
        if (topic.partitions[p] != nullptr || topic.offline.contains(partition)) {
          dropped->push_back(Dropped{record, partition, std::move(topic.partitions[p])});
          topic.partitions[p] = nullptr;
          topic.offline.erase(partition);
          by_group_.erase(rpc::GroupKey{topic_id, PartitionId(partition)});
        }
        continue;
      }
      if (topic.partitions[p] != nullptr) {
        topic.partitions[p]->SetAssignment(AssignmentOf(record, partition));
        continue;
      }
      if (topic.offline.contains(partition)) continue;
      OpenHosted(&topic, partition, config);
    }
    if (configs_changed) {
      for (const auto& partition : topic.partitions) {
        if (partition == nullptr) continue;
        if (auto s = partition->UpdateConfig(config); !s.ok()) {
          logging::Warn("broker", "topic {}: configs not applied: {}", info.name, s.message());
        }
      }
    }
    if (created) {
      logging::Info("broker", "topic {} ({}) partitions={} hosted here={}", info.name, id,
                    info.partitions.size(), record.hosted_partitions_size());
    }
  }
}

std::vector<v1::TopicRecord> TopicRegistry::LegacyTopics() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TopicRecord> out;
  for (const auto& [name, topic] : topics_) {
    if (!topic.record.from_metadata_log()) out.push_back(topic.record);
  }
  return out;
}

absl::Status TopicRegistry::MigrateToTopicId(v1::TopicRecord* record,
                                             const absl::flat_hash_set<std::string>& dirs) {
  if (!TopicId::FromBytes(record->topic_id())) {
    // The id is stored before any directory moves, so a restart part-way finds it and finishes
    // the renames with the same id.
    record->set_topic_id(TopicId::Random().ToBytes());
    if (auto s = Store(*record); !s.ok()) return s;
    logging::Info("broker", "topic {} given id {}", record->name(),
                  *TopicId::FromBytes(record->topic_id()));
  }
  for (int32_t p = 0; p < record->partitions(); ++p) {
    const std::string legacy = LegacyLogName(record->name(), p);
    if (!dirs.contains(legacy) || dirs.contains(LogName(*record, p))) continue;
    if (auto s = logs_->Rename(legacy, LogName(*record, p)); !s.ok()) return s;
    logging::Info("broker", "moved log {} to {}", legacy, LogName(*record, p));
  }
  return absl::OkStatus();
}

absl::Status TopicRegistry::CheckAddPartitions(const std::string& topic, int32_t total) const {
  if (auto s = RejectInternalTopic(topic, "add partitions to"); !s.ok()) return s;
  if (auto record = Get(topic); record && total > record->partitions()) {
    return CheckFileBudget(total - record->partitions());
  }
  return absl::OkStatus();
}

absl::Status TopicRegistry::CheckFileBudget(int32_t partitions) const {
  auto limit = base::OpenFileLimit();
  auto open = base::OpenFileCount();
  if (!limit.ok() || !open.ok()) return absl::OkStatus();  // nothing to budget against
  const int64_t needed = kFilesPerPartition * partitions;
  const int64_t spare = *limit - *open - limits_.files_reserved;
  if (needed <= spare) return absl::OkStatus();
  return ApiError(v1::INVALID_PARTITIONS,
                  fmt::format("{} partition(s) need {} file descriptors but only {} are spare "
                              "(limit {}, {} open, {} kept in reserve): raise the broker's open "
                              "files limit (ulimit -n) or use fewer partitions",
                              partitions, needed, std::max<int64_t>(spare, 0), *limit, *open,
                              limits_.files_reserved));
}

absl::Status TopicRegistry::Store(const v1::TopicRecord& record) {
  return meta_->Put(kTopicKeyPrefix + record.name(), record.SerializeAsString());
}

std::optional<v1::TopicRecord> TopicRegistry::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second.record;
}

std::vector<v1::TopicRecord> TopicRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TopicRecord> out;
  for (const auto& [name, topic] : topics_) out.push_back(topic.record);
  return out;
}

absl::StatusOr<std::shared_ptr<cluster::Partition>> TopicRegistry::GetPartition(
    const std::string& topic, int32_t partition) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) {
    return ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", topic));
  }
  if (partition < 0 || partition >= static_cast<int32_t>(it->second.partitions.size())) {
    return ApiError(v1::UNKNOWN_PARTITION,
                    fmt::format("topic '{}' has no partition {}", topic, partition));
  }
  if (auto offline = it->second.offline.find(partition); offline != it->second.offline.end()) {
    return ApiError(v1::STORAGE_ERROR, fmt::format("partition {}-{} is offline: {}", topic,
                                                   partition, offline->second.message()));
  }
  // Hosted and online partitions are open; any other one lives elsewhere.
  if (it->second.partitions[static_cast<size_t>(partition)] == nullptr) {
    const auto& leaders = it->second.leaders;
    const NodeId leader = static_cast<size_t>(partition) < leaders.size()
                              ? leaders[static_cast<size_t>(partition)]
                              : kNoNode;
    return ApiError(v1::NOT_LEADER,
                    leader == kNoNode
                        ? fmt::format("partition {}-{} is not hosted here", topic, partition)
                        : fmt::format("broker {} leads partition {}-{}", leader, topic, partition),
                    leader.value());
  }
  return it->second.partitions[static_cast<size_t>(partition)];
}

std::vector<std::shared_ptr<cluster::Partition>> TopicRegistry::Partitions(
    const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return {};
  std::vector<std::shared_ptr<cluster::Partition>> out;
  for (const auto& partition : it->second.partitions) {
    if (partition != nullptr) out.push_back(partition);
  }
  return out;
}

std::vector<std::shared_ptr<cluster::Partition>> TopicRegistry::AllPartitions() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<cluster::Partition>> out;
  for (const auto& [name, topic] : topics_) {
    for (const auto& partition : topic.partitions) {
      if (partition != nullptr) out.push_back(partition);
    }
  }
  return out;
}

std::optional<TopicRegistry::LeaderView> TopicRegistry::KnownLeader(
    const std::string& topic, int32_t partition, const MetadataImage& image) const {
  LeaderView view = Leader(topic, partition);
  const BrokerInfo* leader = image.Broker(view.leader);
  if (view.leader == kNoNode || (!view.hosted && (leader == nullptr || leader->fenced))) {
    return std::nullopt;
  }
  return view;
}

TopicRegistry::LeaderView TopicRegistry::Leader(const std::string& topic,
                                                int32_t partition) const {
  LeaderView view;
  std::shared_ptr<Partition> hosted;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end() || partition < 0) return view;
    const size_t p = static_cast<size_t>(partition);
    if (p < it->second.partitions.size()) hosted = it->second.partitions[p];
    if (!hosted && p < it->second.leaders.size()) view.leader = it->second.leaders[p];
  }
  if (!hosted) {
    if (view.leader != kNoNode) view.in_sync.push_back(view.leader);
    return view;
  }
  view.hosted = true;
  const RaftGroupStatus status = hosted->raft_status();
  view.leader = status.leader;
  view.epoch = status.term.value();
  if (status.role == raft::Role::kLeader) {
    view.in_sync.push_back(replication_.self);
    for (const auto& [peer, match] : status.matches) {
      if (status.conf.IsVoter(peer) && match >= status.applied) view.in_sync.push_back(peer);
    }
  } else if (view.leader != kNoNode) {
    view.in_sync.push_back(view.leader);
  }
  return view;
}

bool TopicRegistry::Deliver(const rpc::GroupKey& group, raft::Message message) const {
  std::shared_ptr<Partition> partition;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_group_.find(group);
    if (it == by_group_.end()) return false;
    partition = it->second;
  }
  partition->Deliver(std::move(message));
  return true;
}

void TopicRegistry::Tick() const {
  for (const auto& partition : AllPartitions()) partition->Tick();
}

void TopicRegistry::EnforceRetention() const {
  for (const auto& partition : AllPartitions()) partition->EnforceRetention();
}

int TopicRegistry::BalanceLeaders(int transfers_max) const {
  int started = 0;
  for (const auto& partition : AllPartitions()) {
    if (started >= transfers_max) break;
    if (partition->ReturnLeadershipToPreferred()) ++started;
  }
  return started;
}

std::vector<OfflinePartition> TopicRegistry::Offline() const {
  absl::MutexLock lock(&mu_);
  std::vector<OfflinePartition> out;
  for (const auto& [name, topic] : topics_) {
    for (const auto& [partition, error] : topic.offline) out.push_back({name, partition, error});
  }
  return out;
}

}  // namespace rill::cluster
