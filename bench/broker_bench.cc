#include "bench/broker_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/fmt_absl.h"
#include "bench/storage_bench.h"
#include "format/big_endian.h"
#include "rill/admin.h"
#include "rill/consumer.h"
#include "rill/producer.h"

namespace rill::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Latencies in milliseconds, from any thread.
class Latencies {
 public:
  void Add(double ms) {
    absl::MutexLock lock(&mu_);
    values_.push_back(ms);
  }
  struct Summary {
    double p50 = 0, p99 = 0, p999 = 0, max = 0;
    size_t count = 0;
  };
  Summary Summarize() {
    absl::MutexLock lock(&mu_);
    Summary s;
    s.count = values_.size();
    if (values_.empty()) return s;
    std::sort(values_.begin(), values_.end());
    auto at = [&](double q) {
      return values_[std::min(values_.size() - 1, static_cast<size_t>(q * values_.size()))];
    };
    s.p50 = at(0.5);
    s.p99 = at(0.99);
    s.p999 = at(0.999);
    s.max = values_.back();
    return s;
  }

 private:
  absl::Mutex mu_;
  std::vector<double> values_ ABSL_GUARDED_BY(mu_);
};

struct Counters {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> consumed{0};
  std::atomic<int64_t> consumed_bytes{0};
  std::atomic<bool> stop{false};
};

Acks ParseAcks(const std::string& acks) {
  if (acks == "leader" || acks == "1") return Acks::kLeader;
  if (acks == "none" || acks == "0") return Acks::kNone;
  return Acks::kAll;
}

void Produce(const BrokerBenchOptions& o, int index, Counters* counters, Latencies* ack_latency,
             absl::Status* error) {
  ProducerOptions options;
  options.client = ClientOptions{o.brokers, 30000};
  options.acks = ParseAcks(o.acks);
  options.linger_ms = o.linger_ms;
  options.max_in_flight_requests_per_partition = o.max_in_flight;
  options.batch_bytes = o.batch_bytes;
  options.enable_idempotence = o.idempotence != "off";
  auto producer = Producer::Create(options);
  if (!producer.ok()) {
    *error = producer.status();
    return;
  }
  const int64_t share = o.records / o.producers + (index < o.records % o.producers ? 1 : 0);
  const double interval_us = o.rate > 0 ? 1e6 * o.producers / static_cast<double>(o.rate) : 0;
  std::string padding(o.record_bytes, 'x');
  for (size_t i = 8; i < padding.size(); ++i) padding[i] = static_cast<char>('a' + i % 26);
  const auto start = Clock::now();
  for (int64_t i = 0; i < share && !counters->stop; ++i) {
    if (interval_us > 0) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(
                                                interval_us * static_cast<double>(i))));
    }
    std::string value = padding;
    format::StoreI64(value.data(), NowMicros());
    const auto sent = Clock::now();
    absl::Status s = (*producer)->Send(
        ProducerRecord{o.topic, std::nullopt, std::move(value), {}, std::nullopt, std::nullopt},
        [counters, ack_latency, sent](const absl::StatusOr<RecordMetadata>& r) {
          if (!r.ok()) {
            ++counters->failed;
            return;
          }
          ++counters->acked;
          ack_latency->Add(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        });
    if (!s.ok()) {
      *error = s;
      break;
    }
    ++counters->sent;
  }
  (*producer)->Flush();
  (*producer)->Close();
}

