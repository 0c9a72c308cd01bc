#include "raft/types.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::raft {
namespace {

constexpr uint8_t kConfChangeVersion = 1;
constexpr size_t kConfChangeSize = 6;

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void Erase(std::vector<NodeId>& ids, NodeId id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

}  // namespace

bool ConfState::IsVoter(NodeId id) const { return Contains(voters, id); }
bool ConfState::IsLearner(NodeId id) const { return Contains(learners, id); }

const char* ConfChangeName(ConfChangeType type) {
  switch (type) {
    case ConfChangeType::kAddLearner:
      return "add learner";
    case ConfChangeType::kAddVoter:
      return "add voter";
    case ConfChangeType::kRemoveNode:
      return "remove";
  }
  return "?";
}

std::string EncodeConfChange(const ConfChange& change) {
  const auto node = static_cast<uint32_t>(change.node.value());
  std::string out(kConfChangeSize, '\0');
  out[0] = static_cast<char>(kConfChangeVersion);
  out[1] = static_cast<char>(change.type);
  for (int i = 0; i < 4; ++i)
    out[static_cast<size_t>(2 + i)] = static_cast<char>(node >> (24 - 8 * i));
  return out;
}

absl::StatusOr<ConfChange> DecodeConfChange(std::string_view data) {
  if (data.size() != kConfChangeSize) {
    return absl::DataLossError(
        fmt::format("conf change of {} bytes, want {}", data.size(), kConfChangeSize));
  }
  if (static_cast<uint8_t>(data[0]) != kConfChangeVersion) {
    return absl::DataLossError(
        fmt::format("conf change format version {}", static_cast<uint8_t>(data[0])));
  }
  const auto type = static_cast<uint8_t>(data[1]);
  if (type < 1 || type > 3) return absl::DataLossError(fmt::format("conf change type {}", type));
  uint32_t node = 0;
  for (int i = 0; i < 4; ++i)
    node = (node << 8) | static_cast<uint8_t>(data[static_cast<size_t>(2 + i)]);
  return ConfChange{static_cast<ConfChangeType>(type), static_cast<NodeId>(node)};
}

absl::StatusOr<ConfState> ApplyConfChange(const ConfState& conf, const ConfChange& change) {
  if (change.node == kNoNode) return absl::InvalidArgumentError("conf change names no node");
  ConfState next = conf;
  switch (change.type) {
    case ConfChangeType::kAddLearner:
      if (conf.IsMember(change.node)) {
        return absl::InvalidArgumentError(fmt::format("node {} is already a member", change.node));
      }
      next.learners.push_back(change.node);
      break;
    case ConfChangeType::kAddVoter:
      if (conf.IsVoter(change.node)) {
        return absl::InvalidArgumentError(fmt::format("node {} is already a voter", change.node));
      }
      Erase(next.learners, change.node);
      next.voters.push_back(change.node);
      break;
    case ConfChangeType::kRemoveNode:
      if (!conf.IsMember(change.node)) {
        return absl::InvalidArgumentError(fmt::format("node {} is not a member", change.node));
      }
      Erase(next.voters, change.node);
      Erase(next.learners, change.node);
      if (next.voters.empty()) return absl::InvalidArgumentError("cannot remove the last voter");
      break;
  }
  return next;
}

}  // namespace rill::raft
