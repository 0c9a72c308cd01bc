// The broker's Prometheus metrics. Request counters and latency histograms are updated by the
// handlers; per-partition gauges (size, offsets) are read from the logs at scrape time, so a
// deleted partition stops being reported.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/group_coordinator.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "rill/v1/errors.pb.h"
#include "net/connection_gate.h"

namespace rill::storage {
class Flusher;
}

namespace rill::server {

using coordinator::GroupMetrics;

class BrokerMetrics {
 public:
  BrokerMetrics();

  void Produced(uint64_t bytes, double seconds);
  void Fetched(uint64_t bytes, double seconds);
  void Error(const char* api, v1::ErrorCode code);
  // A request of another API (the group APIs), counted under rill_requests_total.
  void Request(const char* api);
  // A request refused before any handler ran, by reason (malformed, entries, too_large,
  // inflight_bytes, premature_resets).
  void RequestRefused(const char* reason);

  // The Prometheus text exposition of everything; `listeners` by port name (grpc, admin).
  std::string Render(const cluster::TopicRegistry& topics, const storage::Flusher& flusher,
                     const std::vector<GroupMetrics>& groups,
                     const std::map<std::string, net::ConnectionStats>& listeners) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* produce_requests_;
  prometheus::Counter* produce_bytes_;
  prometheus::Counter* fetch_requests_;
  prometheus::Counter* fetch_bytes_;
  prometheus::Histogram* produce_latency_;
  prometheus::Histogram* fetch_latency_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Counter>* refused_;
};

}  // namespace rill::server
