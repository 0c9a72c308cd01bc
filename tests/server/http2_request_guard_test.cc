#include "server/http2_request_guard.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace rill::server {
namespace {

using namespace http2;

std::string Be32(uint32_t v) {
  std::string out;
  AppendBe32(&out, v);
  return out;
}

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream_id, const std::string& payload) {
  std::string frame;
  AppendFrameHeader(&frame, static_cast<uint32_t>(payload.size()), type, flags, stream_id);
  return frame + payload;
}

// A gRPC message prefix: not compressed, `length` bytes follow.
std::string Prefix(uint32_t length) { return std::string(1, '\0') + Be32(length); }

// The request's header block is opaque to the guard.
std::string OpenStream(uint32_t stream_id, uint8_t flags = kEndHeaders) {
  return Frame(kHeaders, flags, stream_id, "\x83\x86");
}

struct ParsedFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream_id;
  std::string payload;
};

std::vector<ParsedFrame> ParseFrames(std::string_view bytes) {
  std::vector<ParsedFrame> frames;
  while (bytes.size() >= 9) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const uint32_t length = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    REQUIRE(bytes.size() >= 9 + length);
    const uint32_t stream_id =
        ((uint32_t{p[5]} << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) | p[8]) &
        0x7fffffffu;
    frames.push_back(ParsedFrame{p[3], p[4], stream_id, std::string(bytes.substr(9, length))});
    bytes.remove_prefix(9 + length);
  }
  REQUIRE(bytes.empty());
  return frames;
}

// Decodes the guard's header blocks: indexed ":status: 200" and literals with short lengths.
std::vector<std::pair<std::string, std::string>> DecodeBlock(std::string_view block) {
  std::vector<std::pair<std::string, std::string>> headers;
  size_t i = 0;
  auto string = [&] {
    const auto length = static_cast<uint8_t>(block[i++]);
    REQUIRE(length < 127);
    std::string s(block.substr(i, length));
    i += length;
    return s;
  };
  while (i < block.size()) {
    const auto first = static_cast<uint8_t>(block[i++]);
    if (first == 0x88) {
      headers.emplace_back(":status", "200");
      continue;
    }
    REQUIRE(first == 0x00);
    std::string name = string();
    headers.emplace_back(name, string());
  }
  return headers;
}

std::string Apply(std::string_view in, const std::vector<Http2Insertion>& insertions) {
  std::string out;
  size_t at = 0;
  for (const auto& insertion : insertions) {
    out.append(in.substr(at, insertion.offset - at));
    out += insertion.bytes;
    at = insertion.offset;
  }
  out.append(in.substr(at));
  return out;
}

// Feeds `in` to the guard as the client, in pieces of at most `piece` bytes, letting the bytes
// it need not see pass unseen when `skip`; returns what the server gets.
std::string FromClient(Http2RequestGuard& guard, std::string_view in, size_t piece = 1 << 20,
                       bool skip = false) {
  std::string out;
  size_t at = 0;
  while (at < in.size()) {
    std::vector<Http2Insertion> insertions;
    const size_t unseen = skip ? guard.ClientBytesUnseen() : 0;
    const std::string_view part = in.substr(at, unseen > 0 ? std::min(unseen, piece) : piece);
    if (unseen > 0) {
      guard.SkipFromClient(part.size(), &insertions);
      for (const auto& insertion : insertions) REQUIRE(insertion.offset == part.size());
    } else {
      REQUIRE(guard.FromClient(part, &insertions).ok());
    }
    out += Apply(part, insertions);
    at += part.size();
  }
  return out;
}

constexpr int64_t kLimit = 1000;

Http2RequestGuard Guard() { return Http2RequestGuard(Http2GuardLimits{kLimit, 8}); }

}  // namespace

TEST_CASE("http2 guard: requests within the limit pass through unchanged", "[broker]") {
  const std::string request = std::string(kPreface) + Frame(kSettings, 0, 0, "") + OpenStream(1) +
                              Frame(kData, kEndStream, 1, Prefix(1000) + std::string(1000, 'x')) +
                              OpenStream(3) + Frame(kData, 0, 3, Prefix(10) + "0123456789") +
                              Frame(kData, kEndStream, 3, Prefix(0));
  for (bool skip : {false, true}) {
    for (size_t piece : {size_t{1}, size_t{7}, size_t{9}, size_t{4096}}) {
      INFO("piece " << piece << (skip ? ", unseen bytes skipped" : ""));
      auto guard = Guard();
      CHECK(FromClient(guard, request, piece, skip) == request);
      CHECK(guard.refused() == 0);
      CHECK(guard.TakeForClient().empty());
    }
  }
}

