// What the broker's request handlers share.
#pragma once

#include <atomic>
#include <string>

#include "asio.hpp"
#include "base/byte_budget.h"
#include "broker/config.h"
#include "broker/metrics.h"
#include "broker/topic_registry.h"

namespace rill::broker {

struct BrokerContext {
  BrokerConfig config;
  TopicRegistry* topics = nullptr;
  // Bytes that fetches may hold at once, from the read until the response is sent.
  base::ByteBudget* fetch_budget = nullptr;
  BrokerMetrics* metrics = nullptr;
  // Runs timers and the work woken by them (fetch retries) off the gRPC threads.
  asio::io_context* io = nullptr;
  // The address clients are told to use.
  std::string advertised_host;
  int advertised_port = 0;
  // Set at shutdown: long-polls answer at once instead of waiting.
  std::atomic<bool> stopping{false};
};

}  // namespace rill::broker
