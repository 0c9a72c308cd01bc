// Helpers shared by the storage unit tests and the integration tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "format/record_batch.h"

namespace rill::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/rill-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Flips bit `bit` of the byte at `position` of the file at `path`, in place (corruption).
inline void FlipBit(const std::string& path, uint64_t position, int bit = 0) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(position));
  char c;
  file.get(c);
  c = static_cast<char>(c ^ (1 << bit));
  file.seekp(static_cast<std::streamoff>(position));
  file.put(c);
}

inline int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The value a record at `offset` carries in tests that check content after recovery: it is a
// pure function of the offset, so a reader needs nothing but the offset to check it.
// The directories under `logs_dir` of partition `partition` of every topic named `topic`, ever
// ("<topic>-<partition>-<32 hex digits of the topic id>"), sorted.
inline std::vector<std::string> PartitionDirs(const std::string& logs_dir, const std::string& topic,
                                              int partition) {
  const std::string prefix = topic + "-" + std::to_string(partition) + "-";
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(logs_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == prefix.size() + 32 && name.compare(0, prefix.size(), prefix) == 0 &&
        entry.is_directory()) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The one directory of partition `partition` of `topic`, or "" when there is none or several.
inline std::string PartitionDir(const std::string& logs_dir, const std::string& topic,
                                int partition) {
  auto dirs = PartitionDirs(logs_dir, topic, partition);
  return dirs.size() == 1 ? dirs[0] : std::string();
}

inline std::string ValueForOffset(int64_t offset, size_t size) {
  std::string value(size, '\0');
  uint64_t x = static_cast<uint64_t>(offset) * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    value[i] = static_cast<char>(x);
  }
  return value;
}

// A batch of `count` records whose values are ValueForOffset(first_offset + i, value_bytes);
// record i has timestamp `timestamp_ms + i` and key "k<offset>".
inline std::string MakeBatch(int64_t first_offset, int count, size_t value_bytes,
                             int64_t timestamp_ms) {
  format::BatchBuilder builder;
  for (int i = 0; i < count; ++i) {
    std::string key = "k" + std::to_string(first_offset + i);
    builder.Append(timestamp_ms + i, key, ValueForOffset(first_offset + i, value_bytes));
  }
  return builder.Build(0);
}

struct DecodedRecord {
  int64_t offset;
  int64_t timestamp;
  std::string key;
  std::string value;
};

// Decodes a sequence of whole batches (as returned by Log::Read); fails the process on
// malformed input, which in a test is a bug. `skip_control` leaves out control batches (the
// Raft no-ops and membership changes of a replicated partition).
inline std::vector<DecodedRecord> DecodeBatches(std::string_view bytes,
                                                bool skip_control = false) {
  std::vector<DecodedRecord> out;
  while (!bytes.empty()) {
    auto header = format::ParseBatchHeader(bytes, size_t{1} << 30);
    if (!header.ok() || header->size_bytes() > bytes.size()) std::abort();
    std::string_view batch = bytes.substr(0, header->size_bytes());
    if (!format::ValidateBatch(batch, {size_t{1} << 30}).ok()) std::abort();
    if (skip_control && header->is_control()) {
      bytes.remove_prefix(header->size_bytes());
      continue;
    }
    format::RecordReader reader(batch, *header);
    format::RecordView r;
    while (reader.Next(&r)) {
      out.push_back({header->base_offset + r.offset_delta,
                     header->base_timestamp + r.timestamp_delta, std::string(r.key.value_or("")),
                     std::string(r.value.value_or(""))});
    }
    bytes.remove_prefix(header->size_bytes());
  }
  return out;
}

// A plain HTTP GET of `path` from HOST:PORT (the broker's admin endpoint): the raw response,
// empty if the connection failed.
inline std::string HttpGet(const std::string& address, const std::string& path) {
  auto colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return {};
  }
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string response;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

}  // namespace rill::testing
