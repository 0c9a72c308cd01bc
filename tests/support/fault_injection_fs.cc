#include "tests/support/fault_injection_fs.h"

#include <filesystem>

#include "absl/strings/match.h"

namespace rill::testing {
namespace {

constexpr char kRemovedSuffix[] = ".fi-removed";

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

}  // namespace

class FaultInjectionFile final : public storage::File {
 public:
  FaultInjectionFile(FaultInjectionFileSystem* fs, std::string path,
                     std::unique_ptr<storage::File> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}

  absl::Status WriteAt(uint64_t position, std::string_view data) override {
    if (auto s = fs_->CheckWrite(); !s.ok()) return s;
    return base_->WriteAt(position, data);
  }
  absl::StatusOr<size_t> Read(uint64_t position, size_t size, char* out) const override {
    if (fs_->crashed()) return absl::InternalError("simulated crash");
    return base_->Read(position, size, out);
  }
  absl::Status Sync() override {
    if (auto s = fs_->CheckSync(); !s.ok()) return s;
    auto size = base_->Size();
    if (!size.ok()) return size.status();
    fs_->OnSync(path_, *size);
    return absl::OkStatus();
  }
  absl::Status Truncate(uint64_t size) override {
    if (fs_->crashed()) return absl::InternalError("simulated crash");
    if (auto s = base_->Truncate(size); !s.ok()) return s;
    fs_->OnTruncate(path_, size);
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }

 private:
  FaultInjectionFileSystem* fs_;
  std::string path_;
  std::unique_ptr<storage::File> base_;
};

bool FaultInjectionFileSystem::crashed() const {
  absl::MutexLock lock(&mu_);
  return crashed_;
}

absl::Status FaultInjectionFileSystem::CheckWrite() {
  absl::MutexLock lock(&mu_);
  if (crashed_) return absl::InternalError("simulated crash");
  if (disk_full_) return absl::ResourceExhaustedError("simulated: no space left on device");
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::CheckSync() {
  absl::MutexLock lock(&mu_);
  if (crashed_) return absl::InternalError("simulated crash");
  if (syncs_left_ == 0) return absl::DataLossError("simulated: fdatasync failed with EIO");
  if (syncs_left_ > 0) --syncs_left_;
  return absl::OkStatus();
}

void FaultInjectionFileSystem::OnSync(const std::string& path, uint64_t size) {
  absl::MutexLock lock(&mu_);
  files_[path].durable_size = size;
}

void FaultInjectionFileSystem::OnTruncate(const std::string& path, uint64_t size) {
  absl::MutexLock lock(&mu_);
  auto& state = files_[path];
  state.durable_size = std::min(state.durable_size, size);
}

void FaultInjectionFileSystem::Crash() {
  absl::MutexLock lock(&mu_);
  crashed_ = true;
}

void FaultInjectionFileSystem::FailSyncsAfter(int n) {
  absl::MutexLock lock(&mu_);
  syncs_left_ = n;
}

void FaultInjectionFileSystem::SetDiskFull(bool full) {
  absl::MutexLock lock(&mu_);
  disk_full_ = full;
}

absl::StatusOr<std::unique_ptr<storage::File>> FaultInjectionFileSystem::Open(
    const std::string& path, bool create) {
  if (crashed()) return absl::InternalError("simulated crash");
  bool existed = base_->Exists(path);
  auto file = base_->Open(path, create);
  if (!file.ok()) return file.status();
  {
    absl::MutexLock lock(&mu_);
    if (!files_.contains(path)) {
      FileState state;
      if (existed) {
        auto size = (*file)->Size();
        state.durable_size = size.ok() ? *size : 0;
      } else {
        state.entry_durable = false;
      }
      files_[path] = state;
    }
  }
  return std::unique_ptr<storage::File>(new FaultInjectionFile(this, path, std::move(*file)));
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(
    const std::string& path) {
  if (crashed()) return absl::InternalError("simulated crash");
  auto names = base_->ListDir(path);
  if (!names.ok()) return names;
  std::erase_if(*names, [](const std::string& n) { return absl::EndsWith(n, kRemovedSuffix); });
  return names;
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  if (crashed()) return absl::InternalError("simulated crash");
  if (!base_->Exists(path)) return base_->Remove(path);
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it != files_.end() && !it->second.entry_durable) {
    files_.erase(it);
    return base_->Remove(path);
  }
  if (auto s = base_->Rename(path, path + kRemovedSuffix); !s.ok()) return s;
  files_.erase(path);
  pending_removals_.insert(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::RemoveDirRecursively(const std::string& path) {
  if (crashed()) return absl::InternalError("simulated crash");
  absl::MutexLock lock(&mu_);
  absl::erase_if(files_, [&](const auto& kv) { return absl::StartsWith(kv.first, path + "/"); });
  std::erase_if(pending_removals_, [&](const auto& p) { return absl::StartsWith(p, path + "/"); });
  return base_->RemoveDirRecursively(path);
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  if (crashed()) return absl::InternalError("simulated crash");
  if (auto s = base_->Rename(from, to); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  FileState state;
  if (auto it = files_.find(from); it != files_.end()) {
    state = it->second;
    files_.erase(it);
  }
  state.entry_durable = true;
  files_[to] = state;
  pending_removals_.erase(to);
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  if (crashed()) return absl::InternalError("simulated crash");
  absl::MutexLock lock(&mu_);
  for (auto& [file, state] : files_) {
    if (DirOf(file) == path) state.entry_durable = true;
  }
  for (auto it = pending_removals_.begin(); it != pending_removals_.end();) {
    if (DirOf(*it) == path) {
      (void)base_->Remove(*it + kRemovedSuffix);
      it = pending_removals_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

bool FaultInjectionFileSystem::Exists(const std::string& path) {
  return !crashed() && base_->Exists(path);
}

void FaultInjectionFileSystem::DropUnsyncedData(std::mt19937_64* rng, bool torn) {
  absl::MutexLock lock(&mu_);
  for (const auto& [path, state] : files_) {
    if (!state.entry_durable) {
      (void)base_->Remove(path);
      continue;
    }
    auto file = base_->Open(path, /*create=*/false);
    if (!file.ok()) continue;
    auto size = (*file)->Size();
    if (!size.ok() || *size <= state.durable_size) continue;
    uint64_t keep = state.durable_size;
    if (torn) keep += (*rng)() % (*size - state.durable_size + 1);
    (void)(*file)->Truncate(keep);
    if (torn && keep > state.durable_size && (*rng)() % 2 == 0) {
      // A page in the middle of the unsynced region that never reached the disk, while
      // later ones did.
      uint64_t start = state.durable_size + (*rng)() % (keep - state.durable_size);
      uint64_t length = std::min<uint64_t>(keep - start, 1 + (*rng)() % 4096);
      (void)(*file)->WriteAt(start, std::string(length, '\0'));
    }
  }
  for (const std::string& path : pending_removals_) {
    (void)base_->Rename(path + kRemovedSuffix, path);
  }
  files_.clear();
  pending_removals_.clear();
  crashed_ = false;
  syncs_left_ = -1;
  disk_full_ = false;
}

}  // namespace rill::testing
