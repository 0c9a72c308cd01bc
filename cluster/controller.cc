#include "cluster/controller.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/error.h"
#include "base/logging.h"
#include "format/record_batch.h"

namespace rill::cluster {

using api::ApiError;

namespace {

constexpr char kMetadataLogName[] = "__cluster_metadata-0";
constexpr char kImageSnapshotKey[] = "controller/image-snapshot";
constexpr uint32_t kSnapshotVersion = 1;
// A metadata batch is small; a bigger one in the log is damage.
constexpr size_t kMaxMetadataBatchBytes = 16 << 20;

absl::StatusOr<std::string> EncodeRecords(const std::vector<v1::MetadataRecord>& records) {
  format::BatchBuilder builder;
  for (const auto& record : records) {
    std::string value = record.SerializeAsString();
    builder.Append(0, std::nullopt, std::string_view(value));
  }
  std::string batch = builder.Build(0);
  if (batch.size() > kMaxMetadataBatchBytes) {
    return ApiError(v1::INVALID_REQUEST,
                    fmt::format("the change needs {} bytes of metadata, more than {}",
                                batch.size(), kMaxMetadataBatchBytes));
  }
  return batch;
}

// The records of one metadata batch.
absl::StatusOr<std::vector<v1::MetadataRecord>> DecodeRecords(std::string_view batch) {
  auto header = format::ParseBatchHeader(batch, kMaxMetadataBatchBytes);
  if (!header.ok()) return header.status();
  std::string scratch;
  auto records = format::BatchRecords(batch, *header, kMaxMetadataBatchBytes, &scratch);
  if (!records.ok()) return records.status();
  format::RecordReader reader(*records, header->record_count);
  std::vector<v1::MetadataRecord> out;
  format::RecordView view;
  while (reader.Next(&view)) {
    v1::MetadataRecord record;
    if (!view.value || !record.ParseFromArray(view.value->data(),
                                              static_cast<int>(view.value->size()))) {
      return absl::DataLossError("a metadata record does not parse");
    }
    out.push_back(std::move(record));
  }
  if (!reader.status().ok()) return reader.status();
  return out;
}

}  // namespace

std::string CanonicalVoters(const std::map<NodeId, std::string>& voters) {
  std::string out;
  for (const auto& [id, address] : voters) {
    if (!out.empty()) out += ",";
    out += fmt::format("{}@{}", id, address);
  }
  return out;
}

absl::StatusOr<std::map<NodeId, std::string>> ParseVoters(std::string_view text) {
  std::map<NodeId, std::string> voters;
  for (absl::string_view item :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipWhitespace())) {
    const size_t at = item.find('@');
    int32_t id = 0;
    if (at == absl::string_view::npos || !absl::SimpleAtoi(item.substr(0, at), &id) || id < 1) {
      return absl::InvalidArgumentError(
          fmt::format("controller voter '{}' is not ID@HOST:PORT with ID >= 1", item));
    }
    absl::string_view address = item.substr(at + 1);
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          fmt::format("controller voter '{}' has no HOST:PORT address", item));
    }
    if (!voters.emplace(NodeId(id), std::string(address)).second) {
      return absl::InvalidArgumentError(fmt::format("controller voter {} is listed twice", id));
    }
  }
  if (voters.empty()) return absl::InvalidArgumentError("the controller voter list is empty");
  return voters;
}

Controller::Controller(ControllerOptions options, storage::MetaStore* meta,
                       ImageListener listener)
    : options_(std::move(options)),
      canonical_voters_(CanonicalVoters(options_.voters)),
      meta_(meta),
      listener_(std::move(listener)),
      image_(std::make_shared<MetadataImage>()),
      logic_(options_.cluster_id, options_.limits) {}

Controller::~Controller() { Close(); }

