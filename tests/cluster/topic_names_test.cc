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

TEST_CASE("topic names: a partition's directory carries the topic id and fits 255 bytes",
          "[cluster]") {
  const TopicId id(1, 2);
  CHECK(PartitionLogName("orders", id, PartitionId(3)) ==
        "orders-3-00000000000000010000000000000002");
  CHECK(PartitionLogName("orders", TopicId(1, 3), PartitionId(3)) !=
        PartitionLogName("orders", id, PartitionId(3)));
  const std::string longest(kTopicNameBytesMax, 'x');
  const std::string name = PartitionLogName(longest, id, PartitionId(99999));
  CHECK(name.size() == 255);
  CHECK(name.ends_with("-99999-00000000000000010000000000000002"));
}

}  // namespace
}  // namespace rill::cluster