TEST_CASE("http2 guard: a length prefix over the limit ends the call before its body", "[broker]") {
  // The prefix arrives whole, split across frames, after padding, or as a stream's second
  // message; the body that follows never reaches the server's stream.
  const std::string opening = std::string(kPreface) + OpenStream(1);
  std::string body_frame;
  SECTION("whole") { body_frame = Frame(kData, 0, 1, Prefix(kLimit + 1) + "abc"); }
  SECTION("split across frames") {
    const std::string prefix = Prefix(kLimit + 1);
    body_frame = Frame(kData, 0, 1, prefix.substr(0, 2)) + Frame(kData, 0, 1, prefix.substr(2));
  }
  SECTION("padded") {
    body_frame = Frame(kData, kPadded, 1, std::string(1, '\3') + Prefix(kLimit + 1) + "pad");
  }
  SECTION("second message of the stream") {
    body_frame = Frame(kData, 0, 1, Prefix(3) + "abc" + Prefix(0xffffffffu));
  }
  for (bool skip : {false, true}) {
    for (size_t piece : {size_t{1}, size_t{5}, size_t{1 << 20}}) {
      INFO("piece " << piece << (skip ? ", unseen bytes skipped" : ""));
      auto guard = Guard();
      const std::string to_server = FromClient(guard, opening + body_frame, piece, skip);
      CHECK(guard.refused() == 1);
      // The frames pass as they came, then the stream is cancelled toward the server.
      CHECK(to_server == opening + body_frame + Frame(kRstStream, 0, 1, Be32(0x8)));

      auto frames = ParseFrames(guard.TakeForClient());
      REQUIRE(frames.size() == 2);
      CHECK(frames[0].type == kHeaders);
      CHECK(frames[0].flags == (kEndStream | kEndHeaders));
      CHECK(frames[0].stream_id == 1);
      auto headers = DecodeBlock(frames[0].payload);
      REQUIRE(headers.size() == 4);
      CHECK(headers[0] == std::pair<std::string, std::string>(":status", "200"));
      CHECK(headers[1] == std::pair<std::string, std::string>("content-type", "application/grpc"));
      CHECK(headers[2] == std::pair<std::string, std::string>("grpc-status", "8"));
      CHECK(headers[3].first == "grpc-message");
      CHECK_THAT(headers[3].second, Catch::Contains("is over max.request.bytes (1000 bytes)"));
      // RST_STREAM(NO_ERROR): the client may stop sending the body.
      CHECK(frames[1].type == kRstStream);
      CHECK(frames[1].stream_id == 1);
      CHECK(frames[1].payload == Be32(0));
      CHECK(guard.TakeForClient().empty());

      // The stream is no longer read: more of its body passes untouched (gRPC discards it).
      const std::string more = Frame(kData, 0, 1, Prefix(0xffffffffu));
      CHECK(FromClient(guard, more, piece, skip) == more);
      CHECK(guard.refused() == 1);
    }
  }
}

TEST_CASE("http2 guard: only frame headers, pad lengths and message prefixes must be seen",
          "[broker]") {
  std::vector<Http2Insertion> insertions;
  auto guard = Guard();
  const std::string frame =
      Frame(kData, kPadded, 1, std::string(1, '\2') + Prefix(10) + "0123456789" + "pp");
  REQUIRE(guard.FromClient(std::string(kPreface) + OpenStream(1) + frame.substr(0, 10), &insertions)
              .ok());
  CHECK(guard.ClientBytesUnseen() == 0);  // the message prefix
  REQUIRE(guard.FromClient(frame.substr(10, 5), &insertions).ok());
  CHECK(guard.ClientBytesUnseen() == 10);  // the body
  guard.SkipFromClient(10, &insertions);
  CHECK(guard.ClientBytesUnseen() == 2);  // the padding
  guard.SkipFromClient(2, &insertions);
  CHECK(guard.ClientBytesUnseen() == 0);
  // Frames other than DATA pass unseen past their header; so does all of the server's payload.
  REQUIRE(guard.FromClient(Frame(kSettings, 0, 0, "abcdef").substr(0, 9), &insertions).ok());
  CHECK(guard.ClientBytesUnseen() == 6);
  guard.FromServer(Frame(kData, 0, 1, "xyz").substr(0, 9), &insertions);
  CHECK(guard.ServerBytesUnseen() == 3);
  guard.SkipFromServer(3, &insertions);
  CHECK(guard.ServerBytesUnseen() == 0);
  CHECK(insertions.empty());
}

