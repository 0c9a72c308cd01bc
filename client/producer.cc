#include "rill/producer.h"

#include <chrono>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "api/error.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/fmt_absl.h"
#include "client/cluster.h"
#include "format/murmur2.h"
#include "format/record_batch.h"

namespace rill::client {

using Clock = std::chrono::steady_clock;

// The least producer.id.expiration.ms a broker accepts: a retry never outlives the state
// that recognises it.
constexpr int kIdempotentDeliveryTimeoutMsMax = 600000;
// The batches of a partition an idempotent producer has out at once: a broker remembers the
// last five of each producer, so a resent batch is always recognised as a duplicate.
constexpr size_t kIdempotentBatchesInFlightMax = 5;

namespace {

// Bytes a record adds to a batch, near enough for batching and buffer accounting.
size_t EstimateBytes(const ProducerRecord& r) {
  size_t bytes = 24 + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
  for (const auto& h : r.headers) bytes += 8 + h.key.size() + (h.value ? h.value->size() : 0);
  return bytes;
}

format::Compression ToFormat(Compression compression) {
  switch (compression) {
    case Compression::kGzip:
      return format::Compression::kGzip;
    case Compression::kSnappy:
      return format::Compression::kSnappy;
    case Compression::kLz4:
      return format::Compression::kLz4;
    case Compression::kZstd:
      return format::Compression::kZstd;
    case Compression::kNone:
      return format::Compression::kNone;
  }
  return format::Compression::kNone;
}

v1::Acks ToProto(Acks acks) {
  switch (acks) {
    case Acks::kLeader:
      return v1::ACKS_LEADER;
    case Acks::kNone:
      return v1::ACKS_NONE;
    case Acks::kAll:
      return v1::ACKS_ALL;
  }
  return v1::ACKS_ALL;
}

}  // namespace

class ProducerImpl {
 public:
  ProducerImpl(const ProducerOptions& options, std::unique_ptr<Cluster> cluster)
      : options_(options), cluster_(std::move(cluster)), rng_(std::random_device{}()) {
    sender_ = std::thread([this] { Run(); });
  }

  ~ProducerImpl() { Close(); }

  absl::Status Send(ProducerRecord record, DeliveryCallback done);
  void Flush();
  void Close();

 private:
  struct Pending {
    DeliveryCallback done;
    int64_t timestamp_ms;
  };
  struct Batch {
    TopicPartition partition;
    uint64_t sequence = 0;
    // An idempotent producer's epoch and first sequence for this partition, stamped when the
    // batch is first sent and kept across retries (-1: not yet).
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    format::BatchBuilder builder;
    std::vector<Pending> records;
    size_t bytes = 0;
    Clock::time_point created;
    Clock::time_point expires;
    Clock::time_point retry_at;
    // Set when first sent: later records go to a new batch.
    bool sealed = false;
    // The built batch once sealed. While a request carries it, the request owns the bytes (no
    // copy); they come back here when the request ends.
    std::string encoded;
    // Queued (to send, or to send again), out in a request, or answered: answers may come in
    // any order, but a partition's batches complete in order.
    enum class State { kQueued, kInFlight, kDone };
    State state = State::kQueued;
    absl::Status result;
    int64_t result_offset = -1;
  };
  // A partition's batches, oldest first: those out in requests (at most
  // max_in_flight_requests_per_partition requests), then those waiting.
  struct Queue {
    std::deque<std::unique_ptr<Batch>> batches;
    int requests_in_flight = 0;
    size_t batches_in_flight = 0;
    // A request failed: nothing more goes out until every request out has answered; then the
    // unanswered batches go again, oldest first, so a partition's sequence never has a gap the
    // broker would refuse.
    bool draining = false;
  };
  // Idempotence, per partition: the epoch its sequences run in and the next sequence. The
  // epoch moves on (and sequences restart at 0) only when the broker says it has no batch at
  // or after the first unacknowledged one (OUT_OF_ORDER_SEQUENCE, UNKNOWN_PRODUCER_ID), so
  // nothing written can be written again. Kept while queues come and go.
  struct Sequence {
    int16_t producer_epoch = 0;
    int32_t next_sequence = 0;
  };
  struct Call {
    grpc::ClientContext context;
    v1::ProduceRequest request;
    v1::ProduceResponse response;
    int32_t leader = -1;
    std::string address;
    // Per partition entry of the request, in order: the batches it carries, oldest first.
    std::vector<std::vector<Batch*>> groups;
    // The request entry of each group, holding one records element per batch.
    std::vector<v1::PartitionProduceData*> entries;
  };

