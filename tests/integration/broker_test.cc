// The broker end to end: real rill-broker processes on random loopback ports, driven through
// the client SDK, raw gRPC and rillctl.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "format/murmur2.h"
#include "format/record_batch.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/v1/admin.grpc.pb.h"
#include "rill/v1/rill.grpc.pb.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_util.h"

using namespace rill;
using rill::testing::BrokerProcess;
using rill::testing::Client;
using rill::testing::CreateTopic;
using rill::testing::RawProduce;
using rill::testing::ConsumeAll;
using rill::testing::RawStub;
using rill::testing::TempDir;

namespace {

// Sends "0", "1", ... to `topic`, record i to partition partition_of(i), each acknowledged
// before the next; returns the producer for more.
std::unique_ptr<Producer> ProduceNumbered(const BrokerProcess& broker, const std::string& topic,
                                          int count,
                                          const std::function<int32_t(int)>& partition_of) {
  ProducerOptions options;
  options.client = Client(broker);
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  for (int i = 0; i < count; ++i) {
    REQUIRE(
        (*producer)
            ->Send(ProducerRecord{topic, {}, std::to_string(i), {}, partition_of(i), {}}, nullptr)
            .get()
            .ok());
  }
  return std::move(*producer);
}

}  // namespace

TEST_CASE(
    "broker: 100k keyed records come back from every partition in order, each on "
    "Kafka's partition",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "orders", 4);
  ProducerOptions options;
  options.client = Client(broker);
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());

  constexpr int kRecords = 100000;
  absl::Mutex mu;
  std::vector<RecordMetadata> acked;
  std::atomic<int> failed{0};
  absl::Status first_error;
  for (int i = 0; i < kRecords; ++i) {
    std::string key = "key-" + std::to_string(i % 1000);
    ProducerRecord record{"orders", key, std::to_string(i), {{"n", std::to_string(i)}}, {}, {}};
    REQUIRE((*producer)
                ->Send(std::move(record),
                       [&](const absl::StatusOr<RecordMetadata>& r) {
                         absl::MutexLock lock(&mu);
                         if (!r.ok()) {
                           if (failed++ == 0) first_error = r.status();
                           return;
                         }
                         acked.push_back(*r);
                       })
                .ok());
  }
  (*producer)->Flush();
  INFO(first_error.ToString());
  REQUIRE(failed == 0);
  REQUIRE(acked.size() == kRecords);

  auto records = ConsumeAll(Client(broker), "orders", 4, kRecords);
  REQUIRE(records.size() == kRecords);
  std::map<int32_t, int64_t> next_offset;
  std::set<std::string> values;
  std::map<std::string, int> last_seen_per_key;
  for (const auto& r : records) {
    REQUIRE(r.partition == format::PartitionForKey(*r.key, 4));
    REQUIRE(r.offset == next_offset[r.partition]++);
    REQUIRE(values.insert(*r.value).second);
    // Records of one key keep their send order (one partition, one producer).
    int n = std::stoi(*r.value);
    auto [it, first] = last_seen_per_key.try_emplace(*r.key, n);
    if (!first) {
      REQUIRE(n > it->second);
      it->second = n;
    }
    REQUIRE(r.headers.size() == 1);
    REQUIRE(*r.headers[0].value == *r.value);
  }
  REQUIRE(values.size() == kRecords);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: keys land where Kafka's partitioner puts them", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "vectors", 10);
  ProducerOptions options;
  options.client = Client(broker);
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  // Kafka's own murmur2 test vectors, as partitions of a 10-partition topic.
  const std::map<std::string, int32_t> expected = {
      {"21", (-973932308 & 0x7fffffff) % 10},
      {"foobar", (-790332482 & 0x7fffffff) % 10},
      {"a-little-bit-long-string", (-985981536 & 0x7fffffff) % 10},
      {"a-little-bit-longer-string", (-1486304829 & 0x7fffffff) % 10},
      {"abc", (479470107 & 0x7fffffff) % 10},
  };
  for (const auto& [key, partition] : expected) {
    auto sent = (*producer)->Send(ProducerRecord{"vectors", key, "v", {}, {}, {}}, nullptr).get();
    REQUIRE(sent.ok());
    CHECK(sent->partition == partition);
  }
}

