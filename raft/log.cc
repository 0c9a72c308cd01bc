#include "raft/log.h"

#include <algorithm>

namespace rill::raft {

absl::StatusOr<Term> MemoryLog::TermAt(Index index) const {
  if (index == 0) return Term{0};
  auto it = std::lower_bound(entries_.begin(), entries_.end(), index,
                             [](const Entry& e, Index i) { return e.index < i; });
  if (it == entries_.end() || it->index != index) {
    return absl::NotFoundError("no entry ends at that index");
  }
  return it->term;
}

Index MemoryLog::BoundaryAtOrBefore(Index index) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), index,
                             [](Index i, const Entry& e) { return i < e.index; });
  return it == entries_.begin() ? 0 : std::prev(it)->index;
}

std::vector<Entry> MemoryLog::EntriesAfter(Index index, size_t max_entries) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), index,
                             [](Index i, const Entry& e) { return i < e.index; });
  std::vector<Entry> out;
  for (; it != entries_.end() && out.size() < max_entries; ++it) out.push_back(*it);
  return out;
}

void MemoryLog::TruncateAndAppend(Index index, const std::vector<Entry>& entries) {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), index,
                             [](Index i, const Entry& e) { return i < e.index; });
  entries_.erase(it, entries_.end());
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

}  // namespace rill::raft
