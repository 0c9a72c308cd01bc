#include "cluster/storage_raft_log.h"

#include <algorithm>

#include "base/logging.h"
#include "format/big_endian.h"
#include "format/record_batch.h"

namespace rill::cluster {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::Term;

// A control record's key: version (int16, 0) and type (int16), as Kafka's control records.
std::string ControlKey(int16_t type) {
  std::string key(4, '\0');
  format::StoreI16(key.data(), 0);
  format::StoreI16(key.data() + 2, type);
  return key;
}

absl::Status Corrupt(std::string_view why) {
  return absl::DataLossError(fmt::format("not a Raft entry: {}", why));
}

}  // namespace

StorageRaftLog::StorageRaftLog(std::shared_ptr<storage::Log> log, raft::SnapshotMeta snapshot,
                               SnapshotReader read_snapshot)
    : log_(std::move(log)), read_snapshot_(std::move(read_snapshot)), snapshot_(snapshot) {}

absl::StatusOr<std::string> StorageRaftLog::EncodeEntry(const Entry& entry,
                                                        size_t max_batch_bytes) {
  if (entry.type == EntryType::kNormal && !entry.data.empty()) {
    auto header = format::ParseBatchHeader(entry.data, max_batch_bytes);
    if (!header.ok()) return header.status();
    if (header->size_bytes() != entry.data.size()) {
      return absl::InvalidArgumentError("an entry's data is not exactly one batch");
    }
    if (header->is_control()) {
      return absl::InvalidArgumentError("an entry's batch may not be a control batch");
    }
    std::string batch = entry.data;
    format::SetBaseOffset(&batch, 0, entry.index.value() - 1 - header->last_offset_delta);
    format::SetPartitionLeaderEpoch(&batch, 0, static_cast<int32_t>(entry.term.value()));
    return batch;
  }
  format::BatchOptions options;
  options.control = true;
  options.partition_leader_epoch = static_cast<int32_t>(entry.term.value());
  format::BatchBuilder builder(options);
  const bool conf = entry.type == EntryType::kConfChange;
  builder.Append(0, std::string_view(ControlKey(conf ? kRaftConfChangeType : kRaftNoopType)),
                 conf ? std::optional<std::string_view>(entry.data) : std::nullopt);
  return builder.Build(entry.index.value() - 1);
}

absl::StatusOr<Entry> StorageRaftLog::DecodeEntry(std::string_view batch, size_t max_batch_bytes) {
  auto header = format::ParseBatchHeader(batch, max_batch_bytes);
  if (!header.ok()) return header.status();
  if (header->size_bytes() != batch.size()) return Corrupt("length mismatch");
  Entry entry;
  entry.term = Term(header->partition_leader_epoch);
  entry.index = Index(header->next_offset());
  if (!header->is_control()) {
    entry.type = EntryType::kNormal;
    entry.data = std::string(batch);
    return entry;
  }
  format::RecordReader reader(batch, *header);
  format::RecordView record;
  if (!reader.Next(&record) || !record.key || record.key->size() != 4) {
    return Corrupt("a control batch without a control key");
  }
  const int16_t type = format::LoadI16(record.key->data() + 2);
  if (type == kRaftNoopType) {
    entry.type = EntryType::kNormal;
  } else if (type == kRaftConfChangeType && record.value) {
    entry.type = EntryType::kConfChange;
    entry.data = std::string(*record.value);
  } else {
    return Corrupt(fmt::format("control type {}", type));
  }
  return entry;
}

raft::SnapshotMeta StorageRaftLog::SnapshotMetadata() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

Index StorageRaftLog::LastIndex() const {
  absl::MutexLock lock(&mu_);
  return std::max(snapshot_.index, log_->next_offset());
}

absl::StatusOr<format::BatchHeader> StorageRaftLog::HeaderAt(Offset offset) const {
  auto read = log_->Read(offset, 1);
  if (!read.ok()) return read.status();
  auto header = format::ParseBatchHeader(read->batches, log_->max_batch_bytes());
  if (!header.ok()) return header.status();
  return header;
}

absl::StatusOr<Term> StorageRaftLog::TermAt(Index index) const {
  {
    absl::MutexLock lock(&mu_);
    if (index == snapshot_.index) return snapshot_.term;
    if (index < snapshot_.index) {
      return absl::OutOfRangeError(fmt::format("index {} is compacted", index));
    }
  }
  // The term from memory; the boundary from the batch header (recent batches are in the page
  // cache).
  const std::optional<int32_t> epoch = log_->EpochAt(index - 1);
  if (!epoch) return absl::NotFoundError(fmt::format("no entry at {}", index));
  auto header = HeaderAt(index - 1);
  if (!header.ok() || header->next_offset() != index.value()) {
    return absl::NotFoundError(fmt::format("no entry ends at {}", index));
  }
  return Term(*epoch);
}