TEST_CASE("broker: keyless records stick to a partition for about a batch, then move on",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "keyless", 4);
  ProducerOptions options;
  options.client = Client(broker);
  options.batch_bytes = 16 * 1024;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  // ~50 batches' worth: each partition is chosen many times over.
  std::vector<std::future<absl::StatusOr<RecordMetadata>>> sent;
  for (int i = 0; i < 800; ++i) {
    sent.push_back((*producer)->Send(
        ProducerRecord{"keyless", {}, std::string(1100, 'v'), {}, {}, {}}, nullptr));
  }
  std::map<int32_t, int> per_partition;
  int switches = 0;
  int32_t previous = -1;
  for (auto& f : sent) {
    auto r = f.get();
    REQUIRE(r.ok());
    ++per_partition[r->partition];
    if (previous >= 0 && r->partition != previous) ++switches;
    previous = r->partition;
  }
  CHECK(per_partition.size() == 4);
  // Each stay fills about one batch (15 records of ~1.1 KB: a batch's worth, though the 15th
  // record itself opens a second batch), not one record and not forever.
  CHECK(switches >= 800 / 16 - 1);
  CHECK(switches <= 800 / 14 + 1);
}

TEST_CASE("broker: a long-poll fetch returns when data arrives, not at max_wait", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "events", 1);
  auto stub = RawStub(broker);

  v1::FetchRequest request;
  auto* p = request.add_partitions();
  p->set_topic("events");
  p->set_partition(0);
  p->set_fetch_offset(0);
  p->set_max_bytes(1 << 20);
  request.set_max_wait_ms(20000);
  request.set_min_bytes(1);

  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto response =
        RawProduce(stub.get(), "events", 0, testing::MakeBatch(0, 3, 10, testing::NowMs()));
    CHECK(response.partitions(0).error().code() == v1::NONE);
  });
  auto start = std::chrono::steady_clock::now();
  v1::FetchResponse response;
  grpc::ClientContext context;
  REQUIRE(stub->Fetch(&context, request, &response).ok());
  auto waited = std::chrono::steady_clock::now() - start;
  producer.join();
  REQUIRE(response.partitions_size() == 1);
  CHECK(response.partitions(0).error().code() == v1::NONE);
  CHECK(response.partitions(0).high_watermark() == 3);
  CHECK(testing::DecodeBatches(response.partitions(0).records()).size() == 3);
  // The data arrived after ~0.3 s; the fetch was allowed to wait 20 s.
  CHECK(waited < std::chrono::seconds(10));

  SECTION("with nothing arriving it answers empty at max_wait") {
    request.mutable_partitions(0)->set_fetch_offset(3);
    request.set_max_wait_ms(200);
    v1::FetchResponse empty;
    grpc::ClientContext context2;
    REQUIRE(stub->Fetch(&context2, request, &empty).ok());
    CHECK(empty.partitions(0).records().empty());
    CHECK(empty.partitions(0).error().code() == v1::NONE);
  }
}

