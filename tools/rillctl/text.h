// The text rillctl reads and writes: kcat-style record formats (both directions), escapes,
// JSON, timestamps, durations and offset specs. Pure functions, unit-tested
// (tests/tools/rillctl_text_test.cc); errors are absl::Status for the commands to report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rill/consumer.h"
#include "rill/producer.h"

namespace rill::ctl {

// Resolves \n \t \r \0 \\ and \xNN (two hex digits); any other backslash stays as it is.
absl::StatusOr<std::string> Unescape(std::string_view text);

// A JSON string literal for arbitrary bytes, assumed UTF-8 (see IsValidUtf8).
std::string JsonString(std::string_view s);
bool IsValidUtf8(std::string_view s);

// kcat's output format: %t topic, %p partition, %o offset, %k key, %s value, %K and %S their
// lengths (-1 for null), %T timestamp (ms), %h headers (k=v,...), %% a percent sign, and the
// escapes of Unescape. A null key or value prints as `null_marker`.
struct OutputFormat {
  static absl::StatusOr<OutputFormat> Parse(std::string_view format);
  std::string Format(const ConsumerRecord& record, std::string_view null_marker) const;

  struct Piece {
    char token = 0;  // 0: literal text
    std::string text;
  };
  std::vector<Piece> pieces;
};

// One record as a JSON object: topic, partition, offset, timestamp, timestamp_type, key, value,
// headers ([{"key", "value"}]). Null stays null, empty stays "". Bytes that are not UTF-8 are
// given base64-encoded in key_base64 / value_base64 (and a header's value_base64) instead.
std::string JsonRecord(const ConsumerRecord& record);

// rillctl produce --format: tokens %k key, %s (or %v) value, %h headers (k=v,k2=v2; a header
// without '=' has a null value), %T timestamp (ms or a date, see ParseTimestamp), %p partition,
// separated by literal text. Each token but the last takes the text up to the next literal;
// the last takes the rest. Without a %s the value is null; without a %k, so is the key.
struct InputFormat {
  static absl::StatusOr<InputFormat> Parse(std::string_view format);
  // Fills `record` from one record of input: key and value (null without their token),
  // headers added to those it has, timestamp and partition where the format gives them. On an
  // error `record` may be partly filled.
  absl::Status Read(std::string_view text, ProducerRecord* record) const;

  struct Piece {
    char token = 0;  // 0: literal text
    std::string text;
  };
  std::vector<Piece> pieces;
};

// Epoch milliseconds, or a date: RFC 3339 ("2026-11-23T10:00:00Z", "...+01:00", fractions),
// "2026-11-23T10:00:00" or "2026-11-23 10:00:00" (UTC), or "2026-11-23" (midnight UTC).
absl::StatusOr<int64_t> ParseTimestamp(std::string_view text);

// "90s", "15m", "2h", "7d", "1h30m", or ISO 8601 "PT15M", "P1DT2H": milliseconds.
absl::StatusOr<int64_t> ParseDuration(std::string_view text);

// Where consume starts: -o/--offset.
struct StartOffset {
  enum Kind { kBeginning, kEnd, kAbsolute, kFromEnd, kFromStart, kTimestamp };
  Kind kind = kEnd;
  // The offset, the count back from the end / forward from the start, or the timestamp.
  int64_t value = 0;
};
// beginning|start|earliest, end|latest, N, -N or end-N (N before the end), +N or start+N (N
// after the start), @T or s@T (T as ParseTimestamp takes it).
absl::StatusOr<StartOffset> ParseStartOffset(std::string_view text);

}  // namespace rill::ctl
