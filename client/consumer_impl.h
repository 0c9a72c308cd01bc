// ConsumerImpl: the Consumer's machinery. consumer.cc holds assignment, fetching and polling;
// consumer_group.cc group membership and commits.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/cluster.h"
#include "rill/consumer.h"

namespace rill::client {

inline constexpr int64_t kNoPosition = -1;
// Batches from the wire are bounded by the broker's limits; this only guards the parser.
inline constexpr size_t kMaxFetchedBatchBytes = size_t{256} << 20;
// Fetches one consumer keeps in flight to one broker. Each partition has at most one; spreading
// the partitions over several requests lets the broker read one while the client decodes
// another, instead of every partition waiting for the slowest in one round trip.
inline constexpr int kMaxFetchesPerBroker = 8;

class ConsumerImpl {
 public:
  ConsumerImpl(const ConsumerOptions& options, std::unique_ptr<Cluster> cluster)
      : options_(options), cluster_(std::move(cluster)) {
    fetcher_ = std::thread([this] { RunFetcher(); });
    membership_ = std::thread([this] { RunMembership(); });
  }
  ~ConsumerImpl() { Close(); }

  absl::Status Assign(const std::vector<TopicPartition>& partitions);
  std::vector<TopicPartition> Assignment() const;
  absl::Status Seek(const TopicPartition& partition, int64_t offset);
  absl::Status SeekTo(const std::vector<TopicPartition>& partitions, int64_t spec);
  absl::StatusOr<int64_t> Position(const TopicPartition& partition);
  absl::StatusOr<std::vector<ConsumerRecord>> Poll(int timeout_ms);
  void Close();

  // Group membership and commits (consumer_group.cc).
  absl::Status Subscribe(std::vector<std::string> topics, std::string pattern,
                         RebalanceListener listener);
  void Unsubscribe();
  // nullopt: the positions of every partition read.
  absl::Status Commit(std::optional<std::map<TopicPartition, OffsetAndMetadata>> offsets);
  void CommitAsync(std::function<void(absl::Status)> done);
  absl::StatusOr<std::map<TopicPartition, int64_t>> Committed(
      const std::vector<TopicPartition>& partitions);
  std::string MemberId() const;

 private:
  struct PartitionState {
    // Next offset Poll returns; kNoPosition until resolved by auto_offset_reset or a seek.
    int64_t position = kNoPosition;
    // Next offset to fetch (ahead of position by what is buffered).
    int64_t fetch_position = kNoPosition;
    // The position came from Seek and no fetch has succeeded from it yet: out of range, it
    // follows seek_offset_reset rather than auto_offset_reset (also while it is found again).
    bool sought = false;
    // Bumped by every seek, so fetches issued before it are discarded.
    uint64_t epoch = 0;
    // A fetch issued at the current epoch has not been answered yet.
    bool fetching = false;
    // Broker leading the partition, from metadata; -1 until known.
    int32_t leader = -1;
    // Fetched batches not yet polled: views into the fetch responses' record buffers, which
    // they keep alive.
    struct FetchedBatch {
      std::shared_ptr<const std::string> buffer;
      std::string_view bytes;
      // A compressed batch's records, decompressed when Poll first reaches it and kept while
      // later Polls take the rest of its records.
      std::optional<std::string> records;
    };
    std::deque<FetchedBatch> batches;
    size_t buffered_bytes = 0;
    absl::Status error;
  };

  struct FetchCall {
    grpc::ClientContext context;
    v1::FetchRequest request;
    v1::FetchResponse response;
    int32_t leader = -1;
    std::string address;
    // The epoch of each partition when the fetch was issued.
    std::map<TopicPartition, uint64_t> epochs;
  };

  void RunFetcher();
  // Heartbeats while subscribed; leaves the applying of what it learns to Poll.
  void RunMembership();
  // On the caller's thread, without the lock: gives up revoked or lost partitions and takes
  // on assigned ones, calling the listener. An error when the new partitions' committed
  // offsets could not be read (they are applied on a later Poll).
  absl::Status ApplyMembership();
  void MaybeAutoCommit();
  // Sends one commit; `done` gets the first error (request-wide or of any partition).
  void SendCommit(std::map<TopicPartition, OffsetAndMetadata> offsets,
                  std::function<void(absl::Status)> done);
  std::map<TopicPartition, OffsetAndMetadata> Positions(const std::set<TopicPartition>* only) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The leave heartbeat; on the caller's thread.
  void LeaveGroup();
  // Whether `state` may be fetched now (it has a position, room, no error, no fetch out).
  bool Fetchable(const PartitionState& state) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnFetched(std::shared_ptr<FetchCall> call, const grpc::Status& rpc) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ResolvePositions(const std::vector<TopicPartition>& partitions);
  void SeekLocked(PartitionState* state, int64_t offset, bool sought = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How `state` finds a position again when it has none or it is out of range.
  OffsetReset ResetPolicy(const PartitionState& state) const {
    return state.sought ? options_.seek_offset_reset : options_.auto_offset_reset;
  }
  // Tells on_connection_status about a change; without the lock.
  void ReportConnection(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends decoded records of `state`'s buffered batches to `out`.
  absl::Status Drain(const TopicPartition& tp, PartitionState* state,
                     std::vector<ConsumerRecord>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConsumerOptions options_;
  const std::unique_ptr<Cluster> cluster_;
  mutable absl::Mutex mu_;
  std::map<TopicPartition, PartitionState> partitions_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Fetch RPCs whose callback has not finished, by leader; Close cancels and waits for them.
  std::map<int32_t, int> fetches_in_flight_ ABSL_GUARDED_BY(mu_);
  std::set<FetchCall*> calls_ ABSL_GUARDED_BY(mu_);
  // Topics whose metadata must be refreshed (a NOT_LEADER answer or an unknown leader).
  std::set<std::string> stale_topics_ ABSL_GUARDED_BY(mu_);
  // A broker whose last fetch failed is not asked again before this time.
  std::map<int32_t, std::chrono::steady_clock::time_point> backoff_until_ ABSL_GUARDED_BY(mu_);
  // What on_connection_status was last told: OK, or that a broker is unreachable.
  absl::Mutex connection_mu_;
  bool unreachable_reported_ ABSL_GUARDED_BY(connection_mu_) = false;
  std::thread fetcher_;

  // Group membership.
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> subscribed_topics_ ABSL_GUARDED_BY(mu_);
  std::string subscribed_pattern_ ABSL_GUARDED_BY(mu_);
  RebalanceListener listener_ ABSL_GUARDED_BY(mu_);
  std::string member_id_ ABSL_GUARDED_BY(mu_);
  int32_t member_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeat_interval_ms_ ABSL_GUARDED_BY(mu_) = 1000;
  // The coordinator's latest answer of what this member should own, not yet applied by Poll.
  std::optional<std::set<TopicPartition>> target_ ABSL_GUARDED_BY(mu_);
  // Expelled from the group: Poll drops every partition, then the member rejoins.
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  // A non-retriable membership error for Poll to report once.
  absl::Status membership_error_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point next_auto_commit_ ABSL_GUARDED_BY(mu_);
  // Commit RPCs under way: Close waits for them.
  int commits_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // The heartbeat under way, so Close can cancel it rather than wait out its deadline.
  grpc::ClientContext* heartbeat_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread membership_;
};

}  // namespace rill::client