absl::StatusOr<std::unique_ptr<Controller>> Controller::Open(
    ControllerOptions options, storage::LogManager* logs, storage::MetaStore* meta,
    rpc::Transport* transport, asio::io_context* io, ImageListener listener) {
  std::unique_ptr<Controller> controller(
      new Controller(std::move(options), meta, std::move(listener)));
  Controller* c = controller.get();
  auto stored = meta->Get(kImageSnapshotKey);
  if (!stored.ok()) return stored.status();
  if (*stored) {
    raft::Snapshot snapshot;
    snapshot.data = **stored;
    c->Restore(snapshot);
    absl::MutexLock lock(&c->mu_);
    if (c->image_->offset() < Offset(0) && !snapshot.data.empty()) {
      return absl::DataLossError("the stored metadata image snapshot is damaged");
    }
    c->restored_from_snapshot_ = true;
    logging::Info("controller", "metadata image restored from the snapshot at offset {}",
                  c->image_->offset());
  }
  auto log = logs->GetOrCreate(kMetadataLogName, c->options_.log);
  if (!log.ok()) return log.status();
  c->log_ = *log;
  raft::RaftConfig config = c->options_.raft;
  config.id = c->options_.self;
  config.bootstrap.voters.clear();
  for (const auto& [id, address] : c->options_.voters) config.bootstrap.voters.push_back(id);
  RaftGroupCallbacks callbacks;
  callbacks.apply = [c](const std::vector<raft::Entry>& entries) { c->ApplyCommitted(entries); };
  callbacks.restore = [c](const raft::Snapshot& snapshot) { c->Restore(snapshot); };
  callbacks.read_snapshot = [c] { return c->ReadSnapshot(); };
  auto group = RaftGroup::Open(rpc::kControllerGroup, config, c->log_, meta, transport, io,
                               std::move(callbacks));
  if (!group.ok()) return group.status();
  c->group_ = *group;
  return controller;
}

void Controller::Close() {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    FailAllLocked(ApiError(v1::NOT_CONTROLLER, "the broker is shutting down"), &later);
    for (auto& [offset, waiter] : waiters_) {
      later.push_back([w = std::move(waiter)] {
        w(absl::UnavailableError("the broker is shutting down"));
      });
    }
    waiters_.clear();
  }
  for (auto& f : later) f();
  if (group_) group_->Close();
}

std::shared_ptr<const MetadataImage> Controller::image() const {
  absl::MutexLock lock(&mu_);
  return image_;
}

ControllerStatus Controller::status() const {
  ControllerStatus s;
  s.raft = group_->status();
  absl::MutexLock lock(&mu_);
  s.active = active_;
  s.metadata_offset = image_->offset();
  s.snapshot_offset = snapshot_offset_;
  s.snapshots_written = snapshots_written_;
  s.restored_from_snapshot = restored_from_snapshot_;
  return s;
}

void Controller::WaitForOffset(Offset offset, std::function<void(absl::Status)> done) {
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      result = absl::UnavailableError("the broker is shutting down");
    } else if (image_->offset() < offset) {
      waiters_.emplace(offset, std::move(done));
      return;
    }
  }
  done(result);
}

absl::Status Controller::NotController() const {
  const NodeId leader = group_->status().leader;
  if (leader == kNoNode) {
    return ApiError(v1::NOT_CONTROLLER, "the controller quorum has no leader right now");
  }
  if (leader == options_.self) {
    return ApiError(v1::NOT_CONTROLLER,
                    "this broker was elected controller and is catching up with the metadata log",
                    -1);
  }
  return ApiError(v1::NOT_CONTROLLER,
                  fmt::format("broker {} is the controller", leader), leader.value());
}

