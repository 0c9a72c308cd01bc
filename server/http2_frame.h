// The few pieces of HTTP/2 framing (RFC 9113) the request guard reads and writes: the client
// preface, frame types, flags, error codes, and the 9-byte frame header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rill::server::http2 {

inline constexpr std::string_view kPreface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
inline constexpr size_t kFrameHeaderBytes = 9;

// Frame types.
inline constexpr uint8_t kData = 0x0;
inline constexpr uint8_t kHeaders = 0x1;
inline constexpr uint8_t kRstStream = 0x3;
inline constexpr uint8_t kSettings = 0x4;
inline constexpr uint8_t kPushPromise = 0x5;
inline constexpr uint8_t kContinuation = 0x9;

// Flags.
inline constexpr uint8_t kEndStream = 0x1;
inline constexpr uint8_t kEndHeaders = 0x4;
inline constexpr uint8_t kPadded = 0x8;

// Error codes.
inline constexpr uint32_t kNoError = 0x0;
inline constexpr uint32_t kCancel = 0x8;

inline uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

inline void AppendBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline void AppendFrameHeader(std::string* out, uint32_t length, uint8_t type, uint8_t flags,
                              uint32_t stream_id) {
  out->push_back(static_cast<char>(length >> 16));
  out->push_back(static_cast<char>(length >> 8));
  out->push_back(static_cast<char>(length));
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(flags));
  AppendBe32(out, stream_id & 0x7fffffffu);
}

}  // namespace rill::server::http2
