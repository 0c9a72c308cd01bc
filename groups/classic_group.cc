#include "groups/classic_group.h"

#include <algorithm>

#include "api/error.h"
#include "fmt/format.h"

namespace rill::groups {
namespace {

using api::ApiError;

bool SameProtocols(const std::vector<ClassicProtocol>& a, const std::vector<ClassicProtocol>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const ClassicProtocol& x, const ClassicProtocol& y) {
                      return x.name == y.name && x.metadata == y.metadata;
                    });
}

}  // namespace

const char* ClassicGroup::StateName(State state) {
  switch (state) {
    case State::kEmpty:
      return "Empty";
    case State::kPreparingRebalance:
      return "PreparingRebalance";
    case State::kCompletingRebalance:
      return "CompletingRebalance";
    case State::kStable:
      return "Stable";
  }
  return "Unknown";
}

bool ClassicGroup::SupportsProtocols(const std::string& protocol_type,
                                     const std::vector<ClassicProtocol>& protocols) const {
  if (protocol_type.empty() || protocols.empty()) return false;
  if (members_.empty()) return true;
  if (protocol_type != protocol_type_) return false;
  return std::any_of(protocols.begin(), protocols.end(), [&](const ClassicProtocol& p) {
    return std::all_of(members_.begin(), members_.end(), [&](const auto& entry) {
      return MetadataFor(entry.second, p.name) != nullptr;
    });
  });
}

const std::string* ClassicGroup::MetadataFor(const Member& member,
                                             const std::string& protocol) const {
  for (const auto& p : member.protocols) {
    if (p.name == protocol) return &p.metadata;
  }
  return nullptr;
}

