#include "base/ids.h"

#include <random>

namespace rill {

TopicId TopicId::Random() {
  // Ids are made rarely (one per topic created), so a fresh random_device draw each time costs
  // nothing and keeps two brokers started in the same instant from sharing a sequence.
  std::random_device device;
  std::uniform_int_distribution<uint64_t> any;
  for (;;) {
    TopicId id(any(device), any(device));
    if (!id.is_zero()) return id;
  }
}

std::optional<TopicId> TopicId::Parse(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  uint64_t halves[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    const char c = text[i];
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    halves[i / 16] = (halves[i / 16] << 4) | digit;
  }
  return TopicId(halves[0], halves[1]);
}

std::optional<TopicId> TopicId::FromBytes(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  uint64_t halves[2] = {0, 0};
  for (size_t i = 0; i < 16; ++i) {
    halves[i / 8] = (halves[i / 8] << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return TopicId(halves[0], halves[1]);
}

std::string TopicId::ToBytes() const {
  std::string out(16, '\0');
  for (size_t i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(high_ >> (56 - 8 * i));
    out[8 + i] = static_cast<char>(low_ >> (56 - 8 * i));
  }
  return out;
}

std::string TopicId::ToString() const { return fmt::format("{:016x}{:016x}", high_, low_); }

}  // namespace rill
