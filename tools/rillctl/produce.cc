// rillctl produce: records from standard input, one per delimiter, as kcat -P and rpk produce.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "absl/synchronization/mutex.h"
#include "base/fmt_absl.h"
#include "rill/producer.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

// Reads records separated by `delimiter` from a file descriptor, in bounded chunks; the last
// record needs no delimiter after it.
class RecordReader {
 public:
  RecordReader(int fd, std::string delimiter) : fd_(fd), delimiter_(std::move(delimiter)) {}

  // False at the end of the input.
  bool Next(std::string* record) {
    while (true) {
      const auto at = buffer_.find(delimiter_, scanned_);
      if (at != std::string::npos) {
        record->assign(buffer_, 0, at);
        buffer_.erase(0, at + delimiter_.size());
        scanned_ = 0;
        return true;
      }
      // A delimiter may straddle two reads: rescan its length minus one.
      scanned_ = buffer_.size() >= delimiter_.size() ? buffer_.size() - delimiter_.size() + 1 : 0;
      if (eof_) {
        if (buffer_.empty()) return false;
        record->swap(buffer_);
        buffer_.clear();
        scanned_ = 0;
        return true;
      }
      char chunk[64 * 1024];
      const ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw Failure(
            absl::InternalError(fmt::format("reading standard input: {}", std::strerror(errno))));
      if (n == 0) {
        eof_ = true;
      } else {
        buffer_.append(chunk, static_cast<size_t>(n));
      }
    }
  }

 private:
  const int fd_;
  const std::string delimiter_;
  std::string buffer_;
  size_t scanned_ = 0;
  bool eof_ = false;
};

std::string UnescapedFlag(const ParsedArgs& args, const std::string& flag,
                          const std::string& fallback) {
  auto v = args.Value(flag);
  if (!v) return fallback;
  auto text = Unescape(*v);
  if (!text.ok()) throw UsageError{fmt::format("{}: {}", flag, text.status().message())};
  if (text->empty()) throw UsageError{fmt::format("{} must not be empty", flag)};
  return *text;
}

Acks ParseAcks(const std::string& text) {
  if (text == "all" || text == "-1") return Acks::kAll;
  if (text == "leader" || text == "1") return Acks::kLeader;
  if (text == "none" || text == "0") return Acks::kNone;
  throw UsageError{fmt::format("--acks is all (-1), leader (1) or none (0), not '{}'", text)};
}

Compression ParseCompression(const std::string& text) {
  const std::map<std::string, Compression> codecs = {{"none", Compression::kNone},
                                                     {"gzip", Compression::kGzip},
                                                     {"snappy", Compression::kSnappy},
                                                     {"lz4", Compression::kLz4},
                                                     {"zstd", Compression::kZstd}};
  auto it = codecs.find(text);
  if (it == codecs.end()) {
    throw UsageError{
        fmt::format("--compression is none, gzip, snappy, lz4 or zstd, not '{}'", text)};
  }
  return it->second;
}

