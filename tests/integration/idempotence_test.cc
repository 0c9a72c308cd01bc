// The broker's side of the idempotent producer (docs/idempotence.md), driven with raw requests
// against a real rill-broker process: what the partition leader answers for retries, gaps,
// fenced epochs and forgotten producers, and that its state survives a restart.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "fmt/format.h"
#include "format/record_batch.h"
#include "rill/consumer.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_util.h"

using namespace rill;
using rill::testing::BrokerProcess;
using rill::testing::Client;
using rill::testing::CreateTopic;
using rill::testing::RawProduce;
using rill::testing::RawStub;
using rill::testing::HighWatermark;
using rill::testing::TempDir;

namespace {

// `count` records of producer `id` in `epoch`, numbered from `sequence`.
std::string Batch(int64_t id, int16_t epoch, int32_t sequence, int count = 2) {
  format::BatchBuilder builder(
      format::BatchOptions{.producer_id = id, .producer_epoch = epoch, .base_sequence = sequence});
  for (int i = 0; i < count; ++i) {
    builder.Append(format::RecordInput{testing::NowMs(), std::nullopt,
                                       fmt::format("p{}-e{}-s{}", id, epoch, sequence + i), {}});
  }
  return builder.Build(0);
}

int64_t InitProducerId(v1::Rill::Stub* stub) {
  grpc::ClientContext context;
  v1::InitProducerIdRequest request;
  v1::InitProducerIdResponse response;
  REQUIRE(stub->InitProducerId(&context, request, &response).ok());
  INFO(response.error().message());
  REQUIRE(response.error().code() == v1::NONE);
  CHECK(response.producer_epoch() == 0);
  return response.producer_id();
}

// Every value in the partition, in offset order.
std::vector<std::string> ReadAll(const BrokerProcess& broker, const std::string& topic) {
  ConsumerOptions options;
  options.client = Client(broker);
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{topic, 0}}).ok());
  REQUIRE((*consumer)->SeekToBeginning({{topic, 0}}).ok());
  const int64_t end = testing::HighWatermark(RawStub(broker).get(), topic, 0);
  std::vector<std::string> values;
  while (true) {
    auto position = (*consumer)->Position({topic, 0});
    REQUIRE(position.ok());
    if (*position >= end) break;
    auto records = (*consumer)->Poll(500);
    REQUIRE(records.ok());
    for (const auto& r : *records) values.push_back(r.value.value_or(""));
  }
  return values;
}

}  // namespace

TEST_CASE("idempotence: producer ids are never handed out twice, across restarts",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  auto stub = RawStub(broker);
  std::set<int64_t> ids;
  for (int i = 0; i < 20; ++i) CHECK(ids.insert(InitProducerId(stub.get())).second);
  broker.Restart();
  stub = RawStub(broker);
  for (int i = 0; i < 20; ++i) CHECK(ids.insert(InitProducerId(stub.get())).second);
}

TEST_CASE("idempotence: a retried batch is written once and answered with its first offsets",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "t", 1);
  auto stub = RawStub(broker);
  const int64_t id = InitProducerId(stub.get());
  auto first = RawProduce(stub.get(), "t", 0, Batch(id, 0, 0)).partitions(0);
  REQUIRE(first.error().code() == v1::NONE);
  auto second = RawProduce(stub.get(), "t", 0, Batch(id, 0, 2)).partitions(0);
  REQUIRE(second.error().code() == v1::NONE);
  // Another writer in between moves the log on.
  REQUIRE(RawProduce(stub.get(), "t", 0, Batch(format::kNoProducerId, -1, -1)).partitions(0)
              .error().code() == v1::NONE);

  SECTION("each of the producer's recent batches, retried, keeps its offset") {
    auto retry = RawProduce(stub.get(), "t", 0, Batch(id, 0, 0)).partitions(0);
    CHECK(retry.error().code() == v1::NONE);
    CHECK(retry.base_offset() == first.base_offset());
    auto retry2 = RawProduce(stub.get(), "t", 0, Batch(id, 0, 2)).partitions(0);
    CHECK(retry2.base_offset() == second.base_offset());
    CHECK(ReadAll(broker, "t").size() == 6);
  }
  SECTION("a request that mixes a retry with a new batch lists each batch's offset") {
    auto mixed = RawProduce(stub.get(), "t", 0,
                            std::vector<std::string>{Batch(id, 0, 2), Batch(id, 0, 4)})
                     .partitions(0);
    REQUIRE(mixed.error().code() == v1::NONE);
    REQUIRE(mixed.batch_base_offsets_size() == 2);
    CHECK(mixed.batch_base_offsets(0) == second.base_offset());
    CHECK(mixed.batch_base_offsets(1) == 6);
    CHECK(ReadAll(broker, "t").size() == 8);
  }
  SECTION("a gap is OUT_OF_ORDER_SEQUENCE and writes nothing") {
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, 0, 7)).partitions(0).error().code() ==
          v1::OUT_OF_ORDER_SEQUENCE);
    CHECK(ReadAll(broker, "t").size() == 6);
  }
  SECTION("a newer epoch starts at 0; the older one is then fenced") {
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, 1, 4)).partitions(0).error().code() ==
          v1::OUT_OF_ORDER_SEQUENCE);
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, 1, 0)).partitions(0).error().code() ==
          v1::NONE);
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, 0, 4)).partitions(0).error().code() ==
          v1::INVALID_PRODUCER_EPOCH);
  }
  SECTION("a producer the partition does not know may only start at sequence 0") {
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id + 1000, 0, 5)).partitions(0).error().code() ==
          v1::UNKNOWN_PRODUCER_ID);
  }
  SECTION("negative epochs or sequences with a producer id are refused") {
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, -1, 4)).partitions(0).error().code() ==
          v1::INVALID_RECORD);
  }
  SECTION("after a restart (the state rebuilt from the log) a retry is still recognised") {
    broker.KillAndRestartOnSamePort();
    stub = RawStub(broker);
    v1::PartitionProduceResponse retry;
    for (int attempt = 0; attempt < 100; ++attempt) {
      retry = RawProduce(stub.get(), "t", 0, Batch(id, 0, 2)).partitions(0);
      if (retry.error().code() != v1::NOT_LEADER) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(retry.error().code() == v1::NONE);
    CHECK(retry.base_offset() == second.base_offset());
    CHECK(RawProduce(stub.get(), "t", 0, Batch(id, 0, 4)).partitions(0).error().code() ==
          v1::NONE);
    CHECK(ReadAll(broker, "t").size() == 8);
  }
}
