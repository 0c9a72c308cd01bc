#include "cluster/producer_state.h"

#include <algorithm>
#include <limits>

#include "base/fmt_absl.h"
#include "format/big_endian.h"

namespace rill::cluster {

namespace {

constexpr char kSnapshotMagic[4] = {'R', 'P', 'S', 'T'};
// magic, version, next offset, producer count.
constexpr size_t kSnapshotHeaderBytes = 4 + 4 + 8 + 4;
// producer id, epoch, last write, batch count.
constexpr size_t kProducerBytes = 8 + 2 + 8 + 1;
// first and last sequence, first and last offset.
constexpr size_t kBatchBytes = 4 + 4 + 8 + 8;

}  // namespace

SequenceCheck ProducerStateTable::Check(const format::BatchHeader& header) const {
  SequenceCheck check;
  const int32_t first = header.base_sequence;
  auto it = producers_.find(header.producer_id);
  if (it == producers_.end()) {
    // With no state, only a producer's very first batch can be told apart from a retry.
    check.verdict = first == 0 ? SequenceVerdict::kAppend : SequenceVerdict::kUnknownProducer;
    check.expected_sequence = 0;
    return check;
  }
  const ProducerEntry& entry = it->second;
  check.current_epoch = entry.epoch;
  if (header.producer_epoch < entry.epoch) {
    check.verdict = SequenceVerdict::kFenced;
    return check;
  }
  if (header.producer_epoch > entry.epoch) {
    check.expected_sequence = 0;
    check.verdict = first == 0 ? SequenceVerdict::kAppend : SequenceVerdict::kOutOfOrder;
    return check;
  }
  const int32_t last = IncrementSequence(first, header.last_offset_delta);
  for (const ProducerBatch& batch : entry.batches) {
    if (batch.first_sequence == first && batch.last_sequence == last) {
      check.verdict = SequenceVerdict::kDuplicate;
      check.original = batch;
      return check;
    }
  }
  check.expected_sequence =
      entry.batches.empty() ? 0 : IncrementSequence(entry.batches.back().last_sequence, 1);
  check.verdict = first == check.expected_sequence ? SequenceVerdict::kAppend
                                                   : SequenceVerdict::kOutOfOrder;
  return check;
}

void ProducerStateTable::Apply(const format::BatchHeader& header, Offset base_offset,
                               int64_t now_ms) {
  const Offset last_offset(base_offset.value() + header.last_offset_delta);
  if (last_offset < next_offset_) return;
  next_offset_ = Offset(last_offset.value() + 1);
  if (header.producer_id < 0 || header.is_control()) return;
  auto it = producers_.find(header.producer_id);
  if (it == producers_.end()) {
    if (producers_.size() >= limits_.producers_max) EvictLeastRecent();
    it = producers_.emplace(header.producer_id, ProducerEntry{}).first;
    it->second.epoch = header.producer_epoch;
  }
  ProducerEntry& entry = it->second;
  // The leader fenced older epochs; a replica keeps the newest it has seen.
  if (header.producer_epoch < entry.epoch) return;
  if (header.producer_epoch > entry.epoch) {
    entry.epoch = header.producer_epoch;
    entry.batches.clear();
  }
  entry.batches.push_back(ProducerBatch{header.base_sequence,
                                        IncrementSequence(header.base_sequence,
                                                          header.last_offset_delta),
                                        base_offset, last_offset});
  while (entry.batches.size() > kBatchesPerProducer) entry.batches.pop_front();
  entry.last_write_ms = std::max(entry.last_write_ms, now_ms);
}

size_t ProducerStateTable::Expire(int64_t now_ms, int64_t expiration_ms) {
  size_t expired = 0;
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (now_ms - it->second.last_write_ms >= expiration_ms) {
      producers_.erase(it++);
      ++expired;
    } else {
      ++it;
    }
  }
  return expired;
}

void ProducerStateTable::Reset(Offset next_offset) {
  producers_.clear();
  next_offset_ = next_offset;
}