void Controller::Tick(int64_t now_ms) {
  group_->Tick();
  const RaftGroupStatus raft = group_->status();
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    now_ms_ = now_ms;
    if (raft.role == raft::Role::kLeader && raft.term != led_term_) {
      // A new term led: decide nothing until the no-op (and all before it) is applied.
      led_term_ = raft.term;
      ready_index_ = raft.last_index;
      active_ = false;
    } else if (raft.role != raft::Role::kLeader && (active_ || led_term_ != raft::Term(0))) {
      if (active_) logging::Info("controller", "no longer the controller (term {})", raft.term);
      active_ = false;
      led_term_ = raft::Term(0);
      FailAllLocked(NotController(), &later);
    }
    if (raft.role == raft::Role::kLeader && !active_ && applied_index_ >= ready_index_) {
      active_ = true;
      logic_.BecomeLeader(*image_, now_ms_);
      logging::Info("controller", "this broker is the controller (term {}, metadata offset {})",
                    raft.term, image_->offset());
      MaybeImportLegacyTopicsLocked();
    }
    if (active_) {
      if (!expiry_queued_ && !logic_.ExpireSessions(*image_, now_ms_).empty()) {
        expiry_queued_ = true;
        queue_.push_back(Decision{
            [](const MetadataImage& image, ControllerLogic& logic, int64_t now) {
              return absl::StatusOr<std::vector<v1::MetadataRecord>>(
                  logic.ExpireSessions(image, now));
            },
            [this](absl::Status, Offset) {
              absl::MutexLock lock(&mu_);
              expiry_queued_ = false;
            }});
      }
      // Draining brokers' replicas move a few partitions at a time.
      if (!drains_queued_ && !logic_.PlanDrains(*image_).empty()) {
        drains_queued_ = true;
        queue_.push_back(Decision{
            [](const MetadataImage& image, ControllerLogic& logic, int64_t) {
              return absl::StatusOr<std::vector<v1::MetadataRecord>>(logic.PlanDrains(image));
            },
            [this](absl::Status s, Offset) {
              if (!s.ok()) logging::Warn("controller", "draining moves: {}", s.message());
              absl::MutexLock lock(&mu_);
              drains_queued_ = false;
            }});
      }
      // Every registered broker that is not a voter follows the log as a learner.
      if (!conf_change_pending_) {
        for (const auto& [id, broker] : image_->brokers()) {
          if (raft.conf.IsMember(id)) continue;
          conf_change_pending_ = true;
          group_->ProposeConfChange(
              raft::ConfChange{raft::ConfChangeType::kAddLearner, id},
              [this, id](absl::StatusOr<raft::Index> index) {
                if (index.ok()) {
                  logging::Info("controller", "broker {} follows the metadata log as a learner",
                                id);
                }
                absl::MutexLock lock(&mu_);
                conf_change_pending_ = false;
              });
          break;
        }
      }
      RunNextLocked(&later);
    }
  }
  for (auto& f : later) f();
}

void Controller::MaybeImportLegacyTopicsLocked() {
  if (legacy_imported_ || options_.legacy_topics.empty()) return;
  legacy_imported_ = true;
  if (options_.voters.size() != 1 || !options_.voters.contains(options_.self)) return;
  queue_.push_front(Decision{
      [this](const MetadataImage& image, ControllerLogic&, int64_t)
          -> absl::StatusOr<std::vector<v1::MetadataRecord>> {
        std::vector<v1::MetadataRecord> records;
        for (const LegacyTopic& topic : options_.legacy_topics) {
          if (image.TopicByName(topic.name) || image.Topic(topic.id)) continue;
          v1::MetadataRecord record = NewMetadataRecord();
          auto* t = record.mutable_topic();
          t->set_name(topic.name);
          t->set_topic_id(topic.id.ToBytes());
          t->set_replication_factor(1);
          t->mutable_configs()->insert(topic.configs.begin(), topic.configs.end());
          records.push_back(std::move(record));
          for (int32_t p = 0; p < topic.partitions; ++p) {
            v1::MetadataRecord partition = NewMetadataRecord();
            auto* r = partition.mutable_partition();
            r->set_topic_id(topic.id.ToBytes());
            r->set_partition(p);
            r->add_replicas(options_.self.value());
            r->set_leader(options_.self.value());
            records.push_back(std::move(partition));
          }
        }
        return records;
      },
      [this](absl::Status s, Offset offset) {
        if (s.ok()) {
          logging::Info("controller", "took {} topics stored before the cluster into the "
                        "metadata log (offset {})", options_.legacy_topics.size(), offset);
        } else {
          logging::Error("controller", "could not take the stored topics into the metadata "
                         "log: {}", s.message());
        }
      }});
}

void Controller::Enqueue(Decision decision) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !active_) {
      const absl::Status error = closed_ ? ApiError(v1::NOT_CONTROLLER, "shutting down")
                                         : NotController();
      later.push_back([done = std::move(decision.done), error] { done(error, Offset(-1)); });
    } else {
      queue_.push_back(std::move(decision));
      RunNextLocked(&later);
    }
  }
  for (auto& f : later) f();
}

