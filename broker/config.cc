#include "broker/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>
#include <sstream>

#include "base/check.h"
#include "base/fmt_absl.h"
#include "base/logging.h"
#include "cpptoml.h"
#include "format/record_batch.h"
#include "rill/version.h"
#include "net/host_port.h"

namespace rill::broker {
namespace {

struct Option {
  const char* key;  // TOML key; the flag and environment names derive from it
  const char* help;
  std::function<absl::Status(BrokerConfig*, const std::string&)> set;
  std::function<std::string(const BrokerConfig&)> get;
  // What --help says an empty default means.
  const char* empty_default = "none";
};

std::string FlagName(const std::string& key) {
  std::string flag = "--";
  for (char c : key) flag.push_back(c == '.' ? '-' : c);
  return flag;
}

std::string EnvName(const std::string& key) {
  std::string env = "RILL_";
  for (char c : key) env.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return env;
}

// The range a numeric setting accepts; it always lies within the setting's C++ type.
struct Range {
  int64_t min;
  int64_t max;
};

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;
constexpr int64_t kGiB = int64_t{1} << 30;

template <typename T>
absl::Status ParseInteger(const std::string& key, const std::string& text, Range range, T* out) {
  RILL_CHECK(range.min >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
             static_cast<uint64_t>(range.max) <=
                 static_cast<uint64_t>(std::numeric_limits<T>::max()));
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && end == text.data() + text.size() &&
       (value < range.min || value > range.max))) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} is outside [{}, {}]", key, text, range.min, range.max));
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is not an integer", key, text));
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

template <typename T>
Option Integer(const char* key, const char* help, T BrokerConfig::*field, Range range) {
  return Option{key, help,
                [key, field, range](BrokerConfig* c, const std::string& v) {
                  return ParseInteger(key, v, range, &(c->*field));
                },
                [field](const BrokerConfig& c) { return std::to_string(c.*field); }};
}

template <typename T>
Option LogInteger(const char* key, const char* help, T storage::LogConfig::*field, Range range) {
  return Option{key, help,
                [key, field, range](BrokerConfig* c, const std::string& v) {
                  return ParseInteger(key, v, range, &(c->log.*field));
                },
                [field](const BrokerConfig& c) { return std::to_string(c.log.*field); }};
}

Option String(const char* key, const char* help, std::string BrokerConfig::*field,
              const char* empty_default = "none") {
  return Option{key, help,
                [field](BrokerConfig* c, const std::string& v) {
                  c->*field = v;
                  return absl::OkStatus();
                },
                [field](const BrokerConfig& c) { return c.*field; }, empty_default};
}

Option LogLevel(const char* key, std::string BrokerConfig::*field) {
  return Option{key, "debug, info, warn or error",
                [key, field](BrokerConfig* c, const std::string& v) -> absl::Status {
                  logging::Level level;
                  if (!logging::ParseLevel(v, &level)) {
                    return absl::InvalidArgumentError(
                        fmt::format("{}: '{}' is not debug, info, warn or error", key, v));
                  }
                  c->*field = v;
                  return absl::OkStatus();
                },
                [field](const BrokerConfig& c) { return c.*field; }};
}

Option Bool(const char* key, const char* help, bool BrokerConfig::*field) {
  return Option{
      key, help,
      [key, field](BrokerConfig* c, const std::string& v) -> absl::Status {
        if (v == "true" || v == "1") {
          c->*field = true;
        } else if (v == "false" || v == "0") {
          c->*field = false;
        } else {
          return absl::InvalidArgumentError(fmt::format("{}: '{}' is not true or false", key, v));
        }
        return absl::OkStatus();
      },
      [field](const BrokerConfig& c) { return std::string(c.*field ? "true" : "false"); }};
}

