#include "tools/rillctl/text.h"

#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "fmt/format.h"

namespace rill::ctl {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the escape at text[i] == '\\' into `out`; returns how many characters it took.
absl::StatusOr<size_t> ReadEscape(std::string_view text, size_t i, std::string* out) {
  if (i + 1 >= text.size()) {
    out->push_back('\\');
    return 1;
  }
  switch (text[i + 1]) {
    case 'n':
      out->push_back('\n');
      return 2;
    case 't':
      out->push_back('\t');
      return 2;
    case 'r':
      out->push_back('\r');
      return 2;
    case '0':
      out->push_back('\0');
      return 2;
    case '\\':
      out->push_back('\\');
      return 2;
    case 'x': {
      int hi = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
      int lo = i + 3 < text.size() ? HexDigit(text[i + 3]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(fmt::format("\\x needs two hex digits in '{}'", text));
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
      return 4;
    }
    default:
      out->push_back('\\');
      return 1;
  }
}

bool ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::string Base64(std::string_view s) {
  return absl::Base64Escape(absl::string_view(s.data(), s.size()));
}

// "key":"..." or "key_base64":"..." or "key":null.
std::string JsonBytesField(std::string_view name, const std::optional<std::string>& bytes) {
  if (!bytes) return fmt::format("\"{}\":null", name);
  if (IsValidUtf8(*bytes)) return fmt::format("\"{}\":{}", name, JsonString(*bytes));
  return fmt::format("\"{}_base64\":\"{}\"", name, Base64(*bytes));
}

}  // namespace

absl::StatusOr<std::string> Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '\\') {
      out.push_back(text[i++]);
      continue;
    }
    auto took = ReadEscape(text, i, &out);
    if (!took.ok()) return took.status();
    i += *took;
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

absl::StatusOr<OutputFormat> OutputFormat::Parse(std::string_view format) {
  OutputFormat out;
  auto literal = [&out]() -> std::string& {
    if (out.pieces.empty() || out.pieces.back().token != 0) out.pieces.push_back({});
    return out.pieces.back().text;
  };
  for (size_t i = 0; i < format.size();) {
    if (format[i] == '\\') {
      auto took = ReadEscape(format, i, &literal());
      if (!took.ok()) return took.status();
      i += *took;
      continue;
    }
    if (format[i] != '%') {
      literal().push_back(format[i++]);
      continue;
    }
    if (i + 1 >= format.size()) {
      return absl::InvalidArgumentError("the format ends in a lone '%' (write %% for a percent)");
    }
    const char token = format[i + 1];
    i += 2;
    if (token == '%') {
      literal().push_back('%');
      continue;
    }
    static constexpr std::string_view kTokens = "tpokKsSTh";
    if (kTokens.find(token) == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("unknown format token %{} (known: %t %p %o %k %K %s %S %T %h %%)", token));
    }
    out.pieces.push_back({token, ""});
  }
  return out;
}

std::string OutputFormat::Format(const ConsumerRecord& r, std::string_view null_marker) const {
  std::string out;
  for (const auto& piece : pieces) {
    switch (piece.token) {
      case 0:
        out += piece.text;
        break;
      case 't':
        out += r.topic;
        break;
      case 'p':
        out += std::to_string(r.partition);
        break;
      case 'o':
        out += std::to_string(r.offset);
        break;
      case 'k':
        out += r.key ? std::string_view(*r.key) : null_marker;
        break;
      case 's':
        out += r.value ? std::string_view(*r.value) : null_marker;
        break;
      case 'K':
        out += std::to_string(r.key ? static_cast<int64_t>(r.key->size()) : -1);
        break;
      case 'S':
        out += std::to_string(r.value ? static_cast<int64_t>(r.value->size()) : -1);
        break;
      case 'T':
        out += std::to_string(r.timestamp_ms);
        break;
      case 'h':
        for (size_t i = 0; i < r.headers.size(); ++i) {
          if (i) out += ',';
          out += r.headers[i].key;
          out += '=';
          out += r.headers[i].value ? std::string_view(*r.headers[i].value) : null_marker;
        }
        break;
    }
  }
  return out;
}

