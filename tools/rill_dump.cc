// rill-dump: prints the contents of segment files, like Kafka's DumpLogSegments.
//
//   rill-dump [--records] [--max-batches N] PATH...
//
// PATH is a segment .log, .index or .timeindex file, or a partition directory (all of its
// segments). Batches are checked as they are printed (structure, CRC, offset sequence); index
// entries are checked against the batch they point at. Exit status: 0 when everything checked
// out, 1 when something is corrupt, 2 on bad usage or an unreadable path.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/fmt_absl.h"
#include "format/record_batch.h"
#include "rill/version.h"
#include "storage/file_system.h"
#include "storage/log_config.h"
#include "storage/segment.h"
#include "storage/segment_index.h"

namespace {

using namespace rill;
using storage::FileSystem;

struct Options {
  bool records = false;
  int64_t max_batches = -1;
  std::vector<std::string> paths;
};

constexpr char kUsage[] =
    "usage: rill-dump [--records] [--max-batches N] PATH...\n"
    "  PATH: a segment .log, .index or .timeindex file, or a partition directory (every\n"
    "        segment, its indexes checked, and no offsets missing between segments)\n"
    "  --records        also print every record (compressed batches are decompressed)\n"
    "  --max-batches N  stop after N batches per segment\n";

std::string Printable(std::string_view bytes, size_t limit = 64) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < limit; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (bytes.size() > limit) out += "...";
  return out;
}

std::optional<int64_t> BaseOffsetOf(const std::filesystem::path& path) {
  return storage::ParseSegmentFileName(path.stem().string() + ".log");
}

void PrintRecords(std::string_view batch, const format::BatchHeader& h) {
  std::string scratch;
  auto records = format::BatchRecords(batch, h, format::kMaxUncompressedBatchBytes, &scratch);
  if (!records.ok()) {
    fmt::print("| ERROR: {}\n", records.status().message());
    return;
  }
  format::RecordReader reader(*records, h.record_count);
  format::RecordView r;
  while (reader.Next(&r)) {
    std::string headers;
    for (const auto& header : r.headers) {
      headers += fmt::format("{}{}={}", headers.empty() ? "" : ",", Printable(header.key),
                             header.value ? Printable(*header.value) : "null");
    }
    fmt::print(
        "| offset: {} timestamp: {} keySize: {} valueSize: {} key: {} value: {} headers: [{}]\n",
        h.base_offset + r.offset_delta, h.base_timestamp + r.timestamp_delta,
        r.key ? static_cast<int64_t>(r.key->size()) : -1,
        r.value ? static_cast<int64_t>(r.value->size()) : -1, r.key ? Printable(*r.key) : "null",
        r.value ? Printable(*r.value) : "null", headers);
  }
  if (!reader.status().ok()) fmt::print("| ERROR: {}\n", reader.status().message());
}

// Returns false if anything was corrupt. `*end`, if given, is set to the offset after the last
// batch when the whole file was read.
bool DumpLog(const std::filesystem::path& path, const Options& options,
             std::optional<int64_t>* end = nullptr) {
  auto base = BaseOffsetOf(path);
  auto file = FileSystem::Default()->Open(path.string(), /*create=*/false);
  if (!file.ok()) {
    fmt::print(stderr, "rill-dump: {}\n", file.status().message());
    return false;
  }
  auto size = (*file)->Size();
  if (!size.ok()) return false;
  fmt::print("Dumping {} ({} bytes)\n", path.string(), *size);
  storage::BatchScanner scanner(file->get(), 0, *size, /*verify_crc=*/false);
  std::optional<int64_t> expected = base;
  int64_t batches = 0;
  bool ok = true;
  while (options.max_batches < 0 || batches < options.max_batches) {
    auto batch = scanner.Next();
    if (!batch.ok()) {
      fmt::print("ERROR: {}\n", batch.status().message());
      return false;
    }
    if (!*batch) break;
    const format::BatchHeader& h = (*batch)->header;
    bool crc_valid = format::ComputeBatchCrc((*batch)->bytes) == h.crc;
    bool in_sequence = !expected || h.base_offset == *expected;
    ok = ok && crc_valid && in_sequence;
    fmt::print(
        "baseOffset: {} lastOffset: {} count: {} position: {} size: {} magic: {} crc: {:#010x} "
        "crcValid: {} compression: {} timestampType: {} baseTimestamp: {} maxTimestamp: {} "
        "producerId: {} producerEpoch: {} baseSequence: {} isTransactional: {} isControl: {} "
        "partitionLeaderEpoch: {}{}\n",
        h.base_offset, h.last_offset(), h.record_count, (*batch)->position, h.size_bytes(),
        static_cast<int>(h.magic), h.crc, crc_valid, format::CompressionName(h.compression()),
        h.timestamp_type() == format::TimestampType::kCreateTime ? "CreateTime" : "LogAppendTime",
        h.base_timestamp, h.max_timestamp, h.producer_id, h.producer_epoch, h.base_sequence,
        h.is_transactional(), h.is_control(), h.partition_leader_epoch,
        in_sequence ? "" : fmt::format(" ERROR: expected base offset {}", *expected));
    if (options.records) PrintRecords((*batch)->bytes, h);
    expected = h.next_offset();
    ++batches;
  }
  if (end != nullptr && (options.max_batches < 0 || batches < options.max_batches)) *end = expected;
  return ok;
}

