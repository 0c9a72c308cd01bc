#include "groups/consumer_protocol.h"

#include <map>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace rill::groups {
namespace {

// Reads big-endian fields, checking each length and count against the bytes left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool Int16(int16_t* v) {
    uint32_t u = 0;
    if (!Bytes(2, &u)) return false;
    *v = static_cast<int16_t>(u);
    return true;
  }
  bool Int32(int32_t* v) {
    uint32_t u = 0;
    if (!Bytes(4, &u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool String(std::string* s) {
    int16_t length = 0;
    if (!Int16(&length) || length < 0 || static_cast<size_t>(length) > rest_.size()) return false;
    s->assign(rest_.substr(0, static_cast<size_t>(length)));
    rest_.remove_prefix(static_cast<size_t>(length));
    return true;
  }
  // An array count: each element takes at least `min_element_bytes`.
  bool Count(size_t min_element_bytes, int32_t* count) {
    if (!Int32(count) || *count < 0) return false;
    return static_cast<size_t>(*count) <= rest_.size() / min_element_bytes;
  }

 private:
  bool Bytes(size_t n, uint32_t* out) {
    if (rest_.size() < n) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(rest_[i]);
    rest_.remove_prefix(n);
    *out = v;
    return true;
  }
  std::string_view rest_;
};

void PutInt16(std::string* out, int16_t v) {
  out->push_back(static_cast<char>((static_cast<uint16_t>(v) >> 8) & 0xff));
  out->push_back(static_cast<char>(static_cast<uint16_t>(v) & 0xff));
}

void PutInt32(std::string* out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((u >> shift) & 0xff));
}

void PutString(std::string* out, const std::string& s) {
  PutInt16(out, static_cast<int16_t>(s.size()));
  out->append(s);
}

absl::Status Malformed(const char* what) {
  return absl::InvalidArgumentError(fmt::format("malformed consumer protocol {}", what));
}

}  // namespace

absl::StatusOr<PartitionSet> DecodeConsumerAssignment(std::string_view bytes) {
  Reader reader(bytes);
  int16_t version = 0;
  int32_t topics = 0;
  if (!reader.Int16(&version) || version < 0 || !reader.Count(6, &topics)) {
    return Malformed("assignment");
  }
  PartitionSet out;
  for (int32_t t = 0; t < topics; ++t) {
    std::string topic;
    int32_t partitions = 0;
    if (!reader.String(&topic) || !reader.Count(4, &partitions)) return Malformed("assignment");
    for (int32_t p = 0; p < partitions; ++p) {
      int32_t partition = 0;
      if (!reader.Int32(&partition)) return Malformed("assignment");
      out.insert({topic, partition});
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeConsumerSubscription(std::string_view bytes) {
  Reader reader(bytes);
  int16_t version = 0;
  int32_t topics = 0;
  if (!reader.Int16(&version) || version < 0 || !reader.Count(2, &topics)) {
    return Malformed("subscription");
  }
  std::vector<std::string> out;
  for (int32_t t = 0; t < topics; ++t) {
    if (!reader.String(&out.emplace_back())) return Malformed("subscription");
  }
  return out;
}

std::string EncodeConsumerAssignment(const PartitionSet& partitions) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& tp : partitions) by_topic[tp.topic].push_back(tp.partition);
  std::string out;
  PutInt16(&out, 0);
  PutInt32(&out, static_cast<int32_t>(by_topic.size()));
  for (const auto& [topic, ids] : by_topic) {
    PutString(&out, topic);
    PutInt32(&out, static_cast<int32_t>(ids.size()));
    for (int32_t id : ids) PutInt32(&out, id);
  }
  PutInt32(&out, -1);  // no user data
  return out;
}

std::string EncodeConsumerSubscription(const std::vector<std::string>& topics) {
  std::string out;
  PutInt16(&out, 0);
  PutInt32(&out, static_cast<int32_t>(topics.size()));
  for (const auto& topic : topics) PutString(&out, topic);
  PutInt32(&out, -1);  // no user data
  return out;
}

}  // namespace rill::groups
