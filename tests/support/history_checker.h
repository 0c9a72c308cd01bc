// HistoryChecker: the safety checker of every replication and fault test (Jepsen's Kafka
// checker is the model). A test records what each send came to, what each consumer's polls
// returned in order, the records of every replica's log read directly at the end, and the
// committed offsets of groups as they were seen; Check then reports:
//
//   lost          an acknowledged record that no read returned although reads of its partition
//                 went past its offset, or that a replica's log lacks below its end
//   duplicated    one value at two offsets (expected, and only counted, until the producer is
//                 idempotent)
//   inconsistent  one offset with two values (across consumers and replicas), or an
//                 acknowledged offset that holds another value
//   aborted       a send that definitely failed, read anyway
//   non-monotonic a consumer's polls going back, or skipping a record that exists
//   backwards     a group's committed offset moving back
//
// Thread-safe: record from any thread; Check once recording is over.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

namespace rill::testing {

enum class SendOutcome {
  kAcknowledged,
  // Refused for good (the record can never have been written).
  kFailed,
  // Timed out or lost with its leader: it may or may not have been written.
  kIndeterminate,
};

struct CheckReport {
  size_t acknowledged = 0;
  size_t failed = 0;
  size_t indeterminate = 0;
  size_t values_read = 0;
  std::vector<std::string> lost;
  std::vector<std::string> duplicated;
  std::vector<std::string> inconsistent;
  std::vector<std::string> aborted;
  std::vector<std::string> non_monotonic;
  std::vector<std::string> backwards;
  // Records of one partition acknowledged at offsets out of the order they were sent in.
  std::vector<std::string> reordered;

  // Whether nothing unsafe happened (duplicates are allowed when `allow_duplicates`).
  bool ok(bool allow_duplicates) const {
    return lost.empty() && inconsistent.empty() && aborted.empty() && non_monotonic.empty() &&
           backwards.empty() && reordered.empty() && (allow_duplicates || duplicated.empty());
  }

  std::string Summary() const {
    std::string out = fmt::format(
        "acknowledged={} failed={} indeterminate={} read={} lost={} duplicated={} "
        "inconsistent={} aborted={} non_monotonic={} backwards={} reordered={}",
        acknowledged, failed, indeterminate, values_read, lost.size(), duplicated.size(),
        inconsistent.size(), aborted.size(), non_monotonic.size(), backwards.size(),
        reordered.size());
    for (const auto* list :
         {&lost, &inconsistent, &aborted, &non_monotonic, &backwards, &reordered}) {
      for (size_t i = 0; i < list->size() && i < 10; ++i) out += "\n  " + (*list)[i];
    }
    return out;
  }
};

class HistoryChecker {
 public:
  // A record handed to `producer`, in the order that producer was given them (optional: only
  // values queued this way are checked for order, per producer and partition).
  void Queued(const std::string& producer, const std::string& value, int32_t partition) {
    absl::MutexLock lock(&mu_);
    queued_[{producer, partition}].push_back(value);
  }
  void Sent(const std::string& value, int32_t partition, SendOutcome outcome, int64_t offset) {
    absl::MutexLock lock(&mu_);
    sends_[value] = Send{partition, outcome, offset};
  }
  // One record a consumer's poll returned, in the order returned.
  void Read(const std::string& consumer, int32_t partition, int64_t offset,
            const std::string& value) {
    absl::MutexLock lock(&mu_);
    reads_[consumer].push_back(Record{partition, offset, value});
  }
  // One data record of a replica's log, read from its files.
  void InReplica(int broker, int32_t partition, int64_t offset, const std::string& value) {
    absl::MutexLock lock(&mu_);
    replicas_[broker][partition][offset] = value;
  }
  // A group's committed offset for a partition, as seen at some moment.
  void Committed(const std::string& group, int32_t partition, int64_t offset) {
    absl::MutexLock lock(&mu_);
    commits_[{group, partition}].push_back(offset);
  }