void Controller::FailAllLocked(const absl::Status& status, Later* later) {
  if (in_flight_) {
    later->push_back([done = std::move(in_flight_->done), status] { done(status, Offset(-1)); });
    in_flight_.reset();
  }
  for (auto& d : queue_) {
    later->push_back([done = std::move(d.done), status] { done(status, Offset(-1)); });
  }
  queue_.clear();
}

void Controller::RunNextLocked(Later* later) {
  while (!in_flight_ && !queue_.empty() && active_ && !closed_) {
    Decision d = std::move(queue_.front());
    queue_.pop_front();
    auto records = d.decide(*image_, logic_, now_ms_);
    if (!records.ok() || records->empty()) {
      const absl::Status s = records.status();
      const Offset offset = image_->offset();
      later->push_back([done = std::move(d.done), s, offset] { done(s, offset); });
      continue;
    }
    auto batch = EncodeRecords(*records);
    if (!batch.ok()) {
      later->push_back([done = std::move(d.done), s = batch.status()] { done(s, Offset(-1)); });
      continue;
    }
    in_flight_ = InFlight{std::move(d.done), led_term_, raft::Index(0)};
    group_->Propose(*std::move(batch), static_cast<int64_t>(records->size()),
                    [this](absl::StatusOr<raft::Index> index) { Proposed(index); });
  }
}

void Controller::Proposed(absl::StatusOr<raft::Index> index) {
  Later later;
  {
    absl::MutexLock lock(&mu_);
    if (!in_flight_) return;
    if (!index.ok()) {
      const absl::Status error = absl::IsFailedPrecondition(index.status())
                                     ? NotController()
                                     : ApiError(v1::REQUEST_TIMED_OUT,
                                                std::string(index.status().message()));
      later.push_back([done = std::move(in_flight_->done), error] { done(error, Offset(-1)); });
      in_flight_.reset();
      RunNextLocked(&later);
    } else {
      in_flight_->index = *index;
    }
  }
  for (auto& f : later) f();
}

void Controller::ApplyCommitted(const std::vector<raft::Entry>& entries) {
  Later later;
  std::shared_ptr<const MetadataImage> published;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<MetadataImage> next;
    for (const raft::Entry& e : entries) {
      applied_index_ = e.index;
      if (in_flight_ && in_flight_->index == e.index && in_flight_->term != e.term) {
        // Another leader's entry took the proposal's place: it was never committed.
        later.push_back([done = std::move(in_flight_->done), error = NotController()] {
          done(error, Offset(-1));
        });
        in_flight_.reset();
      }
      if (e.type != raft::EntryType::kNormal || e.data.empty()) continue;
      auto records = DecodeRecords(e.data);
      if (!records.ok()) {
        logging::Error("controller", "metadata entry {} is damaged, the image stops here: {}",
                       e.index, records.status().message());
        break;
      }
      const int64_t base = e.index.value() - static_cast<int64_t>(records->size());
      const MetadataImage& current = next ? *next : *image_;
      if (Offset(e.index.value() - 1) <= current.offset()) continue;  // in the snapshot
      if (!next) next = std::make_shared<MetadataImage>(*image_);
      for (size_t i = 0; i < records->size(); ++i) {
        if (auto s = next->Apply((*records)[i], Offset(base + static_cast<int64_t>(i))); !s.ok()) {
          logging::Error("controller", "metadata record at offset {} does not apply: {}",
                         base + static_cast<int64_t>(i), s.message());
        }
      }
    }
    if (next) {
      image_ = std::move(next);
      published = image_;
      MaybeSnapshotLocked(applied_index_);
    }
  }
  if (published && listener_) listener_(published);
  {
    absl::MutexLock lock(&mu_);
    AfterApplyLocked(&later);
  }
  for (auto& f : later) f();
}