Index StorageRaftLog::BoundaryAtOrBefore(Index index) const {
  const raft::SnapshotMeta snapshot = SnapshotMetadata();
  if (index < snapshot.index) return index;
  const Index last = LastIndex();
  if (index >= last) return last;
  if (index == snapshot.index) return index;
  auto header = HeaderAt(index - 1);
  if (!header.ok()) return snapshot.index;
  if (header->next_offset() == index.value()) return index;
  return std::max(snapshot.index, Index(header->base_offset));
}

std::vector<Entry> StorageRaftLog::EntriesAfter(Index index, Index last, size_t max_entries,
                                                size_t max_bytes) const {
  std::vector<Entry> out;
  // Entry indexes are batch end offsets, so the entry after `index` starts at offset `index`.
  // DeleteRecords may have moved the readable start inside that entry's batch; reading from
  // there still returns the whole batch.
  Offset next = std::max(Offset(index.value()), log_->start_offset());
  size_t bytes = 0;
  while (next < last && out.size() < max_entries && (out.empty() || bytes < max_bytes)) {
    auto read = log_->Read(next, std::max<size_t>(max_bytes - std::min(bytes, max_bytes), 1), last);
    if (!read.ok()) {
      logging::Error("raft", "reading {} after {}: {}", log_->dir(), index,
                     read.status().message());
      break;
    }
    std::string_view rest = read->batches;
    if (rest.empty()) break;
    while (!rest.empty() && out.size() < max_entries && (out.empty() || bytes < max_bytes)) {
      auto header = format::ParseBatchHeader(rest, log_->max_batch_bytes());
      if (!header.ok() || header->size_bytes() > rest.size()) break;
      auto entry = DecodeEntry(rest.substr(0, header->size_bytes()), log_->max_batch_bytes());
      if (!entry.ok()) {
        logging::Error("raft", "{} at offset {}: {}", log_->dir(), header->base_offset,
                       entry.status().message());
        return out;
      }
      rest.remove_prefix(header->size_bytes());
      bytes += raft::EntryBytes(*entry);
      next = entry->index;
      out.push_back(std::move(*entry));
    }
  }
  return out;
}

absl::StatusOr<raft::Snapshot> StorageRaftLog::GetSnapshot() const {
  raft::Snapshot snapshot;
  snapshot.meta = SnapshotMetadata();
  if (read_snapshot_) {
    auto data = read_snapshot_();
    if (!data.ok()) return data.status();
    snapshot.data = std::move(*data);
  }
  return snapshot;
}

absl::Status StorageRaftLog::Append(Index after, const std::vector<Entry>& entries,
                                    std::function<void(absl::Status)> durable) {
  if (after < LastIndex()) {
    absl::Status s = after < SnapshotMetadata().index
                         ? absl::InvalidArgumentError(
                               fmt::format("cannot replace entries after {}: compacted", after))
                         : log_->TruncateTo(after);
    if (!s.ok()) {
      if (durable) durable(s);
      return s;
    }
  }
  // One count for the call itself and one per append, so `durable` runs once, after all.
  struct State {
    std::function<void(absl::Status)> durable;
    absl::Mutex mu;
    size_t outstanding ABSL_GUARDED_BY(mu) = 1;
    absl::Status status ABSL_GUARDED_BY(mu);
  };
  auto state = std::make_shared<State>();
  state->durable = std::move(durable);
  auto finish_one = [state](absl::Status s) {
    absl::Status result;
    {
      absl::MutexLock lock(&state->mu);
      if (!s.ok() && state->status.ok()) state->status = s;
      if (--state->outstanding > 0) return;
      result = state->status;
    }
    if (state->durable) state->durable(result);
  };
  absl::Status status;
  for (const Entry& entry : entries) {
    auto batch = EncodeEntry(entry, log_->max_batch_bytes());
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    {
      absl::MutexLock lock(&state->mu);
      ++state->outstanding;
    }
    storage::AppendOptions options;
    options.assign_offsets = false;
    auto appended = log_->Append(std::move(*batch), options, finish_one);
    if (!appended.ok()) {
      finish_one(absl::OkStatus());
      status = appended.status();
      break;
    }
  }
  finish_one(status);
  return status;
}

absl::Status StorageRaftLog::InstallSnapshot(const raft::SnapshotMeta& snapshot) {
  if (auto s = log_->ResetTo(snapshot.index); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  snapshot_ = snapshot;
  return absl::OkStatus();
}

absl::Status StorageRaftLog::Compact(const raft::SnapshotMeta& snapshot) {
  {
    absl::MutexLock lock(&mu_);
    if (snapshot.index < snapshot_.index) return absl::OkStatus();
  }
  if (snapshot.index > LastIndex()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot compact through {}: the log ends at {}", snapshot.index, LastIndex()));
  }
  if (auto s = log_->DeletePrefix(snapshot.index); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  snapshot_ = snapshot;
  return absl::OkStatus();
}

}  // namespace rill::cluster