TEST_CASE("broker: SIGKILL mid-produce loses no acknowledged record", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "payments", 3);
  std::map<std::pair<int32_t, int64_t>, std::string> acked;
  {
    ProducerOptions options;
    options.client = Client(broker);
    options.delivery_timeout_ms = 3000;
    options.client.request_timeout_ms = 2000;
    auto producer = Producer::Create(options);
    REQUIRE(producer.ok());
    absl::Mutex mu;
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      for (int i = 0; !stop; ++i) {
        std::string value = "payment-" + std::to_string(i);
        absl::Status s =
            (*producer)->Send(ProducerRecord{"payments", std::to_string(i), value, {}, {}, {}},
                              [&, value](const absl::StatusOr<RecordMetadata>& r) {
                                if (!r.ok()) return;
                                absl::MutexLock lock(&mu);
                                acked[{r->partition, r->offset}] = value;
                              });
        if (!s.ok()) break;
        if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    auto has_acks = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return acked.size() >= 5000; };
    {
      absl::MutexLock lock(&mu);
      REQUIRE(mu.AwaitWithTimeout(absl::Condition(&has_acks), absl::Seconds(60)));
    }
    broker.Kill();
    stop = true;
    sender.join();
    (*producer)->Close();  // unacknowledged sends fail after the delivery timeout
  }
  broker.Start();  // same data directory, new ports
  auto records = ConsumeAll(Client(broker), "payments", 3, acked.size(), /*to_end=*/true);
  std::map<std::pair<int32_t, int64_t>, std::string> stored;
  for (const auto& r : records) stored[{r.partition, r.offset}] = *r.value;
  for (const auto& [where, value] : acked) {
    INFO("partition " << where.first << " offset " << where.second);
    REQUIRE(stored.count(where) == 1);
    REQUIRE(stored[where] == value);
  }
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: bad input gets a typed error and the broker keeps serving", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--message-max-bytes", "10000"});
  CreateTopic(broker, "good", 2);
  auto stub = RawStub(broker);
  const std::string batch = testing::MakeBatch(0, 2, 10, testing::NowMs());

  SECTION("unknown topic") {
    CHECK(RawProduce(stub.get(), "nope", 0, batch).partitions(0).error().code() ==
          v1::UNKNOWN_TOPIC);
  }
  SECTION("wrong partition") {
    CHECK(RawProduce(stub.get(), "good", 7, batch).partitions(0).error().code() ==
          v1::UNKNOWN_PARTITION);
    CHECK(RawProduce(stub.get(), "good", -1, batch).partitions(0).error().code() ==
          v1::UNKNOWN_PARTITION);
  }
  SECTION("corrupt CRC") {
    std::string bad = batch;
    bad[bad.size() - 2] ^= 0x10;
    auto r = RawProduce(stub.get(), "good", 0, bad).partitions(0);
    CHECK(r.error().code() == v1::CORRUPT_MESSAGE);
    CHECK_THAT(r.error().message(), Catch::Contains("CRC"));
  }
  SECTION("truncated and garbage batches") {
    CHECK(RawProduce(stub.get(), "good", 0, batch.substr(0, 40)).partitions(0).error().code() ==
          v1::CORRUPT_MESSAGE);
    CHECK(RawProduce(stub.get(), "good", 0, batch.substr(0, batch.size() - 5))
              .partitions(0)
              .error()
              .code() == v1::CORRUPT_MESSAGE);
    CHECK(
        RawProduce(stub.get(), "good", 0, std::string(500, '\x7f')).partitions(0).error().code() ==
        v1::CORRUPT_MESSAGE);
    CHECK(RawProduce(stub.get(), "good", 0, "").partitions(0).error().code() ==
          v1::CORRUPT_MESSAGE);
  }
  SECTION("a bad batch in a later records element rejects the whole entry") {
    std::string bad = batch;
    bad[bad.size() - 2] ^= 0x10;
    auto r = RawProduce(stub.get(), "good", 0, std::vector<std::string>{batch, batch + bad});
    CHECK(r.partitions(0).error().code() == v1::CORRUPT_MESSAGE);
    // Nothing of it was written: the next good entry starts at offset 0, and its elements
    // follow each other.
    auto ok = RawProduce(stub.get(), "good", 0, std::vector<std::string>{batch, batch + batch});
    CHECK(ok.partitions(0).error().code() == v1::NONE);
    CHECK(ok.partitions(0).base_offset() == 0);
    CHECK(RawProduce(stub.get(), "good", 0, batch).partitions(0).base_offset() == 6);
  }
  SECTION("oversized batch") {
    auto big = testing::MakeBatch(0, 3, 5000, testing::NowMs());
    CHECK(RawProduce(stub.get(), "good", 0, big).partitions(0).error().code() ==
          v1::MESSAGE_TOO_LARGE);
  }
  SECTION("negative and out-of-range fetch offsets") {
    for (int64_t offset : {int64_t{-1}, int64_t{5}}) {
      v1::FetchRequest request;
      auto* p = request.add_partitions();
      p->set_topic("good");
      p->set_partition(0);
      p->set_fetch_offset(offset);
      p->set_max_bytes(1000);
      v1::FetchResponse response;
      grpc::ClientContext context;
      REQUIRE(stub->Fetch(&context, request, &response).ok());
      CHECK(response.partitions(0).error().code() == v1::OFFSET_OUT_OF_RANGE);
    }
  }
  SECTION("invalid topic names and counts") {
    auto admin = Admin::Create(Client(broker));
    REQUIRE(admin.ok());
    for (const std::string& name : {std::string(""), std::string("a/b"), std::string(".."),
                                    std::string(250, 'x'), std::string("sp ace")}) {
      CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{name, 1, 1, {}})) ==
            ErrorCode::kInvalidTopic);
    }
    CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{"t", -3, 1, {}})) ==
          ErrorCode::kInvalidPartitions);
    CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{"t", 1, 3, {}})) ==
          ErrorCode::kInvalidReplicationFactor);
    CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{"t", 1, 1, {{"retention.ms", "soon"}}})) ==
          ErrorCode::kInvalidConfig);
    CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{"t", 1, 1, {{"bogus.key", "1"}}})) ==
          ErrorCode::kInvalidConfig);
    CHECK(ErrorCodeOf((*admin)->CreatePartitions("good", 1)) == ErrorCode::kInvalidPartitions);
    CHECK(ErrorCodeOf((*admin)->DeleteTopic("missing")) == ErrorCode::kUnknownTopic);
  }
  SECTION("garbage and truncated gRPC payloads") {
    for (const std::string& payload :
         {std::string("\xff\xff\xff\xff garbage", 13), std::string("\x0a\x7f", 2)}) {
      CHECK(testing::RawCall(broker, "/rill.v1.Rill/Produce", payload).error_code() ==
            grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  // Whatever came before, the broker still takes and serves good data.
  auto ok = RawProduce(stub.get(), "good", 1, batch).partitions(0);
  CHECK(ok.error().code() == v1::NONE);
  CHECK(ok.base_offset() == 0);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: admin operations, configs, metrics and health endpoints", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  REQUIRE((*admin)->CreateTopic(NewTopic{"logs", 2, 1, {{"retention.ms", "3600000"}}}).ok());
  CHECK(ErrorCodeOf((*admin)->CreateTopic(NewTopic{"logs", 2, 1, {}})) ==
        ErrorCode::kTopicAlreadyExists);
  REQUIRE((*admin)->CreatePartitions("logs", 5).ok());
  auto description = (*admin)->DescribeTopic("logs");
  REQUIRE(description.ok());
  CHECK(description->partitions.size() == 5);
  CHECK(description->configs.at("retention.ms") == "3600000");

  REQUIRE((*admin)->AlterConfigs("logs", {{"segment.bytes", "1048576"}}, {"retention.ms"}).ok());
  auto configs = (*admin)->DescribeConfigs("logs");
  REQUIRE(configs.ok());
  std::map<std::string, ConfigEntry> by_name;
  for (const auto& c : *configs) by_name[c.name] = c;
  CHECK(by_name["segment.bytes"].value == "1048576");
  CHECK_FALSE(by_name["segment.bytes"].is_default);
  CHECK(by_name["retention.ms"].is_default);

  auto stub = RawStub(broker);
  auto produced =
      RawProduce(stub.get(), "logs", 0, testing::MakeBatch(0, 4, 10, testing::NowMs())).partitions(0);
  INFO(produced.error().message());
  REQUIRE(produced.error().code() == v1::NONE);
  auto latest = (*admin)->ListOffsets("logs", OffsetSpec{OffsetSpec::kLatest});
  REQUIRE(latest.ok());
  CHECK(latest->at(0) == 4);
  CHECK(latest->at(4) == 0);

  // Topics and their data survive a restart.
  broker.Restart();
  admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  auto listed = (*admin)->ListTopics();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].partitions == 5);
  // The records are all there; the restarted leader's no-op (a control batch consumers skip)
  // took the next offset.
  CHECK((*admin)->ListOffsets("logs", OffsetSpec{OffsetSpec::kLatest})->at(0) == 5);

  std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(metrics,
             Catch::Contains("rill_partition_high_watermark{partition=\"0\",topic=\"logs\"} 5"));
  CHECK_THAT(metrics, Catch::Contains("rill_request_latency_seconds_bucket"));
  CHECK_THAT(metrics, Catch::Contains("# TYPE rill_storage_syncs_total counter"));
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/healthz"), Catch::Contains("200 OK"));
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/readyz"), Catch::Contains("ready"));
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/nope"), Catch::StartsWith("HTTP/1.1 404"));

  REQUIRE((*admin)->DeleteTopic("logs").ok());
  CHECK(ErrorCodeOf((*admin)->DescribeTopic("logs").status()) == ErrorCode::kUnknownTopic);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: a consumer detects a batch corrupted on disk by its CRC", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "fragile", 1);
  auto stub = RawStub(broker);
  RawProduce(stub.get(), "fragile", 0, testing::MakeBatch(0, 5, 100, testing::NowMs()));
  // The broker serves stored bytes as they are (consumers check CRCs, as in Kafka): flip a
  // byte of the stored record payload behind its back.
  const std::string segment =
      testing::PartitionDir(tmp.path() + "/logs", "fragile", 0) + "/00000000000000000000.log";
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(file.good());
    file.seekp(200);
    file.put('\x5a');
  }
  ConsumerOptions options;
  options.client = Client(broker);
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{"fragile", 0}}).ok());
  REQUIRE((*consumer)->SeekToBeginning({{"fragile", 0}}).ok());
  absl::Status seen;
  for (int i = 0; i < 50 && seen.ok(); ++i) {
    auto records = (*consumer)->Poll(200);
    if (!records.ok())
      seen = records.status();
    else
      REQUIRE(records->empty());  // nothing of the corrupt batch is ever returned
  }
  CHECK(absl::IsDataLoss(seen));
  CHECK_THAT(std::string(seen.message()), Catch::Contains("CRC"));
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: consumer seeks and closes while its long-polls are out", "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "replay", 3);
  auto producer = ProduceNumbered(broker, "replay", 30, [](int i) { return i % 3; });

  ConsumerOptions options;
  options.client = Client(broker);
  options.fetch_max_wait_ms = 20000;  // a caught-up partition's fetch waits at the broker
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  const std::vector<TopicPartition> all = {{"replay", 0}, {"replay", 1}, {"replay", 2}};
  REQUIRE((*consumer)->Assign(all).ok());
  REQUIRE((*consumer)->SeekToEnd(all).ok());
  auto none = (*consumer)->Poll(300);
  REQUIRE(none.ok());
  CHECK(none->empty());

  // The long-polls at the end are still out; a seek back must not wait for them.
  const auto start = std::chrono::steady_clock::now();
  REQUIRE((*consumer)->Seek({"replay", 1}, 4).ok());
  std::vector<int64_t> offsets;
  while (offsets.size() < 6 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    auto records = (*consumer)->Poll(200);
    REQUIRE(records.ok());
    for (const auto& r : *records) {
      CHECK(r.partition == 1);
      offsets.push_back(r.offset);
    }
  }
  CHECK(offsets == std::vector<int64_t>{4, 5, 6, 7, 8, 9});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));

  // New records reach the waiting fetches of the other partitions.
  REQUIRE(producer->Send(ProducerRecord{"replay", {}, "late", {}, 2, {}}, nullptr).get().ok());
  std::optional<ConsumerRecord> late;
  while (!late && std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    auto records = (*consumer)->Poll(200);
    REQUIRE(records.ok());
    if (!records->empty()) late = records->front();
  }
  REQUIRE(late.has_value());
  CHECK(late->partition == 2);
  CHECK(late->offset == 10);
  CHECK(*late->value == "late");

  // Close cancels the outstanding long-polls instead of waiting out fetch_max_wait_ms.
  const auto closing = std::chrono::steady_clock::now();
  (*consumer)->Close();
  CHECK(std::chrono::steady_clock::now() - closing < std::chrono::seconds(5));
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("broker: an explicit seek out of range is an error unless seek_offset_reset says where",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "short", 1);
  ProduceNumbered(broker, "short", 10, [](int) { return 0; });
  auto admin = Admin::Create(Client(broker));
  REQUIRE(admin.ok());
  // DeleteRecords moves the log start to 4.
  auto deleted = (*admin)->DeleteRecords("short", {{0, 4}});
  REQUIRE(deleted.ok());
  REQUIRE(deleted->size() == 1);
  CHECK(deleted->front().error.ok());
  CHECK(deleted->front().low_watermark == 4);
  auto past = (*admin)->DeleteRecords("short", {{0, 11}});
  REQUIRE(past.ok());
  CHECK(ErrorCodeOf(past->front().error) == ErrorCode::kOffsetOutOfRange);
  CHECK(ErrorCodeOf((*admin)->DeleteRecords("nope", {{0, 1}}).status()) ==
        ErrorCode::kUnknownTopic);

  auto first_poll = [&](std::optional<OffsetReset> reset, int64_t offset) {
    ConsumerOptions options;
    options.client = Client(broker);
    if (reset) options.seek_offset_reset = *reset;
    auto consumer = Consumer::Create(options);
    REQUIRE(consumer.ok());
    REQUIRE((*consumer)->Assign({{"short", 0}}).ok());
    REQUIRE((*consumer)->Seek({"short", 0}, offset).ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto records = (*consumer)->Poll(200);
      if (!records.ok() || !records->empty()) return records;
    }
    return absl::StatusOr<std::vector<ConsumerRecord>>(std::vector<ConsumerRecord>{});
  };
  for (int64_t offset : {2, 50}) {
    INFO("offset " << offset);
    auto error = first_poll(std::nullopt, offset);
    REQUIRE_FALSE(error.ok());
    CHECK(ErrorCodeOf(error.status()) == ErrorCode::kOffsetOutOfRange);
    CHECK_THAT(std::string(error.status().message()),
               Catch::Contains(fmt::format("short-0: offset {} is outside [4, 10]", offset)));
  }
  auto earliest = first_poll(OffsetReset::kEarliest, 50);
  REQUIRE(earliest.ok());
  REQUIRE_FALSE(earliest->empty());
  CHECK(earliest->front().offset == 4);
  auto in_range = first_poll(std::nullopt, 7);
  INFO(in_range.status().ToString());
  REQUIRE(in_range.ok());
  REQUIRE_FALSE(in_range->empty());
  CHECK(in_range->front().offset == 7);
  CHECK(broker.Stop() == 0);
}