int Produce(const Context& ctx, const ParsedArgs& args) {
  const std::string& topic = args.positionals()[0];
  std::optional<int32_t> partition;
  if (auto v = args.Value("--partition")) {
    partition = static_cast<int32_t>(ParseInt("--partition", *v, 0, INT32_MAX));
  }
  std::optional<std::string> key_delimiter;
  for (const char* flag : {"--key-delimiter", "--key-separator"}) {
    if (args.Has(flag)) key_delimiter = UnescapedFlag(args, flag, "");
  }
  std::optional<InputFormat> format;
  if (auto v = args.Value("--format")) {
    if (key_delimiter) throw UsageError{"use --format or --key-delimiter, not both"};
    auto parsed = InputFormat::Parse(*v);
    if (!parsed.ok()) throw UsageError{fmt::format("--format: {}", parsed.status().message())};
    format = std::move(*parsed);
  }
  const std::string delimiter = UnescapedFlag(args, "--delimiter", "\n");
  std::vector<Header> headers;
  for (const auto& h : args.Values("--header")) {
    const auto eq = h.find('=');
    if (eq == 0 || h.empty())
      throw UsageError{fmt::format("--header needs KEY=VALUE, got '{}'", h)};
    headers.push_back(eq == std::string::npos ? Header{h, std::nullopt}
                                              : Header{h.substr(0, eq), h.substr(eq + 1)});
  }
  std::optional<int64_t> timestamp;
  if (auto v = args.Value("--timestamp")) {
    auto ts = ParseTimestamp(*v);
    if (!ts.ok()) throw UsageError{fmt::format("--timestamp: {}", ts.status().message())};
    timestamp = *ts;
  }
  const bool tombstones = args.Has("--tombstone");

  ProducerOptions options;
  options.client = ctx.client;
  options.delivery_timeout_ms = std::max(options.client.request_timeout_ms, 30000);
  if (auto v = args.Value("--acks")) options.acks = ParseAcks(*v);
  if (auto v = args.Value("--linger-ms")) {
    options.linger_ms = static_cast<int>(ParseInt("--linger-ms", *v, 0, 600'000));
  }
  if (auto v = args.Value("--compression")) options.compression = ParseCompression(*v);
  auto producer = Check(Producer::Create(options));

  absl::Mutex mu;
  int64_t acknowledged = 0;
  int64_t failed = 0;
  absl::Status first_error;
  RecordReader reader(STDIN_FILENO, delimiter);
  std::string text;
  int64_t line = 0;
  while (reader.Next(&text)) {
    ++line;
    ProducerRecord record{topic, std::nullopt, text, headers, partition, timestamp};
    if (format) {
      if (absl::Status s = format->Read(text, &record); !s.ok()) {
        throw Failure(absl::InvalidArgumentError(
            fmt::format("record {} does not match --format: {}", line, s.message())));
      }
    } else if (key_delimiter) {
      if (auto at = text.find(*key_delimiter); at != std::string::npos) {
        record.key = text.substr(0, at);
        record.value = text.substr(at + key_delimiter->size());
      }
    }
    if (tombstones) {
      if (record.key && record.key->empty()) record.key.reset();
      if (record.value && record.value->empty()) record.value.reset();
    }
    Check(producer->Send(std::move(record), [&](const absl::StatusOr<RecordMetadata>& r) {
      absl::MutexLock lock(&mu);
      if (r.ok()) {
        ++acknowledged;
      } else {
        ++failed;
        if (first_error.ok()) first_error = r.status();
      }
    }));
  }
  producer->Flush();
  producer->Close();
  absl::MutexLock lock(&mu);
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"produced\":{},\"failed\":{}}}\n", JsonString(topic), acknowledged,
               failed);
  } else {
    fmt::print("produced {} record(s) to {}{}\n", acknowledged, topic,
               failed ? fmt::format(", {} failed", failed) : "");
  }
  if (failed > 0) throw Failure(first_error);
  return 0;
}

}  // namespace

std::vector<Command> ProduceCommands() {
  return {{{"produce",
            "TOPIC",
            1,
            1,
            "Sends one record per line of standard input (or per --delimiter), then prints a "
            "summary.",
            {{"--partition", 'p', "P", "send every record to this partition (default: by key)"},
             {"--key-delimiter", 'K', "SEP", "a record is KEY SEP VALUE (no SEP: null key)"},
             {"--key-separator", 0, "SEP", "the same as --key-delimiter"},
             {"--header", 'H', "KEY=VALUE",
              "a header on every record (repeatable; KEY alone: "
              "null value)"},
             {"--format", 'f', "FMT", "how each record reads, see below"},
             {"--delimiter", 'D', "DELIM", "what ends a record (default \\n)"},
             {"--tombstone", 'Z', "",
              "an empty value is sent as null (a tombstone), an empty "
              "key as null"},
             {"--timestamp", 0, "MS|DATE", "the records' timestamp (default: when sent)"},
             {"--acks", 0, "LEVEL", "all (default), leader or none"},
             {"--linger-ms", 0, "N", "how long a batch waits for more records (default 5)"},
             {"--compression", 0, "CODEC", "none (default), gzip, snappy, lz4 or zstd"}},
            "Without --key-delimiter or --format a record's key is null and its value the whole\n"
            "line. --format reads the fields of each record: %k key, %s (or %v) value, %h headers\n"
            "(k=v,k2=v2), %T timestamp (ms or a date), %p partition, with literal text between\n"
            "them; escapes \\t \\n \\r \\0 \\\\ \\xNN work in --format, --delimiter and\n"
            "--key-delimiter. Example: -f '%k\\t%h\\t%s' reads 'user-1<TAB>trace=ab12<TAB>{...}'.\n"
            "Dates: 2026-11-23T10:00:00Z, 2026-11-23 10:00:00 (UTC) or 2026-11-23.\n"},
           Produce}};
}

}  // namespace rill::ctl
