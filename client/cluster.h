// Cluster: the client's view of the brokers — bootstrap addresses, one gRPC channel per broker,
// and a metadata cache (partitions and their leaders per topic) refreshed on demand.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "rill/types.h"
#include "rill/v1/admin.grpc.pb.h"
#include "rill/v1/group.grpc.pb.h"
#include "rill/v1/rill.grpc.pb.h"

namespace rill::client {

// The absl::Status for a failed RPC (Unavailable when the broker cannot be reached).
absl::Status FromGrpc(const grpc::Status& status, const std::string& address);

struct TopicMetadata {
  // The leader's node id, by partition.
  std::vector<int32_t> leaders;
};

class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(const ClientOptions& options);

  // A context with the request deadline.
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  int request_timeout_ms() const { return options_.request_timeout_ms; }

  // The data-plane stub of a broker and its address; for a node not known (-1: any), the
  // broker whose Metadata answer came last (it was reachable then), else a bootstrap broker.
  v1::Rill::Stub* RillStub(int32_t node, std::string* address);
  v1::Admin::Stub* AdminStub(std::string* address);
  // The admin stub of broker `node` (as the metadata names it; a bootstrap broker when unknown).
  v1::Admin::Stub* AdminStubOf(int32_t node, std::string* address);
  // The stub of the broker believed to coordinate `group_id` (the one a NOT_COORDINATOR answer
  // named, else the first broker known). Empty group: any broker.
  v1::Groups::Stub* GroupsStub(const std::string& group_id, std::string* address);
  // The groups stub of the broker at `address`.
  v1::Groups::Stub* GroupsStubAt(const std::string& address);
  // Takes note of the coordinator a NOT_COORDINATOR answer names; whether it named one (a
  // retry goes there).
  bool NoteCoordinator(const std::string& group_id, const absl::Status& error);

  // The topic's metadata from the cache, or fetched when absent or when `refresh`.
  absl::StatusOr<TopicMetadata> Topic(const std::string& topic, bool refresh);
  // ListOffsets for `partitions` (spec: -1 latest, -2 earliest, else a timestamp in ms); an
  // offset is -1 where no record is that new. The first partition error fails the call.
  absl::StatusOr<std::map<TopicPartition, int64_t>> ListOffsets(
      const std::vector<TopicPartition>& partitions, int64_t spec);

  // A fresh Metadata response (topics empty: all), from the first bootstrap broker that answers.
  absl::StatusOr<v1::MetadataResponse> FetchMetadata(const std::vector<std::string>& topics);

 private:
  explicit Cluster(const ClientOptions& options, std::vector<std::string> bootstrap);
  std::shared_ptr<grpc::Channel> Channel(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A broker to ask when any will do: the one whose Metadata answer came last, else a known or
  // bootstrap broker.
  std::string AnyAddressLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClientOptions options_;
  const std::vector<std::string> bootstrap_;
  absl::Mutex mu_;
  // The address whose Metadata answer came last.
  std::string last_answered_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::Rill::Stub>> rill_stubs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::Admin::Stub>> admin_stubs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<v1::Groups::Stub>> group_stubs_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, std::string> brokers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, TopicMetadata> topics_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int32_t> coordinators_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rill::client