  void Run();
  // Whether another request may go out for `queue`.
  bool CanSend(const Queue& queue) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `queue`'s first waiting batch, at `index`, should go out now.
  bool Ready(const Queue& queue, size_t index, Clock::time_point now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch(std::vector<std::vector<Batch*>> groups) ABSL_LOCKS_EXCLUDED(mu_);
  void OnResponse(std::shared_ptr<Call> call, const grpc::Status& rpc) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the front batch of its queue and reports `status` (or offsets) to its records.
  void Finish(Batch* batch, const absl::Status& status, int64_t base_offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finishes the answered batches at the front of `queue`, in order.
  void FinishAnswered(Queue& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts the batches of a failed request back to be sent again after the backoff.
  void Retry(const std::vector<Batch*>& group, Clock::time_point now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int32_t ChoosePartition(const ProducerRecord& record, int32_t partitions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks a broker for this producer's id once (idempotence), at most every retry backoff;
  // false while none could be had.
  bool EnsureProducerId() ABSL_LOCKS_EXCLUDED(mu_);
  // Stamps `batch` with the producer id and the next sequence of its partition's epoch, unless
  // it already carries that epoch.
  void StampSequence(Batch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ProducerOptions options_;
  const std::unique_ptr<Cluster> cluster_;
  const bool idempotent_ = options_.enable_idempotence && options_.acks == Acks::kAll;
  // Without idempotence one request per partition at a time, so retries never reorder.
  const int requests_in_flight_max_ =
      idempotent_ ? options_.max_in_flight_requests_per_partition : 1;
  absl::Mutex mu_;
  int64_t producer_id_ ABSL_GUARDED_BY(mu_) = -1;
  int16_t first_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // When EnsureProducerId may ask again after a failed attempt.
  Clock::time_point next_id_attempt_ ABSL_GUARDED_BY(mu_) = Clock::time_point::min();
  std::map<TopicPartition, Sequence> sequences_ ABSL_GUARDED_BY(mu_);
  std::mt19937 rng_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, Queue> queues_ ABSL_GUARDED_BY(mu_);
  // Keyless records of a topic go to one partition until about a batch of bytes went there.
  struct Sticky {
    int32_t partition = 0;
    size_t bytes = 0;
  };
  std::map<std::string, Sticky> sticky_ ABSL_GUARDED_BY(mu_);
  // Partitions per topic, cached from metadata (refreshed when a send says it moved).
  std::map<std::string, int32_t> partition_counts_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> outstanding_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  size_t buffered_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int flushing_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Set when something may have become ready to send before the sender's next timed check.
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  // When the waiting sender looks at the queues next. Min while it is not waiting: it then
  // looks at every queue before it waits again.
  Clock::time_point sender_wakes_at_ ABSL_GUARDED_BY(mu_) = Clock::time_point::min();
  // Callbacks taken from completions_ that the sender thread is still running.
  size_t running_completions_ ABSL_GUARDED_BY(mu_) = 0;
  // Produce RPCs whose callback has not finished: Close waits for them, since a callback still
  // running would otherwise outlive the channel it belongs to.
  int calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Callbacks to run outside the lock, collected while holding it.
  std::vector<std::function<void()>> completions_ ABSL_GUARDED_BY(mu_);
  std::thread sender_;
};

int32_t ProducerImpl::ChoosePartition(const ProducerRecord& record, int32_t partitions) {
  if (record.key) return format::PartitionForKey(*record.key, partitions);
  auto it = sticky_.find(record.topic);
  if (it == sticky_.end() || it->second.partition >= partitions) {
    it = sticky_
             .insert_or_assign(
                 record.topic,
                 Sticky{static_cast<int32_t>(rng_() % static_cast<uint32_t>(partitions)), 0})
             .first;
  }
  Sticky& sticky = it->second;
  const int32_t chosen = sticky.partition;
  // Like Kafka's sticky partitioner (KIP-480/794): once a batch worth went to this partition,
  // the next keyless record starts on another one, chosen at random.
  sticky.bytes += EstimateBytes(record);
  if (sticky.bytes >= options_.batch_bytes && partitions > 1) {
    const auto offset = 1 + rng_() % static_cast<uint32_t>(partitions - 1);
    sticky.partition = static_cast<int32_t>((static_cast<uint32_t>(chosen) + offset) %
                                            static_cast<uint32_t>(partitions));
    sticky.bytes = 0;
  }
  return chosen;
}

absl::Status ProducerImpl::Send(ProducerRecord record, DeliveryCallback done) {
  const size_t estimate = EstimateBytes(record);
  if (estimate > options_.max_request_bytes || estimate > options_.buffer_bytes) {
    return api::ApiError(v1::MESSAGE_TOO_LARGE,
                         fmt::format("MESSAGE_TOO_LARGE: record of about {} bytes exceeds the "
                                     "producer's max request size {}",
                                     estimate, options_.max_request_bytes));
  }
  int32_t partitions = 0;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = partition_counts_.find(record.topic); it != partition_counts_.end()) {
      partitions = it->second;
    }
  }
  if (partitions == 0) {
    auto meta = cluster_->Topic(record.topic, /*refresh=*/false);
    if (!meta.ok()) return meta.status();
    partitions = static_cast<int32_t>(meta->leaders.size());
    absl::MutexLock lock(&mu_);
    partition_counts_[record.topic] = partitions;
  }
  if (record.partition && (*record.partition < 0 || *record.partition >= partitions)) {
    return api::ApiError(v1::UNKNOWN_PARTITION,
                         fmt::format("UNKNOWN_PARTITION: topic '{}' has {} partitions, not {}",
                                     record.topic, partitions, *record.partition));
  }
  const auto now = Clock::now();
  const int64_t timestamp = record.timestamp_ms.value_or(base::WallClockMs());

  absl::MutexLock lock(&mu_);
  auto has_room = [this, estimate]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || buffered_bytes_ + estimate <= options_.buffer_bytes;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&has_room),
                            absl::Milliseconds(options_.max_block_ms))) {
    return absl::ResourceExhaustedError(
        fmt::format("producer buffer of {} bytes stayed full for {} ms", options_.buffer_bytes,
                    options_.max_block_ms));
  }
  if (closing_) return absl::FailedPreconditionError("producer is closed");
  const int32_t partition =
      record.partition ? *record.partition : ChoosePartition(record, partitions);
  Queue& queue = queues_[TopicPartition{record.topic, partition}];
  // Behind a request already out, an idempotent partition's waiting batch grows to a
  // request's size rather than batch_bytes (see Ready): the window counts batches (the broker
  // remembers five), so bigger batches keep more bytes moving.
  const size_t batch_limit = idempotent_ && queue.requests_in_flight > 0
                                 ? options_.max_request_bytes
                                 : options_.batch_bytes;
  const bool new_batch = queue.batches.empty() || queue.batches.back()->sealed ||
                         queue.batches.back()->bytes + estimate > batch_limit ||
                         queue.batches.back()->bytes + estimate > options_.max_request_bytes;
  if (new_batch) {
    auto batch = std::make_unique<Batch>();
    batch->partition = TopicPartition{record.topic, partition};
    batch->sequence = next_sequence_++;
    batch->created = now;
    batch->expires = now + std::chrono::milliseconds(options_.delivery_timeout_ms);
    batch->builder = format::BatchBuilder({.compression = ToFormat(options_.compression)});
    batch->builder.Reserve(std::min(options_.batch_bytes, options_.max_request_bytes) + 1024);
    outstanding_.insert(batch->sequence);
    queue.batches.push_back(std::move(batch));
  }
  Batch& batch = *queue.batches.back();
  std::vector<format::HeaderView> headers;
  for (const auto& h : record.headers) {
    headers.push_back({h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
  }
  batch.builder.Append(
      timestamp, record.key ? std::optional<std::string_view>(*record.key) : std::nullopt,
      record.value ? std::optional<std::string_view>(*record.value) : std::nullopt, headers);
  batch.records.push_back({std::move(done), timestamp});
  batch.bytes += estimate;
  buffered_bytes_ += estimate;
  // The sender only needs waking when this partition just got something to send — a full
  // batch (one with another behind it counts as full) — or a batch whose linger ends before
  // the sender would look again. An in-flight partition is looked at again when its response
  // arrives.
  if (CanSend(queue) &&
      (batch.bytes >= options_.batch_bytes || (new_batch && queue.batches.size() > 1) ||
       (new_batch && batch.created + std::chrono::milliseconds(options_.linger_ms) <
                         sender_wakes_at_))) {
    wake_ = true;
  }
  return absl::OkStatus();
}

bool ProducerImpl::CanSend(const Queue& queue) const {
  return !queue.draining && queue.requests_in_flight < requests_in_flight_max_ &&
         (!idempotent_ || queue.batches_in_flight < kIdempotentBatchesInFlightMax);
}

bool ProducerImpl::Ready(const Queue& queue, size_t index, Clock::time_point now) const {
  const Batch& batch = *queue.batches[index];
  if (!CanSend(queue) || now < batch.retry_at) return false;
  if (queue.requests_in_flight > 0 && !closing_ && flushing_ == 0) {
    // Behind a request already out, only a full request's worth goes early; the rest follows
    // the answer. Fewer, fuller requests cost the brokers less than a stream of small ones,
    // and a partition written fast enough to fill them still keeps several out.
    return queue.batches.size() > index + 1 || batch.bytes >= options_.max_request_bytes;
  }
  return batch.sealed || closing_ || flushing_ > 0 || queue.batches.size() > index + 1 ||
         batch.bytes >= options_.batch_bytes ||
         now >= batch.created + std::chrono::milliseconds(options_.linger_ms);
}

void ProducerImpl::Run() {
  while (true) {
    // An idempotent producer sends nothing before a broker gave it an id; its batches still
    // expire at their delivery timeout meanwhile.
    const bool can_send = !idempotent_ || EnsureProducerId();
    // Per partition: its oldest batches, sent together in one request entry.
    std::vector<std::vector<Batch*>> ready;
    std::vector<std::function<void()>> completions;
    {
      absl::MutexLock lock(&mu_);
      const auto now = Clock::now();
      Clock::time_point wake = now + std::chrono::milliseconds(100);
      for (auto it = queues_.begin(); it != queues_.end();) {
        Queue& queue = it->second;
        if (queue.batches.empty() && queue.requests_in_flight == 0) {
          it = queues_.erase(it);
          continue;
        }
        if (queue.requests_in_flight == 0 && !queue.batches.empty()) {
          queue.draining = false;
          Batch* front = queue.batches.front().get();
          if (now >= front->expires) {
            Finish(front,
                   absl::DeadlineExceededError(fmt::format(
                       "REQUEST_TIMED_OUT: not acknowledged within the delivery timeout of {} ms",
                       options_.delivery_timeout_ms)),
                   -1);
            continue;  // look at this queue's next batch on the next turn
          }
        }
        // The first batch waiting: those before it are out in requests.
        size_t first = 0;
        while (first < queue.batches.size() &&
               queue.batches[first]->state != Batch::State::kQueued) {
          ++first;
        }
        if (first == queue.batches.size()) {
          ++it;
          continue;
        }
        Batch* batch = queue.batches[first].get();
        if (can_send && Ready(queue, first, now)) {
          // Every batch but the last is full; the last goes too if it is ready on its own.
          // Sealed here, under the lock: Send appends only to batches not yet sealed.
          std::vector<Batch*> group;
          size_t bytes = 0;
          for (size_t i = first; i < queue.batches.size(); ++i) {
            Batch* b = queue.batches[i].get();
            bool last = i + 1 == queue.batches.size();
            if (b->state != Batch::State::kQueued) break;
            if (idempotent_ &&
                queue.batches_in_flight + group.size() >= kIdempotentBatchesInFlightMax) {
              break;
            }
            if (!group.empty() &&
                (bytes + b->bytes > options_.max_request_bytes ||
                 (last && !b->sealed && b->bytes < options_.batch_bytes && !closing_ &&
                  flushing_ == 0 &&
                  now < b->created + std::chrono::milliseconds(options_.linger_ms)))) {
              break;
            }
            if (!b->sealed) {
              b->encoded = b->builder.Build();
              b->sealed = true;
            }
            if (idempotent_) StampSequence(b);
            b->state = Batch::State::kInFlight;
            bytes += b->bytes;
            group.push_back(b);
          }
          ++queue.requests_in_flight;
          queue.batches_in_flight += group.size();
          ready.push_back(std::move(group));
        } else if (!can_send) {
          wake = std::min(wake, now + std::chrono::milliseconds(options_.retry_backoff_ms));
        } else if (CanSend(queue) && queue.requests_in_flight == 0) {
          // (Behind a request out, its answer wakes the sender.)
          wake = std::min(
              wake, std::max(batch->retry_at,
                             batch->created + std::chrono::milliseconds(options_.linger_ms)));
        }
        ++it;
      }
      completions.swap(completions_);
      running_completions_ += completions.size();
      if (ready.empty() && completions.empty()) {
        if (closing_ && queues_.empty() && calls_in_flight_ == 0) return;
        auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return wake_ || !completions_.empty();
        };
        sender_wakes_at_ = wake;
        mu_.AwaitWithTimeout(absl::Condition(&woken), absl::FromChrono(wake - now));
        sender_wakes_at_ = Clock::time_point::min();
        wake_ = false;
        continue;
      }
    }
    for (auto& completion : completions) completion();
    if (!completions.empty()) {
      absl::MutexLock lock(&mu_);
      running_completions_ -= completions.size();
    }
    if (!ready.empty()) Dispatch(std::move(ready));
  }
}

void ProducerImpl::Dispatch(std::vector<std::vector<Batch*>> groups) {
  // Per leader, requests of up to max_request_bytes with one entry per partition. Separate
  // requests are answered independently, so a partition whose answer came back is sent again
  // without waiting for the others.
  std::vector<std::shared_ptr<Call>> calls;
  std::map<int32_t, std::pair<Call*, size_t>> open;  // leader -> request being filled, bytes
  for (auto& group : groups) {
    const TopicPartition& tp = group.front()->partition;
    auto meta = cluster_->Topic(tp.topic, /*refresh=*/false);
    int32_t leader = -1;
    if (meta.ok() && tp.partition < static_cast<int32_t>(meta->leaders.size())) {
      leader = meta->leaders[static_cast<size_t>(tp.partition)];
    }
    size_t bytes = 0;
    for (const Batch* batch : group) bytes += batch->encoded.size();
    auto& [call, call_bytes] = open[leader];
    if (call == nullptr || call_bytes + bytes > options_.max_request_bytes) {
      calls.push_back(std::make_shared<Call>());
      call = calls.back().get();
      call_bytes = 0;
      call->leader = leader;
      call->request.set_acks(ToProto(options_.acks));
      call->request.set_timeout_ms(cluster_->request_timeout_ms());
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(cluster_->request_timeout_ms()));
    }
    call_bytes += bytes;
    auto* topic = call->request.add_topics();
    topic->set_topic(tp.topic);
    auto* data = topic->add_partitions();
    data->set_partition(tp.partition);
    // The batches are marked in flight, so nothing else touches them until the response.
    for (Batch* batch : group) data->add_records(std::move(batch->encoded));
    call->entries.push_back(data);
    call->groups.push_back(std::move(group));
  }
  {
    absl::MutexLock lock(&mu_);
    calls_in_flight_ += static_cast<int>(calls.size());
  }
  for (auto& call : calls) {
    Call* raw = call.get();
    auto* stub = cluster_->RillStub(raw->leader, &raw->address);
    stub->async()->Produce(&raw->context, &raw->request, &raw->response,
                           [this, call = std::move(call)](grpc::Status rpc) mutable {
                             OnResponse(std::move(call), rpc);
                           });
  }
}

void ProducerImpl::OnResponse(std::shared_ptr<Call> call, const grpc::Status& rpc) {
  const auto now = Clock::now();
  // Topics whose leaders are looked up again; copied here, since a batch finished below may
  // be freed (by its completion) before the lookup.
  std::set<std::string> refresh;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < call->groups.size(); ++i) {
      const std::vector<Batch*>& group = call->groups[i];
      for (size_t j = 0; j < group.size(); ++j) {
        group[j]->encoded = std::move(*call->entries[i]->mutable_records(static_cast<int>(j)));
      }
      absl::Status status = FromGrpc(rpc, call->address);
      int64_t base_offset = -1;
      const v1::PartitionProduceResponse* answer = nullptr;
      if (rpc.ok()) {
        if (static_cast<int>(i) < call->response.partitions_size()) {
          answer = &call->response.partitions(static_cast<int>(i));
          status = api::FromError(answer->error());
          base_offset = answer->base_offset();
        } else {
          status = absl::InternalError("malformed produce response");
        }
      }
      const v1::ErrorCode code = api::ErrorCodeOf(status);
      Queue& queue = queues_[group.front()->partition];
      --queue.requests_in_flight;
      queue.batches_in_flight -= group.size();
      const bool retriable = api::IsRetriable(status) && now < group.front()->expires;
      if (idempotent_ && now < group.front()->expires &&
          (code == v1::OUT_OF_ORDER_SEQUENCE || code == v1::UNKNOWN_PRODUCER_ID)) {
        // Only the partition's first unanswered batch, with nothing else out, tells that the
        // broker has nothing at or after it (a batch before it expired unwritten, or the
        // broker forgot an idle producer): the batches start over in a new epoch, and none of
        // them can have been written. Behind another request it is that request's gap.
        const bool first = queue.batches.front().get() == group.front();
        Sequence& sequence = sequences_[group.front()->partition];
        if (first && queue.requests_in_flight == 0 &&
            sequence.producer_epoch < std::numeric_limits<int16_t>::max()) {
          ++sequence.producer_epoch;
          sequence.next_sequence = 0;
        }
        Retry(group, now);
        continue;
      }
      if (!status.ok() && retriable) {
        // Leadership may have moved (NOT_LEADER), or the leader may be gone (unreachable,
        // timed out): either way the partition's leader is looked up again.
        refresh.insert(group.front()->partition.topic);
        Retry(group, now);
        continue;
      }
      // Each batch's own offset when the broker lists them (a retried batch keeps its first
      // one); else the partition's batches were appended in order, each after the one before.
      const bool listed = answer != nullptr && status.ok() &&
                          answer->batch_base_offsets_size() == static_cast<int>(group.size());
      for (size_t j = 0; j < group.size(); ++j) {
        Batch* batch = group[j];
        const auto count = static_cast<int64_t>(batch->records.size());
        batch->state = Batch::State::kDone;
        batch->result = status;
        batch->result_offset =
            listed ? answer->batch_base_offsets(static_cast<int>(j)) : base_offset;
        if (base_offset >= 0) base_offset += count;
      }
      FinishAnswered(queue);
    }
  }
  for (const std::string& topic : refresh) {
    auto meta = cluster_->Topic(topic, /*refresh=*/true);
    if (!meta.ok()) continue;
    absl::MutexLock lock(&mu_);
    partition_counts_[topic] = static_cast<int32_t>(meta->leaders.size());
  }
  // The call (and its gRPC context) goes before the count drops: once it is zero, Close may
  // destroy the channel.
  call.reset();
  absl::MutexLock lock(&mu_);
  --calls_in_flight_;
  wake_ = true;
}

