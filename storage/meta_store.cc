#include "storage/meta_store.h"

#include "base/fmt_absl.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace rill::storage {
namespace {

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  std::string message = fmt::format("meta store: {}", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

absl::Status CheckSizes(std::string_view key, size_t value_size) {
  if (key.empty() || key.size() > kMaxMetaKeyBytes) {
    return absl::InvalidArgumentError(
        fmt::format("meta store key of {} bytes is outside [1, {}]", key.size(), kMaxMetaKeyBytes));
  }
  if (value_size > kMaxMetaValueBytes) {
    return absl::ResourceExhaustedError(
        fmt::format("meta store value of {} bytes exceeds {}", value_size, kMaxMetaValueBytes));
  }
  return absl::OkStatus();
}

rocksdb::WriteOptions SyncedWrites() {
  rocksdb::WriteOptions options;
  options.sync = true;
  return options;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

MetaStore::MetaStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}
MetaStore::~MetaStore() = default;

absl::StatusOr<std::unique_ptr<MetaStore>> MetaStore::Open(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  // Small state: keep the memory and file footprint small.
  options.write_buffer_size = 4 << 20;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return FromRocks(s);
  return std::unique_ptr<MetaStore>(new MetaStore(std::unique_ptr<rocksdb::DB>(raw)));
}

absl::Status MetaStore::Put(std::string_view key, std::string_view value) {
  if (auto s = CheckSizes(key, value.size()); !s.ok()) return s;
  return FromRocks(db_->Put(SyncedWrites(), ToSlice(key), ToSlice(value)));
}

absl::Status MetaStore::Delete(std::string_view key) {
  if (auto s = CheckSizes(key, 0); !s.ok()) return s;
  return FromRocks(db_->Delete(SyncedWrites(), ToSlice(key)));
}

absl::Status MetaStore::Write(const Batch& batch) {
  rocksdb::WriteBatch write;
  for (const auto& [key, value] : batch.ops_) {
    if (auto s = CheckSizes(key, value ? value->size() : 0); !s.ok()) return s;
    rocksdb::Status s = value ? write.Put(key, *value) : write.Delete(key);
    if (!s.ok()) return FromRocks(s);
  }
  return FromRocks(db_->Write(SyncedWrites(), &write));
}

absl::StatusOr<std::optional<std::string>> MetaStore::Get(std::string_view key) const {
  if (auto s = CheckSizes(key, 0); !s.ok()) return s;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s);
  return value;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> MetaStore::Scan(
    std::string_view prefix, size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ToSlice(prefix)); it->Valid() && out.size() < limit; it->Next()) {
    if (!it->key().starts_with(ToSlice(prefix))) break;
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status());
  return out;
}

}  // namespace rill::storage
