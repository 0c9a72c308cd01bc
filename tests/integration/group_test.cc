// Consumer groups against real brokers: membership and incremental reassignment, crashes,
// at-least-once under churn, fan-out, replay, durability of commits, fencing, bad input.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/v1/group.grpc.pb.h"
#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/client_util.h"
#include "tests/support/test_util.h"

using namespace rill;
using rill::testing::BrokerProcess;
using rill::testing::ChildProcess;
using rill::testing::Client;
using rill::testing::CreateTopic;
using rill::testing::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSessionMs = 2000;
const std::vector<std::string> kGroupFlags = {
    "--group-consumer-session-timeout-ms",    std::to_string(kSessionMs),
    "--group-consumer-heartbeat-interval-ms", "100",
    "--offsets-topic-num-partitions",         "4"};

// Produces `count` records numbered from `first` (value = the number), keyed by number.
void Produce(const BrokerProcess& broker, const std::string& topic, int first, int count) {
  ProducerOptions options;
  options.client = Client(broker);
  options.linger_ms = 1;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  std::atomic<int> failed{0};
  for (int i = first; i < first + count; ++i) {
    REQUIRE((*producer)
                ->Send(ProducerRecord{topic, std::to_string(i), std::to_string(i), {}, {}, {}},
                       [&](const absl::StatusOr<RecordMetadata>& r) {
                         if (!r.ok()) ++failed;
                       })
                .ok());
  }
  (*producer)->Flush();
  REQUIRE(failed == 0);
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// One group member in this process: a thread polling, recording what it read.
class Member {
 public:
  Member(const BrokerProcess& broker, const std::string& group, const std::string& topic,
         std::string name, int auto_commit_ms = 200)
      : name_(std::move(name)) {
    ConsumerOptions options;
    options.client = Client(broker);
    options.group_id = group;
    options.auto_offset_reset = OffsetReset::kEarliest;
    options.auto_commit_interval_ms = auto_commit_ms;
    auto consumer = Consumer::Create(options);
    REQUIRE(consumer.ok());
    consumer_ = std::move(*consumer);
    RebalanceListener listener;
    listener.on_assigned = [this](const std::vector<TopicPartition>& tps) {
      absl::MutexLock lock(&mu_);
      for (const auto& tp : tps) {
        owned_.insert(tp.partition);
        last_offset_.erase(tp.partition);  // a new stint may start anywhere
      }
    };
    listener.on_revoked = [this](const std::vector<TopicPartition>& tps) {
      absl::MutexLock lock(&mu_);
      for (const auto& tp : tps) owned_.erase(tp.partition);
    };
    listener.on_lost = listener.on_revoked;
    REQUIRE(consumer_->Subscribe({topic}, listener).ok());
    thread_ = std::thread([this] {
      while (!stop_) {
        auto records = consumer_->Poll(100);
        if (!records.ok()) continue;
        absl::MutexLock lock(&mu_);
        for (const auto& r : *records) {
          auto [it, first] = last_offset_.try_emplace(r.partition, r.offset);
          if (!first) {
            if (r.offset <= it->second) order_violations_++;
            it->second = r.offset;
          }
          read_.push_back({r.partition, r.offset});
        }
      }
    });
  }
  ~Member() { Leave(); }

  // Stops polling and leaves (committing on the way out).
  void Leave() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (consumer_) consumer_->Close();
  }

  std::set<int32_t> Owned() {
    absl::MutexLock lock(&mu_);
    return owned_;
  }
  std::vector<std::pair<int32_t, int64_t>> Read() {
    absl::MutexLock lock(&mu_);
    return read_;
  }
  int order_violations() {
    absl::MutexLock lock(&mu_);
    return order_violations_;
  }
  Consumer& consumer() { return *consumer_; }

 private:
  const std::string name_;
  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, int64_t> last_offset_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int32_t, int64_t>> read_ ABSL_GUARDED_BY(mu_);
  int order_violations_ ABSL_GUARDED_BY(mu_) = 0;
};

// The partitions a child member reported last, and the records it printed.
std::set<int32_t> ChildOwned(const ChildProcess& child) {
  std::set<int32_t> owned;
  for (const auto& line : child.Lines()) {
    if (line.rfind("A ", 0) != 0) continue;
    owned.clear();
    std::stringstream in(line.substr(2));
    std::string p;
    while (std::getline(in, p, ',')) {
      if (!p.empty()) owned.insert(std::stoi(p));
    }
  }
  return owned;
}

