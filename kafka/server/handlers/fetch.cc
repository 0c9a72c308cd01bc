#include <algorithm>
#include <chrono>
#include <memory>

#include "cluster/watermark_wait.h"
#include "kafka/protocol/messages.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka::handlers {

namespace {

using Clock = std::chrono::steady_clock;

// One Fetch in progress: reads what is available, and if that is less than min_bytes waits for
// any of its partitions' high watermarks to move, or for max_wait, then reads again. The bytes
// a response holds come out of the broker's fetch budget until it is handed to the connection.
class FetchOperation : public std::enable_shared_from_this<FetchOperation> {
 public:
  FetchOperation(KafkaContext* context, FetchRequest request, int16_t version, Respond respond)
      : context_(context),
        request_(std::move(request)),
        version_(version),
        respond_(std::move(respond)),
        deadline_(Clock::now() + std::chrono::milliseconds(std::clamp<int64_t>(
                                     request_.max_wait_ms, 0, context->settings.max_fetch_wait_ms))) {}

  void Start() {
    for (const FetchTopic& topic : request_.topics) {
      for (const FetchPartition& p : topic.partitions) {
        partitions_.push_back(context_->topics->GetPartition(topic.topic, p.partition));
      }
    }
    Post(/*final=*/false);
  }

 private:
  void Post(bool final) {
    asio::post(*context_->io, [self = shared_from_this(), final] { self->Attempt(final); });
  }

  // Reads every partition into `out`, at most `total_max` bytes of records (past it, only
  // offsets and errors); returns the bytes read and whether any partition failed.
  std::pair<int64_t, bool> ReadAll(int64_t total_max, FetchResponse* out,
                                   std::vector<int64_t>* watermarks) {
    int64_t total = 0;
    bool any_error = false;
    watermarks->clear();
    size_t index = 0;
    for (const FetchTopic& topic : request_.topics) {
      FetchableTopicResponse& topic_out = out->responses.emplace_back();
      topic_out.topic = topic.topic;
      for (const FetchPartition& want : topic.partitions) {
        const auto& partition = partitions_[index++];
        PartitionData& got = topic_out.partitions.emplace_back();
        got.partition_index = want.partition;
        got.high_watermark = -1;
        got.records = std::string();
        watermarks->push_back(-1);
        if (!partition.ok()) {
          got.error_code = ErrorCode(partition.status());
          any_error = true;
          continue;
        }
        cluster::FetchResult fetched =
            (*partition)->Fetch(Offset(want.fetch_offset),
                                cluster::FetchBytesFor(want.partition_max_bytes, total_max, total));
        watermarks->back() = fetched.high_watermark.value();
        got.high_watermark = fetched.high_watermark.value();
        got.last_stable_offset = fetched.high_watermark.value();
        got.log_start_offset = fetched.log_start.value();
        got.aborted_transactions.emplace();
        if (!fetched.status.ok()) {
          got.error_code = ErrorCode(fetched.status);
          any_error = true;
          continue;
        }
        total += static_cast<int64_t>(fetched.batches.size());
        got.records = std::move(fetched.batches);
      }
    }
    return {total, any_error};
  }

  void Attempt(bool final) {
    const int64_t want = std::min<int64_t>(
        request_.max_bytes > 0 ? request_.max_bytes : INT32_MAX, context_->settings.max_fetch_bytes);
    const int64_t granted = context_->fetch_budget->TakeUpTo(want);
    FetchResponse attempt;
    std::vector<int64_t> watermarks;
    auto [bytes, any_error] = ReadAll(granted, &attempt, &watermarks);
    final = final || any_error || bytes >= std::max(1, request_.min_bytes) ||
            Clock::now() >= deadline_ || context_->stopping->load();
    if (final) {
      std::string body = Encode(attempt, version_);
      context_->fetch_budget->Give(granted);
      respond_(std::move(body));
      return;
    }
    context_->fetch_budget->Give(granted);
    Wait(watermarks);
  }

  void Wait(const std::vector<int64_t>& watermarks) {
    cluster::WatermarkWait::Start(
        *context_->io, partitions_, watermarks, deadline_, *context_->stopping,
        [self = shared_from_this()](bool final) { self->Attempt(final); });
  }

  KafkaContext* const context_;
  const FetchRequest request_;
  const int16_t version_;
  const Respond respond_;
  const Clock::time_point deadline_;
  std::vector<absl::StatusOr<std::shared_ptr<cluster::Partition>>> partitions_;
};

}  // namespace

absl::Status Fetch(KafkaContext& context, const Request& request, WireReader& body,
                   Respond respond) {
  const int16_t version = request.header.api_version;
  FetchRequest in;
  if (auto s = ReadBody(body, version, &in); !s.ok()) return s;
  std::make_shared<FetchOperation>(&context, std::move(in), version, std::move(respond))->Start();
  return absl::OkStatus();
}

}  // namespace rill::kafka::handlers
