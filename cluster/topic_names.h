// The rules for topic names, in one place: what a valid name is, and which names belong to the
// broker itself.
//
// Internal topics: every name that starts with "__" is reserved for topics the broker runs
// (today __consumer_offsets). Clients may read them, and list them when they ask for internal
// topics, but may not create, delete, produce to, grow, reconfigure or delete records of them.
// One prefix rule rather than a list keeps the answer the same in every handler and for topics
// added later.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "base/ids.h"

namespace rill::cluster {

inline constexpr std::string_view kInternalTopicPrefix = "__";
inline constexpr char kConsumerOffsetsTopic[] = "__consumer_offsets";
inline constexpr size_t kTopicNameBytesMax = 249;

// Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not "." or "..". INVALID_TOPIC otherwise.
absl::Status ValidateTopicName(std::string_view name);

bool IsInternalTopic(std::string_view name);

// INVALID_TOPIC naming `action` ("produce to", "delete") when `name` is internal; OK otherwise.
absl::Status RejectInternalTopic(std::string_view name, std::string_view action);

// The name of a partition's log directory: "<topic>-<partition>-<topic id>". The id makes a
// topic recreated under an old name (with a replica that was down through the delete) meet a
// directory of its own, never the old data; the name is there for people. A topic name too
// long to fit the 255 bytes a directory name may have is shortened: the id keeps it unique.
std::string PartitionLogName(std::string_view topic, TopicId id, PartitionId partition);

}  // namespace rill::cluster