bool ProducerImpl::EnsureProducerId() {
  {
    absl::MutexLock lock(&mu_);
    if (producer_id_ >= 0) return true;
    // Nothing to send yet: no need to ask.
    bool any = false;
    for (const auto& [tp, queue] : queues_) any = any || !queue.batches.empty();
    if (!any) return true;
    if (Clock::now() < next_id_attempt_) return false;
  }
  v1::InitProducerIdRequest request;
  v1::InitProducerIdResponse response;
  std::string address;
  auto context = cluster_->NewContext();
  grpc::Status rpc = cluster_->RillStub(-1, &address)->InitProducerId(context.get(), request,
                                                                      &response);
  absl::Status status = FromGrpc(rpc, address);
  if (status.ok()) status = api::FromError(response.error());
  if (status.ok() && response.producer_id() < 0) {
    status = absl::InternalError("InitProducerId answered no producer id");
  }
  if (!status.ok() && api::IsRetriable(status)) {
    // The broker asked may be gone: a metadata answer names one that is not, for the next try.
    (void)cluster_->FetchMetadata({});
  }
  absl::MutexLock lock(&mu_);
  if (!status.ok()) {
    next_id_attempt_ = Clock::now() + std::chrono::milliseconds(options_.retry_backoff_ms);
    return false;
  }
  producer_id_ = response.producer_id();
  // Each partition's sequences run in their own epochs from the one handed out.
  first_epoch_ = static_cast<int16_t>(response.producer_epoch());
  return true;
}

