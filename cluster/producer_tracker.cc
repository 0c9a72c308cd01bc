#include "cluster/producer_tracker.h"

#include "base/fmt_absl.h"
#include "base/logging.h"

namespace rill::cluster {

namespace {

// Entries read per step of a scan.
constexpr size_t kScanEntries = 1024;
constexpr size_t kScanBytes = 8 << 20;

bool CarriesProducerBatch(const raft::Entry& entry) {
  if (entry.type != raft::EntryType::kNormal || entry.data.empty()) return false;
  auto header = format::ParseBatchHeader(entry.data, entry.data.size());
  return header.ok() && header->producer_id >= 0;
}

}  // namespace

ProducerTracker::ProducerTracker(const StorageRaftLog* log, storage::MetaStore* meta,
                                 std::string snapshot_key, ProducerTrackerOptions options)
    : log_(log),
      meta_(meta),
      snapshot_key_(std::move(snapshot_key)),
      options_(options),
      table_(options.limits) {}

absl::StatusOr<std::unique_ptr<ProducerTracker>> ProducerTracker::Open(
    const StorageRaftLog* log, storage::MetaStore* meta, std::string snapshot_key,
    ProducerTrackerOptions options, int64_t now_ms) {
  std::unique_ptr<ProducerTracker> tracker(
      new ProducerTracker(log, meta, std::move(snapshot_key), options));
  if (auto s = tracker->Rebuild(log->LastIndex(), now_ms); !s.ok()) return s;
  tracker->rebuilds_ = 0;
  return tracker;
}

absl::Status ProducerTracker::Rebuild(raft::Index through, int64_t now_ms) {
  ++rebuilds_;
  proposed_.clear();
  const raft::Index start = log_->SnapshotMetadata().index;
  table_.Reset(Offset(start.value()));
  auto stored = meta_->Get(snapshot_key_);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    auto snapshot = ProducerStateTable::DecodeSnapshot(**stored, options_.limits);
    if (!snapshot.ok()) {
      // Only a shortcut: the log itself has everything the snapshot had, or retention deleted it.
      logging::Warn("idempotence", "{}: ignoring the producer state snapshot: {}", snapshot_key_,
                    snapshot.status().message());
    } else if (snapshot->next_offset().value() <= through.value()) {
      table_ = std::move(*snapshot);
      // Producers whose batches retention deleted since are still known; the log goes on
      // from its start.
      table_.SkipTo(Offset(start.value()));
    }
  }
  return ApplyLog(through, now_ms);
}

absl::Status ProducerTracker::ApplyLog(raft::Index through, int64_t now_ms) {
  while (table_.next_offset().value() < through.value()) {
    const raft::Index after(table_.next_offset().value());
    std::vector<raft::Entry> entries = log_->EntriesAfter(after, through, kScanEntries, kScanBytes);
    if (entries.empty()) {
      return absl::DataLossError(fmt::format(
          "{}: cannot read the log after {} to rebuild the producer state", snapshot_key_, after));
    }
    for (const raft::Entry& entry : entries) ApplyEntry(entry, now_ms);
  }
  return absl::OkStatus();
}

void ProducerTracker::ApplyEntry(const raft::Entry& entry, int64_t now_ms) {
  if (entry.type == raft::EntryType::kNormal && !entry.data.empty()) {
    auto header = format::ParseBatchHeader(entry.data, entry.data.size());
    if (header.ok()) {
      const Offset base(entry.index.value() - 1 - header->last_offset_delta);
      table_.Apply(*header, base, now_ms);
      bytes_since_snapshot_ += static_cast<int64_t>(entry.data.size());
      return;
    }
  }
  // Raft's own entries (one control record each) only move the applied point.
  table_.Apply(format::BatchHeader{}, Offset(entry.index.value() - 1), now_ms);
}

void ProducerTracker::Proposed(const format::BatchHeader& batch, raft::Index index,
                               raft::Term term, int64_t now_ms) {
  table_.Apply(batch, Offset(index.value() - 1 - batch.last_offset_delta), now_ms);
  proposed_.emplace_back(index, term);
}

absl::Status ProducerTracker::Appending(raft::Index after, const std::vector<raft::Entry>& entries,
                                        int64_t now_ms) {
  for (const raft::Entry& entry : entries) {
    if (!proposed_.empty() && proposed_.front() == std::make_pair(entry.index, entry.term)) {
      proposed_.pop_front();  // this replica's own proposal, applied when proposed
      continue;
    }
    if (!proposed_.empty() && entry.index < proposed_.front().first &&
        entry.term == proposed_.front().second && !CarriesProducerBatch(entry)) {
      // Raft's own entry of this leader's term (its no-op, a configuration change), written
      // after proposals were already applied: it holds no producer state, so nothing is lost.
      continue;
    }
    const raft::Index entry_after =
        &entry == &entries.front() ? after : raft::Index((&entry - 1)->index);
    if (entry_after.value() < table_.next_offset().value() || !proposed_.empty()) {
      // The log loses entries the table has applied: start again from what stays.
      if (auto s = Rebuild(entry_after, now_ms); !s.ok()) return s;
    }
    ApplyEntry(entry, now_ms);
  }
  return absl::OkStatus();
}

void ProducerTracker::SnapshotInstalled(raft::Index index) {
  proposed_.clear();
  table_.Reset(Offset(index.value()));
}

void ProducerTracker::Maintain(int64_t now_ms, int64_t expiration_ms) {
  table_.Expire(now_ms, expiration_ms);
  if (bytes_since_snapshot_ < options_.snapshot_interval_bytes || !proposed_.empty()) return;
  if (auto s = StoreSnapshot(); !s.ok()) {
    logging::Warn("idempotence", "{}: cannot store the producer state: {}", snapshot_key_,
                  s.message());
  }
}

absl::Status ProducerTracker::StoreSnapshot() {
  absl::Status s = meta_->Put(snapshot_key_, table_.EncodeSnapshot());
  if (s.ok()) bytes_since_snapshot_ = 0;
  return s;
}

absl::Status ProducerTracker::DeleteSnapshot(storage::MetaStore* meta,
                                             const std::string& snapshot_key) {
  return meta->Delete(snapshot_key);
}

}  // namespace rill::cluster