std::vector<std::pair<int32_t, int64_t>> ChildRead(const ChildProcess& child) {
  std::vector<std::pair<int32_t, int64_t>> out;
  for (const auto& line : child.Lines()) {
    if (line.rfind("R ", 0) != 0) continue;
    int32_t p;
    long long o;
    if (std::sscanf(line.c_str(), "R %d %lld", &p, &o) == 2) out.push_back({p, o});
  }
  return out;
}

std::unique_ptr<v1::Groups::Stub> GroupsStub(const BrokerProcess& broker) {
  return v1::Groups::NewStub(
      grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
}

v1::DescribeGroupResponse Describe(v1::Groups::Stub* stub, const std::string& group) {
  v1::DescribeGroupRequest request;
  request.set_group_id(group);
  v1::DescribeGroupResponse response;
  grpc::ClientContext context;
  REQUIRE(stub->DescribeGroup(&context, request, &response).ok());
  return response;
}

}  // namespace

TEST_CASE(
    "groups: members split partitions, a joiner moves only what it must, a killed "
    "member's partitions move after its session",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "orders", 6);
  Member a(broker, "billing", "orders", "a");
  Member b(broker, "billing", "orders", "b");
  Member c(broker, "billing", "orders", "c");
  std::vector<Member*> three = {&a, &b, &c};
  auto split_evenly = [&] {
    for (Member* m : three) {
      if (m->Owned().size() != 2) return false;
    }
    return true;
  };
  REQUIRE(WaitFor(split_evenly, std::chrono::seconds(20)));
  std::vector<std::set<int32_t>> before;
  for (Member* m : three) before.push_back(m->Owned());

  const auto joined = Clock::now();
  ChildProcess d({RILL_GROUP_MEMBER, broker.address(), "billing", "orders", "200"});
  REQUIRE(WaitFor([&] { return !ChildOwned(d).empty(); }, std::chrono::seconds(20)));
  const auto join_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - joined).count();
  REQUIRE(WaitFor(
      [&] {
        size_t total = ChildOwned(d).size();
        for (Member* m : three) total += m->Owned().size();
        return total == 6;
      },
      std::chrono::seconds(20)));
  // Only what d took moved: everyone else kept a subset of what it had.
  const std::set<int32_t> d_owned = ChildOwned(d);
  for (size_t i = 0; i < three.size(); ++i) {
    for (int32_t p : three[i]->Owned()) CHECK(before[i].count(p) == 1);
    for (int32_t p : three[i]->Owned()) CHECK(d_owned.count(p) == 0);
  }
  CHECK(d_owned.size() == 1);  // 6 over 4 members: two members keep 2, two get 1

  const auto killed = Clock::now();
  d.Kill();
  REQUIRE(WaitFor(
      [&] {
        size_t total = 0;
        for (Member* m : three) total += m->Owned().size();
        return total == 6;
      },
      std::chrono::seconds(20)));
  const auto failover_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count();
  // Nobody takes a crashed member's partitions before its session has run out.
  CHECK(failover_ms >= kSessionMs - 200);
  WARN("new member received partitions after " << join_ms
                                               << " ms; a SIGKILLed member's "
                                                  "partitions were reassigned after "
                                               << failover_ms << " ms (session " << kSessionMs
                                               << " ms)");
  auto stub = GroupsStub(broker);
  CHECK(Describe(stub.get(), "billing").members_size() == 3);
}