std::string ClassicGroup::SelectProtocol() const {
  // Each member votes for its most preferred protocol among those every member supports.
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members_) {
    for (const auto& p : m.protocols) {
      const bool everyone = std::all_of(members_.begin(), members_.end(), [&](const auto& other) {
        return MetadataFor(other.second, p.name) != nullptr;
      });
      if (everyone) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best;
  int best_votes = 0;
  for (const auto& [name, count] : votes) {
    if (count > best_votes) {
      best = name;
      best_votes = count;
    }
  }
  return best;
}

ClassicJoinResult ClassicGroup::ResultFor(const std::string& member_id) const {
  ClassicJoinResult result;
  result.generation = generation_;
  result.protocol_type = protocol_type_;
  result.protocol_name = protocol_;
  result.leader = leader_;
  result.member_id = member_id;
  if (member_id == leader_) {
    for (const auto& [id, m] : members_) {
      const std::string* metadata = MetadataFor(m, protocol_);
      result.members.push_back({id, m.instance_id, metadata ? *metadata : std::string()});
    }
  }
  return result;
}

void ClassicGroup::AddMember(const std::string& member_id, const ClassicJoinRequest& request,
                             int32_t rebalance_timeout, int64_t now_ms) {
  if (members_.empty()) protocol_type_ = request.protocol_type;
  Member& m = members_[member_id];
  m.instance_id = request.instance_id;
  m.client_id = request.client_id;
  m.client_host = request.client_host;
  m.session_timeout_ms = request.session_timeout_ms;
  m.rebalance_timeout_ms = rebalance_timeout;
  m.protocols = request.protocols;
  m.last_heartbeat_ms = now_ms;
  m.awaiting_join = true;
  m.joined_seq = next_seq_++;
}

std::optional<ClassicJoinResult> ClassicGroup::Join(
    const ClassicJoinRequest& request, const ClassicLimits& limits, int64_t now_ms,
    const std::function<std::string()>& new_member_id, ClassicCompletions* done) {
  auto fail = [&](absl::Status status) {
    return ClassicJoinResult::Failed(std::move(status), request.member_id);
  };
  if (request.session_timeout_ms < limits.min_session_timeout_ms ||
      request.session_timeout_ms > limits.max_session_timeout_ms) {
    return fail(ApiError(v1::INVALID_SESSION_TIMEOUT,
                         fmt::format("session timeout {} ms is outside {}..{}",
                                     request.session_timeout_ms, limits.min_session_timeout_ms,
                                     limits.max_session_timeout_ms)));
  }
  const int32_t rebalance_timeout = request.rebalance_timeout_ms > 0
                                        ? request.rebalance_timeout_ms
                                        : request.session_timeout_ms;
  if (rebalance_timeout > limits.max_rebalance_timeout_ms) {
    return fail(ApiError(v1::INVALID_REQUEST,
                         fmt::format("rebalance timeout {} ms is over the limit of {}",
                                     rebalance_timeout, limits.max_rebalance_timeout_ms)));
  }
  if (request.protocols.size() > limits.max_protocols) {
    return fail(ApiError(v1::INVALID_REQUEST,
                         fmt::format("{} protocols exceed the limit of {}",
                                     request.protocols.size(), limits.max_protocols)));
  }
  size_t metadata_bytes = 0;
  for (const auto& p : request.protocols) metadata_bytes += p.name.size() + p.metadata.size();
  if (metadata_bytes > limits.max_metadata_bytes) {
    return fail(ApiError(v1::INVALID_REQUEST,
                         fmt::format("{} bytes of protocol metadata exceed the limit of {}",
                                     metadata_bytes, limits.max_metadata_bytes)));
  }
  if (!SupportsProtocols(request.protocol_type, request.protocols)) {
    return fail(ApiError(v1::INCONSISTENT_GROUP_PROTOCOL,
                         members_.empty()
                             ? std::string("a member names a protocol type and protocols")
                             : fmt::format("the group's members speak protocol type '{}' and "
                                           "share none of the protocols offered",
                                           protocol_type_)));
  }
  std::string member_id = request.member_id;
  if (member_id.empty()) {
    if (members_.size() + pending_.size() >= limits.max_members) {
      return fail(ApiError(v1::GROUP_MAX_SIZE_REACHED,
                           fmt::format("the group has {} members, the limit", limits.max_members)));
    }
    member_id = new_member_id();
    if (request.require_known_member_id) {
      pending_[member_id] = now_ms + request.session_timeout_ms;
      ClassicJoinResult result;
      result.status = ApiError(v1::MEMBER_ID_REQUIRED, "join again with the member id given");
      result.member_id = member_id;
      return result;
    }
  } else if (pending_.erase(member_id) == 0 && members_.count(member_id) == 0) {
    return fail(ApiError(v1::UNKNOWN_MEMBER_ID,
                         fmt::format("'{}' is not a member of the group", member_id)));
  }

  auto existing = members_.find(member_id);
  if (existing == members_.end()) {
    const bool initial = state_ == State::kEmpty;
    AddMember(member_id, request, rebalance_timeout, now_ms);
    if (initial) {
      PrepareRebalance(now_ms, done, limits.initial_rebalance_delay_ms);
    } else if (state_ != State::kPreparingRebalance) {
      PrepareRebalance(now_ms, done, 0);
    } else if (initial_delay_ms_ > 0) {
      // Still gathering the first generation: wait a little longer for more members.
      join_not_before_ms_ = std::min(now_ms + initial_delay_ms_, rebalance_deadline_ms_);
    }
    MaybeCompleteJoin(now_ms, done);
    return std::nullopt;
  }

  Member& m = existing->second;
  const bool same = SameProtocols(m.protocols, request.protocols);
  m.client_id = request.client_id;
  m.client_host = request.client_host;
  m.session_timeout_ms = request.session_timeout_ms;
  m.rebalance_timeout_ms = rebalance_timeout;
  m.last_heartbeat_ms = now_ms;
  // A member rejoining with what it had (its answer was lost) gets the current generation;
  // the leader rejoining, or anyone with a new subscription, starts a rebalance.
  if (same && ((state_ == State::kCompletingRebalance) ||
               (state_ == State::kStable && member_id != leader_))) {
    return ResultFor(member_id);
  }
  m.protocols = request.protocols;
  m.awaiting_join = true;
  if (state_ != State::kPreparingRebalance) PrepareRebalance(now_ms, done, 0);
  MaybeCompleteJoin(now_ms, done);
  return std::nullopt;
}

void ClassicGroup::PrepareRebalance(int64_t now_ms, ClassicCompletions* done,
                                    int32_t initial_delay_ms) {
  if (state_ == State::kCompletingRebalance) {
    for (auto& [id, m] : members_) {
      m.assignment.clear();
      if (!m.awaiting_sync) continue;
      m.awaiting_sync = false;
      ClassicSyncResult result;
      result.status = ApiError(v1::REBALANCE_IN_PROGRESS, "the group is rebalancing: join again");
      done->syncs.emplace_back(id, std::move(result));
    }
  }
  state_ = State::kPreparingRebalance;
  int32_t timeout = 0;
  for (const auto& [id, m] : members_) timeout = std::max(timeout, m.rebalance_timeout_ms);
  rebalance_deadline_ms_ = now_ms + timeout;
  initial_delay_ms_ = initial_delay_ms;
  join_not_before_ms_ = std::min(now_ms + initial_delay_ms, rebalance_deadline_ms_);
}

void ClassicGroup::MaybeCompleteJoin(int64_t now_ms, ClassicCompletions* done) {
  if (state_ != State::kPreparingRebalance) return;
  const bool everyone = pending_.empty() &&
                        std::all_of(members_.begin(), members_.end(),
                                    [](const auto& entry) { return entry.second.awaiting_join; });
  if (now_ms < rebalance_deadline_ms_ && !(everyone && now_ms >= join_not_before_ms_)) return;
  // Members that did not join again in time are out.
  for (auto it = members_.begin(); it != members_.end();) {
    if (it->second.awaiting_join) {
      ++it;
      continue;
    }
    if (leader_ == it->first) leader_.clear();
    it = members_.erase(it);
  }
  ++generation_;
  initial_delay_ms_ = 0;
  if (members_.empty()) {
    // The protocol type stays, as in Kafka: an empty group still lists as "consumer".
    state_ = State::kEmpty;
    protocol_.clear();
    leader_.clear();
    dirty_ = true;
    return;
  }
  protocol_ = SelectProtocol();
  if (members_.count(leader_) == 0) {
    leader_ = std::min_element(members_.begin(), members_.end(), [](const auto& a, const auto& b) {
                return a.second.joined_seq < b.second.joined_seq;
              })->first;
  }
  state_ = State::kCompletingRebalance;
  int32_t timeout = 0;
  for (auto& [id, m] : members_) {
    m.awaiting_join = false;
    m.last_heartbeat_ms = now_ms;
    m.assignment.clear();
    timeout = std::max(timeout, m.rebalance_timeout_ms);
  }
  sync_deadline_ms_ = now_ms + timeout;
  for (const auto& [id, m] : members_) done->joins.emplace_back(id, ResultFor(id));
}

std::optional<ClassicSyncResult> ClassicGroup::Sync(const ClassicSyncRequest& request,
                                                    int64_t now_ms, ClassicCompletions* done) {
  auto fail = [](absl::Status status) { return ClassicSyncResult::Failed(std::move(status)); };
  auto it = members_.find(request.member_id);
  if (it == members_.end()) {
    return fail(ApiError(v1::UNKNOWN_MEMBER_ID,
                         fmt::format("'{}' is not a member of the group", request.member_id)));
  }
  if (request.generation != generation_) {
    return fail(ApiError(v1::ILLEGAL_GENERATION,
                         fmt::format("generation {} is not the group's, {}", request.generation,
                                     generation_)));
  }
  if ((request.protocol_type && *request.protocol_type != protocol_type_) ||
      (request.protocol_name && *request.protocol_name != protocol_)) {
    return fail(ApiError(v1::INCONSISTENT_GROUP_PROTOCOL,
                         fmt::format("the group uses protocol '{}' of type '{}'", protocol_,
                                     protocol_type_)));
  }
  Member& m = it->second;
  m.last_heartbeat_ms = now_ms;
  switch (state_) {
    case State::kPreparingRebalance:
      return fail(ApiError(v1::REBALANCE_IN_PROGRESS, "the group is rebalancing: join again"));
    case State::kStable:
      return ClassicSyncResult{absl::OkStatus(), protocol_type_, protocol_, m.assignment};
    case State::kEmpty:
      return fail(ApiError(v1::UNKNOWN_MEMBER_ID, "the group is empty"));
    case State::kCompletingRebalance:
      break;
  }
  m.awaiting_sync = true;
  if (request.member_id != leader_) return std::nullopt;
  for (const auto& [member_id, assignment] : request.assignments) {
    if (auto target = members_.find(member_id); target != members_.end()) {
      target->second.assignment = assignment;
    }
  }
  state_ = State::kStable;
  dirty_ = true;
  for (auto& [id, member] : members_) {
    if (!member.awaiting_sync) continue;
    member.awaiting_sync = false;
    done->syncs.emplace_back(
        id, ClassicSyncResult{absl::OkStatus(), protocol_type_, protocol_, member.assignment});
  }
  return std::nullopt;
}

absl::Status ClassicGroup::Heartbeat(const std::string& member_id, int32_t generation,
                                     int64_t now_ms) {
  if (pending_.count(member_id) > 0) return absl::OkStatus();
  auto it = members_.find(member_id);
  if (it == members_.end()) {
    return ApiError(v1::UNKNOWN_MEMBER_ID,
                    fmt::format("'{}' is not a member of the group", member_id));
  }
  if (generation != generation_) {
    return ApiError(v1::ILLEGAL_GENERATION,
                    fmt::format("generation {} is not the group's, {}", generation, generation_));
  }
  it->second.last_heartbeat_ms = now_ms;
  if (state_ == State::kPreparingRebalance) {
    return ApiError(v1::REBALANCE_IN_PROGRESS, "the group is rebalancing: join again");
  }
  return absl::OkStatus();
}

absl::Status ClassicGroup::Leave(const std::string& member_id, int64_t now_ms,
                                 ClassicCompletions* done) {
  if (pending_.erase(member_id) > 0) {
    MaybeCompleteJoin(now_ms, done);
    return absl::OkStatus();
  }
  if (members_.count(member_id) == 0) {
    return ApiError(v1::UNKNOWN_MEMBER_ID,
                    fmt::format("'{}' is not a member of the group", member_id));
  }
  RemoveMember(member_id, now_ms, done);
  return absl::OkStatus();
}

void ClassicGroup::RemoveMember(const std::string& member_id, int64_t now_ms,
                                ClassicCompletions* done) {
  auto it = members_.find(member_id);
  const absl::Status gone =
      ApiError(v1::UNKNOWN_MEMBER_ID, fmt::format("'{}' left the group", member_id));
  if (it->second.awaiting_join) {
    ClassicJoinResult result;
    result.status = gone;
    result.member_id = member_id;
    done->joins.emplace_back(member_id, std::move(result));
  }
  if (it->second.awaiting_sync) done->syncs.emplace_back(member_id, ClassicSyncResult::Failed(gone));
  members_.erase(it);
  if (leader_ == member_id) leader_.clear();
  if (state_ == State::kStable || state_ == State::kCompletingRebalance) {
    PrepareRebalance(now_ms, done, 0);
  }
  MaybeCompleteJoin(now_ms, done);
}

void ClassicGroup::Tick(int64_t now_ms, ClassicCompletions* done) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->second < now_ms ? pending_.erase(it) : std::next(it);
  }
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    const bool session_over = !m.awaiting_join && !m.awaiting_sync &&
                              now_ms - m.last_heartbeat_ms > m.session_timeout_ms;
    // A member that never sent SyncGroup within the rebalance timeout holds up the group.
    const bool sync_over =
        state_ == State::kCompletingRebalance && !m.awaiting_sync && now_ms > sync_deadline_ms_;
    if (session_over || sync_over) expired.push_back(id);
  }
  for (const auto& id : expired) {
    if (members_.count(id) > 0) RemoveMember(id, now_ms, done);
  }
  MaybeCompleteJoin(now_ms, done);
}

