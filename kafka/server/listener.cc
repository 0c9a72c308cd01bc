#include "kafka/server/listener.h"

#include <algorithm>

namespace rill::kafka {

KafkaListener::KafkaListener(std::string name, net::ConnectionLimits limits,
                             ConnectionSettings settings, KafkaContext* context,
                             base::ByteBudget* inflight)
    : name_(std::move(name)),
      settings_(settings),
      context_(context),
      inflight_(inflight),
      gate_(*context->io, "kafka-" + name_, limits,
            [this](asio::ip::tcp::socket socket) { Admit(std::move(socket)); }) {}

void KafkaListener::Admit(asio::ip::tcp::socket socket) {
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  auto connection =
      std::make_shared<Connection>(std::move(socket), name_, settings_, context_, inflight_);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      connection->Close();
      return;
    }
    connections_.erase(
        std::remove_if(connections_.begin(), connections_.end(),
                       [](const std::weak_ptr<Connection>& c) { return c.expired(); }),
        connections_.end());
    connections_.push_back(connection);
  }
  connection->Start();
}

void KafkaListener::Stop() {
  gate_.Stop();
  std::vector<std::weak_ptr<Connection>> connections;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    connections.swap(connections_);
  }
  for (const auto& weak : connections) {
    if (auto connection = weak.lock()) connection->Close();
  }
}

}  // namespace rill::kafka
