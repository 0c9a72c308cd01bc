#include "groups/group_store.h"

#include <algorithm>

#include "api/error.h"
#include "fmt/format.h"
#include "groups/assignor.h"
#include "groups/consumer_protocol.h"
#include "groups/partition_proto.h"
#include "re2/re2.h"
#include "rill/v1/group_records.pb.h"

namespace rill::groups {
namespace {

using api::ApiError;
constexpr int32_t kRecordVersion = 1;
constexpr int32_t kLeaveEpoch = -1;
constexpr int32_t kStaticLeaveEpoch = -2;

std::string KeyBytes(v1::GroupRecordKey::Type type, const std::string& group,
                     const std::string& topic = "", int32_t partition = 0,
                     const std::string& member_id = "") {
  v1::GroupRecordKey key;
  key.set_version(kRecordVersion);
  key.set_type(type);
  key.set_group(group);
  key.set_topic(topic);
  key.set_partition(partition);
  key.set_member_id(member_id);
  return key.SerializeAsString();
}

bool Intersects(const PartitionSet& a, const PartitionSet& b) {
  return std::any_of(a.begin(), a.end(), [&](const TopicPartition& tp) { return b.count(tp); });
}

PartitionSet Minus(const PartitionSet& a, const PartitionSet& b) {
  PartitionSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

}  // namespace

absl::Status ValidateGroupId(const std::string& group_id) {
  if (group_id.empty() || group_id.size() > 255) {
    return ApiError(v1::INVALID_GROUP_ID,
                    fmt::format("a group id has 1 to 255 characters, not {}", group_id.size()));
  }
  for (unsigned char c : group_id) {
    if (c < 0x20 || c == 0x7f) {
      return ApiError(v1::INVALID_GROUP_ID, "a group id has no control characters");
    }
  }
  return absl::OkStatus();
}

int32_t GroupPartitionFor(const std::string& group_id, int32_t partitions) {
  // Java's String.hashCode over UTF-16 code units; ids are treated as Latin-1 bytes here,
  // which matches Java for ASCII ids.
  int32_t hash = 0;
  for (unsigned char c : group_id) {
    hash = static_cast<int32_t>(static_cast<uint32_t>(hash) * 31u + c);
  }
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
  const int32_t positive = hash == INT32_MIN ? 0 : (hash < 0 ? -hash : hash);
  return positive % partitions;
}

GroupStore::GroupStore(GroupLimits limits) : limits_(std::move(limits)) {}

GroupLogRecord GroupStore::GroupRecordOf(const std::string& group_id, const Group& group) const {
  v1::GroupRecord value;
  value.set_group_epoch(group.group_epoch);
  value.set_assignor(group.assignor);
  value.set_created_ms(group.created_ms);
  return {KeyBytes(v1::GroupRecordKey::GROUP, group_id), value.SerializeAsString()};
}

GroupLogRecord GroupStore::MemberRecordOf(const std::string& group_id, const std::string& member_id,
                                          const Member& m) const {
  v1::MemberRecord value;
  value.set_instance_id(m.instance_id);
  value.set_client_id(m.client_id);
  for (const auto& t : m.subscribed_topics) value.add_subscribed_topics(t);
  value.set_subscribed_regex(m.subscribed_regex);
  value.set_rebalance_timeout_ms(m.rebalance_timeout_ms);
  value.set_member_epoch(m.member_epoch);
  value.set_previous_member_epoch(m.previous_member_epoch);
  ToProto(m.assigned, value.mutable_assigned());
  ToProto(m.revoking, value.mutable_revoking());
  ToProto(m.target, value.mutable_target());
  value.set_left_static(m.left_static);
  return {KeyBytes(v1::GroupRecordKey::MEMBER, group_id, "", 0, member_id),
          value.SerializeAsString()};
}

GroupLogRecord GroupStore::OffsetRecordOf(const std::string& group_id, const TopicPartition& tp,
                                          const CommittedOffset& offset) const {
  v1::OffsetRecord value;
  value.set_offset(offset.offset);
  value.set_metadata(offset.metadata);
  value.set_commit_time_ms(offset.commit_time_ms);
  return {KeyBytes(v1::GroupRecordKey::OFFSET, group_id, tp.topic, tp.partition),
          value.SerializeAsString()};
}

absl::Status GroupStore::Apply(const GroupLogRecord& record, int64_t now_ms) {
  v1::GroupRecordKey key;
  if (!key.ParseFromString(record.key)) {
    return absl::DataLossError("__consumer_offsets record with a malformed key");
  }
  if (key.version() != kRecordVersion) return absl::OkStatus();
  auto corrupt = [&key] {
    return absl::DataLossError(fmt::format(
        "__consumer_offsets record for group '{}' with a malformed value", key.group()));
  };
  switch (key.type()) {
    case v1::GroupRecordKey::OFFSET: {
      TopicPartition tp{key.topic(), key.partition()};
      if (!record.value) {
        if (auto g = groups_.find(key.group()); g != groups_.end()) g->second.offsets.erase(tp);
        return absl::OkStatus();
      }
      v1::OffsetRecord value;
      if (!value.ParseFromString(*record.value)) return corrupt();
      Group& group = groups_[key.group()];
      if (group.assignor.empty()) group.assignor = limits_.default_assignor;
      group.offsets[tp] = {value.offset(), value.metadata(), value.commit_time_ms()};
      return absl::OkStatus();
    }
    case v1::GroupRecordKey::GROUP: {
      if (!record.value) {
        groups_.erase(key.group());
        return absl::OkStatus();
      }
      v1::GroupRecord value;
      if (!value.ParseFromString(*record.value)) return corrupt();
      Group& group = groups_[key.group()];
      group.group_epoch = value.group_epoch();
      // Targets are written in the same batch as the epoch that produced them.
      group.assignment_epoch = value.group_epoch();
      group.assignor = value.assignor();
      group.created_ms = value.created_ms();
      return absl::OkStatus();
    }
    case v1::GroupRecordKey::MEMBER: {
      if (!record.value) {
        if (auto g = groups_.find(key.group()); g != groups_.end()) {
          g->second.members.erase(key.member_id());
        }
        return absl::OkStatus();
      }
      v1::MemberRecord value;
      if (!value.ParseFromString(*record.value)) return corrupt();
      Group& group = groups_[key.group()];
      if (group.assignor.empty()) group.assignor = limits_.default_assignor;
      Member& m = group.members[key.member_id()];
      m.instance_id = value.instance_id();
      m.client_id = value.client_id();
      m.subscribed_topics.assign(value.subscribed_topics().begin(),
                                 value.subscribed_topics().end());
      m.subscribed_regex = value.subscribed_regex();
      m.rebalance_timeout_ms = value.rebalance_timeout_ms();
      m.member_epoch = value.member_epoch();
      m.previous_member_epoch = value.previous_member_epoch();
      m.assigned = FromProto(value.assigned());
      m.revoking = FromProto(value.revoking());
      m.target = FromProto(value.target());
      m.left_static = value.left_static();
      // A loaded member gets a full session (and revocation window) from now.
      m.last_heartbeat_ms = now_ms;
      m.revoke_deadline_ms = now_ms + m.rebalance_timeout_ms;
      return absl::OkStatus();
    }
    case v1::GroupRecordKey::CLASSIC_GROUP: {
      if (!record.value) {
        if (auto g = groups_.find(key.group()); g != groups_.end()) {
          g->second.classic = ClassicGroup();
        }
        return absl::OkStatus();
      }
      v1::ClassicGroupRecord value;
      if (!value.ParseFromString(*record.value)) return corrupt();
      Group& group = groups_[key.group()];
      if (group.assignor.empty()) group.assignor = limits_.default_assignor;
      group.classic.Load(value, now_ms);
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

void GroupStore::PersistClassic(const std::string& group_id, Group& group,
                                std::vector<GroupLogRecord>* out) {
  if (!group.classic.TakeDirty()) return;
  out->push_back({KeyBytes(v1::GroupRecordKey::CLASSIC_GROUP, group_id),
                  group.classic.ToRecord().SerializeAsString()});
}

std::optional<ClassicJoinResult> GroupStore::JoinGroup(
    const std::string& group_id, const ClassicJoinRequest& request, int64_t now_ms,
    const std::function<std::string()>& new_member_id, ClassicCompletions* done,
    std::vector<GroupLogRecord>* out) {
  auto fail = [&](absl::Status status) {
    return ClassicJoinResult::Failed(std::move(status), request.member_id);
  };
  if (auto s = ValidateGroupId(group_id); !s.ok()) return fail(s);
  if (auto g = groups_.find(group_id); g != groups_.end() && !g->second.members.empty()) {
    return fail(ApiError(v1::INCONSISTENT_GROUP_PROTOCOL,
                         fmt::format("group '{}' has members of the native consumer protocol",
                                     group_id)));
  }
  Group& group = GetOrCreate(group_id, now_ms, out);
  auto result = group.classic.Join(request, limits_.classic, now_ms, new_member_id, done);
  PersistClassic(group_id, group, out);
  return result;
}

std::optional<ClassicSyncResult> GroupStore::SyncGroup(const std::string& group_id,
                                                       const ClassicSyncRequest& request,
                                                       int64_t now_ms, ClassicCompletions* done,
                                                       std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return ClassicSyncResult::Failed(s);
  auto g = groups_.find(group_id);
  if (g == groups_.end()) {
    return ClassicSyncResult::Failed(ApiError(v1::UNKNOWN_MEMBER_ID,
                                      fmt::format("'{}' is not a member of group '{}'",
                                                  request.member_id, group_id)));
  }
  auto result = g->second.classic.Sync(request, now_ms, done);
  PersistClassic(group_id, g->second, out);
  return result;
}

absl::Status GroupStore::ClassicHeartbeat(const std::string& group_id,
                                          const std::string& member_id, int32_t generation,
                                          int64_t now_ms) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  auto g = groups_.find(group_id);
  if (g == groups_.end()) {
    return ApiError(v1::UNKNOWN_MEMBER_ID,
                    fmt::format("'{}' is not a member of group '{}'", member_id, group_id));
  }
  return g->second.classic.Heartbeat(member_id, generation, now_ms);
}

absl::Status GroupStore::LeaveGroup(const std::string& group_id, const std::string& member_id,
                                    int64_t now_ms, ClassicCompletions* done,
                                    std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  auto g = groups_.find(group_id);
  if (g == groups_.end()) {
    return ApiError(v1::UNKNOWN_MEMBER_ID,
                    fmt::format("'{}' is not a member of group '{}'", member_id, group_id));
  }
  absl::Status status = g->second.classic.Leave(member_id, now_ms, done);
  PersistClassic(group_id, g->second, out);
  return status;
}

GroupStore::Group& GroupStore::GetOrCreate(const std::string& group_id, int64_t now_ms,
                                           std::vector<GroupLogRecord>* out) {
  auto it = groups_.find(group_id);
  if (it != groups_.end()) return it->second;
  Group& group = groups_[group_id];
  group.assignor = limits_.default_assignor;
  group.created_ms = now_ms;
  out->push_back(GroupRecordOf(group_id, group));
  return group;
}

std::set<std::string> GroupStore::ResolveSubscription(const Member& member,
                                                      const TopicCatalog& topics) const {
  std::set<std::string> out;
  for (const auto& t : member.subscribed_topics) {
    if (topics.count(t) > 0) out.insert(t);
  }
  if (!member.subscribed_regex.empty()) {
    RE2 pattern(member.subscribed_regex, RE2::Quiet);
    if (pattern.ok()) {
      for (const auto& [name, count] : topics) {
        // Internal topics are never matched by a pattern, as in Kafka.
        if (name.rfind("__", 0) == 0) continue;
        if (RE2::FullMatch(name, pattern)) out.insert(name);
      }
    }
  }
  return out;
}

TopicCatalog GroupStore::SubscribedTopics(const Group& group, const TopicCatalog& topics) const {
  TopicCatalog out;
  for (const auto& [id, m] : group.members) {
    for (const auto& t : ResolveSubscription(m, topics)) out[t] = topics.at(t);
  }
  return out;
}

void GroupStore::MaybeRetarget(const std::string& group_id, Group& group,
                               const TopicCatalog& topics, std::vector<GroupLogRecord>* out) {
  const TopicCatalog subscribed = SubscribedTopics(group, topics);
  if (group.assignment_epoch == group.group_epoch && subscribed == group.subscribed_metadata) {
    return;
  }
  std::vector<AssignorMember> members;
  for (const auto& [id, m] : group.members) {
    members.push_back({id, ResolveSubscription(m, topics), m.target});
  }
  auto target = ComputeAssignment(group.assignor, members, subscribed);
  if (!target.ok()) {
    // The assignor name comes from our own records; fall back rather than stall the group.
    target = ComputeAssignment("uniform", members, subscribed);
  }
  bool changed = false;
  for (auto& [id, m] : group.members) {
    if ((*target)[id] != m.target) changed = true;
  }
  group.subscribed_metadata = subscribed;
  if (!changed && group.assignment_epoch == group.group_epoch) return;
  if (group.assignment_epoch == group.group_epoch) {
    // Topics grew or appeared under the same membership: that is a new epoch too.
    ++group.group_epoch;
    out->push_back(GroupRecordOf(group_id, group));
  }
  for (auto& [id, m] : group.members) {
    PartitionSet next = (*target)[id];
    if (next != m.target) {
      m.target = std::move(next);
      out->push_back(MemberRecordOf(group_id, id, m));
    }
  }
  group.assignment_epoch = group.group_epoch;
}

void GroupStore::Reconcile(const std::string& group_id, Group& group, const std::string& member_id,
                           const PartitionSet& owned, bool owned_known, int64_t now_ms,
                           std::vector<GroupLogRecord>* out) {
  Member& m = group.members.at(member_id);
  bool changed = false;
  if (!m.revoking.empty() && owned_known && !Intersects(m.revoking, owned)) {
    m.revoking.clear();
    changed = true;
  }
  PartitionSet revoke = Minus(m.assigned, m.target);
  if (!revoke.empty()) {
    for (const auto& tp : revoke) {
      m.assigned.erase(tp);
      m.revoking.insert(tp);
    }
    m.revoke_deadline_ms = now_ms + m.rebalance_timeout_ms;
    changed = true;
  }
  if (m.revoking.empty()) {
    if (m.member_epoch != group.assignment_epoch) {
      m.previous_member_epoch = m.member_epoch;
      m.member_epoch = group.assignment_epoch;
      changed = true;
    }
    for (const auto& tp : Minus(m.target, m.assigned)) {
      bool held = false;
      for (const auto& [other_id, other] : group.members) {
        if (other_id != member_id && (other.assigned.count(tp) || other.revoking.count(tp))) {
          held = true;
          break;
        }
      }
      if (!held) {
        m.assigned.insert(tp);
        changed = true;
      }
    }
  }
  if (changed) out->push_back(MemberRecordOf(group_id, member_id, m));
}

void GroupStore::RemoveMember(const std::string& group_id, Group& group,
                              const std::string& member_id, std::vector<GroupLogRecord>* out) {
  group.members.erase(member_id);
  out->push_back({KeyBytes(v1::GroupRecordKey::MEMBER, group_id, "", 0, member_id), std::nullopt});
  ++group.group_epoch;
  out->push_back(GroupRecordOf(group_id, group));
}

absl::StatusOr<HeartbeatResponse> GroupStore::Heartbeat(
    const HeartbeatRequest& req, const TopicCatalog& topics, int64_t now_ms,
    const std::function<std::string()>& new_member_id, std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(req.group_id); !s.ok()) return s;
  HeartbeatResponse response;
  response.heartbeat_interval_ms = limits_.heartbeat_interval_ms;

  if (req.member_epoch == kLeaveEpoch || req.member_epoch == kStaticLeaveEpoch) {
    auto g = groups_.find(req.group_id);
    if (g == groups_.end() || g->second.members.count(req.member_id) == 0) {
      return ApiError(v1::UNKNOWN_MEMBER_ID, fmt::format("'{}' is not a member of group '{}'",
                                                         req.member_id, req.group_id));
    }
    Group& group = g->second;
    Member& m = group.members.at(req.member_id);
    response.member_id = req.member_id;
    response.member_epoch = req.member_epoch;
    if (req.member_epoch == kStaticLeaveEpoch && !m.instance_id.empty()) {
      // Keeps its partitions for a session, so a restarting instance resumes them.
      m.left_static = true;
      m.last_heartbeat_ms = now_ms;
      out->push_back(MemberRecordOf(req.group_id, req.member_id, m));
      return response;
    }
    RemoveMember(req.group_id, group, req.member_id, out);
    MaybeRetarget(req.group_id, group, topics, out);
    return response;
  }

  if (req.member_epoch == 0) {
    if (req.subscribed_topics.empty() && req.subscribed_regex.empty()) {
      return ApiError(v1::INVALID_REQUEST, "a joining member subscribes to topics or a pattern");
    }
  }
  if (req.subscribed_topics.size() > limits_.max_subscribed_topics) {
    return ApiError(v1::INVALID_REQUEST,
                    fmt::format("{} subscribed topics exceed the limit of {}",
                                req.subscribed_topics.size(), limits_.max_subscribed_topics));
  }
  if (!req.subscribed_regex.empty()) {
    RE2 pattern(req.subscribed_regex, RE2::Quiet);
    if (!pattern.ok()) {
      return ApiError(v1::INVALID_REQUEST,
                      fmt::format("bad subscription pattern: {}", pattern.error()));
    }
  }
  if (req.rebalance_timeout_ms < 0 || req.rebalance_timeout_ms > limits_.max_rebalance_timeout_ms) {
    return ApiError(v1::INVALID_REQUEST,
                    fmt::format("rebalance timeout {} ms is outside 0..{}",
                                req.rebalance_timeout_ms, limits_.max_rebalance_timeout_ms));
  }
  const int32_t rebalance_timeout = req.rebalance_timeout_ms > 0
                                        ? req.rebalance_timeout_ms
                                        : limits_.default_rebalance_timeout_ms;

  std::string member_id = req.member_id;
  if (req.member_epoch == 0) {
    if (auto g = groups_.find(req.group_id); g != groups_.end() && IsClassic(g->second)) {
      return ApiError(v1::INCONSISTENT_GROUP_PROTOCOL,
                      fmt::format("group '{}' has members of Kafka's classic protocol",
                                  req.group_id));
    }
    Group& group = GetOrCreate(req.group_id, now_ms, out);
    Member joined;
    if (!member_id.empty() && group.members.count(member_id) > 0) {
      // A member starting over (after being fenced): its old incarnation goes.
      RemoveMember(req.group_id, group, member_id, out);
    }
    if (!req.instance_id.empty()) {
      for (auto& [id, m] : group.members) {
        if (m.instance_id != req.instance_id) continue;
        if (!m.left_static) {
          return ApiError(v1::UNRELEASED_INSTANCE_ID, fmt::format("instance '{}' is still held by "
                                                                  "member '{}'",
                                                                  req.instance_id, id));
        }
        // The restarted instance takes over its partitions under a new member id.
        joined = m;
        joined.left_static = false;
        const std::string old_id = id;
        group.members.erase(old_id);
        out->push_back(
            {KeyBytes(v1::GroupRecordKey::MEMBER, req.group_id, "", 0, old_id), std::nullopt});
        break;
      }
    }
    if (group.members.size() >= limits_.max_members) {
      return ApiError(v1::INVALID_REQUEST, fmt::format("group '{}' is full ({} members)",
                                                       req.group_id, limits_.max_members));
    }
    member_id = new_member_id();
    const bool takeover = !joined.instance_id.empty();
    const bool same_subscription = takeover && joined.subscribed_topics == req.subscribed_topics &&
                                   joined.subscribed_regex == req.subscribed_regex;
    joined.instance_id = req.instance_id;
    joined.client_id = req.client_id;
    joined.subscribed_topics = req.subscribed_topics;
    joined.subscribed_regex = req.subscribed_regex;
    joined.rebalance_timeout_ms = rebalance_timeout;
    joined.last_heartbeat_ms = now_ms;
    group.members[member_id] = joined;
    if (!same_subscription) {
      ++group.group_epoch;
      out->push_back(GroupRecordOf(req.group_id, group));
    }
    out->push_back(MemberRecordOf(req.group_id, member_id, group.members[member_id]));
    MaybeRetarget(req.group_id, group, topics, out);
    // A fresh member owns nothing yet; a static takeover owns what its predecessor did.
    Reconcile(req.group_id, group, member_id, group.members[member_id].assigned, true, now_ms, out);
  } else {
    auto g = groups_.find(req.group_id);
    if (g == groups_.end() || g->second.members.count(member_id) == 0) {
      return ApiError(v1::UNKNOWN_MEMBER_ID,
                      fmt::format("'{}' is not a member of group '{}'", member_id, req.group_id));
    }
    Group& group = g->second;
    Member& m = group.members.at(member_id);
    const bool current = req.member_epoch == m.member_epoch;
    // The answer carrying the current epoch may have been lost: the previous epoch is
    // accepted while the member owns nothing it should not.
    const bool previous = req.member_epoch == m.previous_member_epoch &&
                          Minus(req.owned,
                                [&] {
                                  PartitionSet allowed = m.assigned;
                                  allowed.insert(m.revoking.begin(), m.revoking.end());
                                  return allowed;
                                }())
                              .empty();
    if (m.left_static || (!current && !previous)) {
      return ApiError(v1::FENCED_MEMBER_EPOCH,
                      fmt::format("member '{}' sent epoch {}, its epoch is {}", member_id,
                                  req.member_epoch, m.member_epoch));
    }
    m.last_heartbeat_ms = now_ms;
    m.client_id = req.client_id;
    if (m.subscribed_topics != req.subscribed_topics ||
        m.subscribed_regex != req.subscribed_regex || m.rebalance_timeout_ms != rebalance_timeout) {
      const bool resubscribed = m.subscribed_topics != req.subscribed_topics ||
                                m.subscribed_regex != req.subscribed_regex;
      m.subscribed_topics = req.subscribed_topics;
      m.subscribed_regex = req.subscribed_regex;
      m.rebalance_timeout_ms = rebalance_timeout;
      if (resubscribed) {
        ++group.group_epoch;
        out->push_back(GroupRecordOf(req.group_id, group));
      }
      out->push_back(MemberRecordOf(req.group_id, member_id, m));
    }
    MaybeRetarget(req.group_id, group, topics, out);
    Reconcile(req.group_id, group, member_id, req.owned, true, now_ms, out);
  }
  const Member& m = groups_.at(req.group_id).members.at(member_id);
  response.member_id = member_id;
  response.member_epoch = m.member_epoch;
  response.assignment = m.assigned;
  if (m.assigned != m.target || !m.revoking.empty()) {
    response.heartbeat_interval_ms =
        std::min(limits_.heartbeat_interval_ms, limits_.reconciling_heartbeat_interval_ms);
  }
  return response;
}

absl::Status GroupStore::CommitOffsets(const std::string& group_id, const std::string& member_id,
                                       int32_t member_epoch,
                                       const std::vector<OffsetCommit>& commits,
                                       const TopicCatalog& topics, int64_t now_ms,
                                       std::vector<absl::Status>* results,
                                       std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  auto g = groups_.find(group_id);
  const Member* member = nullptr;
  if (g != groups_.end() && IsClassic(g->second)) {
    if (auto s = g->second.classic.CheckCommit(member_id, member_epoch); !s.ok()) return s;
  } else if (member_id.empty()) {
    // A consumer that assigns its own partitions: allowed while no member manages the group.
    if (g != groups_.end() && !g->second.members.empty()) {
      return ApiError(v1::UNKNOWN_MEMBER_ID, fmt::format("group '{}' has active members; only they "
                                                         "commit its offsets",
                                                         group_id));
    }
  } else {
    if (g == groups_.end() || g->second.members.count(member_id) == 0) {
      return ApiError(v1::UNKNOWN_MEMBER_ID,
                      fmt::format("'{}' is not a member of group '{}'", member_id, group_id));
    }
    member = &g->second.members.at(member_id);
    if (member->left_static || member_epoch > member->member_epoch) {
      return ApiError(v1::FENCED_MEMBER_EPOCH,
                      fmt::format("member '{}' committed with epoch {}, its "
                                  "epoch is {}",
                                  member_id, member_epoch, member->member_epoch));
    }
    if (member_epoch < member->member_epoch) {
      return ApiError(v1::STALE_MEMBER_EPOCH,
                      fmt::format("member '{}' committed with epoch {}, its "
                                  "epoch is {}",
                                  member_id, member_epoch, member->member_epoch));
    }
  }
  results->clear();
  std::vector<std::pair<TopicPartition, CommittedOffset>> valid;
  for (const auto& c : commits) {
    const TopicPartition& tp = c.partition;
    auto t = topics.find(tp.topic);
    absl::Status s;
    if (t == topics.end()) {
      s = ApiError(v1::UNKNOWN_TOPIC, fmt::format("topic '{}' does not exist", tp.topic));
    } else if (tp.partition < 0 || tp.partition >= t->second) {
      s = ApiError(v1::UNKNOWN_PARTITION, fmt::format("topic '{}' has {} partitions, not {}",
                                                      tp.topic, t->second, tp.partition));
    } else if (c.offset < 0) {
      s = ApiError(v1::INVALID_OFFSET, fmt::format("cannot commit offset {}", c.offset));
    } else if (c.metadata.size() > limits_.max_metadata_bytes) {
      s = ApiError(v1::OFFSET_METADATA_TOO_LARGE,
                   fmt::format("{} bytes of metadata, the limit is {}", c.metadata.size(),
                               limits_.max_metadata_bytes));
    } else if (member != nullptr && member->assigned.count(tp) == 0 &&
               member->revoking.count(tp) == 0) {
      s = ApiError(v1::NOT_ASSIGNED, fmt::format("member '{}' does not own {}-{}", member_id,
                                                 tp.topic, tp.partition));
    }
    results->push_back(s);
    if (s.ok()) valid.push_back({tp, {c.offset, c.metadata, now_ms}});
  }
  if (valid.empty()) return absl::OkStatus();
  Group& group = GetOrCreate(group_id, now_ms, out);
  for (const auto& [tp, offset] : valid) {
    group.offsets[tp] = offset;
    out->push_back(OffsetRecordOf(group_id, tp, offset));
  }
  return absl::OkStatus();
}

std::map<TopicPartition, CommittedOffset> GroupStore::FetchOffsets(
    const std::string& group_id, const PartitionSet& partitions) const {
  std::map<TopicPartition, CommittedOffset> out;
  auto g = groups_.find(group_id);
  if (partitions.empty()) {
    if (g != groups_.end()) out = g->second.offsets;
    return out;
  }
  for (const auto& tp : partitions) {
    CommittedOffset offset;
    if (g != groups_.end()) {
      if (auto it = g->second.offsets.find(tp); it != g->second.offsets.end()) {
        offset = it->second;
      }
    }
    out[tp] = offset;
  }
  return out;
}

absl::Status GroupStore::NotEmpty(const std::string& group_id, const Group& group,
                                  std::string_view advice) {
  return ApiError(v1::GROUP_NOT_EMPTY,
                  fmt::format("group '{}' has {} active members{}", group_id,
                              group.members.size() + group.classic.size(), advice));
}

const char* GroupStore::TypeOf(const Group& group) {
  // An empty group keeps the kind it last had (a classic one has had a generation).
  if (!group.members.empty()) return "consumer";
  return IsClassic(group) || group.classic.generation() > 0 ? "classic" : "consumer";
}

std::string GroupStore::StateOf(const Group& group) {
  if (std::string_view(TypeOf(group)) == "classic") {
    return ClassicGroup::StateName(group.classic.state());
  }
  if (group.members.empty()) return "empty";
  for (const auto& [id, m] : group.members) {
    if (m.assigned != m.target || !m.revoking.empty() || m.member_epoch != group.assignment_epoch) {
      return "reconciling";
    }
  }
  return "stable";
}

absl::StatusOr<GroupDescription> GroupStore::Describe(const std::string& group_id) const {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  auto g = groups_.find(group_id);
  if (g == groups_.end()) {
    return ApiError(v1::GROUP_NOT_FOUND, fmt::format("no group '{}'", group_id));
  }
  const Group& group = g->second;
  GroupDescription d;
  d.group_id = group_id;
  d.state = StateOf(group);
  d.offsets = group.offsets;
  d.type = TypeOf(group);
  if (d.type == "classic") {
    d.group_epoch = group.classic.generation();
    d.protocol_type = group.classic.protocol_type();
    d.protocol = group.classic.protocol();
    d.assignor = d.protocol;
    for (const ClassicMemberView& m : group.classic.Members()) {
      MemberDescription md;
      md.member_id = m.member_id;
      md.instance_id = m.instance_id;
      md.client_id = m.client_id;
      md.client_host = m.client_host;
      md.member_epoch = d.group_epoch;
      md.metadata = m.metadata;
      md.assignment_bytes = m.assignment;
      if (d.protocol_type == "consumer") {
        if (auto topics = DecodeConsumerSubscription(m.metadata); topics.ok()) {
          md.subscribed_topics = *topics;
        }
        if (auto assigned = DecodeConsumerAssignment(m.assignment); assigned.ok()) {
          md.assigned = *assigned;
        }
      }
      d.members.push_back(std::move(md));
    }
    return d;
  }
  d.group_epoch = group.group_epoch;
  d.assignor = group.assignor;
  for (const auto& [id, m] : group.members) {
    MemberDescription md;
    md.member_id = id;
    md.instance_id = m.instance_id;
    md.client_id = m.client_id;
    md.member_epoch = m.member_epoch;
    md.subscribed_topics = m.subscribed_topics;
    md.subscribed_regex = m.subscribed_regex;
    md.assigned = m.assigned;
    md.pending = Minus(m.target, m.assigned);
    d.members.push_back(std::move(md));
  }
  return d;
}

std::vector<std::pair<std::string, GroupDescription>> GroupStore::ListGroups() const {
  std::vector<std::pair<std::string, GroupDescription>> out;
  for (const auto& [id, group] : groups_) {
    GroupDescription d;
    d.group_id = id;
    d.state = StateOf(group);
    d.type = TypeOf(group);
    d.group_epoch = d.type == "classic" ? group.classic.generation() : group.group_epoch;
    d.assignor = d.type == "classic" ? group.classic.protocol() : group.assignor;
    d.protocol_type = group.classic.protocol_type();
    d.members.resize(IsClassic(group) ? group.classic.size() : group.members.size());
    out.emplace_back(id, std::move(d));
  }
  return out;
}

absl::Status GroupStore::DeleteGroup(const std::string& group_id,
                                     std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  auto g = groups_.find(group_id);
  if (g == groups_.end()) {
    return ApiError(v1::GROUP_NOT_FOUND, fmt::format("no group '{}'", group_id));
  }
  if (HasMembers(g->second)) return NotEmpty(group_id, g->second, "");
  for (const auto& [tp, offset] : g->second.offsets) {
    out->push_back(
        {KeyBytes(v1::GroupRecordKey::OFFSET, group_id, tp.topic, tp.partition), std::nullopt});
  }
  out->push_back({KeyBytes(v1::GroupRecordKey::CLASSIC_GROUP, group_id), std::nullopt});
  out->push_back({KeyBytes(v1::GroupRecordKey::GROUP, group_id), std::nullopt});
  groups_.erase(g);
  return absl::OkStatus();
}

absl::Status GroupStore::ResetOffsets(const std::string& group_id,
                                      const std::map<TopicPartition, int64_t>& offsets,
                                      int64_t now_ms, std::vector<GroupLogRecord>* out) {
  if (auto s = ValidateGroupId(group_id); !s.ok()) return s;
  if (auto g = groups_.find(group_id); g != groups_.end() && HasMembers(g->second)) {
    return NotEmpty(group_id, g->second, "; stop them before resetting its offsets");
  }
  for (const auto& [tp, offset] : offsets) {
    if (offset < 0) {
      return ApiError(v1::INVALID_OFFSET, fmt::format("cannot reset to offset {}", offset));
    }
  }
  Group& group = GetOrCreate(group_id, now_ms, out);
  for (const auto& [tp, offset] : offsets) {
    CommittedOffset committed{offset, "", now_ms};
    if (auto it = group.offsets.find(tp); it != group.offsets.end()) {
      committed.metadata = it->second.metadata;
    }
    group.offsets[tp] = committed;
    out->push_back(OffsetRecordOf(group_id, tp, committed));
  }
  return absl::OkStatus();
}

void GroupStore::ExpireSessions(const std::function<TopicCatalog()>& topics, int64_t now_ms,
                                std::map<std::string, ClassicCompletions>* released,
                                std::vector<GroupLogRecord>* out) {
  std::optional<TopicCatalog> catalog;
  std::vector<std::string> emptied;
  for (auto& [group_id, group] : groups_) {
    std::vector<std::string> expired;
    for (const auto& [id, m] : group.members) {
      const bool session_over = now_ms - m.last_heartbeat_ms > limits_.session_timeout_ms;
      const bool revocation_over = !m.revoking.empty() && now_ms > m.revoke_deadline_ms;
      if (session_over || revocation_over) expired.push_back(id);
    }
    for (const auto& id : expired) RemoveMember(group_id, group, id, out);
    if (!expired.empty()) {
      if (!catalog) catalog = topics();
      MaybeRetarget(group_id, group, *catalog, out);
    }
    ClassicCompletions done;
    group.classic.Tick(now_ms, &done);
    if (!done.joins.empty() || !done.syncs.empty()) (*released)[group_id] = std::move(done);
    PersistClassic(group_id, group, out);
    if (!HasMembers(group) && group.classic.state() == ClassicGroup::State::kEmpty) {
      bool expired_offsets = limits_.offsets_retention_ms > 0;
      for (const auto& [tp, offset] : group.offsets) {
        if (now_ms - offset.commit_time_ms <= limits_.offsets_retention_ms) {
          expired_offsets = false;
          break;
        }
      }
      if (group.offsets.empty() || expired_offsets) emptied.push_back(group_id);
    }
  }
  for (const auto& group_id : emptied) (void)DeleteGroup(group_id, out);
}

}  // namespace rill::groups