void Controller::AfterApplyLocked(Later* later) {
  if (in_flight_ && in_flight_->index != raft::Index(0) && applied_index_ >= in_flight_->index) {
    later->push_back(
        [done = std::move(in_flight_->done), offset = image_->offset()] {
          done(absl::OkStatus(), offset);
        });
    in_flight_.reset();
  }
  while (!waiters_.empty() && waiters_.begin()->first <= image_->offset()) {
    later->push_back([w = std::move(waiters_.begin()->second)] { w(absl::OkStatus()); });
    waiters_.erase(waiters_.begin());
  }
  RunNextLocked(later);
}

void Controller::Restore(const raft::Snapshot& snapshot) {
  v1::MetadataSnapshot stored;
  auto image = std::make_shared<MetadataImage>();
  if (!stored.ParseFromString(snapshot.data) || stored.version() != kSnapshotVersion) {
    logging::Error("controller", "a metadata snapshot does not parse; the image is not restored");
    return;
  }
  for (const auto& record : stored.records()) {
    if (auto s = image->Apply(record, Offset(stored.offset())); !s.ok()) {
      logging::Error("controller", "a metadata snapshot record does not apply: {}", s.message());
      return;
    }
  }
  std::shared_ptr<const MetadataImage> published;
  {
    absl::MutexLock lock(&mu_);
    if (image->offset() <= image_->offset()) return;
    image_ = std::move(image);
    published = image_;
    snapshot_offset_ = Offset(stored.offset());
    if (snapshot.meta.index > applied_index_) applied_index_ = snapshot.meta.index;
    if (group_) {
      // A snapshot from the leader is kept as this broker's own, so a restart starts there.
      if (auto s = meta_->Put(kImageSnapshotKey, snapshot.data); !s.ok()) {
        logging::Warn("controller", "cannot store the metadata snapshot: {}", s.message());
      }
    }
  }
  if (group_ && listener_) listener_(published);
}

void Controller::MaybeSnapshotLocked(raft::Index index) {
  if (image_->offset().value() - snapshot_offset_.value() < options_.snapshot_interval_records) {
    return;
  }
  v1::MetadataSnapshot snapshot;
  snapshot.set_version(kSnapshotVersion);
  snapshot.set_offset(image_->offset().value());
  for (auto& record : image_->ToRecords()) *snapshot.add_records() = std::move(record);
  if (auto s = meta_->Put(kImageSnapshotKey, snapshot.SerializeAsString()); !s.ok()) {
    logging::Warn("controller", "cannot store a metadata snapshot: {}", s.message());
    return;
  }
  snapshot_offset_ = image_->offset();
  ++snapshots_written_;
  logging::Info("controller", "metadata snapshot at offset {} ({} records)", snapshot_offset_,
                snapshot.records_size());
  group_->Compact(index, [index](absl::Status s) {
    if (!s.ok()) {
      logging::Warn("controller", "cannot compact the metadata log through {}: {}", index,
                    s.message());
    }
  });
}

absl::StatusOr<std::string> Controller::ReadSnapshot() const {
  auto stored = meta_->Get(kImageSnapshotKey);
  if (!stored.ok()) return stored.status();
  if (!*stored) return absl::UnavailableError("no metadata snapshot yet");
  return **stored;
}

void Controller::RegisterBroker(const rpc::RegisterBrokerRequest& request,
                                rpc::Reply<int64_t> reply) {
  if (request.controller_voters != canonical_voters_) {
    reply(ApiError(v1::INCONSISTENT_VOTERS,
                   fmt::format("broker {} has controller voters '{}', the quorum has '{}'",
                               request.node, request.controller_voters, canonical_voters_)));
    return;
  }
  BrokerRegistration registration;
  registration.node = request.node;
  registration.cluster_id = options_.cluster_id;
  registration.incarnation_id = request.incarnation_id;
  registration.rack = request.rack;
  for (const auto& e : request.endpoints) {
    registration.endpoints.push_back(Endpoint{e.name, e.host, e.port});
  }
  const NodeId node = request.node;
  const bool this_process =
      node == options_.self && request.incarnation_id == options_.self_incarnation_id;
  Enqueue(Decision{
      [registration, this_process](const MetadataImage& image, ControllerLogic& logic,
                                   int64_t now) {
        if (this_process) logic.EndSession(registration.node);
        return logic.RegisterBroker(image, registration, now);
      },
      [this, node, reply = std::move(reply)](absl::Status s, Offset) {
        if (!s.ok()) {
          reply(s);
          return;
        }
        const BrokerInfo* broker = image()->Broker(node);
        if (!broker) {
          reply(ApiError(v1::BROKER_NOT_REGISTERED, "the registration did not take"));
          return;
        }
        reply(broker->epoch);
      }});
}

