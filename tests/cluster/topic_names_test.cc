#include "cluster/topic_names.h"

#include "api/error.h"
#include "catch2/catch.hpp"

namespace rill::cluster {
namespace {

TEST_CASE("topic names: Kafka's charset and length, not . or ..", "[cluster]") {
  CHECK(ValidateTopicName("orders.v2_eu-west").ok());
  CHECK(ValidateTopicName(std::string(kTopicNameBytesMax, 'a')).ok());
  for (std::string bad :
       {std::string(), std::string(kTopicNameBytesMax + 1, 'a'), std::string("."),
        std::string(".."), std::string("a b"), std::string("a/b"), std::string("é")}) {
    INFO(bad);
    CHECK(api::ErrorCodeOf(ValidateTopicName(bad)) == v1::INVALID_TOPIC);
  }
}

TEST_CASE("topic names: every name starting with __ is internal, and only those", "[cluster]") {
  CHECK(IsInternalTopic(kConsumerOffsetsTopic));
  CHECK(IsInternalTopic("__anything"));
  CHECK_FALSE(IsInternalTopic("_single"));
  CHECK_FALSE(IsInternalTopic("a__b"));
  CHECK(RejectInternalTopic("orders", "produce to").ok());
  const absl::Status refused = RejectInternalTopic("__mine", "create");
  CHECK(api::ErrorCodeOf(refused) == v1::INVALID_TOPIC);
  CHECK(refused.message() ==
        "cannot create '__mine': names starting with '__' are internal to the broker");
}

}  // namespace
}  // namespace rill::cluster
