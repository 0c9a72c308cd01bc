// A broker facing clients that send what no well-behaved client would: batches that lie about
// their contents, records clients may not write, requests sized to exhaust memory. Each case
// runs against a real rill-broker process on a random loopback port.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "format/big_endian.h"
#include "format/compression.h"
#include "format/record_batch.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "tests/support/broker_process.h"
#include "tests/support/client_util.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_util.h"

using namespace rill;
using rill::testing::BrokerProcess;
using rill::testing::Client;
using rill::testing::CreateTopic;
using rill::testing::HighWatermark;
using rill::testing::RawProduce;
using rill::testing::RawStub;
using rill::testing::TempDir;

namespace {

// Under AddressSanitizer memory is the sanitizer's (shadow, quarantine), not the broker's, and
// the sanitizer runtime itself needs file descriptors: the memory bounds and true descriptor
// exhaustion are checked in the normal build only.
#ifdef RILL_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

void FixCrc(std::string* batch) {
  format::StoreU32(batch->data() + format::kCrcPos, format::ComputeBatchCrc(*batch));
}

// One batch of `count` current records, built with `options`.
std::string Batch(format::BatchOptions options, int count = 3) {
  format::BatchBuilder builder(options);
  for (int i = 0; i < count; ++i) {
    builder.Append(format::RecordInput{testing::NowMs(), "k" + std::to_string(i), "value", {}});
  }
  return builder.Build(0);
}

// A batch with a valid CRC whose header says `codec` and `count` records but whose records
// section is `records`.
std::string LyingBatch(format::Compression codec, const std::string& records, int32_t count) {
  std::string batch = Batch({}, 1).substr(0, format::kBatchHeaderBytes) + records;
  format::StoreI32(batch.data() + format::kBatchLengthPos, static_cast<int32_t>(batch.size() - 12));
  format::StoreI16(batch.data() + format::kAttributesPos, static_cast<int16_t>(codec));
  format::StoreI32(batch.data() + format::kRecordCountPos, count);
  format::StoreI32(batch.data() + format::kLastOffsetDeltaPos, count - 1);
  FixCrc(&batch);
  return batch;
}

}  // namespace

