// KafkaListener: one named Kafka listener of the broker (docs/kafka.md, "Listeners"). Its
// ConnectionGate admits connections (limits in total and per address, the descriptor budget);
// each admitted one becomes a Connection.
//
// Thread-safety: Bind, Start and Stop from one thread; Stats from any.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kafka/server/connection.h"
#include "net/connection_gate.h"

namespace rill::kafka {

class KafkaListener {
 public:
  // `context` and `inflight` outlive the listener.
  KafkaListener(std::string name, net::ConnectionLimits limits, ConnectionSettings settings,
                KafkaContext* context, base::ByteBudget* inflight);

  // Binds HOST:PORT (port 0: any free one); returns the bound port.
  absl::StatusOr<int> Bind(const std::string& address) { return gate_.Bind(address); }
  void Start() { gate_.Start(); }
  // Stops accepting and closes every connection.
  void Stop();

  const std::string& name() const { return name_; }
  net::ConnectionStats Stats() const { return gate_.Stats(); }

 private:
  void Admit(asio::ip::tcp::socket socket);

  const std::string name_;
  const ConnectionSettings settings_;
  KafkaContext* const context_;
  base::ByteBudget* const inflight_;
  absl::Mutex mu_;
  // Closed when the listener stops; expired ones are swept as new ones come.
  std::vector<std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  net::ConnectionGate gate_;
};

}  // namespace rill::kafka
