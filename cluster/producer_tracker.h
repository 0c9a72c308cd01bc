// ProducerTracker: one partition's ProducerStateTable kept in step with the partition's Raft
// log (docs/idempotence.md).
//
// The table must describe exactly the batches in this replica's log, including entries not yet
// on disk, so a leader checks each batch against everything it has proposed before it:
//   - a leader applies its own batches when it proposes them (Proposed); when the same entries
//     are later written (Appending) they are recognised by index and term and not applied again;
//   - a follower applies the leader's batches as they are written (Appending);
//   - when the log loses entries the table has applied (a divergent suffix replaced, a deposed
//     leader's unwritten proposals overwritten), the table is rebuilt from its snapshot and the
//     log up to where the new entries start;
//   - a snapshot install (the follower restarts from the leader's log start) empties it.
// A snapshot of the table is stored in the MetaStore now and then, so a restart scans only the
// log after it.
//
// Thread-safety: none. Every call comes from the partition's Raft strand (Open before the group
// starts).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/producer_state.h"
#include "cluster/storage_raft_log.h"
#include "raft/types.h"
#include "storage/meta_store.h"

namespace rill::cluster {

struct ProducerTrackerOptions {
  ProducerStateLimits limits;
  // A snapshot is stored once this many bytes of batches were applied since the last one.
  int64_t snapshot_interval_bytes = 64 << 20;
};

class ProducerTracker {
 public:
  // Loads the snapshot under `snapshot_key` if it still fits the log, then applies the log
  // after it.
  static absl::StatusOr<std::unique_ptr<ProducerTracker>> Open(const StorageRaftLog* log,
                                                               storage::MetaStore* meta,
                                                               std::string snapshot_key,
                                                               ProducerTrackerOptions options,
                                                               int64_t now_ms);

  SequenceCheck Check(const format::BatchHeader& header) const { return table_.Check(header); }
  // This replica, leading, proposed `batch` as the entry ending at `index` in `term`.
  void Proposed(const format::BatchHeader& batch, raft::Index index, raft::Term term,
                int64_t now_ms);
  // A Ready's entries are about to replace everything after `after` in the log.
  absl::Status Appending(raft::Index after, const std::vector<raft::Entry>& entries,
                         int64_t now_ms);
  // The log was reset to continue after `index`.
  void SnapshotInstalled(raft::Index index);
  // Forgets idle producers; stores a snapshot when enough was applied since the last.
  void Maintain(int64_t now_ms, int64_t expiration_ms);

  const ProducerStateTable& table() const { return table_; }
  // Rebuilds so far (a metric and a test hook).
  int64_t rebuilds() const { return rebuilds_; }

  // Removes the stored snapshot (a deleted partition's).
  static absl::Status DeleteSnapshot(storage::MetaStore* meta, const std::string& snapshot_key);

 private:
  ProducerTracker(const StorageRaftLog* log, storage::MetaStore* meta, std::string snapshot_key,
                  ProducerTrackerOptions options);

  // Makes the table describe the log through `through`, from the stored snapshot when it lies
  // at or before it, else from the log's start.
  absl::Status Rebuild(raft::Index through, int64_t now_ms);
  absl::Status ApplyLog(raft::Index through, int64_t now_ms);
  void ApplyEntry(const raft::Entry& entry, int64_t now_ms);
  absl::Status StoreSnapshot();

  const StorageRaftLog* const log_;
  storage::MetaStore* const meta_;
  const std::string snapshot_key_;
  const ProducerTrackerOptions options_;
  ProducerStateTable table_;
  // Entries this replica proposed and applied that the log has not been handed yet, as
  // (index, term), oldest first.
  std::deque<std::pair<raft::Index, raft::Term>> proposed_;
  int64_t bytes_since_snapshot_ = 0;
  int64_t rebuilds_ = 0;
};

}  // namespace rill::cluster
