#include "server/rill_service.h"

#include <chrono>
#include <vector>

#include "absl/synchronization/notification.h"
#include "api/error.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "cluster/topic_names.h"
#include "cluster/watermark_wait.h"

namespace rill::server {

using api::ApiError;
using api::ErrorCodeOf;
using api::SetError;
namespace {

using Clock = std::chrono::steady_clock;

// How long a request for a topic that is auto-created waits for it before it is told to retry.
constexpr int64_t kAutoCreateWaitMs = 1000;

// The request's acks, already checked with v1::Acks_IsValid.
cluster::Acks AcksLevel(v1::Acks acks) {
  switch (acks) {
    case v1::ACKS_NONE:
      return cluster::Acks::kNone;
    case v1::ACKS_LEADER:
      return cluster::Acks::kLeader;
    default:
      return cluster::Acks::kAll;
  }
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One Fetch in progress: reads what is available, and if that is less than min_bytes waits
// for any of its partitions' high watermarks to move or for max_wait, then reads again.
class FetchOperation : public std::enable_shared_from_this<FetchOperation> {
 public:
  FetchOperation(ServerContext* context, RpcDispatcher::Reply reply,
                 const v1::FetchRequest* request, v1::FetchResponse* response)
      : context_(context),
        reply_(std::move(reply)),
        request_(request),
        response_(response),
        start_(Clock::now()),
        deadline_(start_ + std::chrono::milliseconds(std::clamp<int64_t>(
                               request->max_wait_ms(), 0, context->settings.max_fetch_wait_ms))) {}

  void Start() {
    for (const auto& p : request_->partitions()) {
      partitions_.push_back(context_->topics->GetPartition(p.topic(), p.partition()));
    }
    Post(/*final=*/false);
  }

 private:
  void Post(bool final) {
    asio::post(*context_->io, [self = shared_from_this(), final] { self->Attempt(final); });
  }

  // Reads every partition into a fresh response, at most `total_max` bytes of records (0: none,
  // only offsets and errors); returns the bytes read and whether any partition answered with an
  // error.
  std::pair<int64_t, bool> ReadAll(int64_t total_max, v1::FetchResponse* out,
                                   std::vector<int64_t>* watermarks) {
    int64_t total = 0;
    bool any_error = false;
    watermarks->clear();
    for (int i = 0; i < request_->partitions_size(); ++i) {
      const auto& want = request_->partitions(i);
      auto* got = out->add_partitions();
      got->set_topic(want.topic());
      got->set_partition(want.partition());
      got->mutable_error()->set_leader_hint(-1);
      watermarks->push_back(-1);
      if (!partitions_[i].ok()) {
        SetError(partitions_[i].status(), got->mutable_error());
        any_error = true;
        continue;
      }
      cluster::Partition& partition = **partitions_[i];
      cluster::FetchResult fetched = partition.Fetch(
          Offset(want.fetch_offset()), cluster::FetchBytesFor(want.max_bytes(), total_max, total));
      (*watermarks)[i] = fetched.high_watermark.value();
      got->set_high_watermark(fetched.high_watermark.value());
      got->set_log_start_offset(fetched.log_start.value());
      if (!fetched.status.ok()) {
        SetError(fetched.status, got->mutable_error());
        any_error = true;
        continue;
      }
      total += static_cast<int64_t>(fetched.batches.size());
      got->set_records(std::move(fetched.batches));
    }
    return {total, any_error};
  }

  void Attempt(bool final) {
    // The bytes this attempt may read come out of the broker-wide budget for fetches, held
    // until the response is sent. With none to spare it reads nothing and waits, as it would
    // for data.
    const int64_t want =
        std::min<int64_t>(request_->max_bytes() > 0 ? request_->max_bytes() : INT32_MAX,
                          context_->settings.max_fetch_bytes);
    const int64_t granted = context_->fetch_budget->TakeUpTo(want);
    v1::FetchResponse attempt;
    std::vector<int64_t> watermarks;
    auto [bytes, any_error] = ReadAll(granted, &attempt, &watermarks);
    final = final || any_error || bytes >= std::max(1, request_->min_bytes()) ||
            Clock::now() >= deadline_ || context_->stopping.load();
    if (final) {
      response_->Swap(&attempt);
      context_->metrics->Fetched(static_cast<uint64_t>(bytes), SecondsSince(start_));
      for (const auto& p : response_->partitions()) {
        if (p.error().code() != v1::NONE) context_->metrics->Error("fetch", p.error().code());
      }
      // The budget is held until the response is on the wire: a consumer slow to read its
      // responses holds them in the broker's memory until then.
      reply_([budget = context_->fetch_budget, granted] { budget->Give(granted); });
      return;
    }
    context_->fetch_budget->Give(granted);
    Wait(watermarks);
  }

  void Wait(const std::vector<int64_t>& watermarks) {
    cluster::WatermarkWait::Start(
        *context_->io, partitions_, watermarks, deadline_, context_->stopping,
        [self = shared_from_this()](bool final) { self->Attempt(final); });
  }

  ServerContext* const context_;
  const RpcDispatcher::Reply reply_;
  const v1::FetchRequest* const request_;
  v1::FetchResponse* const response_;
  const Clock::time_point start_;
  const Clock::time_point deadline_;
  std::vector<absl::StatusOr<std::shared_ptr<cluster::Partition>>> partitions_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<cluster::Partition>> RillService::Resolve(const std::string& topic,
                                                                         int32_t partition) {
  auto found = context_->topics->GetPartition(topic, partition);
  if (found.ok() || ErrorCodeOf(found.status()) != v1::UNKNOWN_TOPIC ||
      !context_->settings.auto_create_topics) {
    return found;
  }
  // As Kafka's auto-creation: the topic is asked of the controller and this request is told to
  // retry; the retry finds it.
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kCreate;
  change.topic = topic;
  change.partitions = context_->settings.default_partitions;
  change.replication_factor = context_->settings.default_replication_factor;
  if (auto s = cluster::RejectInternalTopic(topic, "create"); !s.ok()) return s;
  auto created = std::make_shared<absl::Notification>();
  auto outcome = std::make_shared<absl::Status>();
  context_->topics_frontend->Change(change, [created, outcome](absl::Status s) {
    *outcome = s;
    created->Notify();
  });
  // A short wait answers most first requests at once; a longer create is left to the retry.
  if (created->WaitForNotificationWithTimeout(absl::Milliseconds(kAutoCreateWaitMs)) &&
      (outcome->ok() || ErrorCodeOf(*outcome) == v1::TOPIC_ALREADY_EXISTS)) {
    return context_->topics->GetPartition(topic, partition);
  }
  if (created->HasBeenNotified() && ErrorCodeOf(*outcome) != v1::NOT_CONTROLLER) return *outcome;
  return ApiError(v1::UNKNOWN_TOPIC,
                  fmt::format("topic '{}' is being created; retry", topic));
}

void RillService::Register(RpcDispatcher* dispatcher) {
  constexpr std::string_view kService = "rill.v1.Rill";
  dispatcher->Add<v1::ProduceRequest, v1::ProduceResponse>(
      kService, "Produce", [this](const auto& request, auto* response, auto reply) {
        Produce(request, response, std::move(reply));
      });
  dispatcher->Add<v1::FetchRequest, v1::FetchResponse>(
      kService, "Fetch", [this](const auto& request, auto* response, auto reply) {
        Fetch(request, response, std::move(reply));
      });
  dispatcher->AddSync<v1::ListOffsetsRequest, v1::ListOffsetsResponse>(
      kService, "ListOffsets",
      [this](const auto& request, auto* response) { ListOffsets(request, response); });
  dispatcher->AddSyncWithPeer<v1::MetadataRequest, v1::MetadataResponse>(
      kService, "Metadata", [this](const auto& request, auto* response, const std::string& peer) {
        Metadata(request, response, context_->listener_of(peer));
      });
  dispatcher->Add<v1::InitProducerIdRequest, v1::InitProducerIdResponse>(
      kService, "InitProducerId", [this](const auto& request, auto* response, auto reply) {
        InitProducerId(request, response, std::move(reply));
      });
  dispatcher->CheckComplete(kService);
}

void RillService::Produce(const v1::ProduceRequest& request, v1::ProduceResponse* response,
                          RpcDispatcher::Reply reply) {
  const v1::ProduceRequest* const request_ptr = &request;
  struct State {
    std::atomic<int> remaining{0};
    uint64_t bytes = 0;
    Clock::time_point start = Clock::now();
  };
  auto state = std::make_shared<State>();
  int count = 0;
  for (const auto& topic : request.topics()) {
    for (const auto& partition : topic.partitions()) {
      auto* entry = response->add_partitions();
      entry->set_topic(topic.topic());
      entry->set_partition(partition.partition());
      entry->set_base_offset(-1);
      entry->set_log_append_time_ms(-1);
      entry->set_log_start_offset(-1);
      for (const std::string& chunk : partition.records()) state->bytes += chunk.size();
      ++count;
    }
  }
  if (count == 0) {
    reply();
    return;
  }
  // Each partition's answer goes into its own pre-allocated entry; the last one to complete
  // finishes the call.
  state->remaining.store(count + 1);
  auto complete_one = [this, reply = std::move(reply), response, state] {
    if (state->remaining.fetch_sub(1) != 1) return;
    context_->metrics->Produced(state->bytes, SecondsSince(state->start));
    for (const auto& p : response->partitions()) {
      if (p.error().code() != v1::NONE) context_->metrics->Error("produce", p.error().code());
    }
    reply();
  };
  int index = 0;
  for (const auto& topic : request.topics()) {
    for (const auto& data : topic.partitions()) {
      v1::PartitionProduceResponse* entry = response->mutable_partitions(index++);
      absl::Status refused =
          v1::Acks_IsValid(request.acks())
              ? cluster::RejectInternalTopic(topic.topic(), "produce to")
              : ApiError(v1::INVALID_REQUEST,
                         fmt::format("acks {} is not ACKS_ALL, ACKS_LEADER or ACKS_NONE",
                                     static_cast<int>(request.acks())));
      absl::StatusOr<std::shared_ptr<cluster::Partition>> partition =
          refused.ok() ? Resolve(topic.topic(), data.partition()) : refused;
      if (!partition.ok()) {
        SetError(partition.status(), entry->mutable_error());
        complete_one();
        continue;
      }
      const int64_t log_start = (*partition)->log_start_offset().value();
      const std::vector<std::string_view> chunks(data.records().begin(), data.records().end());
      (*partition)
          ->Produce(chunks, AcksLevel(request_ptr->acks()),
                    [entry, complete_one, log_start](cluster::ProduceResult result) {
                      SetError(result.status, entry->mutable_error());
                      entry->set_base_offset(result.base_offset.value());
                      for (Offset offset : result.batch_offsets) {
                        entry->add_batch_base_offsets(offset.value());
                      }
                      entry->set_log_start_offset(log_start);
                      complete_one();
                    });
    }
  }
  complete_one();
}

void RillService::InitProducerId(const v1::InitProducerIdRequest&,
                                 v1::InitProducerIdResponse* response,
                                 RpcDispatcher::Reply reply) {
  response->set_producer_id(-1);
  response->set_producer_epoch(-1);
  context_->producer_ids->Next([response, reply = std::move(reply)](absl::StatusOr<int64_t> id) {
    if (!id.ok()) {
      SetError(id.status(), response->mutable_error());
    } else {
      response->set_producer_id(*id);
      response->set_producer_epoch(0);
    }
    reply();
  });
}

void RillService::Fetch(const v1::FetchRequest& request, v1::FetchResponse* response,
                        RpcDispatcher::Reply reply) {
  std::make_shared<FetchOperation>(context_, std::move(reply), &request, response)->Start();
}

void RillService::ListOffsets(const v1::ListOffsetsRequest& request,
                              v1::ListOffsetsResponse* response) {
  for (const auto& want : request.partitions()) {
    auto* got = response->add_partitions();
    got->set_topic(want.topic());
    got->set_partition(want.partition());
    got->set_offset(-1);
    got->mutable_error()->set_leader_hint(-1);
    auto partition = context_->topics->GetPartition(want.topic(), want.partition());
    if (partition.ok()) {
      if (absl::Status s = (*partition)->CheckServing(); !s.ok()) partition = s;
    }
    if (!partition.ok()) {
      SetError(partition.status(), got->mutable_error());
      continue;
    }
    const int64_t high_watermark = (*partition)->high_watermark().value();
    if (want.timestamp() == v1::LATEST) {
      got->set_offset(high_watermark);
    } else if (want.timestamp() == v1::EARLIEST) {
      got->set_offset((*partition)->log_start_offset().value());
    } else if (want.timestamp() < 0) {
      SetError(ApiError(v1::INVALID_REQUEST,
                        fmt::format("timestamp {} is neither -1, -2 nor a time", want.timestamp())),
               got->mutable_error());
    } else {
      auto found = (*partition)->FindOffsetByTimestamp(want.timestamp());
      if (!found.ok()) {
        SetError(found.status(), got->mutable_error());
      } else if (found->has_value()) {
        got->set_offset((*found)->value());
      }
    }
  }
}

void RillService::Metadata(const v1::MetadataRequest& request, v1::MetadataResponse* response,
                           const std::string& listener) {
  const auto image = context_->controller->image();
  for (const auto& [id, info] : image->brokers()) {
    if (info.fenced) continue;
    // The addresses of the listener the request came in on: a client inside a container
    // network and one on the host each get addresses they can reach.
    const cluster::Endpoint* chosen = nullptr;
    for (const cluster::Endpoint& endpoint : info.endpoints) {
      if (endpoint.name == listener) chosen = &endpoint;
    }
    for (const cluster::Endpoint& endpoint : info.endpoints) {
      if (chosen == nullptr && endpoint.name != cluster::kBrokerListener) chosen = &endpoint;
    }
    if (chosen == nullptr) continue;
    auto* broker = response->add_brokers();
    broker->set_node_id(id.value());
    broker->set_host(chosen->host);
    broker->set_port(chosen->port);
  }
  if (!image->Broker(NodeId(context_->settings.node_id)) ||
      image->Broker(NodeId(context_->settings.node_id))->fenced) {
    // Not yet registered (or fenced): this broker still answers for itself.
    const auto& [host, port] = context_->advertised.at(listener);
    auto* broker = response->add_brokers();
    broker->set_node_id(context_->settings.node_id);
    broker->set_host(host);
    broker->set_port(port);
  }
  const NodeId controller = context_->controller->status().raft.leader;
  response->set_controller_id(controller == kNoNode ? -1 : controller.value());

  std::vector<std::string> names(request.topics().begin(), request.topics().end());
  if (names.empty()) {
    for (const auto& record : context_->topics->List()) names.push_back(record.name());
  }
  for (const auto& name : names) {
    auto* topic = response->add_topics();
    topic->set_name(name);
    topic->mutable_error()->set_leader_hint(-1);
    if (auto resolved = Resolve(name, 0);
        !resolved.ok() && ErrorCodeOf(resolved.status()) != v1::NOT_LEADER &&
        ErrorCodeOf(resolved.status()) != v1::STORAGE_ERROR) {
      SetError(resolved.status(), topic->mutable_error());
      continue;
    }
    const auto record = context_->topics->Get(name);
    const cluster::TopicInfo* info = image->TopicByName(name);
    for (int32_t p = 0; record && p < record->partitions(); ++p) {
      auto* meta = topic->add_partitions();
      meta->set_partition(p);
      meta->set_leader(-1);
      if (info && p < static_cast<int32_t>(info->partitions.size())) {
        const auto& assignment = info->partitions[static_cast<size_t>(p)];
        for (NodeId replica : assignment.replicas) meta->add_replicas(replica.value());
        if (const auto view = context_->topics->KnownLeader(name, p, *image)) {
          meta->set_leader(view->leader.value());
          for (NodeId replica : view->in_sync) meta->add_in_sync_replicas(replica.value());
        } else {
          SetError(ApiError(v1::NOT_LEADER,
                            fmt::format("partition {}-{} has no leader at the moment", name, p)),
                   meta->mutable_error());
          continue;
        }
      }
      auto partition = context_->topics->GetPartition(name, p);
      if (!partition.ok() && ErrorCodeOf(partition.status()) != v1::NOT_LEADER) {
        SetError(partition.status(), meta->mutable_error());
        meta->set_leader(-1);
        continue;
      }
      SetError(absl::OkStatus(), meta->mutable_error());
    }
  }
}

}  // namespace rill::server