TEST_CASE("broker: a consumer reports a broker that stops answering, and when it answers again",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "t", 1);
  absl::Mutex mu;
  std::vector<absl::Status> told;
  ConsumerOptions options;
  options.client = Client(broker);
  options.client.request_timeout_ms = 1000;
  options.fetch_max_wait_ms = 200;
  options.on_connection_status = [&](const absl::Status& s) {
    absl::MutexLock lock(&mu);
    told.push_back(s);
  };
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{"t", 0}}).ok());
  REQUIRE((*consumer)->SeekToEnd({{"t", 0}}).ok());
  auto poll_until = [&](size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      REQUIRE((*consumer)->Poll(100).ok());
      absl::MutexLock lock(&mu);
      if (told.size() >= count) return;
    }
  };
  REQUIRE((*consumer)->Poll(300).ok());

  kill(broker.pid(), SIGSTOP);
  poll_until(1);
  kill(broker.pid(), SIGCONT);
  poll_until(2);
  absl::MutexLock lock(&mu);
  REQUIRE(told.size() >= 2);
  CHECK(absl::IsDeadlineExceeded(told[0]));
  CHECK_THAT(std::string(told[0].message()),
             Catch::Contains("(" + broker.address() + ") did not answer a fetch within 1200 ms"));
  CHECK(told[1].ok());
}