const std::vector<Option>& Options() {
  static const auto* options = new std::vector<Option>{
      Integer("node.id", "this broker's id", &BrokerConfig::node_id, {1, kInt32Max}),
      String("cluster.id",
             "the cluster this broker belongs to; its data directory must agree (checked at start)",
             &BrokerConfig::cluster_id, "the data directory's, or a new one"),
      String("listen", "gRPC listen address HOST:PORT (port 0 picks a free one)",
             &BrokerConfig::listen),
      String("admin.listen", "HTTP address for /metrics, /healthz, /readyz (port 0: any free)",
             &BrokerConfig::admin_listen),
      String("advertise", "address clients are told to use", &BrokerConfig::advertise,
             "the bound gRPC address (the host name for 0.0.0.0 or ::)"),
      String("listeners",
             "named client listeners NAME://HOST:PORT,... (replace listen); Metadata answers "
             "with the addresses of the listener a request came in on",
             &BrokerConfig::listeners, "one listener named client on listen"),
      String("advertised.listeners",
             "what each listener's clients are told, NAME://HOST:PORT,...",
             &BrokerConfig::advertised_listeners,
             "each listener's bound address (the host name for 0.0.0.0 or ::)"),
      String("kafka.listeners",
             "Kafka wire-protocol listeners NAME://HOST:PORT,... (empty: none); names distinct "
             "from the gRPC listeners'",
             &BrokerConfig::kafka_listeners),
      String("kafka.advertised.listeners",
             "what each Kafka listener's clients are told, NAME://HOST:PORT,...",
             &BrokerConfig::kafka_advertised_listeners,
             "each listener's bound address (the host name for 0.0.0.0 or ::)"),
      Integer("kafka.max.initial.request.bytes",
              "largest Kafka request before a connection's first ApiVersions",
              &BrokerConfig::kafka_max_initial_request_bytes, {1024, int64_t{1} << 30}),
      Integer("kafka.max.inflight.requests.per.connection",
              "Kafka requests one connection may have under way before the broker stops reading "
              "from it",
              &BrokerConfig::kafka_max_inflight_requests_per_connection, {1, 10000}),
      String("data.dir", "where partition logs and metadata live", &BrokerConfig::data_dir),
      String("inter.broker.listen",
             "listen address HOST:PORT for broker-to-broker traffic (Raft, the controller)",
             &BrokerConfig::inter_broker_listen),
      String("inter.broker.advertise", "address other brokers are told to use",
             &BrokerConfig::inter_broker_advertise,
             "the bound inter-broker address (the host name for 0.0.0.0 or ::)"),
      String("controller.voters",
             "the controller voters, ID@HOST:PORT,... (their inter-broker addresses); the same "
             "list on every broker",
             &BrokerConfig::controller_voters, "this broker alone"),
      Integer("broker.heartbeat.interval.ms", "how often a broker heartbeats to the controller",
              &BrokerConfig::broker_heartbeat_interval_ms, {100, 60000}),
      Integer("broker.session.timeout.ms",
              "a broker that has not heartbeated for this long is fenced",
              &BrokerConfig::broker_session_timeout_ms, {500, 600000}),
      Integer("metadata.snapshot.interval.records",
              "metadata records between snapshots of the metadata image",
              &BrokerConfig::metadata_snapshot_interval_records, {1, 100000000}),
      LogLevel("log.level", &BrokerConfig::log_level),
      Bool("auto.create.topics.enable", "create unknown topics on produce and metadata",
           &BrokerConfig::auto_create_topics),
      Integer("num.partitions", "partitions of a new topic when not given",
              &BrokerConfig::default_partitions, {1, 100000}),
      Integer("default.replication.factor", "replication factor when not given",
              &BrokerConfig::default_replication_factor, {1, 16}),
      Integer("max.partitions.per.topic", "upper bound on a topic's partitions",
              &BrokerConfig::max_partitions_per_topic, {1, 100000}),
      Integer("max.request.bytes", "largest request accepted", &BrokerConfig::max_request_bytes,
              {1024, kGiB}),
      Integer("max.connections", "most client connections to the gRPC port",
              &BrokerConfig::max_connections, {1, 1000000}),
      Integer("max.connections.per.ip", "most connections from one client address",
              &BrokerConfig::max_connections_per_ip, {1, 1000000}),
      Integer("connections.max.idle.ms", "a connection with no call this long is closed",
              &BrokerConfig::connections_max_idle_ms, {1000, kDayMs}),
      Integer("max.concurrent.streams", "most calls under way on one connection",
              &BrokerConfig::max_concurrent_streams, {1, 100000}),
      Integer("max.connection.memory.bytes",
              "memory of all connections' buffers; past it the fullest connections are closed",
              &BrokerConfig::max_connection_memory_bytes, {int64_t{16} << 20, 64 * kGiB}),
      Integer("max.request.entries",
              "most entries in one request's lists (partitions, topics, records elements)",
              &BrokerConfig::max_request_entries, {1, 1000000}),
      Integer("max.requests.inflight.bytes",
              "most bytes of requests being handled at once, across the broker",
              &BrokerConfig::max_inflight_request_bytes, {int64_t{1} << 20, 64 * kGiB}),
      Integer("fetch.max.bytes", "cap on a fetch response", &BrokerConfig::max_fetch_bytes,
              {1024, kGiB}),
      Integer("max.fetches.inflight.bytes",
              "most bytes of records all fetches under way hold at once",
              &BrokerConfig::max_fetch_inflight_bytes, {int64_t{1} << 20, 64 * kGiB}),
      Integer("fetch.max.wait.ms", "cap on a fetch's long-poll", &BrokerConfig::max_fetch_wait_ms,
              {0, 300000}),
      Integer("log.retention.check.interval.ms", "how often retention runs",
              &BrokerConfig::retention_check_interval_ms, {0, kDayMs}),
      Integer("leader.balance.interval.ms",
              "how often a broker hands partitions it leads back to their preferred replicas",
              &BrokerConfig::leader_balance_interval_ms, {100, kDayMs}),
      Integer("leader.balance.transfers.max",
              "most leadership transfers a broker starts per balancing round (0: no balancing)",
              &BrokerConfig::leader_balance_transfers_max, {0, 10000}),
      Integer("partition.move.throttle.bytes.per.second",
              "how fast a replica move copies existing data when it names no throttle (0: "
              "unthrottled); the controller's setting applies",
              &BrokerConfig::move_throttle_bytes_per_second, {0, 64 * kGiB}),
      Integer("partition.move.drain.max",
              "most partition moves in progress at once while brokers are decommissioned",
              &BrokerConfig::drain_moves_max, {1, 10000}),
      Integer("producer.id.expiration.ms",
              "an idempotent producer idle this long is forgotten; at least 10 minutes, so it "
              "outlasts any delivery timeout a retry can run under",
              &BrokerConfig::producer_id_expiration_ms, {600000, 365 * kDayMs}),
      Integer("producer.state.max.producers",
              "idempotent producers remembered per partition; beyond it the least recently "
              "written is forgotten",
              &BrokerConfig::producers_per_partition_max, {100, 1000000}),
      Integer("offsets.topic.num.partitions",
              "partitions of __consumer_offsets (fixed once created)",
              &BrokerConfig::offsets_topic_partitions, {1, 1000}),
      Integer("offsets.retention.ms",
              "empty groups whose offsets are older are deleted (-1: never)",
              &BrokerConfig::offsets_retention_ms, {-1, 3650 * kDayMs}),
      Integer("group.consumer.session.timeout.ms", "a member silent this long is removed",
              &BrokerConfig::group_session_timeout_ms, {20, 3600000}),
      Integer("group.consumer.heartbeat.interval.ms", "how often members heartbeat",
              &BrokerConfig::group_heartbeat_interval_ms, {10, 1800000}),
      Integer("group.consumer.max.size", "most members in one group", &BrokerConfig::group_max_size,
              {1, 100000}),
      String("group.consumer.assignor", "assignor of new groups: uniform or range",
             &BrokerConfig::group_assignor),
      Integer("group.initial.rebalance.delay.ms",
              "a new classic group (Kafka clients) waits this long for more members before its "
              "first generation",
              &BrokerConfig::group_initial_rebalance_delay_ms, {0, 300000}),
      Integer("group.min.session.timeout.ms", "shortest session a classic group member may ask for",
              &BrokerConfig::group_min_session_timeout_ms, {1, 3600000}),
      Integer("group.max.session.timeout.ms", "longest session a classic group member may ask for",
              &BrokerConfig::group_max_session_timeout_ms, {1, 3600000}),
      LogInteger("log.segment.bytes", "default segment.bytes", &storage::LogConfig::segment_bytes,
                 {static_cast<int64_t>(storage::kMinSegmentBytes),
                  static_cast<int64_t>(storage::kMaxSegmentBytes)}),
      LogInteger("log.segment.ms", "default segment.ms", &storage::LogConfig::segment_ms,
                 {1, kInt64Max}),
      LogInteger("log.retention.bytes", "default retention.bytes (-1: unlimited)",
                 &storage::LogConfig::retention_bytes, {-1, kInt64Max}),
      LogInteger("log.retention.ms", "default retention.ms (-1: unlimited)",
                 &storage::LogConfig::retention_ms, {-1, kInt64Max}),
      LogInteger("log.index.interval.bytes", "default index.interval.bytes",
                 &storage::LogConfig::index_interval_bytes, {1, kInt32Max}),
      LogInteger("message.max.bytes", "default max.message.bytes (largest batch)",
                 &storage::LogConfig::max_batch_bytes,
                 {static_cast<int64_t>(format::kBatchHeaderBytes),
                  static_cast<int64_t>(storage::kMaxBatchBytesLimit)}),
      LogInteger("message.max.uncompressed.bytes",
                 "most bytes a compressed batch's records may decompress to",
                 &storage::LogConfig::max_uncompressed_batch_bytes,
                 {1024, static_cast<int64_t>(format::kMaxUncompressedBatchBytes)}),
      LogInteger("log.message.timestamp.before.max.ms",
                 "default message.timestamp.before.max.ms (-1: unlimited)",
                 &storage::LogConfig::message_timestamp_before_max_ms, {-1, kInt64Max}),
      LogInteger("log.message.timestamp.after.max.ms",
                 "default message.timestamp.after.max.ms (-1: unlimited)",
                 &storage::LogConfig::message_timestamp_after_max_ms, {-1, kInt64Max}),
      LogInteger("log.flush.interval.ms", "default flush.ms (0: acknowledge only when durable)",
                 &storage::LogConfig::flush_interval_ms, {0, kDayMs}),
  };
  return *options;
}

