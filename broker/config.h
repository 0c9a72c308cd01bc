// Broker configuration. Every setting has one name and can be set, in increasing precedence,
// in the TOML config file (`log.retention.ms = 86400000`, or under a [log] table), by an
// environment variable (RILL_LOG_RETENTION_MS) or by a flag (--log-retention-ms). `--help`
// prints them all with their defaults (also in docs/operations.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/log_config.h"

namespace rill::broker {

struct BrokerConfig {
  int32_t node_id = 1;
  // The cluster this broker belongs to; empty: the one its data directory was formatted for
  // (a new id when it is formatted now).
  std::string cluster_id;
  std::string listen = "127.0.0.1:9290";
  std::string admin_listen = "127.0.0.1:9291";
  // What clients are told to connect to; empty: the gRPC listen address as bound.
  std::string advertise;
  // Named client listeners, "NAME://HOST:PORT,..." (internal://0.0.0.0:9290,
  // external://0.0.0.0:19290); empty: one listener named "client" on `listen`.
  std::string listeners;
  // What each listener's clients are told, "NAME://HOST:PORT,..."; a listener not named here
  // advertises its bound address.
  std::string advertised_listeners;
  // Kafka wire-protocol listeners (docs/kafka.md), "NAME://HOST:PORT,..."; empty: none. Their
  // names are distinct from the gRPC listeners'.
  std::string kafka_listeners = "kafka://127.0.0.1:9092";
  // What each Kafka listener's clients are told, "NAME://HOST:PORT,..."; a listener not named
  // here advertises its bound address.
  std::string kafka_advertised_listeners;
  // Largest Kafka request a connection may send before its first ApiVersions.
  int64_t kafka_max_initial_request_bytes = 64 << 10;
  // Kafka requests one connection may have under way (pipelined) before the broker stops
  // reading from it.
  int32_t kafka_max_inflight_requests_per_connection = 100;
  std::string data_dir = "rill-data";
  // Broker-to-broker traffic; port 0 picks a free one (enough for a one-broker cluster).
  std::string inter_broker_listen = "127.0.0.1:0";
  // What other brokers are told; empty: the inter-broker address as bound.
  std::string inter_broker_advertise;
  // "ID@HOST:PORT,..."; empty: this broker is the only voter.
  std::string controller_voters;
  int64_t broker_heartbeat_interval_ms = 2000;
  int64_t broker_session_timeout_ms = 9000;
  int64_t metadata_snapshot_interval_records = 1000;
  std::string log_level = "info";
  bool auto_create_topics = false;
  int32_t default_partitions = 1;
  int32_t default_replication_factor = 1;
  int32_t max_partitions_per_topic = 10000;
  // Largest gRPC request accepted (a produce request with all its batches).
  int64_t max_request_bytes = 64 << 20;
  // Connections to the gRPC port: in total, per client address, idle time, streams each.
  int32_t max_connections = 1000;
  int32_t max_connections_per_ip = 500;
  int64_t connections_max_idle_ms = 600000;
  int32_t max_concurrent_streams = 100;
  // Memory of all connections' transport buffers (a gRPC resource quota).
  int64_t max_connection_memory_bytes = int64_t{512} << 20;
  // Most entries in the repeated fields of one request, counted through every level.
  int64_t max_request_entries = 10000;
  // Most bytes of request messages held by calls under way, across the broker.
  int64_t max_inflight_request_bytes = int64_t{256} << 20;
  // Cap on a fetch response, whatever the consumer asks.
  int64_t max_fetch_bytes = 50 << 20;
  // Most bytes of records that fetches hold at once, across the broker.
  int64_t max_fetch_inflight_bytes = int64_t{256} << 20;
  // Cap on how long a fetch may long-poll.
  int64_t max_fetch_wait_ms = 30000;
  int64_t retention_check_interval_ms = 300000;
  // Preferred-leader balancing (docs/replication.md): how often each broker hands partitions
  // it leads back to their preferred replicas, and at most how many at a time (0: never).
  int64_t leader_balance_interval_ms = 5000;
  int32_t leader_balance_transfers_max = 4;
  // Moving replicas (docs/replication.md, "Moving replicas"): how fast a move copies a
  // partition's existing data to a new replica when the request names no throttle (0: as
  // fast as it goes), and how many moves draining brokers keep in progress at once.
  int64_t move_throttle_bytes_per_second = int64_t{100} << 20;
  int32_t drain_moves_max = 8;
  // Idempotent producers (docs/idempotence.md): how long an idle producer's state is kept, and
  // how many producers each partition remembers.
  int64_t producer_id_expiration_ms = 86400000;
  int64_t producers_per_partition_max = 10000;
  // Consumer groups (docs/groups.md). The offsets topic's partition count places every group
  // and cannot change once the topic exists.
  int32_t offsets_topic_partitions = 16;
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  int32_t group_session_timeout_ms = 45000;
  int32_t group_heartbeat_interval_ms = 5000;
  int32_t group_max_size = 1000;
  // Kafka's classic groups (JoinGroup through the Kafka listener): Kafka's names and defaults.
  int32_t group_initial_rebalance_delay_ms = 3000;
  int32_t group_min_session_timeout_ms = 6000;
  int32_t group_max_session_timeout_ms = 1800000;
  std::string group_assignor = "uniform";
  // Defaults for topics (each topic may override with its own configs).
  storage::LogConfig log;
};

// A client listener: its name, where it binds, and what its clients are told (empty: the bound
// address).
struct ClientListener {
  std::string name;
  std::string listen;
  std::string advertise;
};

// The client listeners the config describes: `listeners` with `advertised.listeners`, or the
// single "client" listener of `listen` and `advertise`. InvalidArgument names the problem.
absl::StatusOr<std::vector<ClientListener>> ClientListeners(const BrokerConfig& config);

// The Kafka listeners the config describes (`kafka.listeners` with
// `kafka.advertised.listeners`). InvalidArgument names the problem.
absl::StatusOr<std::vector<ClientListener>> KafkaListeners(const BrokerConfig& config);

// Whether `host` means every interface (0.0.0.0, ::, or empty): an address to listen on but not
// one a client can be told to connect to. A listener bound there advertises the machine's host
// name unless told otherwise, as Kafka does.
bool IsWildcardHost(const std::string& host);

struct ConfigLoad {
  BrokerConfig config;
  // --help or --version: print help_text and exit 0.
  bool help = false;
  std::string help_text;
};

// Reads the config file named by --config (if any), then the environment, then the flags.
// InvalidArgument names the offending setting.
absl::StatusOr<ConfigLoad> LoadBrokerConfig(const std::vector<std::string>& args);

}  // namespace rill::broker