void ProducerImpl::StampSequence(Batch* batch) {
  auto [it, added] = sequences_.try_emplace(batch->partition);
  Sequence& sequence = it->second;
  if (added) sequence.producer_epoch = first_epoch_;
  if (batch->producer_epoch == sequence.producer_epoch && batch->base_sequence >= 0) return;
  batch->producer_epoch = sequence.producer_epoch;
  batch->base_sequence = sequence.next_sequence;
  sequence.next_sequence = format::IncrementSequence(
      sequence.next_sequence, static_cast<int32_t>(batch->records.size()));
  format::SetProducerFields(&batch->encoded, producer_id_, batch->producer_epoch,
                            batch->base_sequence);
}

void ProducerImpl::Retry(const std::vector<Batch*>& group, Clock::time_point now) {
  for (Batch* batch : group) {
    batch->state = Batch::State::kQueued;
    batch->retry_at = now + std::chrono::milliseconds(options_.retry_backoff_ms);
  }
  queues_[group.front()->partition].draining = true;
  wake_ = true;
}

void ProducerImpl::FinishAnswered(Queue& queue) {
  while (!queue.batches.empty() && queue.batches.front()->state == Batch::State::kDone) {
    Batch* batch = queue.batches.front().get();
    Finish(batch, batch->result, batch->result_offset);
  }
}