TEST_CASE("http2 guard: the call's end goes to the client between the server's frames",
          "[broker]") {
  auto guard = Guard();
  std::vector<Http2Insertion> insertions;
  // The server's SETTINGS, then a header block for stream 3 left open by a CONTINUATION still
  // to come.
  const std::string settings = Frame(kSettings, 0, 0, "");
  const std::string headers_start = Frame(kHeaders, 0, 3, "\x88");
  guard.FromServer(settings + headers_start, &insertions);
  CHECK(insertions.empty());

  FromClient(guard, std::string(kPreface) + OpenStream(1) + Frame(kData, 0, 1, Prefix(kLimit + 1)));
  CHECK(guard.refused() == 1);
  CHECK(guard.TakeForClient().empty());  // inside the server's header block

  // Half a frame, then the end of the block: the call's end follows the CONTINUATION.
  const std::string continuation = Frame(kContinuation, kEndHeaders, 3, "\x86");
  guard.FromServer(continuation.substr(0, 5), &insertions);
  CHECK(insertions.empty());
  const std::string data = Frame(kData, 0, 3, "xyz");
  const std::string rest = continuation.substr(5) + data;
  guard.FromServer(rest, &insertions);
  REQUIRE(insertions.size() == 1);
  CHECK(insertions[0].offset == continuation.size() - 5);
  auto frames = ParseFrames(Apply(rest, insertions).substr(continuation.size() - 5));
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].type == kHeaders);
  CHECK(frames[0].stream_id == 1);
  CHECK(frames[1].type == kRstStream);
  CHECK(frames[2].type == kData);
  CHECK(frames[2].stream_id == 3);
}

TEST_CASE("http2 guard: after the server's response headers the call's end is trailers",
          "[broker]") {
  auto guard = Guard();
  FromClient(guard, std::string(kPreface) + OpenStream(1));
  std::vector<Http2Insertion> insertions;
  guard.FromServer(Frame(kHeaders, kEndHeaders, 1, "\x88"), &insertions);
  FromClient(guard, Frame(kData, 0, 1, Prefix(kLimit + 1)));
  auto frames = ParseFrames(guard.TakeForClient());
  REQUIRE(frames.size() == 2);
  auto headers = DecodeBlock(frames[0].payload);
  REQUIRE(headers.size() == 2);
  CHECK(headers[0] == std::pair<std::string, std::string>("grpc-status", "8"));
  CHECK(headers[1].first == "grpc-message");
}

TEST_CASE("http2 guard: streams the server or the client ended are not read", "[broker]") {
  auto guard = Guard();
  FromClient(guard, std::string(kPreface) + OpenStream(1) + OpenStream(3) + OpenStream(5));
  std::vector<Http2Insertion> insertions;
  guard.FromServer(
      Frame(kHeaders, kEndHeaders | kEndStream, 1, "\x88") + Frame(kRstStream, 0, 3, Be32(7)),
      &insertions);
  FromClient(guard, Frame(kRstStream, 0, 5, Be32(8)));
  const std::string late = Frame(kData, 0, 1, Prefix(kLimit + 1)) +
                           Frame(kData, 0, 3, Prefix(kLimit + 1)) +
                           Frame(kData, 0, 5, Prefix(kLimit + 1));
  CHECK(FromClient(guard, late) == late);
  CHECK(guard.refused() == 0);
}

TEST_CASE("http2 guard: connections that break HTTP/2 or open too many streams are refused",
          "[broker]") {
  std::vector<Http2Insertion> insertions;
  SECTION("no preface") {
    auto guard = Guard();
    CHECK(guard.FromClient("GET / HTTP/1.1\r\n\r\n", &insertions).code() ==
          absl::StatusCode::kInvalidArgument);
  }
  SECTION("padding longer than the frame") {
    auto guard = Guard();
    CHECK(guard
              .FromClient(std::string(kPreface) + OpenStream(1) +
                              Frame(kData, kPadded, 1, std::string(1, '\x09') + "ab"),
                          &insertions)
              .code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("streams past the limit") {
    auto guard = Guard();
    std::string opens(kPreface);
    for (uint32_t id = 1; id <= 2 * 8 - 1; id += 2) opens += OpenStream(id);
    REQUIRE(guard.FromClient(opens, &insertions).ok());
    CHECK(guard.FromClient(OpenStream(17), &insertions).code() ==
          absl::StatusCode::kResourceExhausted);
  }
  SECTION("streams that ended make room") {
    auto guard = Guard();
    std::string opens(kPreface);
    for (uint32_t id = 1; id <= 2 * 8 - 1; id += 2) opens += OpenStream(id);
    opens += Frame(kData, kEndStream, 1, Prefix(0));
    opens += OpenStream(17, kEndHeaders | kEndStream);  // no body: not tracked
    opens += OpenStream(19);
    CHECK(guard.FromClient(opens, &insertions).ok());
  }
}

}  // namespace rill::server