const Option* FindOption(std::string_view key) {
  for (const auto& option : Options()) {
    if (key == option.key) return &option;
  }
  return nullptr;
}

// The TOML value at `key` as text, if present.
std::optional<std::string> TomlValue(const cpptoml::table& table, const std::string& key) {
  if (!table.contains_qualified(key)) return std::nullopt;
  if (auto v = table.get_qualified_as<std::string>(key)) return *v;
  if (auto v = table.get_qualified_as<int64_t>(key)) return std::to_string(*v);
  if (auto v = table.get_qualified_as<bool>(key)) return std::string(*v ? "true" : "false");
  return std::string("\x01");  // present, but neither string, integer nor boolean
}

std::string HelpText() {
  BrokerConfig defaults;
  std::ostringstream out;
  out << "usage: rill-broker [--config FILE] [--FLAG VALUE]...\n"
         "With no arguments: a single-node cluster on 127.0.0.1:9290 with data in ./rill-data.\n"
         "Every setting can also be set in the TOML config file (by its key) or in the\n"
         "environment (RILL_ + key in capitals, dots as underscores). Flags win, then the\n"
         "environment, then the file.\n\n"
         "  --config FILE                         TOML config file\n";
  for (const auto& option : Options()) {
    out << fmt::format("  {:<37} {} (default: {})\n", FlagName(option.key) + " VALUE", option.help,
                       option.get(defaults).empty() ? option.empty_default : option.get(defaults));
  }
  return out.str();
}

