// Kafka's default partitioner hash: murmur2 with Kafka's seed, as in the Java client's
// org.apache.kafka.common.utils.Utils.murmur2, so a key lands on the same partition as with
// Kafka's clients.
#pragma once

#include <cstdint>
#include <string_view>

namespace rill::format {

// Kafka's murmur2 of `key` (as Java's signed int).
int32_t Murmur2(std::string_view key);

// The partition Kafka's default partitioner picks for a non-null key:
// toPositive(murmur2(key)) % partitions. Precondition: partitions > 0.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

}  // namespace rill::format
