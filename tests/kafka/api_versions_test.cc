#include "kafka/protocol/api_versions.h"

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
  const ApiVersionsRequest request = ReadApiVersionsRequest(r, 3);
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
    WriteApiVersionsResponse(response, version, w);
    WireReader r(out);
    const ApiVersionsResponse read = ReadApiVersionsResponse(r, version);
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
  WriteApiVersionsResponse(unsupported, 0, w);
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

}  // namespace
}  // namespace rill::kafka