TEST_CASE(
    "groups: at least once under churn, duplicates only from a crashed member, "
    "per-partition order kept",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "events", 6);
  constexpr int kRecords = 30000;
  std::thread producer([&] {
    for (int wave = 0; wave < 10; ++wave) {
      Produce(broker, "events", wave * (kRecords / 10), kRecords / 10);
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  });
  auto a = std::make_unique<Member>(broker, "etl", "events", "a");
  auto crashed = std::make_unique<ChildProcess>(
      std::vector<std::string>{RILL_GROUP_MEMBER, broker.address(), "etl", "events", "300"});
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto c = std::make_unique<Member>(broker, "etl", "events", "c");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  crashed->Kill();  // SIGKILL: whatever it read after its last commit is read again
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c->Leave();  // a clean leave commits first: nothing of it is read twice
  auto d = std::make_unique<Member>(broker, "etl", "events", "d");
  producer.join();

  // Wait until the group has committed everything (lag 0) with a and d.
  auto stub = GroupsStub(broker);
  REQUIRE(WaitFor(
      [&] {
        auto described = Describe(stub.get(), "etl");
        return described.partitions_size() == 6 && described.total_lag() == 0;
      },
      std::chrono::seconds(60)));
  a->Leave();
  d->Leave();

  std::map<std::pair<int32_t, int64_t>, int> seen;
  std::set<std::pair<int32_t, int64_t>> by_crashed;
  for (Member* m : {a.get(), c.get(), d.get()}) {
    CHECK(m->order_violations() == 0);
    for (const auto& r : m->Read()) seen[r]++;
  }
  for (const auto& r : ChildRead(*crashed)) {
    seen[r]++;
    by_crashed.insert(r);
  }
  size_t total = 0;
  int duplicates = 0;
  int unexplained = 0;
  for (const auto& [record, count] : seen) {
    total += 1;
    if (count > 1) {
      duplicates += count - 1;
      if (by_crashed.count(record) == 0) ++unexplained;
    }
  }
  CHECK(total == kRecords);  // every record at least once
  CHECK(unexplained == 0);   // a duplicate is always one the crashed member had read
  WARN(duplicates << " duplicate deliveries of " << kRecords
                  << " records, all re-reads of "
                     "what the SIGKILLed member read after its last commit");
}

TEST_CASE("groups: two groups on one topic each receive every record", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "fanout", 3);
  Produce(broker, "fanout", 0, 3000);
  Member g1a(broker, "alerts", "fanout", "1a");
  Member g1b(broker, "alerts", "fanout", "1b");
  Member g2(broker, "audit", "fanout", "2");
  auto count = [](std::initializer_list<Member*> members) {
    std::set<std::pair<int32_t, int64_t>> got;
    for (Member* m : members) {
      for (const auto& r : m->Read()) got.insert(r);
    }
    return got.size();
  };
  CHECK(WaitFor(
      [&] {
        return count({&g1a, &g1b}) == 3000 && count({&g2}) == 3000;
      },
      std::chrono::seconds(30)));
  // Inside a group, each record went to one member.
  const auto read_by_a = g1a.Read();
  const std::set<std::pair<int32_t, int64_t>> a(read_by_a.begin(), read_by_a.end());
  int overlap = 0;
  for (const auto& r : g1b.Read()) overlap += static_cast<int>(a.count(r));
  CHECK(overlap == 0);

  // Operators graph members and lag per group.
  REQUIRE(WaitFor(
      [&] {
        return testing::HttpGet(broker.admin_address(), "/metrics")
                   .find("rill_consumer_group_lag{group=\"audit\",topic=\"fanout\"} 0") !=
               std::string::npos;
      },
      std::chrono::seconds(10)));
  const std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics, Catch::Contains("rill_consumer_group_members{group=\"alerts\"} 2"));
  CHECK_THAT(metrics, Catch::Contains("rill_consumer_group_members{group=\"audit\"} 1"));
}

