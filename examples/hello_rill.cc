// A complete Rill client: create a topic, produce keyed records, read them back.
//
//   build/bin/hello-rill [BROKERS]      (default 127.0.0.1:9290; start one with ./scripts/run)
//
// Link against rill_client (see examples/CMakeLists.txt); include only <rill/...> headers.
#include <cstdio>
#include <string>

#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"

int main(int argc, char** argv) {
  rill::ClientOptions client;
  if (argc > 1) client.bootstrap_brokers = argv[1];
  const std::string topic = "hello-rill";

  // 1. Create the topic (fine if it exists already).
  auto admin = rill::Admin::Create(client);
  if (!admin.ok()) return std::fprintf(stderr, "%s\n", admin.status().ToString().c_str()), 1;
  absl::Status created = (*admin)->CreateTopic(rill::NewTopic{topic, 3, 1, {}});
  if (!created.ok() && rill::ErrorCodeOf(created) != rill::ErrorCode::kTopicAlreadyExists) {
    return std::fprintf(stderr, "create topic: %s\n", created.ToString().c_str()), 1;
  }

  // 2. Produce: records with the same key always land on the same partition.
  rill::ProducerOptions producer_options;
  producer_options.client = client;
  auto producer = rill::Producer::Create(producer_options);
  if (!producer.ok()) return std::fprintf(stderr, "%s\n", producer.status().ToString().c_str()), 1;
  for (int i = 0; i < 10; ++i) {
    rill::ProducerRecord record;
    record.topic = topic;
    record.key = "user-" + std::to_string(i % 3);
    record.value = "event " + std::to_string(i);
    absl::Status s = (*producer)->Send(std::move(record), [](const auto& result) {
      if (result.ok()) {
        std::printf("acknowledged %s-%d@%lld\n", result->topic.c_str(), result->partition,
                    static_cast<long long>(result->offset));
      } else {
        std::fprintf(stderr, "send failed: %s\n", result.status().ToString().c_str());
      }
    });
    if (!s.ok()) return std::fprintf(stderr, "send: %s\n", s.ToString().c_str()), 1;
  }
  (*producer)->Flush();  // wait until every record is acknowledged (durable)

  // 3. Consume: assign every partition and replay from the beginning.
  rill::ConsumerOptions consumer_options;
  consumer_options.client = client;
  auto consumer = rill::Consumer::Create(consumer_options);
  if (!consumer.ok()) return std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str()), 1;
  std::vector<rill::TopicPartition> partitions = {{topic, 0}, {topic, 1}, {topic, 2}};
  if (auto s = (*consumer)->Assign(partitions); !s.ok()) return 1;
  if (auto s = (*consumer)->SeekToBeginning(partitions); !s.ok()) return 1;
  int received = 0;
  for (int polls = 0; polls < 50 && received < 10; ++polls) {
    auto records = (*consumer)->Poll(200);
    if (!records.ok()) return std::fprintf(stderr, "poll: %s\n", records.status().ToString().c_str()), 1;
    for (const auto& r : *records) {
      std::printf("consumed %s-%d@%lld key=%s value=%s\n", r.topic.c_str(), r.partition,
                  static_cast<long long>(r.offset), r.key.value_or("").c_str(),
                  r.value.value_or("").c_str());
      ++received;
    }
  }
  return received >= 10 ? 0 : 1;
}