std::string JsonRecord(const ConsumerRecord& r) {
  std::string headers;
  for (const auto& h : r.headers) {
    headers += fmt::format("{}{{\"key\":{},{}}}", headers.empty() ? "" : ",", JsonString(h.key),
                           JsonBytesField("value", h.value));
  }
  return fmt::format(
      "{{\"topic\":{},\"partition\":{},\"offset\":{},\"timestamp\":{},\"timestamp_type\":\"{}\","
      "{},{},\"headers\":[{}]}}",
      JsonString(r.topic), r.partition, r.offset, r.timestamp_ms,
      r.timestamp_type == TimestampType::kLogAppendTime ? "log_append_time" : "create_time",
      JsonBytesField("key", r.key), JsonBytesField("value", r.value), headers);
}

absl::StatusOr<InputFormat> InputFormat::Parse(std::string_view format) {
  InputFormat in;
  for (size_t i = 0; i < format.size();) {
    if (format[i] == '%' && i + 1 < format.size() && format[i + 1] != '%') {
      char token = format[i + 1] == 'v' ? 's' : format[i + 1];
      static constexpr std::string_view kTokens = "kshTp";
      if (kTokens.find(token) == std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("unknown input format token %{} (known: %k %s %v %h %T %p %%)", token));
      }
      if (!in.pieces.empty() && in.pieces.back().token != 0) {
        return absl::InvalidArgumentError(
            "two input format tokens need literal text between them to tell where one ends");
      }
      in.pieces.push_back({token, ""});
      i += 2;
      continue;
    }
    if (in.pieces.empty() || in.pieces.back().token != 0) in.pieces.push_back({});
    std::string& literal = in.pieces.back().text;
    if (format[i] == '%') {
      if (i + 1 >= format.size()) {
        return absl::InvalidArgumentError("the format ends in a lone '%' (write %% for a percent)");
      }
      literal.push_back('%');
      i += 2;
    } else if (format[i] == '\\') {
      auto took = ReadEscape(format, i, &literal);
      if (!took.ok()) return took.status();
      i += *took;
    } else {
      literal.push_back(format[i++]);
    }
  }
  return in;
}

absl::Status InputFormat::Read(std::string_view text, ProducerRecord* record) const {
  record->key.reset();
  record->value.reset();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Piece& piece = pieces[i];
    if (piece.token == 0) {
      if (!text.starts_with(piece.text)) {
        return absl::InvalidArgumentError(
            fmt::format("expected '{}' where the record has '{}'", piece.text,
                        text.substr(0, std::min<size_t>(text.size(), 20))));
      }
      text.remove_prefix(piece.text.size());
      continue;
    }
    std::string_view field = text;
    if (i + 1 < pieces.size()) {
      const auto end = text.find(pieces[i + 1].text);
      if (end == std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("the record has no '{}' after its %{}", pieces[i + 1].text, piece.token));
      }
      field = text.substr(0, end);
    }
    text.remove_prefix(field.size());
    switch (piece.token) {
      case 'k':
        record->key = std::string(field);
        break;
      case 's':
        record->value = std::string(field);
        break;
      case 'h':
        for (size_t start = 0; start < field.size();) {
          size_t comma = field.find(',', start);
          if (comma == std::string_view::npos) comma = field.size();
          std::string_view header = field.substr(start, comma - start);
          const auto eq = header.find('=');
          if (header.empty() || eq == 0) {
            return absl::InvalidArgumentError(
                fmt::format("header '{}' has no key (headers are k=v,k2=v2)", header));
          }
          if (eq == std::string_view::npos) {
            record->headers.push_back({std::string(header), std::nullopt});
          } else {
            record->headers.push_back(
                {std::string(header.substr(0, eq)), std::string(header.substr(eq + 1))});
          }
          start = comma + 1;
        }
        break;
      case 'T': {
        auto ts = ParseTimestamp(field);
        if (!ts.ok()) return ts.status();
        record->timestamp_ms = *ts;
        break;
      }
      case 'p': {
        int64_t p = 0;
        if (!ParseInt64(field, &p) || p < 0 || p > INT32_MAX) {
          return absl::InvalidArgumentError(
              fmt::format("partition '{}' is not a partition number", field));
        }
        record->partition = static_cast<int32_t>(p);
        break;
      }
    }
  }
  if (!text.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("unexpected '{}' after the last field of the format",
                    text.substr(0, std::min<size_t>(text.size(), 20))));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseTimestamp(std::string_view text) {
  int64_t ms = 0;
  if (ParseInt64(text, &ms)) {
    if (ms < 0) return absl::InvalidArgumentError(fmt::format("timestamp {} is negative", ms));
    return ms;
  }
  const std::string s(text);
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &error) ||
      absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", s, absl::UTCTimeZone(), &t, &error) ||
      absl::ParseTime("%Y-%m-%d %H:%M:%E*S", s, absl::UTCTimeZone(), &t, &error) ||
      absl::ParseTime("%Y-%m-%d%ET%H:%M", s, absl::UTCTimeZone(), &t, &error) ||
      absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &error)) {
    return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}' is neither epoch milliseconds nor a date like 2026-11-23T10:00:00Z", text));
}