// Reads until `target` records arrived or, when `ends` is given, every assigned partition has
// reached its end there.
void Consume(const BrokerBenchOptions& o, std::vector<TopicPartition> assignment, bool from_end,
             int64_t target, const std::map<TopicPartition, int64_t>* ends, Counters* counters,
             Latencies* e2e_latency, absl::Status* error) {
  ConsumerOptions options;
  options.client = ClientOptions{o.brokers, 30000};
  options.group_id = o.group;
  options.auto_offset_reset = from_end ? OffsetReset::kLatest : OffsetReset::kEarliest;
  auto consumer = Consumer::Create(options);
  if (!consumer.ok()) {
    *error = consumer.status();
    return;
  }
  if (!o.group.empty()) {
    // The group hands out the partitions (and commits as it reads).
    if (auto s = (*consumer)->Subscribe({o.topic}); !s.ok()) {
      *error = s;
      return;
    }
  } else {
    if (auto s = (*consumer)->Assign(assignment); !s.ok()) {
      *error = s;
      return;
    }
    absl::Status seek =
        from_end ? (*consumer)->SeekToEnd(assignment) : (*consumer)->SeekToBeginning(assignment);
    if (!seek.ok()) {
      *error = seek;
      return;
    }
  }
  auto at_end = [&]() {
    if (ends == nullptr) return false;
    const std::vector<TopicPartition> mine =
        o.group.empty() ? assignment : (*consumer)->Assignment();
    if (mine.empty()) return false;
    for (const auto& tp : mine) {
      auto position = (*consumer)->Position(tp);
      auto end = ends->find(tp);
      if (!position.ok() || end == ends->end() || *position < end->second) return false;
    }
    return true;
  };
  while (!counters->stop && counters->consumed.load() < target && !at_end()) {
    auto records = (*consumer)->Poll(200);
    if (!records.ok()) {
      *error = records.status();
      return;
    }
    const int64_t now = NowMicros();
    for (const auto& r : *records) {
      if (e2e_latency != nullptr && r.value && r.value->size() >= 8) {
        e2e_latency->Add(static_cast<double>(now - format::LoadI64(r.value->data())) / 1000.0);
      }
      counters->consumed_bytes += static_cast<int64_t>(r.value ? r.value->size() : 0);
    }
    counters->consumed += static_cast<int64_t>(records->size());
  }
}

std::vector<std::vector<TopicPartition>> SplitPartitions(const std::string& topic, int partitions,
                                                         int consumers) {
  std::vector<std::vector<TopicPartition>> out(
      static_cast<size_t>(std::min(consumers, partitions)));
  for (int p = 0; p < partitions; ++p)
    out[static_cast<size_t>(p) % out.size()].push_back({topic, p});
  return out;
}

void PrintLatency(const char* name, const Latencies::Summary& s, bool json, std::string* json_out) {
  if (json) {
    *json_out += fmt::format(
        ",\"{}_p50_ms\":{:.3f},\"{}_p99_ms\":{:.3f},\"{}_p999_ms\":{:.3f},"
        "\"{}_max_ms\":{:.3f}",
        name, s.p50, name, s.p99, name, s.p999, name, s.max);
  } else {
    fmt::print("  {} latency: p50 {:.2f} ms, p99 {:.2f} ms, p99.9 {:.2f} ms, max {:.2f} ms\n", name,
               s.p50, s.p99, s.p999, s.max);
  }
}

}  // namespace

absl::Status EnsureTopic(const BrokerBenchOptions& o, int* partitions) {
  auto admin = Admin::Create(ClientOptions{o.brokers, 10000});
  if (!admin.ok()) return admin.status();
  auto description = (*admin)->DescribeTopic(o.topic);
  if (!description.ok() && ErrorCodeOf(description.status()) == ErrorCode::kUnknownTopic) {
    NewTopic topic{o.topic, o.partitions, o.replication_factor, {}};
    if (auto s = (*admin)->CreateTopic(topic); !s.ok()) return s;
    // The run starts once every partition's leader serves (ListOffsets asks each of them), so
    // the first figures do not include elections.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(*admin)->ListOffsets(o.topic, OffsetSpec{OffsetSpec::kLatest}).ok() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    description = (*admin)->DescribeTopic(o.topic);
  }
  if (!description.ok()) return description.status();
  *partitions = static_cast<int>(description->partitions.size());
  return absl::OkStatus();
}

