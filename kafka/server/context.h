// What the Kafka listener's handlers share: the settings they answer by and the modules they
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
#include "cluster/producer_ids.h"
#include "cluster/topic_registry.h"
#include "cluster/topics_frontend.h"
#include "coordinator/group_coordinator.h"

namespace rill::kafka {

// The broker settings the handlers need (broker/config.h documents each).
struct KafkaSettings {
  int32_t node_id = 1;
  std::string cluster_id;
  bool auto_create_topics = false;
  int32_t default_partitions = 1;
  int32_t default_replication_factor = 1;
  int64_t max_fetch_bytes = 0;
  int64_t max_fetch_wait_ms = 0;
};

struct KafkaContext {
  KafkaSettings settings;
  cluster::TopicRegistry* topics = nullptr;
  cluster::TopicsFrontend* topics_frontend = nullptr;
  cluster::ProducerIdAllocator* producer_ids = nullptr;
  cluster::Controller* controller = nullptr;
  coordinator::GroupCoordinator* coordinator = nullptr;
  // Bytes that fetches may hold at once (shared with the gRPC port).
  base::ByteBudget* fetch_budget = nullptr;
  // Runs the connections, and the timers of long-polling fetches.
  asio::io_context* io = nullptr;
  // Runs handlers' calls that wait for a partition's strand or the disk (never on `io`, whose
  // threads those waits need).
  asio::thread_pool* blocking = nullptr;
  // What the clients of each Kafka listener are told to use (host, port), by listener name.
  std::map<std::string, std::pair<std::string, int>> advertised;
  // Set at shutdown: long-polls answer at once instead of waiting.
  const std::atomic<bool>* stopping = nullptr;
  // Whether the broker serves: registered, unfenced, caught up with the metadata log. Before,
  // its metadata may lack topics that exist.
  std::function<bool()> serving;
};

}  // namespace rill::kafka