absl::StatusOr<int64_t> ParseDuration(std::string_view text) {
  const std::string original(text);
  auto bad = [&original]() {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a duration like 90s, 15m, 2h, 7d, 1h30m or PT15M", original));
  };
  bool iso = false;
  if (text.starts_with("P")) {
    iso = true;
    text.remove_prefix(1);
  }
  int64_t total = 0;
  bool in_time = !iso;
  bool any = false;
  while (!text.empty()) {
    if (iso && text[0] == 'T') {
      in_time = true;
      text.remove_prefix(1);
      continue;
    }
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits == text.size() || digits > 12) return bad();
    int64_t n = 0;
    ParseInt64(text.substr(0, digits), &n);
    const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text[digits])));
    text.remove_prefix(digits + 1);
    int64_t unit_ms = 0;
    if (unit == 'D' && !(iso && in_time)) {
      unit_ms = 86'400'000;
    } else if (unit == 'H' && in_time) {
      unit_ms = 3'600'000;
    } else if (unit == 'M' && in_time) {
      unit_ms = 60'000;
    } else if (unit == 'S' && in_time) {
      unit_ms = 1'000;
    } else {
      return bad();
    }
    total += n * unit_ms;
    any = true;
  }
  if (!any) return bad();
  return total;
}

absl::StatusOr<StartOffset> ParseStartOffset(std::string_view text) {
  auto bad = [text]() {
    return absl::InvalidArgumentError(fmt::format(
        "offset '{}' is not beginning, end, N, -N, end-N, +N, start+N or @TIMESTAMP", text));
  };
  if (text == "beginning" || text == "start" || text == "earliest") {
    return StartOffset{StartOffset::kBeginning, 0};
  }
  if (text == "end" || text == "latest") return StartOffset{StartOffset::kEnd, 0};
  if (text.starts_with("@") || text.starts_with("s@")) {
    auto ts = ParseTimestamp(text.substr(text.find('@') + 1));
    if (!ts.ok()) return ts.status();
    return StartOffset{StartOffset::kTimestamp, *ts};
  }
  int64_t n = 0;
  for (std::string_view prefix : {"end-", "-"}) {
    if (text.starts_with(prefix)) {
      if (!ParseInt64(text.substr(prefix.size()), &n) || n < 0) return bad();
      return StartOffset{StartOffset::kFromEnd, n};
    }
  }
  for (std::string_view prefix : {"start+", "beginning+", "+"}) {
    if (text.starts_with(prefix)) {
      if (!ParseInt64(text.substr(prefix.size()), &n) || n < 0) return bad();
      return StartOffset{StartOffset::kFromStart, n};
    }
  }
  if (!ParseInt64(text, &n) || n < 0) return bad();
  return StartOffset{StartOffset::kAbsolute, n};
}

}  // namespace rill::ctl
