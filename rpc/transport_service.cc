#include "rpc/transport_service.h"

#include <set>

#include "fmt/format.h"

namespace rill::rpc {

TransportService::TransportService(TransportServiceOptions options, MessageHandler* handler)
    : options_(std::move(options)), handler_(handler) {}

std::string TransportService::Check(const internal::v1::ExchangeRequest& request,
                                    std::vector<std::pair<GroupKey, raft::Message>>* out) const {
  if (request.version() != kTransportVersion) {
    return fmt::format("transport version {} (this broker speaks {})", request.version(),
                       kTransportVersion);
  }
  if (request.cluster_id() != options_.cluster_id) {
    return fmt::format("cluster id '{}' is not this cluster's '{}'", request.cluster_id(),
                       options_.cluster_id);
  }
  if (NodeId(request.to_node()) != options_.self) {
    return fmt::format("sent to node {}, but this is node {}", request.to_node(), options_.self);
  }
  const NodeId from(request.from_node());
  if (from <= kNoNode || from == options_.self || !options_.known_node ||
      !options_.known_node(from)) {
    return fmt::format("node {} is not a broker of this cluster", request.from_node());
  }
  const size_t count =
      static_cast<size_t>(request.messages_size()) + static_cast<size_t>(request.heartbeats_size());
  if (count > options_.messages_per_request_max) {
    return fmt::format("{} messages in one request, more than {}", count,
                       options_.messages_per_request_max);
  }
  out->reserve(count);
  for (const auto& m : request.messages()) {
    auto group = DecodeGroup(m.group());
    if (!group.ok()) return std::string(group.status().message());
    auto message = DecodeMessage(m, from, options_.self, options_.codec);
    if (!message.ok()) return std::string(message.status().message());
    out->emplace_back(*group, std::move(*message));
  }
  for (const auto& h : request.heartbeats()) {
    auto group = DecodeGroup(h.group());
    if (!group.ok()) return std::string(group.status().message());
    if (h.term() < 0 || h.commit() < 0) return "a heartbeat with a negative term or commit";
    out->emplace_back(*group, DecodeHeartbeat(h, from, options_.self));
  }
  return std::string();
}

grpc::ServerUnaryReactor* TransportService::Exchange(grpc::CallbackServerContext* context,
                                                     const internal::v1::ExchangeRequest* request,
                                                     internal::v1::ExchangeResponse* response) {
  std::vector<std::pair<GroupKey, raft::Message>> messages;
  std::string error = Check(*request, &messages);
  if (!error.empty()) {
    response->set_error(std::move(error));
  } else {
    std::set<GroupKey> unknown;
    for (auto& [group, message] : messages) {
      if (unknown.contains(group)) continue;
      if (!handler_->Deliver(group, std::move(message))) unknown.insert(group);
    }
    for (const GroupKey& group : unknown) EncodeGroup(group, response->add_unknown_groups());
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace rill::rpc
