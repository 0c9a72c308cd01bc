// Helpers for tests that drive a BrokerProcess through the client SDK (Catch2 test files only).
#pragma once

#include <map>
#include <string>

#include "catch2/catch.hpp"
#include "rill/admin.h"
#include "tests/support/broker_process.h"

namespace rill::testing {

inline ClientOptions Client(const BrokerProcess& broker) {
  ClientOptions options;
  options.bootstrap_brokers = broker.address();
  options.request_timeout_ms = 10000;
  return options;
}

inline void CreateTopic(const BrokerProcess& broker, const std::string& name, int partitions,
                        std::map<std::string, std::string> configs = {}) {
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  absl::Status s = (*admin)->CreateTopic(NewTopic{name, partitions, 1, std::move(configs)});
  INFO(s.ToString());
  REQUIRE(s.ok());
}

}  // namespace rill::testing
