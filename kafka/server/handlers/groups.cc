// Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the group
// admin APIs (DescribeGroups, ListGroups, DeleteGroups), over the one group coordinator that
// also serves native groups. Join and Sync answers may be held by the coordinator until the
// rebalance moves on; the connection keeps answering in request order meanwhile.
#include <algorithm>
#include <cctype>
#include <memory>

#include "api/error.h"
#include "groups/consumer_protocol.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

constexpr char kConsumerProtocolType[] = "consumer";

// Kafka's names for the states of native groups, whose own are lower case.
std::string KafkaStateOf(const groups::GroupDescription& group) {
  if (group.type == "classic") return group.state;
  if (group.state == "empty") return "Empty";
  if (group.state == "stable") return "Stable";
  if (group.state == "reconciling") return "Reconciling";
  return group.state;
}

bool EqualsIgnoringCase(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

DescribedGroup Described(KafkaContext& context, const std::string& group_id) {
  DescribedGroup out;
  out.group_id = group_id;
  auto described = context.coordinator->Describe(group_id);
  if (!described.ok()) {
    if (api::ErrorCodeOf(described.status()) == v1::GROUP_NOT_FOUND) {
      // Kafka describes a group it does not know as Dead, without an error.
      out.group_state = "Dead";
    } else {
      out.error_code = ErrorCode(described.status());
    }
    return out;
  }
  out.group_state = KafkaStateOf(*described);
  if (described->type == "classic") {
    out.protocol_type = described->protocol_type;
    out.protocol_data = described->protocol;
  } else {
    out.protocol_type = described->members.empty() ? "" : kConsumerProtocolType;
    out.protocol_data = described->members.empty() ? "" : described->assignor;
  }
  for (const groups::MemberDescription& m : described->members) {
    DescribedGroupMember& member = out.members.emplace_back();
    member.member_id = m.member_id;
    if (!m.instance_id.empty()) member.group_instance_id = m.instance_id;
    member.client_id = m.client_id;
    member.client_host = m.client_host;
    if (described->type == "classic") {
      member.member_metadata = m.metadata;
      member.member_assignment = m.assignment_bytes;
    } else {
      // A native member described in the consumer protocol's terms, for Kafka's tools.
      member.member_metadata = groups::EncodeConsumerSubscription(m.subscribed_topics);
      member.member_assignment = groups::EncodeConsumerAssignment(m.assigned);
    }
  }
  return out;
}

}  // namespace

absl::Status JoinGroup(KafkaContext& context, const Request& request, WireReader& body,
                       Respond respond) {
  const int16_t version = request.header.api_version;
  JoinGroupRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  groups::ClassicJoinRequest join;
  join.member_id = in.member_id;
  join.instance_id = in.group_instance_id.value_or("");
  join.client_id = request.header.client_id.value_or("");
  join.client_host = "/" + request.client_host;
  join.session_timeout_ms = in.session_timeout_ms;
  join.rebalance_timeout_ms = version >= 1 ? in.rebalance_timeout_ms : -1;
  join.protocol_type = in.protocol_type;
  for (JoinGroupRequestProtocol& p : in.protocols) {
    join.protocols.push_back({std::move(p.name), std::move(p.metadata)});
  }
  join.require_known_member_id = version >= 4;
  context.coordinator->JoinGroup(
      in.group_id, join, [version, respond = std::move(respond)](groups::ClassicJoinResult r) {
        JoinGroupResponse out;
        out.error_code = ErrorCode(r.status);
        out.member_id = r.member_id;
        if (r.status.ok()) {
          out.generation_id = r.generation;
          out.protocol_type = r.protocol_type;
          out.protocol_name = r.protocol_name;
          out.leader = r.leader;
          for (groups::ClassicJoinMember& m : r.members) {
            JoinGroupResponseMember& member = out.members.emplace_back();
            member.member_id = std::move(m.member_id);
            if (!m.instance_id.empty()) member.group_instance_id = std::move(m.instance_id);
            member.metadata = std::move(m.metadata);
          }
        }
        respond(Encode(out, version));
      });
  return absl::OkStatus();
}

absl::Status SyncGroup(KafkaContext& context, const Request& request, WireReader& body,
                       Respond respond) {
  const int16_t version = request.header.api_version;
  SyncGroupRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  groups::ClassicSyncRequest sync;
  sync.member_id = in.member_id;
  sync.generation = in.generation_id;
  sync.protocol_type = in.protocol_type;
  sync.protocol_name = in.protocol_name;
  for (SyncGroupRequestAssignment& a : in.assignments) {
    sync.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
  }
  context.coordinator->SyncGroup(
      in.group_id, sync, [version, respond = std::move(respond)](groups::ClassicSyncResult r) {
        SyncGroupResponse out;
        out.error_code = ErrorCode(r.status);
        if (r.status.ok()) {
          out.protocol_type = r.protocol_type;
          out.protocol_name = r.protocol_name;
          out.assignment = std::move(r.assignment);
        }
        respond(Encode(out, version));
      });
  return absl::OkStatus();
}

