#include "groups/assignor.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::groups {
namespace {

Assignment Range(const std::vector<AssignorMember>& members, const TopicCatalog& topics) {
  Assignment out;
  for (const auto& m : members) out[m.member_id];
  for (const auto& [topic, count] : topics) {
    std::vector<std::string> subscribers;
    for (const auto& m : members) {
      if (m.topics.count(topic) > 0) subscribers.push_back(m.member_id);
    }
    if (subscribers.empty()) continue;
    std::sort(subscribers.begin(), subscribers.end());
    const int32_t n = static_cast<int32_t>(subscribers.size());
    const int32_t per = count / n;
    const int32_t extra = count % n;
    int32_t next = 0;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t take = per + (i < extra ? 1 : 0);
      for (int32_t p = next; p < next + take; ++p) out[subscribers[i]].insert({topic, p});
      next += take;
    }
  }
  return out;
}

Assignment Uniform(const std::vector<AssignorMember>& members, const TopicCatalog& topics) {
  Assignment out;
  if (members.empty()) return out;
  std::map<std::string, const AssignorMember*> by_id;
  for (const auto& m : members) {
    by_id[m.member_id] = &m;
    out[m.member_id];
  }
  // Every partition some member subscribes to.
  std::vector<TopicPartition> all;
  for (const auto& [topic, count] : topics) {
    bool wanted = std::any_of(members.begin(), members.end(),
                              [&](const AssignorMember& m) { return m.topics.count(topic) > 0; });
    if (!wanted) continue;
    for (int32_t p = 0; p < count; ++p) all.push_back({topic, p});
  }
  // The share each member may keep: total / members, rounded up for the first remainder.
  // With differing subscriptions this is a guide; eligibility always wins.
  const size_t n = members.size();
  const size_t floor_share = all.size() / n;
  const size_t ceil_share = floor_share + (all.size() % n == 0 ? 0 : 1);
  size_t ceil_slots = all.size() % n;

  // 1. Stickiness: keep previous partitions that are still valid, up to the share.
  std::set<TopicPartition> taken;
  std::vector<std::string> ids;
  for (const auto& [id, m] : by_id) ids.push_back(id);
  for (const auto& id : ids) {
    const AssignorMember& m = *by_id[id];
    for (const auto& tp : m.previous) {
      auto t = topics.find(tp.topic);
      if (t == topics.end() || tp.partition >= t->second || m.topics.count(tp.topic) == 0) {
        continue;
      }
      if (taken.count(tp) > 0) continue;
      const size_t have = out[id].size();
      if (have >= ceil_share) break;
      if (have >= floor_share) {
        if (ceil_slots == 0) break;
        --ceil_slots;
      }
      out[id].insert(tp);
      taken.insert(tp);
    }
  }
  // 2. Everything else goes to the eligible member holding the fewest (ties: member id).
  for (const auto& tp : all) {
    if (taken.count(tp) > 0) continue;
    const std::string* best = nullptr;
    for (const auto& id : ids) {
      if (by_id[id]->topics.count(tp.topic) == 0) continue;
      if (best == nullptr || out[id].size() < out[*best].size()) best = &id;
    }
    if (best != nullptr) {
      out[*best].insert(tp);
      taken.insert(tp);
    }
  }
  return out;
}

}  // namespace

bool IsKnownAssignor(std::string_view name) { return name == "uniform" || name == "range"; }

absl::StatusOr<Assignment> ComputeAssignment(std::string_view assignor,
                                             const std::vector<AssignorMember>& members,
                                             const TopicCatalog& topics) {
  if (assignor == "uniform") return Uniform(members, topics);
  if (assignor == "range") return Range(members, topics);
  return absl::InvalidArgumentError(
      fmt::format("unknown assignor '{}' (uniform, range)", std::string(assignor)));
}

}  // namespace rill::groups