  // Whether `value` was read by a consumer or found in a replica's log.
  bool WasSeen(const std::string& value) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [consumer, records] : reads_) {
      for (const Record& r : records) {
        if (r.value == value) return true;
      }
    }
    for (const auto& [broker, partitions] : replicas_) {
      for (const auto& [p, records] : partitions) {
        for (const auto& [o, v] : records) {
          if (v == value) return true;
        }
      }
    }
    return false;
  }

  CheckReport Check() const {
    absl::MutexLock lock(&mu_);
    CheckReport report;
    // Every (partition, offset) -> value seen anywhere, and where each value was seen.
    std::map<std::pair<int32_t, int64_t>, std::string> at;
    std::map<std::string, std::set<std::pair<int32_t, int64_t>>> where;
    std::map<int32_t, int64_t> read_end;  // per partition: past the highest offset read
    auto note = [&](int32_t p, int64_t o, const std::string& v, const std::string& source) {
      auto [it, fresh] = at.emplace(std::pair{p, o}, v);
      if (!fresh && it->second != v) {
        report.inconsistent.push_back(fmt::format("partition {} offset {}: '{}' and '{}' ({})", p,
                                                  o, it->second, v, source));
      }
      where[v].insert({p, o});
    };
    for (const auto& [consumer, records] : reads_) {
      for (const Record& r : records) {
        note(r.partition, r.offset, r.value, consumer);
        read_end[r.partition] = std::max(read_end[r.partition], r.offset + 1);
      }
    }
    for (const auto& [broker, partitions] : replicas_) {
      for (const auto& [p, records] : partitions) {
        for (const auto& [o, v] : records) note(p, o, v, fmt::format("replica on {}", broker));
      }
    }
    report.values_read = where.size();
    for (const auto& [value, places] : where) {
      if (places.size() > 1) report.duplicated.push_back(value);
    }
    for (const auto& [value, send] : sends_) {
      switch (send.outcome) {
        case SendOutcome::kAcknowledged: {
          ++report.acknowledged;
          auto held = at.find({send.partition, send.offset});
          if (held != at.end() && held->second != value) {
            report.inconsistent.push_back(
                fmt::format("'{}' acknowledged at {}-{}, which holds '{}'", value,
                            send.partition, send.offset, held->second));
          }
          if (!where.contains(value) && read_end[send.partition] > send.offset) {
            report.lost.push_back(fmt::format("'{}' acknowledged at {}-{}, never read", value,
                                              send.partition, send.offset));
          }
          for (const auto& [broker, partitions] : replicas_) {
            auto log = partitions.find(send.partition);
            if (log == partitions.end() || log->second.empty()) continue;
            if (log->second.rbegin()->first > send.offset &&
                !log->second.contains(send.offset)) {
              report.lost.push_back(fmt::format("'{}' acknowledged at {}-{}, missing on broker {}",
                                                value, send.partition, send.offset, broker));
            }
          }
          break;
        }
        case SendOutcome::kFailed:
          ++report.failed;
          if (where.contains(value)) {
            report.aborted.push_back(fmt::format("'{}' failed but was read", value));
          }
          break;
        case SendOutcome::kIndeterminate:
          ++report.indeterminate;
          break;
      }
    }
    for (const auto& [consumer, records] : reads_) {
      std::map<int32_t, int64_t> last;
      for (const Record& r : records) {
        auto prev = last.find(r.partition);
        if (prev != last.end()) {
          if (r.offset <= prev->second) {
            report.non_monotonic.push_back(fmt::format("{}: {}-{} after {}", consumer,
                                                       r.partition, r.offset, prev->second));
          } else {
            auto skipped = at.upper_bound({r.partition, prev->second});
            if (skipped != at.end() && skipped->first < std::pair{r.partition, r.offset}) {
              report.non_monotonic.push_back(
                  fmt::format("{}: {}-{} after {} skipped offset {}", consumer, r.partition,
                              r.offset, prev->second, skipped->first.second));
            }
          }
        }
        last[r.partition] = r.offset;
      }
    }
    for (const auto& [key, values] : queued_) {
      const int32_t partition = key.second;
      int64_t last = -1;
      std::string last_value;
      for (const std::string& value : values) {
        auto send = sends_.find(value);
        if (send == sends_.end() || send->second.outcome != SendOutcome::kAcknowledged) continue;
        if (send->second.offset <= last) {
          report.reordered.push_back(fmt::format("partition {}: '{}' sent after '{}' but written "
                                                 "at {}, before {}",
                                                 partition, value, last_value,
                                                 send->second.offset, last));
        }
        last = send->second.offset;
        last_value = value;
      }
    }
    for (const auto& [key, offsets] : commits_) {
      for (size_t i = 1; i < offsets.size(); ++i) {
        if (offsets[i] < offsets[i - 1]) {
          report.backwards.push_back(fmt::format("group {} partition {}: {} after {}", key.first,
                                                 key.second, offsets[i], offsets[i - 1]));
        }
      }
    }
    return report;
  }

 private:
  struct Send {
    int32_t partition = -1;
    SendOutcome outcome = SendOutcome::kIndeterminate;
    int64_t offset = -1;
  };
  struct Record {
    int32_t partition;
    int64_t offset;
    std::string value;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Send> sends_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int32_t>, std::vector<std::string>> queued_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<Record>> reads_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::map<int32_t, std::map<int64_t, std::string>>> replicas_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> commits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::testing