// "NAME://HOST:PORT,..." as (name, HOST:PORT) pairs, in order.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseNamedAddresses(
    const std::string& key, const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t sep = item.find("://");
    const std::string name = sep == std::string::npos ? "" : item.substr(0, sep);
    const std::string address = sep == std::string::npos ? "" : item.substr(sep + 3);
    const size_t colon = address.rfind(':');
    const bool name_ok =
        !name.empty() && name.size() <= 32 &&
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
    if (!name_ok || colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: '{}' is not NAME://HOST:PORT (NAME: a-z, 0-9, _ and -, at most 32)", key, item));
    }
    if (name == "broker") {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the name 'broker' is the inter-broker listener's (inter.broker.listen)", key));
    }
    for (const auto& [seen, unused] : out) {
      if (seen == name) {
        return absl::InvalidArgumentError(fmt::format("{}: '{}' is named twice", key, name));
      }
    }
    out.emplace_back(name, address);
  }
  return out;
}

// An advertised address must be one a client can connect to.
absl::Status CheckAdvertisable(const std::string& key, const std::string& address) {
  std::string host;
  int port = 0;
  if (auto s = net::SplitHostPort(address, &host, &port); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", key, s.message()));
  }
  if (IsWildcardHost(host) || port == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: '{}' is not an address a client can connect to (name this machine's host or IP "
        "and a port)",
        key, address));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

namespace {

// The listeners `key` names, each with what `advertised_key` says it advertises.
absl::StatusOr<std::vector<ClientListener>> NamedListeners(const std::string& key,
                                                           const std::string& text,
                                                           const std::string& advertised_key,
                                                           const std::string& advertised_text) {
  auto listeners = ParseNamedAddresses(key, text);
  if (!listeners.ok()) return listeners.status();
  auto advertised = ParseNamedAddresses(advertised_key, advertised_text);
  if (!advertised.ok()) return advertised.status();
  std::vector<ClientListener> out;
  for (const auto& [name, address] : *listeners) out.push_back({name, address, ""});
  for (const auto& [name, address] : *advertised) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&name](const ClientListener& l) { return l.name == name; });
    if (it == out.end()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: '{}' is not one of the {}", advertised_key, name, key));
    }
    it->advertise = address;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ClientListener>> ClientListeners(const BrokerConfig& config) {
  if (config.listeners.empty()) {
    if (!config.advertised_listeners.empty()) {
      return absl::InvalidArgumentError("advertised.listeners needs listeners");
    }
    return std::vector<ClientListener>{{"client", config.listen, config.advertise}};
  }
  auto listeners = NamedListeners("listeners", config.listeners, "advertised.listeners",
                                  config.advertised_listeners);
  if (listeners.ok() && listeners->empty()) {
    return absl::InvalidArgumentError("listeners: none given");
  }
  return listeners;
}

absl::StatusOr<std::vector<ClientListener>> KafkaListeners(const BrokerConfig& config) {
  return NamedListeners("kafka.listeners", config.kafka_listeners, "kafka.advertised.listeners",
                        config.kafka_advertised_listeners);
}

absl::StatusOr<ConfigLoad> LoadBrokerConfig(const std::vector<std::string>& args) {
  ConfigLoad load;
  std::string config_file;
  std::vector<std::pair<const Option*, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      load.help = true;
      load.help_text = HelpText();
      return load;
    }
    if (arg == "--version") {
      load.help = true;
      load.help_text = fmt::format("rill-broker {}\n", RILL_VERSION_STRING);
      return load;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(fmt::format("{} needs a value (see --help)", name));
      }
      value = args[++i];
    }
    if (name == "--config") {
      config_file = *value;
      continue;
    }
    const Option* option = nullptr;
    for (const auto& candidate : Options()) {
      if (FlagName(candidate.key) == name) option = &candidate;
    }
    if (option == nullptr) {
      return absl::InvalidArgumentError(fmt::format("unknown option {} (see --help)", name));
    }
    flags.emplace_back(option, *value);
  }

  if (!config_file.empty()) {
    std::shared_ptr<cpptoml::table> table;
    try {
      table = cpptoml::parse_file(config_file);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(fmt::format("config file {}: {}", config_file, e.what()));
    }
    for (const auto& option : Options()) {
      auto value = TomlValue(*table, option.key);
      if (!value) continue;
      if (*value == "\x01") {
        return absl::InvalidArgumentError(fmt::format(
            "config file {}: {} must be a string, integer or boolean", config_file, option.key));
      }
      if (auto s = option.set(&load.config, *value); !s.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("config file {}: {}", config_file, s.message()));
      }
    }
    // A misspelt key would otherwise be silently ignored.
    std::function<absl::Status(const cpptoml::table&, const std::string&)> check_keys =
        [&](const cpptoml::table& t, const std::string& prefix) -> absl::Status {
      for (const auto& [key, value] : t) {
        std::string full = prefix.empty() ? key : prefix + "." + key;
        if (value->is_table()) {
          if (auto s = check_keys(*value->as_table(), full); !s.ok()) return s;
        } else if (FindOption(full) == nullptr) {
          return absl::InvalidArgumentError(
              fmt::format("config file {}: unknown setting '{}'", config_file, full));
        }
      }
      return absl::OkStatus();
    };
    if (auto s = check_keys(*table, ""); !s.ok()) return s;
  }
  for (const auto& option : Options()) {
    if (const char* env = std::getenv(EnvName(option.key).c_str())) {
      if (auto s = option.set(&load.config, env); !s.ok()) {
        return absl::InvalidArgumentError(fmt::format("{}: {}", EnvName(option.key), s.message()));
      }
    }
  }
  for (const auto& [option, value] : flags) {
    if (auto s = option->set(&load.config, value); !s.ok()) return s;
  }

  const BrokerConfig& c = load.config;
  if (auto s = c.log.Validate(); !s.ok()) return s;
  if (c.default_partitions < 1 || c.default_partitions > c.max_partitions_per_topic) {
    return absl::InvalidArgumentError("num.partitions must be 1 to max.partitions.per.topic");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("data.dir must not be empty");
  auto listeners = ClientListeners(c);
  if (!listeners.ok()) return listeners.status();
  for (const ClientListener& listener : *listeners) {
    if (listener.advertise.empty()) continue;
    const std::string key = c.listeners.empty() ? "advertise" : "advertised.listeners";
    if (auto s = CheckAdvertisable(key, listener.advertise); !s.ok()) return s;
  }
  auto kafka_listeners = KafkaListeners(c);
  if (!kafka_listeners.ok()) return kafka_listeners.status();
  for (const ClientListener& listener : *kafka_listeners) {
    for (const ClientListener& grpc : *listeners) {
      if (grpc.name == listener.name) {
        return absl::InvalidArgumentError(fmt::format(
            "kafka.listeners: '{}' is also the name of a gRPC listener", listener.name));
      }
    }
    if (listener.advertise.empty()) continue;
    if (auto s = CheckAdvertisable("kafka.advertised.listeners", listener.advertise); !s.ok()) {
      return s;
    }
  }
  if (c.kafka_max_initial_request_bytes > c.max_request_bytes) {
    return absl::InvalidArgumentError(
        "kafka.max.initial.request.bytes must not be over max.request.bytes");
  }
  if (!c.inter_broker_advertise.empty()) {
    if (auto s = CheckAdvertisable("inter.broker.advertise", c.inter_broker_advertise); !s.ok()) {
      return s;
    }
  }
  if (c.broker_heartbeat_interval_ms >= c.broker_session_timeout_ms) {
    return absl::InvalidArgumentError(
        "broker.heartbeat.interval.ms must be less than broker.session.timeout.ms");
  }
  if (c.group_session_timeout_ms < 2 * c.group_heartbeat_interval_ms) {
    return absl::InvalidArgumentError(
        "group.consumer.session.timeout.ms must be at least twice the heartbeat interval");
  }
  if (c.group_min_session_timeout_ms > c.group_max_session_timeout_ms) {
    return absl::InvalidArgumentError(
        "group.min.session.timeout.ms must not exceed group.max.session.timeout.ms");
  }
  if (c.group_assignor != "uniform" && c.group_assignor != "range") {
    return absl::InvalidArgumentError(fmt::format(
        "group.consumer.assignor must be uniform or range, not '{}'", c.group_assignor));
  }
  return load;
}

}  // namespace rill::broker
