// What the broker's request handlers share: the settings they answer by and the modules they
// call. Filled in by the composition root (broker/broker.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "asio.hpp"
#include "base/byte_budget.h"
#include "cluster/controller.h"
#include "cluster/topic_registry.h"
#include "cluster/producer_ids.h"
#include "cluster/topics_frontend.h"
#include "server/metrics.h"

namespace rill::server {

// The broker settings the handlers need (broker/config.h documents each).
struct ServerSettings {
  int32_t node_id = 1;
  bool auto_create_topics = false;
  int32_t default_partitions = 1;
  int32_t default_replication_factor = 1;
  int64_t max_fetch_bytes = 0;
  int64_t max_fetch_wait_ms = 0;
};

struct ServerContext {
  ServerSettings settings;
  cluster::TopicRegistry* topics = nullptr;
  // Topic changes go through the controller quorum.
  cluster::TopicsFrontend* topics_frontend = nullptr;
  // Producer ids for InitProducerId.
  cluster::ProducerIdAllocator* producer_ids = nullptr;
  // The cluster metadata: brokers, partition placement, the controller.
  cluster::Controller* controller = nullptr;
  // Bytes that fetches may hold at once, from the read until the response is sent.
  base::ByteBudget* fetch_budget = nullptr;
  BrokerMetrics* metrics = nullptr;
  // Runs timers and the work woken by them (fetch retries) off the gRPC threads.
  asio::io_context* io = nullptr;
  // What the clients of each client listener are told to use (host, port), by listener name.
  std::map<std::string, std::pair<std::string, int>> advertised;
  // The listener a call came in on, from its peer as gRPC names it.
  std::function<std::string(const std::string& peer)> listener_of;
  std::string default_listener;
  // Set at shutdown: long-polls answer at once instead of waiting.
  std::atomic<bool> stopping{false};
};

}  // namespace rill::server