void ProducerImpl::Finish(Batch* batch, const absl::Status& status, int64_t base_offset) {
  Queue& queue = queues_[batch->partition];
  RILL_CHECK(queue.batches.front().get() == batch);
  std::unique_ptr<Batch> owned = std::move(queue.batches.front());
  queue.batches.pop_front();
  buffered_bytes_ -= std::min(buffered_bytes_, owned->bytes);
  outstanding_.erase(owned->sequence);
  auto shared = std::shared_ptr<Batch>(std::move(owned));
  wake_ = true;
  completions_.push_back([shared, status, base_offset] {
    for (size_t i = 0; i < shared->records.size(); ++i) {
      auto& record = shared->records[i];
      if (!record.done) continue;
      if (!status.ok()) {
        record.done(status);
        continue;
      }
      record.done(RecordMetadata{shared->partition.topic, shared->partition.partition,
                                 base_offset < 0 ? -1 : base_offset + static_cast<int64_t>(i),
                                 record.timestamp_ms});
    }
  });
}

void ProducerImpl::Flush() {
  absl::MutexLock lock(&mu_);
  if (outstanding_.empty() && completions_.empty() && running_completions_ == 0) return;
  const uint64_t last = outstanding_.empty() ? 0 : *outstanding_.rbegin();
  ++flushing_;
  wake_ = true;
  auto done = [this, last]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (outstanding_.empty() || *outstanding_.begin() > last) && completions_.empty() &&
           running_completions_ == 0;
  };
  mu_.Await(absl::Condition(&done));
  --flushing_;
}