// Reads the batch header at `position` of the segment's .log file, if it is one.
std::optional<format::BatchHeader> HeaderAt(const storage::File& log, uint64_t position) {
  std::string bytes;
  if (!log.ReadAt(position, format::kBatchHeaderBytes, &bytes).ok()) return std::nullopt;
  auto h = format::ParseBatchHeader(bytes, storage::kMaxStoredBatchBytes);
  if (!h.ok()) return std::nullopt;
  return *h;
}

// Prints the entries of an index file (only a summary when `quiet`), checking each against the
// .log beside it. Returns false if the index is corrupt or points where no batch starts.
bool DumpIndex(const std::filesystem::path& path, bool time_index, bool quiet = false) {
  auto base = BaseOffsetOf(path);
  if (!base) {
    fmt::print(stderr, "rill-dump: {} is not named after a base offset\n", path.string());
    return false;
  }
  std::filesystem::path log_path = path;
  log_path.replace_extension(".log");
  auto log = FileSystem::Default()->Open(log_path.string(), /*create=*/false);
  uint64_t log_size = UINT64_MAX;
  if (log.ok()) log_size = *(*log)->Size();
  fmt::print("{} {}{}\n", quiet ? "Checking" : "Dumping", path.string(),
             log.ok() ? "" : " (no .log beside it: entries not checked)");
  bool ok = true;
  if (time_index) {
    auto index = storage::TimeIndex::Load(FileSystem::Default(), path.string(), *base, log_size);
    if (!index.ok()) {
      fmt::print("ERROR: {}\n", index.status().message());
      return false;
    }
    for (const auto& e : index->entries()) {
      if (!quiet) fmt::print("timestamp: {} offset: {}\n", e.timestamp, *base + e.relative_offset);
    }
    if (quiet) fmt::print("{} entries\n", index->entries().size());
    return true;
  }
  auto index = storage::OffsetIndex::Load(FileSystem::Default(), path.string(), *base, log_size);
  if (!index.ok()) {
    fmt::print("ERROR: {}\n", index.status().message());
    return false;
  }
  for (const auto& e : index->entries()) {
    std::string check;
    if (log.ok()) {
      auto h = HeaderAt(**log, e.position);
      if (!h || h->base_offset != *base + e.relative_offset) {
        check = " ERROR: no batch with this base offset at this position";
        ok = false;
      }
    }
    if (!quiet || !check.empty()) {
      fmt::print("offset: {} position: {}{}\n", *base + e.relative_offset, e.position, check);
    }
  }
  if (quiet) fmt::print("{} entries\n", index->entries().size());
  return ok;
}

// A partition directory: every segment in order, its indexes checked, and the segments
// checked to follow each other with no offsets missing between them.
bool DumpDirectory(const std::filesystem::path& path, const Options& options) {
  std::error_code ec;
  std::vector<std::filesystem::path> logs;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (storage::ParseSegmentFileName(entry.path().filename().string()))
      logs.push_back(entry.path());
  }
  std::sort(logs.begin(), logs.end());
  if (logs.empty()) {
    fmt::print("ERROR: {} holds no segment (.log) files\n", path.string());
    return false;
  }
  bool ok = true;
  std::optional<int64_t> previous_end;
  for (const auto& log : logs) {
    const int64_t base = *BaseOffsetOf(log);
    if (previous_end && *previous_end != base) {
      fmt::print("ERROR: segment {} starts at offset {} but the one before it ends at {}: {}\n",
                 log.filename().string(), base, *previous_end,
                 base > *previous_end ? "a segment is missing" : "segments overlap");
      ok = false;
    }
    std::optional<int64_t> end;
    ok = DumpLog(log, options, &end) && ok;
    previous_end = end;
    for (const char* ext : {".index", ".timeindex"}) {
      std::filesystem::path index = log;
      index.replace_extension(ext);
      if (!std::filesystem::exists(index)) {
        fmt::print("WARNING: {} is missing (recovery rebuilds it)\n", index.string());
        continue;
      }
      ok = DumpIndex(index, std::string(ext) == ".timeindex", /*quiet=*/true) && ok;
    }
  }
  return ok;
}

bool DumpPath(const std::filesystem::path& path, const Options& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return DumpDirectory(path, options);
  std::string ext = path.extension().string();
  if (ext == ".log") return DumpLog(path, options);
  if (ext == ".index") return DumpIndex(path, /*time_index=*/false);
  if (ext == ".timeindex") return DumpIndex(path, /*time_index=*/true);
  fmt::print(stderr, "rill-dump: {}: not a .log, .index or .timeindex file or a directory\n",
             path.string());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--records") {
      options.records = true;
    } else if (arg == "--max-batches" && i + 1 < argc) {
      try {
        options.max_batches = std::stoll(argv[++i]);
      } catch (const std::exception&) {
        options.max_batches = -2;
      }
      if (options.max_batches < 0) {
        fmt::print(stderr, "rill-dump: --max-batches takes a non-negative number\n{}", kUsage);
        return 2;
      }
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--version") {
      fmt::print("rill-dump {}\n", RILL_VERSION_STRING);
      return 0;
    } else if (arg.starts_with("-")) {
      fmt::print(stderr, "rill-dump: unknown option {}\n{}", arg, kUsage);
      return 2;
    } else {
      options.paths.push_back(arg);
    }
  }
  if (options.paths.empty()) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  bool ok = true;
  for (const auto& path : options.paths) {
    if (!std::filesystem::exists(path)) {
      fmt::print(stderr, "rill-dump: {}: no such file or directory\n", path);
      return 2;
    }
    ok = DumpPath(path, options) && ok;
  }
  return ok ? 0 : 1;
}
