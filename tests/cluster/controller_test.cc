// The Controller as one broker runs it: a one-voter quorum over a real metadata log and
// MetaStore (no network), deciding, applying, snapshotting and restoring.
#include "cluster/controller.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "api/error.h"
#include "tests/support/test_util.h"

namespace rill::cluster {
namespace {

using api::ErrorCodeOf;
using Clock = std::chrono::steady_clock;

constexpr char kClusterId[] = "controller-test";
const NodeId kSelf(1);
const std::string kIncarnation(16, 'i');

// One broker's controller on its own disk, ticked by a thread of the test.
class Node {
 public:
  Node(const testing::TempDir& dir, int64_t snapshot_interval)
      : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {
    meta_ = storage::MetaStore::Open(dir.Sub("meta")).value();
    storage::LogManagerOptions log_options;
    log_options.data_dir = dir.Sub("metadata");
    log_options.retention_check_interval_ms = 0;
    logs_ = storage::LogManager::Open(log_options).value();
    transport_ = std::make_unique<rpc::Transport>(rpc::TransportOptions{kClusterId, kSelf});
    ControllerOptions options;
    options.self = kSelf;
    options.cluster_id = kClusterId;
    options.voters = {{kSelf, "127.0.0.1:1"}};
    options.self_incarnation_id = kIncarnation;
    options.snapshot_interval_records = snapshot_interval;
    options.log.segment_bytes = 4096;
    auto controller = Controller::Open(
        options, logs_.get(), meta_.get(), transport_.get(), &io_,
        [this](const std::shared_ptr<const MetadataImage>& image) { ++images_seen_; });
    REQUIRE(controller.ok());
    controller_ = std::move(*controller);
    controller_->Campaign();
    ticker_ = std::thread([this] {
      int64_t now = 0;
      while (!stop_) {
        controller_->Tick(now += 100);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!controller_->status().active && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(controller_->status().active);
  }

  ~Node() {
    stop_ = true;
    ticker_.join();
    controller_->Close();
    work_.reset();
    thread_.join();
    REQUIRE(logs_->Close().ok());
  }

  Controller& controller() { return *controller_; }
  int images_seen() const { return images_seen_; }

  absl::StatusOr<Offset> Change(const rpc::TopicChangeRequest& change) {
    std::promise<absl::StatusOr<Offset>> done;
    controller_->ChangeTopic(change, [&](absl::StatusOr<Offset> r) { done.set_value(r); });
    return done.get_future().get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::unique_ptr<storage::MetaStore> meta_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<rpc::Transport> transport_;
  std::unique_ptr<Controller> controller_;
  std::atomic<bool> stop_{false};
  std::atomic<int> images_seen_{0};
  std::thread ticker_;
};

rpc::TopicChangeRequest Create(const std::string& name, int32_t partitions) {
  rpc::TopicChangeRequest change;
  change.kind = rpc::TopicChangeRequest::Kind::kCreate;
  change.topic = name;
  change.partitions = partitions;
  change.replication_factor = 1;
  return change;
}

absl::StatusOr<int64_t> Register(Controller& controller, const std::string& voters) {
  rpc::RegisterBrokerRequest request;
  request.node = kSelf;
  request.incarnation_id = kIncarnation;
  request.endpoints = {{"client", "127.0.0.1", 9290}, {"broker", "127.0.0.1", 1}};
  request.controller_voters = voters;
  std::promise<absl::StatusOr<int64_t>> done;
  controller.RegisterBroker(request, [&](absl::StatusOr<int64_t> r) { done.set_value(r); });
  return done.get_future().get();
}

// Registers this broker and heartbeats it unfenced (it has applied everything).
void Join(Controller& controller) {
  auto epoch = Register(controller, CanonicalVoters({{kSelf, "127.0.0.1:1"}}));
  REQUIRE(epoch.ok());
  std::promise<absl::StatusOr<bool>> heartbeat;
  controller.BrokerHeartbeat(rpc::BrokerHeartbeatRequest{kSelf, *epoch, controller.image()->offset()},
                             [&](absl::StatusOr<bool> fenced) { heartbeat.set_value(fenced); });
  auto fenced = heartbeat.get_future().get();
  REQUIRE(fenced.ok());
  REQUIRE_FALSE(*fenced);
}

}  // namespace

TEST_CASE("controller: decides, commits and applies, and a change is in the image when answered",
          "[cluster]") {
  testing::TempDir dir;
  Node node(dir, 1000);
  auto wrong = Register(node.controller(), "1@127.0.0.1:1,2@127.0.0.1:2");
  CHECK(ErrorCodeOf(wrong.status()) == v1::INCONSISTENT_VOTERS);
  auto epoch = Register(node.controller(), CanonicalVoters({{kSelf, "127.0.0.1:1"}}));
  INFO(epoch.status().ToString());
  REQUIRE(epoch.ok());
  // Fenced until a heartbeat shows it caught up.
  std::promise<absl::StatusOr<bool>> heartbeat;
  node.controller().BrokerHeartbeat(
      rpc::BrokerHeartbeatRequest{kSelf, *epoch, node.controller().image()->offset()},
      [&](absl::StatusOr<bool> fenced) { heartbeat.set_value(fenced); });
  auto fenced = heartbeat.get_future().get();
  REQUIRE(fenced.ok());
  CHECK_FALSE(*fenced);

  auto created = node.Change(Create("orders", 3));
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  const auto image = node.controller().image();
  CHECK(image->offset() >= *created);
  const TopicInfo* topic = image->TopicByName("orders");
  REQUIRE(topic != nullptr);
  CHECK(topic->partitions.size() == 3);
  CHECK(topic->partitions[0].leader == kSelf);
  CHECK(ErrorCodeOf(node.Change(Create("orders", 1)).status()) == v1::TOPIC_ALREADY_EXISTS);
  auto validated = Create("checked", 2);
  validated.validate_only = true;
  REQUIRE(node.Change(validated).ok());
  CHECK(node.controller().image()->TopicByName("checked") == nullptr);
  CHECK(node.images_seen() > 0);
}

TEST_CASE("controller: snapshots the image, compacts the log, and restarts from the snapshot",
          "[cluster]") {
  testing::TempDir dir;
  MetadataImage before;
  {
    Node node(dir, 3);
    Join(node.controller());
    for (int i = 0; i < 6; ++i) REQUIRE(node.Change(Create(fmt::format("t{}", i), 2)).ok());
    const ControllerStatus status = node.controller().status();
    CHECK(status.snapshots_written >= 2);
    CHECK(status.snapshot_offset > Offset(0));
    before = *node.controller().image();
  }
  Node again(dir, 3);
  Join(again.controller());
  const ControllerStatus status = again.controller().status();
  CHECK(status.restored_from_snapshot);
  // The same topics and brokers as before (a snapshot's records all carry its offset, so a
  // broker's registration offset reads as the snapshot's).
  const auto image = again.controller().image();
  CHECK(image->offset() >= before.offset());
  CHECK(image->topics() == before.topics());
  CHECK(image->brokers().size() == before.brokers().size());
  REQUIRE(again.Change(Create("after", 1)).ok());
  CHECK(again.controller().image()->TopicByName("after") != nullptr);
}

TEST_CASE("controller: voter lists parse strictly and have one canonical form", "[cluster]") {
  auto voters = ParseVoters("2@b:9292, 1@a:9292");
  REQUIRE(voters.ok());
  CHECK(CanonicalVoters(*voters) == "1@a:9292,2@b:9292");
  for (const char* bad : {"", "1@", "x@a:1", "0@a:1", "1@a", "1@a:0", "1@a:1,1@b:2", "1a:1"}) {
    INFO(bad);
    CHECK_FALSE(ParseVoters(bad).ok());
  }
}

}  // namespace rill::cluster