void ProducerImpl::Close() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    wake_ = true;
  }
  if (sender_.joinable()) sender_.join();
}

}  // namespace rill::client

namespace rill {

Producer::Producer(std::unique_ptr<client::ProducerImpl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() { Close(); }

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ProducerOptions& options) {
  if (options.batch_bytes == 0 || options.buffer_bytes == 0 || options.linger_ms < 0 ||
      options.max_block_ms < 0 || options.delivery_timeout_ms <= 0 ||
      options.retry_backoff_ms < 0 || options.max_request_bytes == 0 ||
      options.max_in_flight_requests_per_partition < 1 ||
      options.max_in_flight_requests_per_partition > 5) {
    return absl::InvalidArgumentError("producer options out of range");
  }
  if (options.enable_idempotence && options.acks == Acks::kAll &&
      options.delivery_timeout_ms > client::kIdempotentDeliveryTimeoutMsMax) {
    return absl::InvalidArgumentError(fmt::format(
        "delivery_timeout_ms {} is over {} ms, the least time a broker keeps an idle "
        "idempotent producer's state (producer.id.expiration.ms); lower it or turn off "
        "enable_idempotence",
        options.delivery_timeout_ms, client::kIdempotentDeliveryTimeoutMsMax));
  }
  auto cluster = client::Cluster::Create(options.client);
  if (!cluster.ok()) return cluster.status();
  return std::unique_ptr<Producer>(
      new Producer(std::make_unique<client::ProducerImpl>(options, std::move(*cluster))));
}

absl::Status Producer::Send(ProducerRecord record, DeliveryCallback done) {
  return impl_->Send(std::move(record), std::move(done));
}

std::future<absl::StatusOr<RecordMetadata>> Producer::Send(ProducerRecord record, std::nullptr_t) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<RecordMetadata>>>();
  auto future = promise->get_future();
  absl::Status s =
      impl_->Send(std::move(record),
                  [promise](const absl::StatusOr<RecordMetadata>& r) { promise->set_value(r); });
  if (!s.ok()) promise->set_value(s);
  return future;
}

void Producer::Flush() { impl_->Flush(); }
void Producer::Close() {
  if (impl_) impl_->Close();
}

}  // namespace rill