TEST_CASE("groups: replay from earliest, a timestamp, or a shift, and commits survive SIGKILL",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "ledger", 2);
  Produce(broker, "ledger", 0, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t second_wave_ms = testing::NowMs();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Produce(broker, "ledger", 200, 200);
  {
    Member m(broker, "replay", "ledger", "m");
    REQUIRE(WaitFor([&] { return m.Read().size() == 400; }, std::chrono::seconds(30)));
  }
  auto stub = GroupsStub(broker);
  auto committed_offsets = [&] {
    std::map<int32_t, int64_t> out;
    const auto described = Describe(stub.get(), "replay");
    for (const auto& p : described.partitions()) {
      out[p.partition()] = p.committed_offset();
    }
    return out;
  };
  const auto committed = committed_offsets();
  REQUIRE(committed.size() == 2);
  CHECK(committed.at(0) + committed.at(1) == 400);

  // Durable: a SIGKILLed broker comes back with the same committed offsets.
  broker.KillAndRestart();
  stub = GroupsStub(broker);
  CHECK(committed_offsets() == committed);

  auto reset = [&](auto set_target, bool execute) {
    v1::ResetOffsetsRequest request;
    request.set_group_id("replay");
    request.set_topic("ledger");
    set_target(&request);
    request.set_execute(execute);
    v1::ResetOffsetsResponse response;
    grpc::ClientContext context;
    REQUIRE(stub->ResetOffsets(&context, request, &response).ok());
    INFO(response.error().message());
    REQUIRE(response.error().code() == v1::NONE);
    return response;
  };
  // Where a fresh member of the group starts reading, per partition.
  auto first_offsets = [&] {
    Member m(broker, "replay", "ledger", "again");
    std::map<int32_t, int64_t> first;
    WaitFor(
        [&] {
          for (const auto& [p, o] : m.Read()) first.try_emplace(p, o);
          return first.size() == 2;
        },
        std::chrono::seconds(20));
    return first;
  };

  SECTION("to earliest, after a dry run that changes nothing") {
    auto dry = reset([](v1::ResetOffsetsRequest* r) { r->set_to_earliest(true); }, false);
    REQUIRE(dry.partitions_size() == 2);
    CHECK(dry.partitions(0).new_offset() == 0);
    CHECK(committed_offsets() == committed);
    reset([](v1::ResetOffsetsRequest* r) { r->set_to_earliest(true); }, true);
    CHECK(first_offsets() == std::map<int32_t, int64_t>{{0, 0}, {1, 0}});
  }
  SECTION("to a timestamp") {
    auto r =
        reset([&](v1::ResetOffsetsRequest* q) { q->set_to_timestamp_ms(second_wave_ms); }, true);
    std::map<int32_t, int64_t> expected;
    for (const auto& p : r.partitions()) expected[p.partition()] = p.new_offset();
    CHECK(expected.at(0) + expected.at(1) == 200);  // the second wave's first offsets
    CHECK(first_offsets() == expected);
  }
  SECTION("shift by -5") {
    reset([](v1::ResetOffsetsRequest* r) { r->set_shift_by(-5); }, true);
    CHECK(first_offsets() ==
          std::map<int32_t, int64_t>{{0, committed.at(0) - 5}, {1, committed.at(1) - 5}});
  }
}

TEST_CASE("groups: a pattern subscription picks up new topics and new partitions",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "metrics-a", 1);
  CreateTopic(broker, "other", 1);
  ConsumerOptions options;
  options.client = Client(broker);
  options.group_id = "dashboards";
  options.auto_offset_reset = OffsetReset::kEarliest;
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->SubscribePattern("metrics-.*").ok());
  std::set<std::string> topics_read;
  auto poll_until = [&](const std::function<bool()>& done) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!done() && Clock::now() < deadline) {
      auto records = (*consumer)->Poll(100);
      REQUIRE(records.ok());
      for (const auto& r : *records)
        topics_read.insert(r.topic + "-" + std::to_string(r.partition));
    }
    return done();
  };
  Produce(broker, "metrics-a", 0, 10);
  Produce(broker, "other", 0, 10);
  CHECK(poll_until([&] { return topics_read.count("metrics-a-0") > 0; }));

  // A topic created later that matches, and a partition added to it, are read without
  // resubscribing.
  CreateTopic(broker, "metrics-b", 1);
  Produce(broker, "metrics-b", 0, 10);
  CHECK(poll_until([&] { return topics_read.count("metrics-b-0") > 0; }));
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  REQUIRE((*admin)->CreatePartitions("metrics-b", 3).ok());
  Produce(broker, "metrics-b", 10, 60);
  CHECK(poll_until([&] {
    return topics_read.count("metrics-b-1") > 0 && topics_read.count("metrics-b-2") > 0;
  }));
  CHECK(topics_read.count("other-0") == 0);
  (*consumer)->Close();
}

