// Big-endian (network order) loads and stores, the byte order of Kafka's formats and of every
// Rill on-disk header.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace rill::format {

inline uint16_t LoadU16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap16(v);
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}
inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}
inline int16_t LoadI16(const char* p) { return static_cast<int16_t>(LoadU16(p)); }
inline int32_t LoadI32(const char* p) { return static_cast<int32_t>(LoadU32(p)); }
inline int64_t LoadI64(const char* p) { return static_cast<int64_t>(LoadU64(p)); }

inline void StoreU16(char* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreU32(char* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreU64(char* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreI16(char* p, int16_t v) { StoreU16(p, static_cast<uint16_t>(v)); }
inline void StoreI32(char* p, int32_t v) { StoreU32(p, static_cast<uint32_t>(v)); }
inline void StoreI64(char* p, int64_t v) { StoreU64(p, static_cast<uint64_t>(v)); }

// Appends `v` to `out`, big-endian.
inline void AppendU16(std::string* out, uint16_t v) {
  char b[sizeof v];
  StoreU16(b, v);
  out->append(b, sizeof b);
}
inline void AppendU32(std::string* out, uint32_t v) {
  char b[sizeof v];
  StoreU32(b, v);
  out->append(b, sizeof b);
}
inline void AppendU64(std::string* out, uint64_t v) {
  char b[sizeof v];
  StoreU64(b, v);
  out->append(b, sizeof b);
}

}  // namespace rill::format
