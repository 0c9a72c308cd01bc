#include "raft/log_view.h"

#include <algorithm>

#include "fmt/format.h"

namespace rill::raft {
absl::StatusOr<Term> LogView::TermAt(Index index) const {
  if (snapshot_) {
    if (index == snapshot_->meta.index) return snapshot_->meta.term;
    if (index < snapshot_->meta.index) {
      return absl::OutOfRangeError(fmt::format("index {} is compacted", index));
    }
  }
  if (index <= after_ && !snapshot_) return storage_->TermAt(index);
  auto it = FindEntry(entries_, index);
  if (it == entries_.end()) return absl::NotFoundError(fmt::format("no entry ends at {}", index));
  return it->term;
}

Term LogView::LastTerm() const {
  auto t = TermAt(LastIndex());
  return t.ok() ? *t : Term();
}

Index LogView::BoundaryAtOrBefore(Index index) const {
  if (index < SnapshotIndex()) return index;
  if (index >= after_) {
    auto it = FirstEntryAfter(entries_, index);
    return it == entries_.begin() ? after_ : std::prev(it)->index;
  }
  return storage_->BoundaryAtOrBefore(index);
}

std::vector<Entry> LogView::EntriesAfter(Index index, Index last, size_t max_entries,
                                         size_t max_bytes) const {
  std::vector<Entry> out;
  size_t bytes = 0;
  if (index < after_ && !snapshot_) {
    // Storage past after_ is a stale suffix.
    out = storage_->EntriesAfter(index, std::min(last, after_), max_entries, max_bytes);
    if (out.empty() || out.back().index != after_) return out;
    for (const auto& e : out) bytes += EntryBytes(e);
  }
  for (auto it = FirstEntryAfter(entries_, std::max(index, after_));
       it != entries_.end() && it->index <= last && out.size() < max_entries; ++it) {
    bytes += EntryBytes(*it);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(*it);
  }
  return out;
}

absl::StatusOr<Snapshot> LogView::GetSnapshot() const {
  if (snapshot_) return *snapshot_;
  return storage_->GetSnapshot();
}

void LogView::Append(Index after, std::vector<Entry> entries) {
  if (after >= after_) {
    entries_.erase(FirstEntryAfter(entries_, after), entries_.end());
    entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()),
                    std::make_move_iterator(entries.end()));
  } else {
    after_ = after;
    entries_ = std::move(entries);
  }
}

void LogView::Restore(Snapshot snapshot) {
  after_ = snapshot.meta.index;
  entries_.clear();
  snapshot_ = std::move(snapshot);
}

void LogView::Persisted(Index snapshot_index, Index index, Term term) {
  if (snapshot_ && snapshot_->meta.index == snapshot_index) snapshot_.reset();
  if (snapshot_) return;
  auto it = FindEntry(entries_, index);
  if (it == entries_.end() || it->term != term) return;
  entries_.erase(entries_.begin(), std::next(it));
  after_ = index;
}

}  // namespace rill::raft