TEST_CASE("groups: an expelled member is fenced, and bad input gets typed errors",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), kGroupFlags);
  CreateTopic(broker, "t", 2);
  auto stub = GroupsStub(broker);
  auto heartbeat = [&](const std::string& group, const std::string& member, int32_t epoch) {
    v1::GroupHeartbeatRequest request;
    request.set_group_id(group);
    request.set_member_id(member);
    request.set_member_epoch(epoch);
    request.add_subscribed_topics("t");
    v1::GroupHeartbeatResponse response;
    grpc::ClientContext context;
    REQUIRE(stub->Heartbeat(&context, request, &response).ok());
    return response;
  };
  auto commit = [&](const std::string& group, const std::string& member, int32_t epoch,
                    int32_t partition, int64_t offset, std::string metadata = "") {
    v1::CommitOffsetsRequest request;
    request.set_group_id(group);
    request.set_member_id(member);
    request.set_member_epoch(epoch);
    auto* t = request.add_topics();
    t->set_topic("t");
    auto* p = t->add_partitions();
    p->set_partition(partition);
    p->set_offset(offset);
    p->set_metadata(std::move(metadata));
    v1::CommitOffsetsResponse response;
    grpc::ClientContext context;
    REQUIRE(stub->CommitOffsets(&context, request, &response).ok());
    if (response.error().code() != v1::NONE) return response.error().code();
    REQUIRE(response.partitions_size() == 1);
    return response.partitions(0).error().code();
  };

  auto joined = heartbeat("zombies", "", 0);
  REQUIRE(joined.error().code() == v1::NONE);
  const std::string id = joined.member_id();
  auto settled = heartbeat("zombies", id, joined.member_epoch());
  REQUIRE(settled.assignment_size() == 1);
  CHECK(commit("zombies", id, settled.member_epoch(), 0, 5) == v1::NONE);
  CHECK(commit("zombies", id, settled.member_epoch() + 1, 0, 5) == v1::FENCED_MEMBER_EPOCH);
  CHECK(heartbeat("zombies", id, settled.member_epoch() + 7).error().code() ==
        v1::FENCED_MEMBER_EPOCH);
  // Silent past its session: removed, and its commits are refused.
  std::this_thread::sleep_for(std::chrono::milliseconds(kSessionMs + 700));
  CHECK(commit("zombies", id, settled.member_epoch(), 0, 9) == v1::UNKNOWN_MEMBER_ID);
  CHECK(heartbeat("zombies", id, settled.member_epoch()).error().code() == v1::UNKNOWN_MEMBER_ID);

  // A consumer without membership may commit to a group that has no members.
  CHECK(commit("standalone", "", -1, 1, 3) == v1::NONE);
  CHECK(commit("standalone", "", -1, 9, 3) == v1::UNKNOWN_PARTITION);
  CHECK(commit("standalone", "", -1, 0, -4) == v1::INVALID_OFFSET);
  CHECK(commit("standalone", "", -1, 0, 1, std::string(5000, 'm')) ==
        v1::OFFSET_METADATA_TOO_LARGE);
  CHECK(commit("", "", -1, 0, 1) == v1::INVALID_GROUP_ID);
  CHECK(Describe(stub.get(), "no-such-group").error().code() == v1::GROUP_NOT_FOUND);
  CHECK(heartbeat("g", "", 0).error().code() == v1::NONE);
  v1::GroupHeartbeatRequest no_subscription;
  no_subscription.set_group_id("g2");
  v1::GroupHeartbeatResponse response;
  grpc::ClientContext context;
  REQUIRE(stub->Heartbeat(&context, no_subscription, &response).ok());
  CHECK(response.error().code() == v1::INVALID_REQUEST);

  // Deleting: refused while members are active, fine once empty.
  v1::DeleteGroupRequest del;
  del.set_group_id("g");
  v1::DeleteGroupResponse deleted;
  grpc::ClientContext c1;
  REQUIRE(stub->DeleteGroup(&c1, del, &deleted).ok());
  CHECK(deleted.error().code() == v1::GROUP_NOT_EMPTY);
  del.set_group_id("standalone");
  grpc::ClientContext c2;
  REQUIRE(stub->DeleteGroup(&c2, del, &deleted).ok());
  CHECK(deleted.error().code() == v1::NONE);
  CHECK(Describe(stub.get(), "standalone").error().code() == v1::GROUP_NOT_FOUND);

  // The offsets topic is the broker's own.
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  CHECK_FALSE((*admin)->DeleteTopic("__consumer_offsets").ok());
  REQUIRE(broker.Stop() == 0);
}
