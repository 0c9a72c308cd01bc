// Producer: sends records to topics, batching them per partition.
//
// Partitioning is Kafka's: an explicit partition wins; otherwise a keyed record goes to
// toPositive(murmur2(key)) % partitions, exactly as with Kafka's Java client; records without a
// key stick to one partition per topic until its batch is sent, then move to another.
// Batches are sent when they reach batch_bytes or after linger_ms. An idempotent producer keeps
// up to max_in_flight_requests_per_partition requests per partition out at once and still
// never reorders or duplicates a partition's records: after a failure it resends what was not
// answered in order, and the broker drops what it already wrote. Without idempotence one
// request per partition is out at a time, so retries never reorder. Failed sends are
// retried with backoff on retriable errors (leader moved, timeouts, broker unreachable) until
// delivery_timeout_ms, refreshing metadata as they go.
//
// Thread-safe: Send may be called from any thread. Callbacks run on the producer's I/O thread
// and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rill/types.h"

namespace rill {

namespace client {
class ProducerImpl;
}

enum class Acks { kAll, kLeader, kNone };

// compression.type: the codec of the batches sent (and stored as sent). Consumers read every
// codec whatever this is.
enum class Compression { kNone, kGzip, kSnappy, kLz4, kZstd };

struct ProducerOptions {
  ClientOptions client;
  Acks acks = Acks::kAll;
  // linger.ms: how long a batch may wait for more records.
  int linger_ms = 5;
  // batch.size: bytes at which a partition's batch is sent.
  size_t batch_bytes = 64 * 1024;
  // buffer.memory: records waiting to be sent; Send blocks when it is full.
  size_t buffer_bytes = 64 << 20;
  // max.block.ms: how long Send blocks for buffer space or metadata before failing.
  int max_block_ms = 60000;
  // delivery.timeout.ms: give up on a record this long after Send.
  int delivery_timeout_ms = 120000;
  // retry.backoff.ms
  int retry_backoff_ms = 100;
  // max.request.size: the largest record (and batch) sent.
  size_t max_request_bytes = 1 << 20;
  // compression.type
  Compression compression = Compression::kNone;
  // enable.idempotence: with acks=all, each batch carries the producer's id and a sequence
  // number per partition, so a batch retried after a timeout or a leader change is written
  // once (docs/idempotence.md). With acks leader or none it has no effect. delivery_timeout_ms
  // may then be at most 10 minutes, the least time a broker keeps an idle producer's state.
  bool enable_idempotence = true;
  // max.in.flight.requests.per.connection, per partition: 1 to 5 requests out at once, with
  // idempotence (at most five batches in all, the ones a broker remembers); without
  // idempotence always 1.
  int max_in_flight_requests_per_partition = 5;
};

struct ProducerRecord {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
  std::optional<int32_t> partition;
  // Defaults to the time of Send.
  std::optional<int64_t> timestamp_ms;
};

struct RecordMetadata {
  std::string topic;
  int32_t partition = 0;
  // -1 with Acks::kNone.
  int64_t offset = -1;
  int64_t timestamp_ms = 0;
};

using DeliveryCallback = std::function<void(const absl::StatusOr<RecordMetadata>&)>;

class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const ProducerOptions& options);
  // Close()s first.
  ~Producer();

  // Queues a record; `done` runs once it is acknowledged or has failed for good. Fails at once
  // (and `done` is not called) for a record that can never be sent — unknown topic or partition,
  // too large — or when the buffer stays full for max_block_ms.
  absl::Status Send(ProducerRecord record, DeliveryCallback done = nullptr);
  // The same, as a future.
  std::future<absl::StatusOr<RecordMetadata>> Send(ProducerRecord record, std::nullptr_t);
  // Sends everything queued now and waits until it is acknowledged or failed.
  void Flush();
  // Flushes, then stops. Later sends fail.
  void Close();

 private:
  explicit Producer(std::unique_ptr<client::ProducerImpl> impl);
  std::unique_ptr<client::ProducerImpl> impl_;
};

}  // namespace rill
