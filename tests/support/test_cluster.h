// TestCluster: several rill-broker processes forming one cluster on 127.0.0.1, for the tests
// labelled `cluster`. Every process is killed when the TestCluster goes, also when a test fails.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "rill/admin.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/live_test.h"
#include "tests/support/test_util.h"

namespace rill::testing {

inline constexpr char kClusterId[] = "cLusterTestIdAAAAAAAAA";

// N brokers, all voters of the controller quorum, with short sessions so fencing shows fast.
class TestCluster {
 public:
  explicit TestCluster(int brokers, std::vector<std::string> extra = {})
      : extra_(std::move(extra)) {
    for (int i = 1; i <= brokers; ++i) ports_[i] = FreePort();
    for (const auto& [id, port] : ports_) {
      if (!voters_.empty()) voters_ += ",";
      voters_ += fmt::format("{}@127.0.0.1:{}", id, port);
    }
    for (int i = 1; i <= brokers; ++i) brokers_[i] = Spawn(i, kClusterId, voters_);
    for (int i = 1; i <= brokers; ++i) REQUIRE(WaitReady(i));
  }

  // A broker process; `dir` names its data directory (default: broker-<node>).
  std::unique_ptr<BrokerProcess> Spawn(int node, const std::string& cluster_id,
                                       const std::string& voters, int port = 0,
                                       std::string dir = "") {
    std::vector<std::string> args = {"--node-id",
                                     std::to_string(node),
                                     "--cluster-id",
                                     cluster_id,
                                     "--inter-broker-listen",
                                     fmt::format("127.0.0.1:{}", port ? port : ports_.at(node)),
                                     "--controller-voters",
                                     voters,
                                     "--broker-session-timeout-ms",
                                     "3000",
                                     "--broker-heartbeat-interval-ms",
                                     "300"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    if (dir.empty()) dir = fmt::format("broker-{}", node);
    return std::make_unique<BrokerProcess>(fmt::format("{}/{}", tmp_.path(), dir),
                                           std::move(args));
  }

  BrokerProcess& broker(int node) { return *brokers_.at(node); }
  std::string InterBrokerAddress(int node) const {
    return fmt::format("127.0.0.1:{}", ports_.at(node));
  }
  const std::string& voters() const { return voters_; }
  const std::string& dir() const { return tmp_.path(); }

  bool WaitReady(int node, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return WaitFor(
        [&] {
          return HttpGet(broker(node).admin_address(), "/readyz").find("200") !=
                 std::string::npos;
        },
        timeout);
  }

  // Every broker's client address, for the SDK.
  std::string Bootstrap(std::set<int> skip = {}) {
    std::string out;
    for (const auto& [id, b] : brokers_) {
      if (skip.contains(id) || b->pid() <= 0) continue;
      if (!out.empty()) out += ",";
      out += b->address();
    }
    return out;
  }

  std::unique_ptr<Admin> AdminOf(const std::string& bootstrap) {
    return testing::AdminOf(bootstrap);
  }

  // The broker that says last that it became the controller.
  int ControllerLeader() {
    int leader = -1;
    int best_term = -1;
    for (const auto& [id, b] : brokers_) {
      if (b->pid() <= 0) continue;
      const std::string log = b->log();
      const std::string marker = "this broker is the controller (term ";
      for (size_t at = log.find(marker); at != std::string::npos;
           at = log.find(marker, at + 1)) {
        const int term = std::stoi(log.substr(at + marker.size()));
        if (term > best_term) {
          best_term = term;
          leader = id;
        }
      }
    }
    return leader;
  }

  std::string Logs() {
    std::string out;
    for (const auto& [id, b] : brokers_) out += fmt::format("--- broker {}\n{}\n", id, b->log());
    return out;
  }

 private:
  TempDir tmp_;
  const std::vector<std::string> extra_;
  std::map<int, int> ports_;
  std::string voters_;
  std::map<int, std::unique_ptr<BrokerProcess>> brokers_;
};

}  // namespace rill::testing
