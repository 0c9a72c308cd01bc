#include "kafka/protocol/messages.h"

#include <catch2/catch.hpp>
#include <string>

#include "kafka/protocol/api.h"
#include "kafka/protocol/header.h"

namespace rill::kafka {
namespace {

TEST_CASE("kafka ApiVersions: a v3 request as librdkafka sends it", "[kafka]") {
  // Header v2 (client id "rdkafka"), then the v3 body: compact strings "librdkafka" and
  // "2.0.2", and empty tagged fields.
  const std::string frame = std::string("\x00\x12\x00\x03\x00\x00\x00\x01\x00\x07rdkafka\x00", 18) +
                            "\x0blibrdkafka\x06" "2.0.2" + std::string(1, '\0');
  RequestHeader peeked;
  REQUIRE(PeekRequestHeader(frame, &peeked));
  const ApiSpec* api = FindApi(peeked.api_key);
  REQUIRE(api != nullptr);
  CHECK(api->Supports(peeked.api_version));
  CHECK(RequestHeaderVersion(*api, peeked.api_version) == 2);
  CHECK(ResponseHeaderVersion(*api, peeked.api_version) == 0);
  WireReader r(frame);
  ReadRequestHeader(r, 2);
  ApiVersionsRequest request;
  request.Read(r, 3);
  INFO(r.status().ToString());
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
  CHECK(request.client_software_name == "librdkafka");
  CHECK(request.client_software_version == "2.0.2");
}

TEST_CASE("kafka ApiVersions: responses of every version round-trip", "[kafka]") {
  ApiVersionsResponse response;
  response.api_keys = {{18, 0, 3}, {0, 3, 9}};
  response.throttle_time_ms = 5;
  for (int16_t version = 0; version <= 3; ++version) {
    std::string out;
    WireWriter w(&out);
    response.Write(w, version);
    WireReader r(out);
    ApiVersionsResponse read;
    read.Read(r, version);
    INFO("version " << version << ": " << r.status().ToString());
    CHECK(r.ok());
    CHECK(r.remaining() == 0);
    REQUIRE(read.api_keys.size() == 2);
    CHECK(read.api_keys[1].api_key == 0);
    CHECK(read.api_keys[1].max_version == 9);
    CHECK(read.throttle_time_ms == (version >= 1 ? 5 : 0));
  }
  // v0, as a client that asked for a version we lack reads it: error 35 and our ranges.
  ApiVersionsResponse unsupported;
  unsupported.error_code = 35;
  unsupported.api_keys = {{18, 0, 3}};
  std::string v0;
  WireWriter w(&v0);
  unsupported.Write(w, 0);
  CHECK(v0 == std::string("\x00\x23\x00\x00\x00\x01\x00\x12\x00\x00\x00\x03", 12));
}

TEST_CASE("kafka ApiVersions: client software names as KIP-511 allows them", "[kafka]") {
  CHECK(ValidClientSoftwareField("librdkafka"));
  CHECK(ValidClientSoftwareField("2.0.2"));
  CHECK(ValidClientSoftwareField("apache-kafka-java"));
  CHECK_FALSE(ValidClientSoftwareField(""));
  CHECK_FALSE(ValidClientSoftwareField("-leading"));
  CHECK_FALSE(ValidClientSoftwareField("trailing."));
  CHECK_FALSE(ValidClientSoftwareField("with space"));
}

// Encodes `message` at every version of its API, reads it back, and checks that it comes back
// the same (encoded again, the same bytes) and that every truncation of it fails to read.
template <typename Message>
void CheckRoundTrips(const Message& message, int16_t key) {
  const ApiSpec* api = FindApi(key);
  REQUIRE(api != nullptr);
  for (int16_t version = api->min_version; version <= api->max_version; ++version) {
    INFO(api->name << " v" << version);
    std::string encoded;
    WireWriter w(&encoded);
    message.Write(w, version);
    WireReader r(encoded);
    Message read;
    read.Read(r, version);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r.remaining() == 0);
    std::string again;
    WireWriter w2(&again);
    read.Write(w2, version);
    CHECK(again == encoded);
    for (size_t length = 0; length < encoded.size(); ++length) {
      WireReader truncated(std::string_view(encoded).substr(0, length));
      Message partial;
      partial.Read(truncated, version);
      // Every field of a version is read whatever the bytes say, so a cut anywhere runs out.
      CHECK_FALSE(truncated.ok());
    }
  }
}

TEST_CASE("kafka messages: every version of the data APIs round-trips", "[kafka]") {
  ProduceRequest produce;
  produce.transactional_id = std::nullopt;
  produce.acks = -1;
  produce.timeout_ms = 30000;
  produce.topic_data.push_back({"orders", {{0, std::string("batch-bytes")}, {3, std::nullopt}}});
  CheckRoundTrips(produce, 0);

  FetchRequest fetch;
  fetch.max_wait_ms = 500;
  fetch.min_bytes = 1;
  fetch.topics.push_back({"orders", {{2, 7, 1234, 7, -1, 1 << 20}}});
  fetch.forgotten_topics_data.push_back({"old", {1, 2}});
  fetch.rack_id = "rack-a";
  CheckRoundTrips(fetch, 1);

  FetchResponse fetched;
  PartitionData data;
  data.partition_index = 2;
  data.high_watermark = 99;
  data.aborted_transactions.emplace();
  data.records = std::string("file-bytes");
  fetched.responses.push_back({"orders", {data}});
  CheckRoundTrips(fetched, 1);

  MetadataResponse metadata;
  metadata.brokers.push_back({1, "localhost", 9092, std::nullopt});
  metadata.cluster_id = "rill";
  MetadataResponseTopic topic;
  topic.name = "orders";
  topic.topic_id[0] = 7;
  topic.partitions.push_back({0, 0, 1, 3, {1, 2, 3}, {1, 2}, {}});
  metadata.topics.push_back(topic);
  CheckRoundTrips(metadata, 3);

  MetadataRequest all_topics;
  CheckRoundTrips(all_topics, 3);
}

TEST_CASE("kafka messages: every version of the group APIs round-trips", "[kafka]") {
  JoinGroupRequest join;
  join.group_id = "g";
  join.session_timeout_ms = 10000;
  join.member_id = "";
  join.protocol_type = "consumer";
  join.protocols.push_back({"range", std::string("\x00\x01", 2)});
  CheckRoundTrips(join, 11);

  OffsetFetchRequest offsets;
  offsets.group_id = "g";
  offsets.topics.emplace().push_back({"orders", {0, 1}});
  offsets.groups.push_back({"g", std::nullopt});
  CheckRoundTrips(offsets, 9);

  OffsetCommitRequest commit;
  commit.group_id = "g";
  commit.topics.push_back({"orders", {{0, 42, -1, -1, std::string("meta")}}});
  CheckRoundTrips(commit, 8);
}

TEST_CASE("kafka messages: every version of the group answers and the admin APIs round-trips",
          "[kafka]") {
  JoinGroupResponse joined;
  joined.generation_id = 3;
  joined.protocol_type = "consumer";
  joined.protocol_name = "range";
  joined.leader = "m-1";
  joined.member_id = "m-1";
  joined.members.push_back({"m-1", std::string("instance"), std::string("\x00\x00", 2)});
  CheckRoundTrips(joined, 11);

  DescribeGroupsResponse described;
  described.groups.push_back(
      {0, "g", "Stable", "consumer", "range", {{"m-1", std::nullopt, "c", "/h", "md", "as"}}});
  CheckRoundTrips(described, 15);

  LeaveGroupRequest leave;
  leave.group_id = "g";
  leave.member_id = "m-1";
  leave.members.push_back({"m-1", std::nullopt});
  CheckRoundTrips(leave, 13);

  DescribeConfigsResponse configs;
  DescribeConfigsResult result;
  result.resource_type = 2;
  result.resource_name = "orders";
  DescribeConfigsResourceResult entry;
  entry.name = "retention.ms";
  entry.value = "1000";
  entry.config_source = 1;
  entry.synonyms.push_back({"retention.ms", std::string("1000"), 1});
  result.configs.push_back(entry);
  configs.results.push_back(result);
  CheckRoundTrips(configs, 32);

  IncrementalAlterConfigsRequest alter;
  alter.resources.push_back({2, "orders", {{"retention.ms", 0, std::string("5")}}});
  CheckRoundTrips(alter, 44);

  DeleteRecordsResponse deleted;
  deleted.topics.push_back({"orders", {{0, 4, 0}}});
  CheckRoundTrips(deleted, 21);

  CreatePartitionsRequest grow;
  grow.topics.push_back({"orders", 6, std::nullopt});
  CheckRoundTrips(grow, 37);

  DescribeClusterResponse cluster;
  cluster.cluster_id = "rill";
  cluster.brokers.push_back({1, "localhost", 9092, std::nullopt});
  CheckRoundTrips(cluster, 60);
}

TEST_CASE("kafka messages: a null topic list is all topics from Metadata v1", "[kafka]") {
  MetadataRequest request;
  std::string v1;
  WireWriter w(&v1);
  request.Write(w, 1);
  CHECK(v1 == std::string("\xff\xff\xff\xff", 4));
  std::string v9;
  WireWriter w9(&v9);
  request.Write(w9, 9);
  // Compact null array, allow_auto_topic_creation, include_topic_authorized_operations, tags.
  CHECK(v9 == std::string("\x00\x01\x00\x00\x00", 5));
}

TEST_CASE("kafka messages: counts past what remains are refused before allocating", "[kafka]") {
  // A Produce v3 request claiming 2^31 - 1 topics in 12 bytes.
  const std::string body = std::string("\xff\xff\xff\xff\x00\x01\x00\x00\x75\x30", 10) +
                           std::string("\x7f\xff\xff\xff", 4);
  WireReader r(body);
  ProduceRequest request;
  request.Read(r, 3);
  CHECK_FALSE(r.ok());
  CHECK(request.topic_data.empty());
}

}  // namespace
}  // namespace rill::kafka
