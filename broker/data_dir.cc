#include "broker/data_dir.h"

#include <map>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"
#include "storage/file_system.h"

namespace rill::broker {
namespace {

constexpr size_t kIdentityFileBytesMax = 4096;
constexpr size_t kClusterIdBytesMax = 64;

}  // namespace

std::string NewClusterId() {
  std::random_device device;
  std::string bytes(16, '\0');
  for (char& b : bytes) b = static_cast<char>(device() & 0xff);
  return absl::WebSafeBase64Escape(bytes);
}

absl::Status ValidateClusterId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= kClusterIdBytesMax;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "cluster.id '{}' is not 1 to {} characters of [A-Za-z0-9_-]", id, kClusterIdBytesMax));
}

absl::StatusOr<DataDirIdentity> LoadOrFormatDataDir(const std::string& data_dir, int32_t node_id,
                                                    const std::string& cluster_id) {
  storage::FileSystem* fs = storage::FileSystem::Default();
  const std::string path = storage::JoinPath(data_dir, kDataDirIdentityFile);
  if (!cluster_id.empty()) {
    if (auto s = ValidateClusterId(cluster_id); !s.ok()) return s;
  }
  if (!fs->Exists(path)) {
    DataDirIdentity identity{cluster_id.empty() ? NewClusterId() : cluster_id, node_id, true};
    if (auto s = fs->CreateDirs(data_dir); !s.ok()) return s;
    const std::string contents = fmt::format(
        "# rill-broker data directory: do not edit\nversion=1\ncluster.id={}\nnode.id={}\n",
        identity.cluster_id, identity.node_id);
    if (auto s = storage::WriteFileAtomically(fs, path, contents); !s.ok()) return s;
    return identity;
  }
  auto text = storage::ReadWholeFile(fs, path, kIdentityFileBytesMax);
  if (!text.ok()) return text.status();
  std::map<std::string, std::string> values;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    values[kv.first] = kv.second;
  }
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(fmt::format("{} is damaged: {}", path, why));
  };
  if (values["version"] != "1") {
    return damaged(fmt::format("version '{}' (this broker reads 1)", values["version"]));
  }
  DataDirIdentity identity;
  identity.cluster_id = values["cluster.id"];
  if (!ValidateClusterId(identity.cluster_id).ok()) return damaged("no valid cluster.id");
  if (!absl::SimpleAtoi(values["node.id"], &identity.node_id) || identity.node_id < 1) {
    return damaged("no valid node.id");
  }
  if (identity.node_id != node_id) {
    return absl::FailedPreconditionError(fmt::format(
        "data directory {} belongs to node {}, but this broker is node {} (node.id): give each "
        "broker its own data directory",
        data_dir, identity.node_id, node_id));
  }
  if (!cluster_id.empty() && identity.cluster_id != cluster_id) {
    return absl::FailedPreconditionError(fmt::format(
        "data directory {} belongs to cluster {}, but this broker was started for cluster {} "
        "(cluster.id)",
        data_dir, identity.cluster_id, cluster_id));
  }
  return identity;
}

}  // namespace rill::broker