absl::Status Heartbeat(KafkaContext& context, const Request& request, WireReader& body,
                       Respond respond) {
  const int16_t version = request.header.api_version;
  HeartbeatRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  HeartbeatResponse out;
  out.error_code =
      ErrorCode(context.coordinator->ClassicHeartbeat(in.group_id, in.member_id, in.generation_id));
  respond(Encode(out, version));
  return absl::OkStatus();
}

absl::Status LeaveGroup(KafkaContext& context, const Request& request, WireReader& body,
                        Respond respond) {
  const int16_t version = request.header.api_version;
  LeaveGroupRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  std::vector<std::string> member_ids;
  if (version < 3) {
    member_ids.push_back(in.member_id);
  } else {
    for (const MemberIdentity& m : in.members) member_ids.push_back(m.member_id);
  }
  // `in` moves into the callback: the group id is read first.
  const std::string group_id = in.group_id;
  context.coordinator->LeaveGroup(
      group_id, member_ids,
      [version, respond = std::move(respond), in = std::move(in)](
          absl::Status request_status, std::vector<absl::Status> results) {
        LeaveGroupResponse out;
        out.error_code = ErrorCode(request_status);
        if (version < 3) {
          if (out.error_code == 0 && !results.empty()) out.error_code = ErrorCode(results[0]);
        } else {
          for (size_t i = 0; i < in.members.size(); ++i) {
            MemberResponse& member = out.members.emplace_back();
            member.member_id = in.members[i].member_id;
            member.group_instance_id = in.members[i].group_instance_id;
            member.error_code = request_status.ok() && i < results.size()
                                    ? ErrorCode(results[i])
                                    : out.error_code;
          }
        }
        respond(Encode(out, version));
      });
  return absl::OkStatus();
}

absl::Status DescribeGroups(KafkaContext& context, const Request& request, WireReader& body,
                            Respond respond) {
  const int16_t version = request.header.api_version;
  DescribeGroupsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  DescribeGroupsResponse out;
  for (const std::string& group_id : in.groups) out.groups.push_back(Described(context, group_id));
  respond(Encode(out, version));
  return absl::OkStatus();
}

absl::Status ListGroups(KafkaContext& context, const Request& request, WireReader& body,
                        Respond respond) {
  const int16_t version = request.header.api_version;
  ListGroupsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  ListGroupsResponse out;
  for (const groups::GroupDescription& group : context.coordinator->List()) {
    const std::string state = KafkaStateOf(group);
    if (!in.states_filter.empty() &&
        std::none_of(in.states_filter.begin(), in.states_filter.end(),
                     [&](const std::string& wanted) { return EqualsIgnoringCase(wanted, state); })) {
      continue;
    }
    ListedGroup& listed = out.groups.emplace_back();
    listed.group_id = group.group_id;
    listed.protocol_type = group.type == "classic" ? group.protocol_type : kConsumerProtocolType;
    listed.group_state = state;
  }
  respond(Encode(out, version));
  return absl::OkStatus();
}

absl::Status DeleteGroups(KafkaContext& context, const Request& request, WireReader& body,
                          Respond respond) {
  const int16_t version = request.header.api_version;
  DeleteGroupsRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  // Each deletion is appended to its group's partition; the answer goes once all are done.
  struct Pending {
    DeleteGroupsResponse out;
    size_t remaining = 0;
    absl::Mutex mu;
  };
  auto pending = std::make_shared<Pending>();
  pending->remaining = in.groups_names.size();
  for (const std::string& name : in.groups_names) {
    pending->out.results.push_back({name, 0});
  }
  if (in.groups_names.empty()) {
    respond(Encode(pending->out, version));
    return absl::OkStatus();
  }
  for (size_t i = 0; i < in.groups_names.size(); ++i) {
    auto request_one = std::make_shared<v1::DeleteGroupRequest>();
    request_one->set_group_id(in.groups_names[i]);
    auto response_one = std::make_shared<v1::DeleteGroupResponse>();
    context.coordinator->DeleteGroup(
        *request_one, response_one.get(), [pending, response_one, i, version, respond] {
          bool last = false;
          {
            absl::MutexLock lock(&pending->mu);
            pending->out.results[i].error_code =
                ErrorCode(api::FromError(response_one->error()));
            last = --pending->remaining == 0;
          }
          if (last) respond(Encode(pending->out, version));
        });
  }
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