absl::Status ClassicGroup::CheckCommit(const std::string& member_id, int32_t generation) const {
  if (generation < 0 && member_id.empty() && state_ == State::kEmpty) return absl::OkStatus();
  if (state_ == State::kCompletingRebalance) {
    return ApiError(v1::REBALANCE_IN_PROGRESS,
                    "the group is assigning partitions: commit after joining again");
  }
  if (members_.count(member_id) == 0) {
    return ApiError(v1::UNKNOWN_MEMBER_ID,
                    member_id.empty()
                        ? std::string("the group has active members; only they commit its offsets")
                        : fmt::format("'{}' is not a member of the group", member_id));
  }
  if (generation != generation_) {
    return ApiError(v1::ILLEGAL_GENERATION,
                    fmt::format("generation {} is not the group's, {}", generation, generation_));
  }
  return absl::OkStatus();
}

std::vector<ClassicMemberView> ClassicGroup::Members() const {
  std::vector<ClassicMemberView> out;
  for (const auto& [id, m] : members_) {
    const std::string* metadata = MetadataFor(m, protocol_);
    out.push_back({id, m.instance_id, m.client_id, m.client_host,
                   metadata ? *metadata : std::string(), m.assignment});
  }
  return out;
}

v1::ClassicGroupRecord ClassicGroup::ToRecord() const {
  v1::ClassicGroupRecord record;
  record.set_generation(generation_);
  record.set_protocol_type(protocol_type_);
  record.set_protocol(protocol_);
  record.set_leader(leader_);
  for (const auto& [id, m] : members_) {
    auto* out = record.add_members();
    out->set_member_id(id);
    out->set_instance_id(m.instance_id);
    out->set_client_id(m.client_id);
    out->set_client_host(m.client_host);
    out->set_session_timeout_ms(m.session_timeout_ms);
    out->set_rebalance_timeout_ms(m.rebalance_timeout_ms);
    const std::string* metadata = MetadataFor(m, protocol_);
    out->set_metadata(metadata ? *metadata : std::string());
    out->set_assignment(m.assignment);
  }
  return record;
}

void ClassicGroup::Load(const v1::ClassicGroupRecord& record, int64_t now_ms) {
  *this = ClassicGroup();
  generation_ = record.generation();
  protocol_type_ = record.protocol_type();
  protocol_ = record.protocol();
  leader_ = record.leader();
  for (const auto& in : record.members()) {
    Member& m = members_[in.member_id()];
    m.instance_id = in.instance_id();
    m.client_id = in.client_id();
    m.client_host = in.client_host();
    m.session_timeout_ms = in.session_timeout_ms();
    m.rebalance_timeout_ms = in.rebalance_timeout_ms();
    m.protocols = {{protocol_, in.metadata()}};
    m.assignment = in.assignment();
    // A loaded member gets a full session from now.
    m.last_heartbeat_ms = now_ms;
    m.joined_seq = next_seq_++;
  }
  state_ = members_.empty() ? State::kEmpty : State::kStable;
}

}  // namespace rill::groups
