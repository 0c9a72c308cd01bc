#include "raft/log.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::raft {
std::vector<Entry>::const_iterator FirstEntryAfter(const std::vector<Entry>& entries, Index index) {
  return std::upper_bound(entries.begin(), entries.end(), index,
                          [](Index i, const Entry& e) { return i < e.index; });
}

std::vector<Entry>::const_iterator FindEntry(const std::vector<Entry>& entries, Index index) {
  auto it = std::lower_bound(entries.begin(), entries.end(), index,
                             [](const Entry& e, Index i) { return e.index < i; });
  return it != entries.end() && it->index == index ? it : entries.end();
}

absl::StatusOr<Term> MemoryLog::TermAt(Index index) const {
  if (index == snapshot_.meta.index) return snapshot_.meta.term;
  if (index < snapshot_.meta.index) {
    return absl::OutOfRangeError(
        fmt::format("index {} is compacted (log starts after {})", index, snapshot_.meta.index));
  }
  auto it = FindEntry(entries_, index);
  if (it == entries_.end()) return absl::NotFoundError(fmt::format("no entry ends at {}", index));
  return it->term;
}

Index MemoryLog::BoundaryAtOrBefore(Index index) const {
  if (index < snapshot_.meta.index) return index;
  auto it = FirstEntryAfter(entries_, index);
  return it == entries_.begin() ? snapshot_.meta.index : std::prev(it)->index;
}

std::vector<Entry> MemoryLog::EntriesAfter(Index index, Index last, size_t max_entries,
                                           size_t max_bytes) const {
  std::vector<Entry> out;
  size_t bytes = 0;
  for (auto it = FirstEntryAfter(entries_, index);
       it != entries_.end() && it->index <= last && out.size() < max_entries; ++it) {
    bytes += EntryBytes(*it);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(*it);
  }
  return out;
}

void MemoryLog::Append(Index after, const std::vector<Entry>& entries) {
  entries_.erase(FirstEntryAfter(entries_, after), entries_.end());
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

void MemoryLog::ApplySnapshot(Snapshot snapshot) {
  snapshot_ = std::move(snapshot);
  entries_.clear();
}

absl::Status MemoryLog::Compact(Index index, ConfState conf, std::string data) {
  if (index <= snapshot_.meta.index) return absl::OkStatus();
  auto term = TermAt(index);
  if (!term.ok()) return term.status();
  snapshot_ = Snapshot{SnapshotMeta{index, *term, std::move(conf)}, std::move(data)};
  entries_.erase(entries_.begin(), FirstEntryAfter(entries_, index));
  return absl::OkStatus();
}

}  // namespace rill::raft
