// MetaStore: small, durable key-value state beside the logs (Raft hard state, committed group
// offsets, producer-id state), kept in RocksDB. Every write is synced (WAL fsync) before it
// returns; a WriteBatch applies atomically. Not for record data: that lives in Logs.
//
// Keys are namespaced by the caller with a prefix ("raft/<group>/", "offsets/<group>/").
// Thread-safety: all methods are thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class DB;
}

namespace rill::storage {

// Keys and values beyond these sizes are refused: the store is for small state.
inline constexpr size_t kMaxMetaKeyBytes = 1024;
inline constexpr size_t kMaxMetaValueBytes = size_t{1} << 20;

class MetaStore {
 public:
  // A set of puts and deletes applied atomically by Write.
  class Batch {
   public:
    void Put(std::string key, std::string value) {
      ops_.push_back({std::move(key), std::move(value)});
    }
    void Delete(std::string key) { ops_.push_back({std::move(key), std::nullopt}); }
    size_t size() const { return ops_.size(); }

   private:
    friend class MetaStore;
    std::vector<std::pair<std::string, std::optional<std::string>>> ops_;
  };

  static absl::StatusOr<std::unique_ptr<MetaStore>> Open(const std::string& path);
  ~MetaStore();

  absl::Status Put(std::string_view key, std::string_view value);
  absl::Status Delete(std::string_view key);
  absl::Status Write(const Batch& batch);
  // nullopt when the key is absent.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const;
  // Every pair whose key starts with `prefix`, in key order, at most `limit` of them.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(std::string_view prefix,
                                                                        size_t limit) const;

 private:
  explicit MetaStore(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace rill::storage