TEST_CASE("hostile client: compressed batches that lie are refused and move nothing",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--message-max-uncompressed-bytes", "1048576"});
  CreateTopic(broker, "t", 1);
  auto stub = RawStub(broker);
  for (auto codec : {format::Compression::kGzip, format::Compression::kSnappy,
                     format::Compression::kLz4, format::Compression::kZstd}) {
    INFO(format::CompressionName(codec));
    // Garbage with a valid CRC: once accepted, no consumer could ever read past it.
    auto garbage = RawProduce(stub.get(), "t", 0, LyingBatch(codec, "not compressed data", 1));
    CHECK(garbage.partitions(0).error().code() == v1::CORRUPT_MESSAGE);
    CHECK_THAT(garbage.partitions(0).error().message(), Catch::Contains("malformed"));

    // One real record claiming 2^31-1: the high watermark would jump by 2^31.
    const std::string one = Batch({}, 1).substr(format::kBatchHeaderBytes);
    auto compressed = format::Compress(codec, one);
    REQUIRE(compressed.ok());
    auto lying = RawProduce(stub.get(), "t", 0, LyingBatch(codec, *compressed, INT32_MAX));
    CHECK(lying.partitions(0).error().code() == v1::CORRUPT_MESSAGE);

    // 8 MiB of zeros in a few kilobytes, over the broker's 1 MiB decompression limit.
    format::BatchBuilder builder({.compression = codec});
    builder.Append(testing::NowMs(), "k", std::string(8 << 20, '\0'), {});
    const std::string bomb = builder.Build(0);
    REQUIRE(bomb.size() < 600 * 1024);
    auto refused = RawProduce(stub.get(), "t", 0, bomb);
    CHECK(refused.partitions(0).error().code() == v1::MESSAGE_TOO_LARGE);
    CHECK_THAT(refused.partitions(0).error().message(), Catch::Contains("limit"));

    CHECK(HighWatermark(stub.get(), "t", 0) == 0);
  }
  // A well-formed compressed batch is taken as sent.
  auto good = RawProduce(stub.get(), "t", 0, Batch({.compression = format::Compression::kZstd}));
  CHECK(good.partitions(0).error().code() == v1::NONE);
  CHECK(HighWatermark(stub.get(), "t", 0) == 3);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("hostile client: records clients may not write are refused with a typed error",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "t", 1, {{"message.timestamp.before.max.ms", "86400000"}});
  auto stub = RawStub(broker);
  auto code = [&](const std::string& batch, v1::Acks acks = v1::ACKS_ALL) {
    auto response = RawProduce(stub.get(), "t", 0, batch, acks);
    INFO(response.partitions(0).error().message());
    return response.partitions(0).error().code();
  };

  CHECK(code(Batch({.control = true})) == v1::INVALID_RECORD);
  CHECK(code(Batch(
            {.transactional = true, .producer_id = 1, .producer_epoch = 0, .base_sequence = 0})) ==
        v1::INVALID_RECORD);
  CHECK(code(Batch({.timestamp_type = format::TimestampType::kLogAppendTime})) ==
        v1::INVALID_RECORD);
  CHECK(code(Batch({}), static_cast<v1::Acks>(99)) == v1::INVALID_REQUEST);

  auto at = [](int64_t timestamp_ms) {
    format::BatchBuilder builder;
    builder.Append(format::RecordInput{timestamp_ms, "k", "v", {}});
    return builder.Build(0);
  };
  const int64_t hour_ms = 3600 * 1000;
  // The default window ahead is an hour (Kafka's); this topic allows a day back.
  CHECK(code(at(testing::NowMs() + 2 * hour_ms)) == v1::INVALID_TIMESTAMP);
  CHECK(code(at(testing::NowMs() - 2 * 24 * hour_ms)) == v1::INVALID_TIMESTAMP);
  CHECK(code(at(testing::NowMs() + hour_ms / 2)) == v1::NONE);
  CHECK(code(at(testing::NowMs() - 12 * hour_ms)) == v1::NONE);

  // A batch whose header max timestamp hides a record far in the future.
  std::string hidden = at(testing::NowMs());
  format::StoreI64(hidden.data() + format::kMaxTimestampPos, 0);
  FixCrc(&hidden);
  CHECK(code(hidden) == v1::CORRUPT_MESSAGE);

  CHECK(HighWatermark(stub.get(), "t", 0) == 2);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("hostile client: producer and consumer agree on every compression codec",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "codecs", 1);
  const std::vector<std::pair<Compression, std::string>> codecs = {{Compression::kNone, "none"},
                                                                   {Compression::kGzip, "gzip"},
                                                                   {Compression::kSnappy, "snappy"},
                                                                   {Compression::kLz4, "lz4"},
                                                                   {Compression::kZstd, "zstd"}};
  const int per_codec = 2000;
  for (const auto& [codec, name] : codecs) {
    ProducerOptions options;
    options.client = Client(broker);
    options.compression = codec;
    auto producer = Producer::Create(options);
    REQUIRE(producer.ok());
    for (int i = 0; i < per_codec; ++i) {
      ProducerRecord record;
      record.topic = "codecs";
      record.key = name + "-" + std::to_string(i);
      record.value = testing::ValueForOffset(i, 300) + std::string(300, 'x');
      record.headers.push_back({"codec", name});
      REQUIRE((*producer)->Send(std::move(record)).ok());
    }
    (*producer)->Flush();
    (*producer)->Close();
  }
  ConsumerOptions options;
  options.client = Client(broker);
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{"codecs", 0}}).ok());
  REQUIRE((*consumer)->SeekToBeginning({{"codecs", 0}}).ok());
  std::vector<ConsumerRecord> all;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (all.size() < codecs.size() * per_codec && std::chrono::steady_clock::now() < deadline) {
    auto records = (*consumer)->Poll(500);
    INFO(records.status().ToString());
    REQUIRE(records.ok());
    for (auto& r : *records) all.push_back(std::move(r));
  }
  REQUIRE(all.size() == codecs.size() * per_codec);
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& [codec, name] = codecs[i / per_codec];
    const int n = static_cast<int>(i % per_codec);
    CHECK(all[i].offset == static_cast<int64_t>(i));
    REQUIRE(all[i].key == name + "-" + std::to_string(n));
    CHECK(all[i].value == testing::ValueForOffset(n, 300) + std::string(300, 'x'));
    REQUIRE(all[i].headers.size() == 1);
    CHECK(all[i].headers[0].value == name);
  }
  // Compressed batches are stored as sent: the log holds far fewer bytes than the records.
  auto stub = RawStub(broker);
  v1::FetchRequest request;
  auto* p = request.add_partitions();
  p->set_topic("codecs");
  p->set_partition(0);
  p->set_fetch_offset(per_codec);
  p->set_max_bytes(1 << 20);
  v1::FetchResponse response;
  grpc::ClientContext context;
  REQUIRE(stub->Fetch(&context, request, &response).ok());
  auto header = format::ParseBatchHeader(response.partitions(0).records(), 1 << 20);
  REQUIRE(header.ok());
  CHECK(header->compression() == format::Compression::kGzip);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE(
    "hostile client: a request that does not parse is INVALID_ARGUMENT on every API, "
    "and the log stays quiet",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  CreateTopic(broker, "t", 1);
  // Field 1 (topics) holding a TopicProduceData whose topic string is not UTF-8: libprotobuf
  // refuses it and, left alone, logs a line per request.
  const std::string bad_utf8("\x0a\x04\x0a\x02\xff\xfe", 6);
  const std::string truncated("\x0a\x7f", 2);
  for (const char* method :
       {"/rill.v1.Rill/Produce", "/rill.v1.Rill/Fetch", "/rill.v1.Rill/ListOffsets",
        "/rill.v1.Rill/Metadata", "/rill.v1.Admin/CreateTopics", "/rill.v1.Admin/DescribeTopics",
        "/rill.v1.Groups/Heartbeat", "/rill.v1.Groups/CommitOffsets"}) {
    INFO(method);
    for (int i = 0; i < 20; ++i) {
      auto status = testing::RawCall(broker, method, i % 2 ? bad_utf8 : truncated);
      CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK_THAT(status.error_message(), Catch::Contains("is not a valid rill.v1."));
    }
  }
  CHECK(testing::RawCall(broker, "/rill.v1.Rill/NoSuchMethod", "").error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
  CHECK_THAT(broker.log(), !Catch::Contains("libprotobuf"));
  CHECK_THAT(broker.log(), !Catch::Contains("UTF-8"));
  auto stub = RawStub(broker);
  CHECK(RawProduce(stub.get(), "t", 0, Batch({})).partitions(0).error().code() == v1::NONE);
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE(
    "hostile client: requests with more entries than max.request.entries are refused "
    "before they become work",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--max-request-entries", "1000"});
  CreateTopic(broker, "t", 2);
  auto stub = RawStub(broker);

  auto list_offsets = [&](int entries) {
    v1::ListOffsetsRequest request;
    for (int i = 0; i < entries; ++i) {
      auto* p = request.add_partitions();
      p->set_topic("t");
      p->set_partition(i % 2);
      p->set_timestamp(v1::LATEST);
    }
    v1::ListOffsetsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub->ListOffsets(&context, request, &response);
    return std::make_pair(status, response.partitions_size());
  };
  auto [at_limit, answered] = list_offsets(1000);
  CHECK(at_limit.ok());
  CHECK(answered == 1000);
  // A million entries used to cost the broker half a gigabyte and seven seconds of CPU, then
  // fail to send a reply past the size limit.
  auto [over, none] = list_offsets(1000000);
  CHECK(over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(over.error_message(), Catch::Contains("max.request.entries=1000"));
  CHECK(none == 0);

  // Entries are counted through every level: 10 topics of 101 partitions each are 1020.
  v1::ProduceRequest produce;
  for (int t = 0; t < 10; ++t) {
    auto* topic = produce.add_topics();
    topic->set_topic("t");
    for (int p = 0; p < 101; ++p) topic->add_partitions()->set_partition(0);
  }
  v1::ProduceResponse produced;
  grpc::ClientContext context;
  CHECK(stub->Produce(&context, produce, &produced).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(HighWatermark(stub.get(), "t", 0) == 0);
  CHECK(RawProduce(stub.get(), "t", 0, Batch({})).partitions(0).error().code() == v1::NONE);
  REQUIRE(broker.Stop() == 0);
}

namespace {

// Produces `records` records of 1 KiB, keyless, spread over the topic's partitions.
void Fill(const BrokerProcess& broker, const std::string& topic, int records) {
  ProducerOptions options;
  options.client = Client(broker);
  options.batch_bytes = 256 * 1024;
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  const std::string value = testing::ValueForOffset(7, 1024);
  for (int i = 0; i < records; ++i) {
    REQUIRE(
        (*producer)->Send(ProducerRecord{topic, std::nullopt, value, {}, std::nullopt, {}}).ok());
  }
  (*producer)->Flush();
}

}  // namespace

TEST_CASE(
    "hostile client: fetches hold at most max.fetches.inflight.bytes, and the memory goes "
    "back once idle",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--max-fetches-inflight-bytes", "16777216"});
  CreateTopic(broker, "wide", 60);
  const int records = 150000;  // about 150 MiB
  Fill(broker, "wide", records);
  // Wait out the produce: its buffers go back to the kernel once the broker is idle.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const int64_t before = broker.RssBytes();

  // Eight fetches of up to 50 MiB each may be out at once: up to 400 MiB of responses if
  // nothing bounds them.
  ConsumerOptions options;
  options.client = Client(broker);
  options.max_partition_fetch_bytes = 8 << 20;
  auto consumer = Consumer::Create(options);
  REQUIRE(consumer.ok());
  std::vector<TopicPartition> all;
  for (int p = 0; p < 60; ++p) all.push_back({"wide", p});
  REQUIRE((*consumer)->Assign(all).ok());
  REQUIRE((*consumer)->SeekToBeginning(all).ok());
  int64_t peak = before;
  int read = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read < records && std::chrono::steady_clock::now() < deadline) {
    auto polled = (*consumer)->Poll(200);
    REQUIRE(polled.ok());
    read += static_cast<int>(polled->size());
    peak = std::max(peak, broker.RssBytes());
  }
  CHECK(read == records);
  (*consumer)->Close();
  INFO("RSS before " << before / 1048576 << " MiB, peak " << peak / 1048576 << " MiB");
  // Unbounded, the responses alone reach 400 MiB. Bounded, what stays is the budget plus what
  // the allocator keeps of freed buffers per thread (base/allocator.h), which varies with how
  // the threads were scheduled: 70 to 150 MiB over the resting size on a busy 2-core machine.
  if (!kSanitized) CHECK(peak - before < (192 << 20));

  std::this_thread::sleep_for(std::chrono::seconds(5));
  const int64_t idle = broker.RssBytes();
  INFO("RSS when idle again " << idle / 1048576 << " MiB");
  if (!kSanitized) CHECK(idle - before < (48 << 20));
  REQUIRE(broker.Stop() == 0);
}

namespace {

// A raw TCP connection to `address` ("127.0.0.1:PORT") from `source` (another loopback address
// stands for another client); -1 if the connect itself failed.
int RawConnect(const std::string& address, const char* source = "127.0.0.1") {
  const auto colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the broker closed `fd` within `wait_ms` (a read sees end of stream or a reset).
bool ClosedByPeer(int fd, int wait_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, wait_ms) <= 0) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// One Metadata call on a fresh channel; its status.
grpc::Status MetadataCall(const BrokerProcess& broker) {
  auto stub = RawStub(broker);
  v1::MetadataRequest request;
  v1::MetadataResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return stub->Metadata(&context, request, &response);
}

}  // namespace

TEST_CASE(
    "hostile client: connections are bounded per client address and in total, refused "
    "at once, and counted",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--max-connections", "8", "--max-connections-per-ip", "3"});
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(RawConnect(broker.address(), "127.0.0.2"));
  // The fourth from the same address is closed at once; another address still gets in.
  const int fourth = RawConnect(broker.address(), "127.0.0.2");
  CHECK(ClosedByPeer(fourth, 5000));
  close(fourth);
  for (const char* source : {"127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"}) {
    held.push_back(RawConnect(broker.address(), source));
  }
  for (int fd : held) CHECK_FALSE(ClosedByPeer(fd, 0));
  // Eight are open: the broker's total is reached for every address.
  const int ninth = RawConnect(broker.address(), "127.0.0.5");
  CHECK(ClosedByPeer(ninth, 5000));
  close(ninth);
  CHECK_FALSE(MetadataCall(broker).ok());
  const std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics,
             Catch::Contains("rill_connections_refused_total{listener=\"grpc\",reason=\"limit\"}"));
  CHECK_THAT(metrics, Catch::Contains("rill_connections{listener=\"grpc\"} 8"));

  // Once they close, their places are free again.
  for (int fd : held) close(fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  grpc::Status status;
  while (!(status = MetadataCall(broker)).ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(status.ok());
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE("hostile client: idle and silent connections are closed, on both ports",
          "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--connections-max-idle-ms", "1000"});
  const int grpc_silent = RawConnect(broker.address());
  const int admin_silent = RawConnect(broker.admin_address());
  // An admin request that never finishes its head.
  const int admin_trickle = RawConnect(broker.admin_address());
  REQUIRE(send(admin_trickle, "GET /metr", 9, 0) == 9);
  CHECK(ClosedByPeer(grpc_silent, 8000));
  CHECK(ClosedByPeer(admin_silent, 15000));
  CHECK(ClosedByPeer(admin_trickle, 15000));
  for (int fd : {grpc_silent, admin_silent, admin_trickle}) close(fd);
  CHECK(MetadataCall(broker).ok());
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/healthz"), Catch::Contains("ok"));
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE(
    "hostile client: out of file descriptors, the broker refuses connections, reports "
    "not ready, and accepts again once it can",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path());
  int open = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(broker.pid()) + "/fd")) {
    (void)entry;
    ++open;
  }
  // Down to the descriptors it has open now, every accept fails with EMFILE. A few more leave
  // accepts working but inside the headroom kept for the broker's own files: refused as well.
  const int spare = kSanitized ? 16 : 0;
  rlimit none{static_cast<rlim_t>(open + spare), 20000};
  REQUIRE(prlimit(broker.pid(), RLIMIT_NOFILE, &none, nullptr) == 0);
  std::vector<int> refused;
  for (int i = 0; i < 50; ++i) refused.push_back(RawConnect(broker.address()));
  for (int fd : refused) {
    CHECK(ClosedByPeer(fd, 5000));
    close(fd);
  }
  rlimit plenty{20000, 20000};
  REQUIRE(prlimit(broker.pid(), RLIMIT_NOFILE, &plenty, nullptr) == 0);
  // Within a second of the last failure it says it cannot accept; then it serves again.
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/readyz"),
             Catch::Contains("cannot accept connections"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK_THAT(testing::HttpGet(broker.admin_address(), "/readyz"), Catch::Contains("ready"));
  CHECK(MetadataCall(broker).ok());
  CHECK_THAT(broker.log(), Catch::Contains("grpc: out of file descriptors"));
  const std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics,
             Catch::Contains("rill_connections_refused_total{listener=\"grpc\",reason=\"files\"}"));
  REQUIRE(broker.Stop() == 0);
}

TEST_CASE(
    "hostile client: past max.requests.inflight.bytes requests are refused as UNAVAILABLE "
    "until the held ones finish",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--max-requests-inflight-bytes", "1048576"});
  CreateTopic(broker, "t", 1);
  // Unknown fields are kept by the parser, so padding makes a request as large as wanted.
  auto padded = [](const google::protobuf::Message& message, size_t bytes) {
    std::string out = message.SerializeAsString();
    out += '\x7a';  // field 15, length-delimited
    std::string length;
    for (uint64_t v = bytes;; v >>= 7) {
      length.push_back(static_cast<char>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
      if (v < 0x80) break;
    }
    return out + length + std::string(bytes, 'x');
  };
  // A long-poll of 900 KB on an empty partition holds its bytes for three seconds.
  v1::FetchRequest fetch;
  auto* p = fetch.add_partitions();
  p->set_topic("t");
  p->set_fetch_offset(0);
  p->set_max_bytes(1024);
  fetch.set_max_wait_ms(3000);
  fetch.set_min_bytes(1);
  std::thread poll([&] {
    CHECK(testing::RawCall(broker, "/rill.v1.Rill/Fetch", padded(fetch, 900 * 1024)).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  v1::MetadataRequest metadata;
  auto refused = testing::RawCall(broker, "/rill.v1.Rill/Metadata", padded(metadata, 300 * 1024));
  CHECK(refused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_THAT(refused.error_message(), Catch::Contains("max.requests.inflight.bytes=1048576"));
  poll.join();
  CHECK(testing::RawCall(broker, "/rill.v1.Rill/Metadata", padded(metadata, 300 * 1024)).ok());
  REQUIRE(broker.Stop() == 0);
}

namespace {

// Raw HTTP/2 (RFC 9113) from the client's side, for what gRPC clients never send.
std::string H2Frame(uint8_t type, uint8_t flags, uint32_t stream_id, const std::string& payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  std::string frame{static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n),
                    static_cast<char>(type), static_cast<char>(flags)};
  for (int shift = 24; shift >= 0; shift -= 8)
    frame.push_back(static_cast<char>(stream_id >> shift));
  return frame + payload;
}

// A gRPC request's header block, as HPACK literals that touch no table.
std::string H2RequestHeaders(const std::string& path) {
  std::string block;
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{":method", "POST"},
                                                        {":scheme", "http"},
                                                        {":path", path},
                                                        {":authority", "localhost"},
                                                        {"content-type", "application/grpc"},
                                                        {"te", "trailers"}}) {
    block += '\0';
    block += static_cast<char>(name.size());
    block += name;
    block += static_cast<char>(value.size());
    block += value;
  }
  return block;
}

struct H2ReadFrame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream_id = 0;
  std::string payload;
};

// The next frame from `fd`, or nothing once `wait_ms` passed or the connection closed.
std::optional<H2ReadFrame> ReadH2Frame(int fd, std::string* pending, int wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    if (pending->size() >= 9) {
      const auto* p = reinterpret_cast<const uint8_t*>(pending->data());
      const size_t length = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
      if (pending->size() >= 9 + length) {
        H2ReadFrame frame{p[3], p[4], format::LoadU32(pending->data() + 5) & 0x7fffffffu,
                          pending->substr(9, length)};
        pending->erase(0, 9 + length);
        return frame;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char buffer[65536];
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return {};
    pending->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

TEST_CASE(
    "hostile client: a request over max.request.bytes is refused at its length prefix, "
    "before its body is read",
    "[integration]") {
  TempDir tmp;
  BrokerProcess broker(tmp.path(), {"--max-request-bytes", "1048576"});
  CreateTopic(broker, "t", 1);

  SECTION("a gRPC client gets RESOURCE_EXHAUSTED, and the broker does not hold the body") {
    const int64_t before = broker.RssBytes();
    std::atomic<bool> done{false};
    std::thread calls([&] {
      for (int i = 0; i < 4; ++i) {
        auto status =
            testing::RawCall(broker, "/rill.v1.Rill/Produce", std::string(256 << 20, 'x'));
        CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
        CHECK_THAT(status.error_message(),
                   Catch::Contains("request of 268435456 bytes is over max.request.bytes"));
      }
      done = true;
    });
    int64_t peak = before;
    while (!done) {
      peak = std::max(peak, broker.RssBytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    calls.join();
    INFO("RSS before " << before / 1048576 << " MiB, peak " << peak / 1048576 << " MiB");
    // gRPC alone read each 256 MiB request in full before refusing it.
    if (!kSanitized) CHECK(peak - before < (64 << 20));
    auto stub = RawStub(broker);
    CHECK(RawProduce(stub.get(), "t", 0, Batch({})).partitions(0).error().code() == v1::NONE);
  }

  SECTION("a prefix that lies is answered at once, and the connection goes on serving") {
    const int fd = RawConnect(broker.address());
    REQUIRE(fd >= 0);
    std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + H2Frame(0x4, 0, 0, "");
    out += H2Frame(0x1, 0x4, 1, H2RequestHeaders("/rill.v1.Rill/Produce"));
    // Claims 2 GiB - 1, sends 16 KiB of it: within the connection's flow-control window.
    std::string data = std::string(1, '\0') + "\x7f\xff\xff\xff" + std::string(16379, 'x');
    out += H2Frame(0x0, 0, 1, data);
    REQUIRE(send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));

    std::string pending;
    bool refused = false;
    bool reset = false;
    while (!(refused && reset)) {
      auto frame = ReadH2Frame(fd, &pending, 10000);
      REQUIRE(frame);
      if (frame->type == 0x4 && (frame->flags & 0x1) == 0) {
        const std::string ack = H2Frame(0x4, 0x1, 0, "");
        REQUIRE(send(fd, ack.data(), ack.size(), MSG_NOSIGNAL) == 9);
      }
      if (frame->stream_id != 1) continue;
      if (frame->type == 0x1) {
        CHECK((frame->flags & 0x1) != 0);  // END_STREAM: the call is over
        CHECK_THAT(frame->payload, Catch::Contains(std::string("\x0bgrpc-status\x01"
                                                               "8",
                                                               14)));
        CHECK_THAT(frame->payload, Catch::Contains("is over max.request.bytes"));
        refused = true;
      }
      if (frame->type == 0x3) reset = true;
    }
    // More of the refused body is discarded; a new call on the same connection is answered.
    std::string more = H2Frame(0x0, 0, 1, std::string(16384, 'y'));
    more += H2Frame(0x1, 0x4, 3, H2RequestHeaders("/rill.v1.Rill/Metadata"));
    more += H2Frame(0x0, 0x1, 3, std::string(5, '\0'));
    REQUIRE(send(fd, more.data(), more.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(more.size()));
    bool answered = false;
    while (!answered) {
      auto frame = ReadH2Frame(fd, &pending, 10000);
      REQUIRE(frame);
      answered = frame->stream_id == 3 && (frame->flags & 0x1) != 0;
    }
    close(fd);
  }
  const std::string metrics = testing::HttpGet(broker.admin_address(), "/metrics");
  CHECK_THAT(metrics, Catch::Contains("rill_requests_refused_total{reason=\"too_large\"}"));
  REQUIRE(broker.Stop() == 0);
}
