#include "rpc/codec.h"

#include "fmt/format.h"

namespace rill::rpc {
namespace {

using raft::MessageType;

constexpr int kMessageTypeMax = static_cast<int>(MessageType::kReadIndexResponse);

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("bad Raft message: {}", why));
}

}  // namespace

void EncodeGroup(const GroupKey& group, internal::v1::GroupId* out) {
  out->set_topic_id(group.topic.ToBytes());
  out->set_partition(group.partition.value());
}

absl::StatusOr<GroupKey> DecodeGroup(const internal::v1::GroupId& group) {
  auto topic = TopicId::FromBytes(group.topic_id());
  if (!topic) return Invalid("a group's topic id is not 16 bytes");
  if (group.partition() < 0) return Invalid(fmt::format("partition {}", group.partition()));
  return GroupKey{*topic, PartitionId(group.partition())};
}

bool IsCompactHeartbeat(const raft::Message& m) {
  return (m.type == MessageType::kHeartbeat || m.type == MessageType::kHeartbeatResponse) &&
         m.context.empty() && !m.reject;
}

void EncodeHeartbeat(const GroupKey& group, const raft::Message& m, internal::v1::Heartbeat* out) {
  EncodeGroup(group, out->mutable_group());
  out->set_term(m.term.value());
  out->set_commit(m.commit.value());
  out->set_response(m.type == MessageType::kHeartbeatResponse);
}

raft::Message DecodeHeartbeat(const internal::v1::Heartbeat& h, NodeId from, NodeId to) {
  raft::Message m;
  m.type = h.response() ? MessageType::kHeartbeatResponse : MessageType::kHeartbeat;
  m.from = from;
  m.to = to;
  m.term = raft::Term(std::max<int64_t>(h.term(), 0));
  m.commit = raft::Index(std::max<int64_t>(h.commit(), 0));
  return m;
}

void EncodeMessage(const GroupKey& group, const raft::Message& m, internal::v1::RaftMessage* out) {
  EncodeGroup(group, out->mutable_group());
  out->set_type(static_cast<int32_t>(m.type));
  out->set_term(m.term.value());
  out->set_index(m.index.value());
  out->set_log_term(m.log_term.value());
  for (const raft::Entry& e : m.entries) {
    auto* entry = out->add_entries();
    entry->set_term(e.term.value());
    entry->set_index(e.index.value());
    entry->set_type(static_cast<int32_t>(e.type));
    entry->set_data(e.data);
  }
  out->set_commit(m.commit.value());
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint.value());
  out->set_transfer(m.transfer);
  out->set_context(m.context);
  if (m.type == MessageType::kSnapshot) {
    auto* meta = out->mutable_snapshot();
    meta->set_index(m.snapshot.meta.index.value());
    meta->set_term(m.snapshot.meta.term.value());
    for (NodeId v : m.snapshot.meta.conf.voters) meta->add_voters(v.value());
    for (NodeId l : m.snapshot.meta.conf.learners) meta->add_learners(l.value());
    out->set_snapshot_data(m.snapshot.data);
  }
}

absl::StatusOr<raft::Message> DecodeMessage(const internal::v1::RaftMessage& in, NodeId from,
                                            NodeId to, const CodecLimits& limits) {
  if (in.type() < 0 || in.type() > kMessageTypeMax) {
    return Invalid(fmt::format("unknown type {}", in.type()));
  }
  if (in.term() < 0 || in.index() < 0 || in.log_term() < 0 || in.commit() < 0 ||
      in.reject_hint() < 0) {
    return Invalid("negative term or index");
  }
  if (static_cast<size_t>(in.entries_size()) > limits.entries_per_message_max) {
    return Invalid(
        fmt::format("{} entries, more than {}", in.entries_size(), limits.entries_per_message_max));
  }
  if (in.context().size() > limits.context_bytes_max) {
    return Invalid(fmt::format("a {}-byte read context", in.context().size()));
  }
  raft::Message m;
  m.type = static_cast<MessageType>(in.type());
  m.from = from;
  m.to = to;
  m.term = raft::Term(in.term());
  m.index = raft::Index(in.index());
  m.log_term = raft::Term(in.log_term());
  m.commit = raft::Index(in.commit());
  m.reject = in.reject();
  m.reject_hint = raft::Index(in.reject_hint());
  m.transfer = in.transfer();
  m.context = in.context();
  raft::Index previous = m.index;
  m.entries.reserve(static_cast<size_t>(in.entries_size()));
  for (const auto& e : in.entries()) {
    if (e.type() != 0 && e.type() != 1) return Invalid(fmt::format("entry type {}", e.type()));
    if (e.term() < 0 || e.index() <= previous.value()) {
      return Invalid("entries out of order");
    }
    previous = raft::Index(e.index());
    m.entries.push_back(raft::Entry{raft::Term(e.term()), raft::Index(e.index()),
                                    static_cast<raft::EntryType>(e.type()), e.data()});
  }
  if (m.type == MessageType::kSnapshot) {
    const auto& meta = in.snapshot();
    if (meta.index() < 0 || meta.term() < 0) return Invalid("negative snapshot position");
    if (static_cast<size_t>(meta.voters_size() + meta.learners_size()) > limits.voters_max) {
      return Invalid("too many members in a snapshot");
    }
    m.snapshot.meta.index = raft::Index(meta.index());
    m.snapshot.meta.term = raft::Term(meta.term());
    for (int32_t v : meta.voters()) m.snapshot.meta.conf.voters.push_back(NodeId(v));
    for (int32_t l : meta.learners()) m.snapshot.meta.conf.learners.push_back(NodeId(l));
    m.snapshot.data = in.snapshot_data();
  }
  return m;
}

}  // namespace rill::rpc
