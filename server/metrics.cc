#include "server/metrics.h"

#include "cluster/topic_registry.h"
#include "prometheus/gauge.h"
#include "prometheus/text_serializer.h"
#include "storage/flusher.h"

namespace rill::server {
namespace {

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace

BrokerMetrics::BrokerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using namespace prometheus;
  auto& requests = BuildCounter()
                       .Name("rill_requests_total")
                       .Help("Requests handled, by API")
                       .Register(*registry_);
  requests_ = &requests;
  produce_requests_ = &requests.Add({{"api", "produce"}});
  fetch_requests_ = &requests.Add({{"api", "fetch"}});
  auto& bytes = BuildCounter()
                    .Name("rill_record_bytes_total")
                    .Help("Record batch bytes produced and fetched")
                    .Register(*registry_);
  produce_bytes_ = &bytes.Add({{"direction", "produce"}});
  fetch_bytes_ = &bytes.Add({{"direction", "fetch"}});
  auto& latency = BuildHistogram()
                      .Name("rill_request_latency_seconds")
                      .Help("Time from request to response (produce: until acknowledged)")
                      .Register(*registry_);
  produce_latency_ = &latency.Add({{"api", "produce"}}, LatencyBuckets());
  fetch_latency_ = &latency.Add({{"api", "fetch"}}, LatencyBuckets());
  errors_ = &BuildCounter()
                 .Name("rill_request_errors_total")
                 .Help("Error responses, by API and error code")
                 .Register(*registry_);
  refused_ =
      &BuildCounter()
           .Name("rill_requests_refused_total")
           .Help(
               "Requests refused before any handler ran, by reason (malformed, entries, too_large, "
               "inflight_bytes, premature_resets)")
           .Register(*registry_);
}

void BrokerMetrics::Produced(uint64_t bytes, double seconds) {
  produce_requests_->Increment();
  produce_bytes_->Increment(static_cast<double>(bytes));
  produce_latency_->Observe(seconds);
}

void BrokerMetrics::Fetched(uint64_t bytes, double seconds) {
  fetch_requests_->Increment();
  fetch_bytes_->Increment(static_cast<double>(bytes));
  fetch_latency_->Observe(seconds);
}

void BrokerMetrics::Request(const char* api) { requests_->Add({{"api", api}}).Increment(); }

void BrokerMetrics::RequestRefused(const char* reason) {
  refused_->Add({{"reason", reason}}).Increment();
}

void BrokerMetrics::Error(const char* api, v1::ErrorCode code) {
  errors_->Add({{"api", api}, {"code", v1::ErrorCode_Name(code)}}).Increment();
}

std::string BrokerMetrics::Render(const cluster::TopicRegistry& topics,
                                  const storage::Flusher& flusher,
                                  const std::vector<GroupMetrics>& groups,
                                  const std::map<std::string, net::ConnectionStats>& listeners) const {
  using namespace prometheus;
  // Partition gauges live in a registry built per scrape, so they always match the topics.
  Registry snapshot;
  auto& size =
      BuildGauge().Name("rill_partition_size_bytes").Help("Bytes on disk").Register(snapshot);
  auto& high = BuildGauge()
                   .Name("rill_partition_high_watermark")
                   .Help("Offset below which records are durable and readable")
                   .Register(snapshot);
  auto& start = BuildGauge()
                    .Name("rill_partition_log_start_offset")
                    .Help("First offset still retained")
                    .Register(snapshot);
  auto& segments =
      BuildGauge().Name("rill_partition_segments").Help("Segment files").Register(snapshot);
  auto& replica_lag = BuildGauge()
                  .Name("rill_partition_replica_lag_offsets")
                  .Help("On a partition's leader: offsets between its log end and what each "
                        "follower holds")
                  .Register(snapshot);
  auto& leader = BuildGauge()
                     .Name("rill_partition_leader")
                     .Help("1 where this broker leads the partition and serves it")
                     .Register(snapshot);
  auto& under = BuildGauge()
                    .Name("rill_partition_under_replicated")
                    .Help("On a partition's leader: 1 while a replica lacks committed records")
                    .Register(snapshot);
  int64_t under_replicated = 0;
  for (const auto& partition : topics.AllPartitions()) {
    const storage::LogStats stats = partition->stats();
    Labels labels{{"topic", partition->topic()},
                  {"partition", std::to_string(partition->id().value())}};
    size.Add(labels).Set(static_cast<double>(stats.size_bytes));
    high.Add(labels).Set(static_cast<double>(partition->high_watermark().value()));
    start.Add(labels).Set(static_cast<double>(stats.start_offset.value()));
    segments.Add(labels).Set(static_cast<double>(stats.segment_count));
    const cluster::RaftGroupStatus raft = partition->raft_status();
    leader.Add(labels).Set(raft.serving ? 1 : 0);
    if (raft.role != raft::Role::kLeader) continue;
    bool lagging = false;
    for (const NodeId voter : raft.conf.voters) {
      if (voter == raft.leader) continue;
      auto match = raft.matches.find(voter);
      const int64_t held = match == raft.matches.end() ? 0 : match->second.value();
      Labels follower = labels;
      follower["replica"] = std::to_string(voter.value());
      replica_lag.Add(follower).Set(static_cast<double>(std::max<int64_t>(0, raft.last_index.value() - held)));
      if (held < raft.applied.value()) lagging = true;
    }
    under.Add(labels).Set(lagging ? 1 : 0);
    if (lagging) ++under_replicated;
  }
  BuildGauge()
      .Name("rill_partitions_under_replicated")
      .Help("Partitions this broker leads with a replica lacking committed records")
      .Register(snapshot)
      .Add({})
      .Set(static_cast<double>(under_replicated));
  auto& offline = BuildGauge()
                      .Name("rill_partition_offline")
                      .Help("1 for a partition whose log could not be opened (it serves nothing)")
                      .Register(snapshot);
  const auto offline_partitions = topics.Offline();
  for (const auto& p : offline_partitions) {
    offline.Add({{"topic", p.topic}, {"partition", std::to_string(p.partition)}}).Set(1);
  }
  BuildGauge()
      .Name("rill_partitions_offline")
      .Help("Partitions whose log could not be opened")
      .Register(snapshot)
      .Add({})
      .Set(static_cast<double>(offline_partitions.size()));
  // A counter (for rate()), filled from the flusher's own count at each scrape.
  BuildCounter()
      .Name("rill_storage_syncs_total")
      .Help("Group-commit fdatasync rounds since start")
      .Register(snapshot)
      .Add({})
      .Increment(static_cast<double>(flusher.flush_count()));

  auto& members = BuildGauge()
                      .Name("rill_consumer_group_members")
                      .Help("Active members of a consumer group")
                      .Register(snapshot);
  auto& lag = BuildGauge()
                  .Name("rill_consumer_group_lag")
                  .Help("Records not yet committed by a consumer group, per topic")
                  .Register(snapshot);
  for (const auto& g : groups) {
    members.Add({{"group", g.group}}).Set(g.members);
    for (const auto& [topic, records] : g.lag_by_topic) {
      lag.Add({{"group", g.group}, {"topic", topic}}).Set(static_cast<double>(records));
    }
  }

  auto& connections = BuildGauge()
                          .Name("rill_connections")
                          .Help("Open client connections, by listening port")
                          .Register(snapshot);
  auto& refused = BuildCounter()
                      .Name("rill_connections_refused_total")
                      .Help(
                          "Connections closed at accept: over max.connections(.per.ip) (limit) "
                          "or for lack of file descriptors (files)")
                      .Register(snapshot);
  auto& accepting = BuildGauge()
                        .Name("rill_listener_accepting")
                        .Help("0 while accepts fail for lack of file descriptors")
                        .Register(snapshot);
  auto& disconnected = BuildCounter()
                           .Name("rill_connections_closed_for_abuse_total")
                           .Help("Connections the broker closed because they attacked it")
                           .Register(snapshot);
  for (const auto& [name, stats] : listeners) {
    connections.Add({{"listener", name}}).Set(static_cast<double>(stats.open));
    disconnected.Add({{"listener", name}}).Increment(static_cast<double>(stats.disconnected));
    refused.Add({{"listener", name}, {"reason", "limit"}})
        .Increment(static_cast<double>(stats.refused_limit));
    refused.Add({{"listener", name}, {"reason", "files"}})
        .Increment(static_cast<double>(stats.refused_files));
    refused.Add({{"listener", name}, {"reason", "banned"}})
        .Increment(static_cast<double>(stats.refused_banned));
    accepting.Add({{"listener", name}}).Set(stats.accepting ? 1 : 0);
  }

  auto families = registry_->Collect();
  auto more = snapshot.Collect();
  families.insert(families.end(), more.begin(), more.end());
  return TextSerializer().Serialize(families);
}

}  // namespace rill::server
