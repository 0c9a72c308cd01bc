#include "server/rpc_dispatcher.h"

#include <catch2/catch.hpp>

#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "rill/v1/group.pb.h"
#include "rill/v1/rill.pb.h"

using rill::server::CountWireEntries;

namespace {

absl::StatusOr<int64_t> Count(const google::protobuf::Message& message, int64_t max) {
  const std::string bytes = message.SerializeAsString();
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  return CountWireEntries(message.GetDescriptor(), &in, max);
}

}  // namespace

TEST_CASE("rpc dispatcher: request entries are counted in the bytes, through every level",
          "[broker]") {
  rill::v1::ProduceRequest produce;
  for (int t = 0; t < 3; ++t) {
    auto* topic = produce.add_topics();
    topic->set_topic("t");
    for (int p = 0; p < 4; ++p) {
      auto* partition = topic->add_partitions();
      partition->set_partition(p);
      partition->add_records("a");
      partition->add_records("b");
    }
  }
  // 3 topics + 12 partitions + 24 records elements.
  CHECK(Count(produce, 1000).value() == 39);
  CHECK(Count(produce, 39).value() == 39);
  CHECK(Count(produce, 38).value() == 39);  // past the limit: max + 1, counting stopped
  CHECK(Count(produce, 5).value() == 6);
  CHECK(Count(rill::v1::ProduceRequest(), 10).value() == 0);

  // A packed repeated int32 counts one per byte: an upper bound on its elements.
  rill::v1::TopicPartitions partitions;
  partitions.set_topic("t");
  for (int p = 0; p < 10; ++p) partitions.add_partitions(p);
  CHECK(Count(partitions, 1000).value() == 10);
}

TEST_CASE("rpc dispatcher: malformed request bytes are told apart from large ones", "[broker]") {
  for (const std::string& bytes :
       {std::string("\x0a\x7f", 2), std::string("\xff\xff\xff\xff\xff\xff", 6),
        std::string("\x0a\x03\x0a\x05x", 5)}) {
    google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
    CHECK(absl::IsInvalidArgument(
        CountWireEntries(rill::v1::ProduceRequest::descriptor(), &in, 100).status()));
  }
}
