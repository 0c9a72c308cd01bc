#include "server/http2_request_guard.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "fmt/format.h"

namespace rill::server {

using namespace http2;

namespace {

// gRPC's RESOURCE_EXHAUSTED.
constexpr std::string_view kResourceExhausted = "8";

std::string RstStream(uint32_t stream_id, uint32_t error_code) {
  std::string frame;
  AppendFrameHeader(&frame, 4, kRstStream, 0, stream_id);
  AppendBe32(&frame, error_code);
  return frame;
}

// HPACK (RFC 7541 §5.1) integer with a 7-bit prefix and the high bit clear (no Huffman).
void AppendHpackLength(std::string* out, size_t v) {
  if (v < 127) {
    out->push_back(static_cast<char>(v));
    return;
  }
  out->push_back(static_cast<char>(127));
  v -= 127;
  while (v >= 128) {
    out->push_back(static_cast<char>((v % 128) | 128));
    v /= 128;
  }
  out->push_back(static_cast<char>(v));
}

// "Literal Header Field without Indexing — New Name" (RFC 7541 §6.2.2): the decoder's dynamic
// table is left as it is, so the server's encoder and the client's decoder stay in step.
void AppendLiteralHeader(std::string* out, std::string_view name, std::string_view value) {
  out->push_back('\0');
  AppendHpackLength(out, name.size());
  out->append(name);
  AppendHpackLength(out, value.size());
  out->append(value);
}

// grpc-message is percent-encoded outside printable ASCII (gRPC's HTTP/2 protocol spec).
std::string PercentEncode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e || c == '%') {
      out += fmt::format("%{:02X}", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The end of a call as gRPC sends it: a header block with END_STREAM, "trailers-only" when
// the server sent no response headers yet.
std::string CallEnd(uint32_t stream_id, bool after_headers, std::string_view message) {
  std::string block;
  if (!after_headers) {
    block.push_back(static_cast<char>(0x88));  // ":status: 200", static table entry 8
    AppendLiteralHeader(&block, "content-type", "application/grpc");
  }
  AppendLiteralHeader(&block, "grpc-status", kResourceExhausted);
  AppendLiteralHeader(&block, "grpc-message", PercentEncode(message));
  std::string frame;
  AppendFrameHeader(&frame, static_cast<uint32_t>(block.size()), kHeaders, kEndStream | kEndHeaders,
                    stream_id);
  frame += block;
  return frame;
}

}  // namespace

size_t Http2RequestGuard::FrameCursor::ReadHeader(const char* data, size_t size) {
  const size_t take = std::min<size_t>(sizeof(header) - header_bytes, size);
  std::memcpy(header + header_bytes, data, take);
  header_bytes = static_cast<uint8_t>(header_bytes + take);
  if (header_bytes == sizeof(header)) {
    payload_remaining = (uint32_t{header[0]} << 16) | (uint32_t{header[1]} << 8) | header[2];
    type = header[3];
    flags = header[4];
    stream_id = ReadBe32(header + 5) & 0x7fffffffu;
    header_bytes = 0;
    in_payload = true;
  }
  return take;
}

absl::Status Http2RequestGuard::FromClient(std::string_view in,
                                           std::vector<Http2Insertion>* insertions) {
  return ClientBytes(in.data(), in.size(), insertions);
}

void Http2RequestGuard::SkipFromClient(size_t n, std::vector<Http2Insertion>* insertions) {
  RILL_CHECK(n <= ClientBytesUnseen());
  RILL_CHECK(ClientBytes(nullptr, n, insertions).ok());
}

size_t Http2RequestGuard::ClientBytesUnseen() const {
  const FrameCursor& c = client_;
  if (preface_bytes_ < kPreface.size() || !c.in_payload) return 0;
  if (c.type != kData) return c.payload_remaining;
  if (client_pad_length_pending_) return 0;
  if (c.payload_remaining <= client_padding_) return c.payload_remaining;
  auto it = streams_.find(c.stream_id);
  if (it == streams_.end()) return c.payload_remaining;
  return std::min<uint64_t>(it->second.body_remaining, c.payload_remaining - client_padding_);
}

absl::Status Http2RequestGuard::ClientBytes(const char* data, size_t size,
                                            std::vector<Http2Insertion>* insertions) {
  size_t pos = 0;
  while (preface_bytes_ < kPreface.size() && pos < size) {
    if (data[pos] != kPreface[preface_bytes_]) {
      return absl::InvalidArgumentError("the client did not open with the HTTP/2 preface");
    }
    ++pos;
    ++preface_bytes_;
  }
  FrameCursor& c = client_;
  while (pos < size) {
    if (!c.in_payload) {
      pos += c.ReadHeader(data + pos, size - pos);
      if (!c.in_payload) break;
      if (auto s = OnClientFrameHeader(); !s.ok()) return s;
      if (c.payload_remaining == 0) OnClientFrameEnd(pos, insertions);
      continue;
    }
    const size_t take = std::min<size_t>(c.payload_remaining, size - pos);
    if (c.type == kData) {
      size_t i = 0;
      uint32_t remaining = c.payload_remaining;
      if (client_pad_length_pending_) {
        client_padding_ = static_cast<uint8_t>(data[pos]);
        client_pad_length_pending_ = false;
        i = 1;
        --remaining;
        if (client_padding_ > remaining) {
          return absl::InvalidArgumentError("a DATA frame's padding is longer than the frame");
        }
      }
      if (remaining > client_padding_) {
        const size_t n = std::min<size_t>(remaining - client_padding_, take - i);
        ReadMessageBytes(c.stream_id, data == nullptr ? nullptr : data + pos + i, n);
      }
    }
    c.payload_remaining -= static_cast<uint32_t>(take);
    pos += take;
    if (c.payload_remaining == 0) OnClientFrameEnd(pos, insertions);
  }
  return absl::OkStatus();
}

absl::Status Http2RequestGuard::OnClientFrameHeader() {
  FrameCursor& c = client_;
  switch (c.type) {
    case kData:
      client_padding_ = 0;
      client_pad_length_pending_ = (c.flags & kPadded) != 0;
      if (client_pad_length_pending_ && c.payload_remaining == 0) {
        return absl::InvalidArgumentError("a padded DATA frame has no pad length");
      }
      break;
    case kHeaders:
      // Client streams have odd ids, each above the last; a HEADERS frame on an older stream
      // is its trailers.
      if (c.stream_id % 2 == 1 && c.stream_id > last_client_stream_) {
        last_client_stream_ = c.stream_id;
        if ((c.flags & kEndStream) == 0) {
          if (streams_.size() >= limits_.max_streams) {
            return absl::ResourceExhaustedError(
                fmt::format("the client opened more than {} streams", limits_.max_streams));
          }
          streams_.emplace(c.stream_id, Stream{});
        }
      } else if ((c.flags & kEndStream) != 0) {
        streams_.erase(c.stream_id);
      }
      break;
    case kRstStream:
      streams_.erase(c.stream_id);
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Http2RequestGuard::OnClientFrameEnd(size_t offset, std::vector<Http2Insertion>* insertions) {
  FrameCursor& c = client_;
  c.in_payload = false;
  for (uint32_t stream_id : cancel_at_frame_end_) {
    insertions->push_back(Http2Insertion{offset, RstStream(stream_id, kCancel)});
  }
  cancel_at_frame_end_.clear();
  if (c.type == kData && (c.flags & kEndStream) != 0) streams_.erase(c.stream_id);
}

void Http2RequestGuard::ReadMessageBytes(uint32_t stream_id, const char* data, size_t size) {
  auto it = streams_.find(stream_id);
  // A stream the guard does not track is closed, or was never opened: gRPC discards its data or
  // closes the connection, and holds nothing for it either way.
  if (it == streams_.end()) return;
  Stream& stream = it->second;
  RILL_CHECK(data != nullptr || size <= stream.body_remaining);
  size_t i = 0;
  while (i < size) {
    if (stream.body_remaining > 0) {
      const size_t skip = std::min<uint64_t>(stream.body_remaining, size - i);
      stream.body_remaining -= skip;
      i += skip;
      continue;
    }
    stream.prefix[stream.prefix_bytes++] = static_cast<uint8_t>(data[i++]);
    if (stream.prefix_bytes < sizeof(stream.prefix)) continue;
    stream.prefix_bytes = 0;
    const uint64_t length = ReadBe32(stream.prefix + 1);
    if (static_cast<int64_t>(length) > limits_.max_message_bytes) {
      Refuse(stream_id, stream, length);
      streams_.erase(it);
      return;
    }
    stream.body_remaining = length;
  }
}

void Http2RequestGuard::Refuse(uint32_t stream_id, const Stream& stream, uint64_t claimed_bytes) {
  ++refused_;
  cancel_at_frame_end_.push_back(stream_id);
  for_client_ += CallEnd(stream_id, stream.server_sent_headers,
                         fmt::format("request of {} bytes is over max.request.bytes ({} bytes)",
                                     claimed_bytes, limits_.max_message_bytes));
  for_client_ += RstStream(stream_id, kNoError);
}

void Http2RequestGuard::FromServer(std::string_view in, std::vector<Http2Insertion>* insertions) {
  ServerBytes(in.data(), in.size(), insertions);
}

size_t Http2RequestGuard::ServerBytesUnseen() const {
  return server_.in_payload ? server_.payload_remaining : 0;
}

void Http2RequestGuard::SkipFromServer(size_t n, std::vector<Http2Insertion>* insertions) {
  RILL_CHECK(n <= ServerBytesUnseen());
  ServerBytes(nullptr, n, insertions);
}

void Http2RequestGuard::ServerBytes(const char* data, size_t size,
                                    std::vector<Http2Insertion>* insertions) {
  if (std::string owed = TakeForClient(); !owed.empty()) {
    insertions->push_back(Http2Insertion{0, std::move(owed)});
  }
  FrameCursor& c = server_;
  size_t pos = 0;
  while (pos < size) {
    if (!c.in_payload) {
      pos += c.ReadHeader(data + pos, size - pos);
      if (!c.in_payload) break;
      OnServerFrameHeader();
    } else {
      const size_t take = std::min<size_t>(c.payload_remaining, size - pos);
      c.payload_remaining -= static_cast<uint32_t>(take);
      pos += take;
    }
    if (c.in_payload && c.payload_remaining == 0) {
      c.in_payload = false;
      if (!for_client_.empty() && !server_in_header_block_) {
        insertions->push_back(Http2Insertion{pos, std::move(for_client_)});
        for_client_.clear();
      }
    }
  }
}

void Http2RequestGuard::OnServerFrameHeader() {
  FrameCursor& c = server_;
  switch (c.type) {
    case kHeaders:
    case kPushPromise:
      server_in_header_block_ = (c.flags & kEndHeaders) == 0;
      if (c.type == kHeaders) {
        if ((c.flags & kEndStream) != 0) {
          streams_.erase(c.stream_id);
        } else if (auto it = streams_.find(c.stream_id); it != streams_.end()) {
          it->second.server_sent_headers = true;
        }
      }
      break;
    case kContinuation:
      if ((c.flags & kEndHeaders) != 0) server_in_header_block_ = false;
      break;
    case kData:
      // A server that ends a stream also stops reading it (gRPC resets a stream the client is
      // still sending on once it has sent the call's status).
      if ((c.flags & kEndStream) != 0) streams_.erase(c.stream_id);
      break;
    case kRstStream:
      streams_.erase(c.stream_id);
      break;
    default:
      break;
  }
}

std::string Http2RequestGuard::TakeForClient() {
  const FrameCursor& c = server_;
  if (for_client_.empty() || c.in_payload || c.header_bytes > 0 || server_in_header_block_) {
    return {};
  }
  std::string owed = std::move(for_client_);
  for_client_.clear();
  return owed;
}

}  // namespace rill::server