void Controller::BrokerHeartbeat(const rpc::BrokerHeartbeatRequest& request,
                                 rpc::Reply<bool> reply) {
  auto fenced = std::make_shared<bool>(true);
  Enqueue(Decision{
      [request, fenced](const MetadataImage& image, ControllerLogic& logic,
                        int64_t now) -> absl::StatusOr<std::vector<v1::MetadataRecord>> {
        auto result = logic.Heartbeat(image, request.node, request.broker_epoch,
                                      request.metadata_offset, now);
        if (!result.ok()) return result.status();
        *fenced = result->fenced;
        return std::move(result->records);
      },
      [fenced, reply = std::move(reply)](absl::Status s, Offset) {
        if (!s.ok()) {
          reply(s);
        } else {
          reply(*fenced);
        }
      }});
}

void Controller::ChangeTopic(const rpc::TopicChangeRequest& request, rpc::Reply<Offset> reply) {
  using Kind = rpc::TopicChangeRequest::Kind;
  Enqueue(Decision{
      [request](const MetadataImage& image, ControllerLogic& logic,
                int64_t) -> absl::StatusOr<std::vector<v1::MetadataRecord>> {
        absl::StatusOr<std::vector<v1::MetadataRecord>> records;
        switch (request.kind) {
          case Kind::kCreate:
            records = logic.CreateTopic(image, request.topic, request.partitions,
                                        request.replication_factor, request.configs);
            break;
          case Kind::kDelete:
            records = logic.DeleteTopic(image, request.topic);
            break;
          case Kind::kCreatePartitions:
            records = logic.CreatePartitions(image, request.topic, request.partitions);
            break;
          case Kind::kAlterConfigs:
            records = logic.AlterConfigs(image, request.topic, request.configs,
                                         request.remove_configs);
            break;
          case Kind::kReassign:
            records = logic.ReassignPartition(image, request.topic, request.partition,
                                              request.replicas, request.throttle_bytes_per_second);
            break;
          case Kind::kCancelReassignment:
            records = logic.CancelReassignment(image, request.topic, request.partition);
            break;
          case Kind::kCompleteReassignment: {
            auto id = TopicId::FromBytes(request.topic_id);
            records = id ? logic.CompleteReassignment(image, *id, request.partition,
                                                      request.replicas)
                         : absl::StatusOr<std::vector<v1::MetadataRecord>>(api::ApiError(
                               v1::INVALID_REQUEST, "a topic id has 16 bytes"));
            break;
          }
          case Kind::kDecommission:
          case Kind::kRecommission:
            records = logic.Decommission(image, request.node, request.kind == Kind::kDecommission);
            break;
        }
        if (records.ok() && request.validate_only) records->clear();
        return records;
      },
      [reply = std::move(reply)](absl::Status s, Offset offset) {
        if (!s.ok()) {
          reply(s);
        } else {
          reply(offset);
        }
      }});
}

void Controller::AllocateProducerIds(const rpc::AllocateProducerIdsRequest& request,
                                     rpc::Reply<rpc::ProducerIdRange> reply) {
  auto range = std::make_shared<rpc::ProducerIdRange>();
  Enqueue(Decision{
      [request, range](const MetadataImage& image, ControllerLogic& logic,
                       int64_t) -> absl::StatusOr<std::vector<v1::MetadataRecord>> {
        auto block = logic.AllocateProducerIds(image, request.node, request.broker_epoch);
        if (!block.ok()) return block.status();
        *range = rpc::ProducerIdRange{block->first, block->count};
        return std::move(block->records);
      },
      [range, reply = std::move(reply)](absl::Status s, Offset) {
        if (!s.ok()) {
          reply(s);
        } else {
          reply(*range);
        }
      }});
}

}  // namespace rill::cluster