// The end offset of every partition of the topic now.
absl::StatusOr<std::map<TopicPartition, int64_t>> EndOffsets(const BrokerBenchOptions& o) {
  auto admin = Admin::Create(ClientOptions{o.brokers, 10000});
  if (!admin.ok()) return admin.status();
  auto latest = (*admin)->ListOffsets(o.topic, OffsetSpec{OffsetSpec::kLatest});
  if (!latest.ok()) return latest.status();
  std::map<TopicPartition, int64_t> ends;
  for (const auto& [p, end] : *latest) ends[{o.topic, p}] = end;
  return ends;
}

absl::Status RunBrokerBench(const BrokerBenchOptions& o, const std::atomic<bool>& interrupted) {
  if (o.max_in_flight < 1 || o.max_in_flight > 5) {
    return absl::InvalidArgumentError("--max-in-flight is 1 to 5");
  }
  if (o.idempotence != "on" && o.idempotence != "off") {
    return absl::InvalidArgumentError("--idempotence is on or off");
  }
  if (o.record_bytes < 8 || o.records <= 0 || o.producers <= 0 || o.consumers <= 0 || o.rate < 0 ||
      o.duration_s < 0) {
    return absl::InvalidArgumentError(
        "need --record-bytes >= 8, --records > 0, --producers > 0, --consumers > 0");
  }
  const bool produce = o.mode == "produce" || o.mode == "e2e";
  const bool consume = o.mode == "consume" || o.mode == "e2e";

  double direct_mbps = 0;
  if (!o.compare_storage_dir.empty()) {
    StorageBenchOptions storage;
    storage.dir = o.compare_storage_dir;
    storage.record_bytes = o.record_bytes;
    storage.batch_records =
        std::max<int>(1, static_cast<int>(o.batch_bytes / (o.record_bytes + 20)));
    storage.total_bytes = std::max<uint64_t>(uint64_t{256} << 20,
                                             static_cast<uint64_t>(o.records) * o.record_bytes / 2);
    auto mbps = MeasureDirectAppendMbps(storage);
    if (!mbps.ok()) return mbps.status();
    direct_mbps = *mbps;
  }

  int partitions = 0;
  if (auto s = EnsureTopic(o, &partitions); !s.ok()) return s;
  Counters counters;
  Latencies ack_latency;
  Latencies e2e_latency;
  std::vector<absl::Status> errors(static_cast<size_t>(o.producers + o.consumers));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  // consume alone reads what the topic holds now.
  std::map<TopicPartition, int64_t> ends;
  int64_t available = 0;
  if (consume && !produce) {
    auto found = EndOffsets(o);
    if (!found.ok()) return found.status();
    ends = std::move(*found);
    for (const auto& [tp, end] : ends) available += end;
  }
  if (consume) {
    auto groups = o.group.empty()
                      ? SplitPartitions(o.topic, partitions, o.consumers)
                      : std::vector<std::vector<TopicPartition>>(static_cast<size_t>(o.consumers));
    for (size_t i = 0; i < groups.size(); ++i) {
      threads.emplace_back(Consume, std::cref(o), groups[i], /*from_end=*/produce, o.records,
                           produce ? nullptr : &ends, &counters, produce ? &e2e_latency : nullptr,
                           &errors[static_cast<size_t>(o.producers) + i]);
    }
    // Consumers position themselves at the end before anything is produced.
    if (produce) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const auto produce_start = Clock::now();
  if (produce) {
    for (int i = 0; i < o.producers; ++i) {
      threads.emplace_back(Produce, std::cref(o), i, &counters, &ack_latency,
                           &errors[static_cast<size_t>(i)]);
    }
  }
  std::thread progress([&] {
    while (!counters.stop) {
      for (int i = 0; i < 10 && !counters.stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (counters.stop) break;
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      if (o.duration_s > 0 && elapsed >= static_cast<double>(o.duration_s)) counters.stop = true;
      if (interrupted) counters.stop = true;
      std::string line = fmt::format("{:6.1f} s:", elapsed);
      if (produce) {
        line += fmt::format(" sent {} acked {}", counters.sent.load(), counters.acked.load());
      }
      if (consume) line += fmt::format(" consumed {}", counters.consumed.load());
      fmt::print(stderr, "{}\n", line);
    }
  });
  for (auto& t : threads) t.join();
  const auto end = Clock::now();
  counters.stop = true;
  progress.join();
  for (const auto& e : errors) {
    if (!e.ok()) return e;
  }

  const double seconds =
      std::chrono::duration<double>(end - (produce ? produce_start : start)).count();
  const int64_t records = produce ? counters.acked.load() : counters.consumed.load();
  const double mbps =
      static_cast<double>(records) * static_cast<double>(o.record_bytes) / 1e6 / seconds;
  const bool was_interrupted = interrupted.load();
  // Each mode says only what it measured: producers and acks for produce, what the topic held
  // for consume, both for e2e.
  std::string json =
      fmt::format("{{\"bench\":\"{}\",\"topic\":\"{}\",\"partitions\":{},\"record_bytes\":{}",
                  o.mode, o.topic, partitions, o.record_bytes);
  std::string header = fmt::format("rill-bench {}: {} records of {} B, {} partitions", o.mode,
                                   records, o.record_bytes, partitions);
  if (produce) {
    json += fmt::format(",\"acks\":\"{}\",\"producers\":{},\"failed\":{}", o.acks, o.producers,
                        counters.failed.load());
    header += fmt::format(", acks={}, {} producer(s)", o.acks, o.producers);
  }
  if (consume) {
    json += fmt::format(",\"consumers\":{}", o.consumers);
    header += fmt::format(", {} consumer(s)", o.consumers);
  }
  if (consume && !produce) {
    json += fmt::format(",\"available_records\":{},\"consumed_bytes\":{}", available,
                        counters.consumed_bytes.load());
  }
  json += fmt::format(
      ",\"records\":{},\"seconds\":{:.3f},\"records_per_s\":{:.0f},\"mb_per_s\":{:.1f},"
      "\"interrupted\":{}",
      records, seconds, static_cast<double>(records) / seconds, mbps,
      was_interrupted ? "true" : "false");
  if (!o.json) {
    fmt::print("{}{}\n", header, was_interrupted ? " (interrupted)" : "");
    if (!o.group.empty()) fmt::print("  consumers are members of group {}\n", o.group);
    if (consume && !produce) {
      fmt::print("  read {} of the {} records the topic held ({:.1f} MB of values)\n", records,
                 available, static_cast<double>(counters.consumed_bytes.load()) / 1e6);
    }
    fmt::print("  {:.0f} records/s, {:.1f} MB/s in {:.2f} s{}\n",
               static_cast<double>(records) / seconds, mbps, seconds,
               counters.failed ? fmt::format(", {} failed", counters.failed.load()) : "");
  }
  if (produce) PrintLatency("ack", ack_latency.Summarize(), o.json, &json);
  if (produce && consume) PrintLatency("e2e", e2e_latency.Summarize(), o.json, &json);
  if (direct_mbps > 0) {
    if (o.json) {
      json += fmt::format(",\"direct_append_mb_per_s\":{:.1f},\"vs_direct_append\":{:.3f}",
                          direct_mbps, mbps / direct_mbps);
    } else {
      fmt::print("  storage direct durable append on {}: {:.1f} MB/s; this run is {:.1f}% of it\n",
                 o.compare_storage_dir, direct_mbps, 100.0 * mbps / direct_mbps);
    }
  }
  if (o.json) fmt::print("{}}}\n", json);
  return counters.failed > 0
             ? absl::DataLossError(fmt::format("{} records failed", counters.failed.load()))
             : absl::OkStatus();
}

}  // namespace rill::bench