const ProducerEntry* ProducerStateTable::Find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

void ProducerStateTable::EvictLeastRecent() {
  auto oldest = std::min_element(producers_.begin(), producers_.end(), [](auto& a, auto& b) {
    return a.second.last_write_ms < b.second.last_write_ms;
  });
  if (oldest != producers_.end()) producers_.erase(oldest);
}

std::string ProducerStateTable::EncodeSnapshot() const {
  std::string out;
  out.reserve(kSnapshotHeaderBytes + producers_.size() *
                                         (kProducerBytes + kBatchesPerProducer * kBatchBytes));
  out.append(kSnapshotMagic, 4);
  format::AppendU32(&out, kSnapshotVersion);
  format::AppendU64(&out, static_cast<uint64_t>(next_offset_.value()));
  format::AppendU32(&out, static_cast<uint32_t>(producers_.size()));
  for (const auto& [id, entry] : producers_) {
    format::AppendU64(&out, static_cast<uint64_t>(id));
    format::AppendU16(&out, static_cast<uint16_t>(entry.epoch));
    format::AppendU64(&out, static_cast<uint64_t>(entry.last_write_ms));
    out.push_back(static_cast<char>(entry.batches.size()));
    for (const ProducerBatch& b : entry.batches) {
      format::AppendU32(&out, static_cast<uint32_t>(b.first_sequence));
      format::AppendU32(&out, static_cast<uint32_t>(b.last_sequence));
      format::AppendU64(&out, static_cast<uint64_t>(b.first_offset.value()));
      format::AppendU64(&out, static_cast<uint64_t>(b.last_offset.value()));
    }
  }
  return out;
}

absl::StatusOr<ProducerStateTable> ProducerStateTable::DecodeSnapshot(
    std::string_view bytes, ProducerStateLimits limits) {
  auto corrupt = [](std::string_view why) {
    return absl::DataLossError(fmt::format("producer state snapshot: {}", why));
  };
  if (bytes.size() < kSnapshotHeaderBytes || bytes.substr(0, 4) != std::string_view(kSnapshotMagic, 4)) {
    return corrupt("no header");
  }
  const char* p = bytes.data() + 4;
  if (const uint32_t version = format::LoadU32(p); version != kSnapshotVersion) {
    return corrupt(fmt::format("unknown version {}", version));
  }
  ProducerStateTable table(limits);
  table.next_offset_ = Offset(format::LoadI64(p + 4));
  const uint32_t count = format::LoadU32(p + 12);
  if (count > limits.producers_max) {
    return corrupt(fmt::format("{} producers, over the limit of {}", count, limits.producers_max));
  }
  if (table.next_offset_ < Offset(0)) return corrupt("negative offset");
  std::string_view rest = bytes.substr(kSnapshotHeaderBytes);
  for (uint32_t i = 0; i < count; ++i) {
    if (rest.size() < kProducerBytes) return corrupt("truncated producer");
    const int64_t id = format::LoadI64(rest.data());
    ProducerEntry entry;
    entry.epoch = format::LoadI16(rest.data() + 8);
    entry.last_write_ms = format::LoadI64(rest.data() + 10);
    const auto batches = static_cast<uint8_t>(rest[18]);
    rest.remove_prefix(kProducerBytes);
    if (id < 0 || batches > kBatchesPerProducer || rest.size() < batches * kBatchBytes) {
      return corrupt("bad producer entry");
    }
    for (uint8_t b = 0; b < batches; ++b) {
      const char* q = rest.data();
      entry.batches.push_back(ProducerBatch{format::LoadI32(q), format::LoadI32(q + 4),
                                            Offset(format::LoadI64(q + 8)),
                                            Offset(format::LoadI64(q + 16))});
      rest.remove_prefix(kBatchBytes);
    }
    if (!table.producers_.emplace(id, std::move(entry)).second) {
      return corrupt("a producer id twice");
    }
  }
  if (!rest.empty()) return corrupt("trailing bytes");
  return table;
}

}  // namespace rill::cluster
