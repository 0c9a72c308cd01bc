// RpcDispatcher: the one entry of every rill.v1 call. It is a generic gRPC service that reads each
// call's request bytes itself, so that before any handler runs
//   - the request bytes held by calls under way are bounded across the broker
//     (max.requests.inflight.bytes; over it: UNAVAILABLE, which clients retry),
//   - a request that does not parse is answered INVALID_ARGUMENT (generated services answer
//     UNIMPLEMENTED, as if the method did not exist),
//   - a request with more entries in its repeated fields, counted through every level, than
//     max.request.entries is refused with RESOURCE_EXHAUSTED, so no request can multiply itself
//     into unbounded work and an unbounded reply.
// The method's handler then fills the typed response and calls `reply` exactly once, from any
// thread; the dispatcher serializes and sends it.
//
// Thread-safety: Add and CheckComplete before the server starts; the rest is gRPC's.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/byte_budget.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/async_generic_service.h"
#include "server/metrics.h"

namespace rill::server {

struct RpcLimits {
  int64_t max_request_entries = 10000;
  int64_t max_inflight_request_bytes = int64_t{256} << 20;
  // Calls one connection may cancel before sending their request, per second, before it is
  // taken for an HTTP/2 rapid-reset attack (CVE-2023-44487): ordinary clients send a unary
  // call's request with its headers, so they almost never do.
  int64_t max_premature_resets_per_second = 200;
};

// Sends a call's response. Called exactly once, from any thread, after the handler filled the
// response; `after_sent`, if given, runs once the call is over (the response written, or the
// call cancelled), for a handler that holds resources for as long as its response exists.
class Reply {
 public:
  explicit Reply(std::function<void(std::function<void()>)> send) : send_(std::move(send)) {}
  void operator()(std::function<void()> after_sent = nullptr) const {
    send_(std::move(after_sent));
  }

 private:
  std::function<void(std::function<void()>)> send_;
};

class RpcDispatcher final : public grpc::CallbackGenericService {
 public:
  using Reply = server::Reply;
  // `peer` is the caller as gRPC names it ("fd:N" for a connection the broker handed over).
  using Handler =
      std::function<void(const google::protobuf::Message& request,
                         google::protobuf::Message* response, Reply reply, const std::string& peer)>;

  // `on_abusive_peer` runs (on a gRPC thread) with the peer (as gRPC names it) of a
  // connection that passed max_premature_resets_per_second, once per second at most.
  RpcDispatcher(RpcLimits limits, BrokerMetrics* metrics,
                std::function<void(const std::string& peer)> on_abusive_peer)
      : limits_(limits),
        metrics_(metrics),
        on_abusive_peer_(std::move(on_abusive_peer)),
        inflight_(limits.max_inflight_request_bytes) {}

  // Routes /`service`/`method` (e.g. "rill.v1.Rill", "Produce") to `handler`. The request and
  // response types must be the ones the proto declares for the method.
  template <typename Request, typename Response>
  void Add(std::string_view service, std::string_view method,
           std::function<void(const Request&, Response*, Reply)> handler) {
    AddMethod(service, method, Request::default_instance(), Response::default_instance(),
              [handler = std::move(handler)](const google::protobuf::Message& request,
                                             google::protobuf::Message* response, Reply reply,
                                             const std::string&) {
                handler(static_cast<const Request&>(request), static_cast<Response*>(response),
                        std::move(reply));
              });
  }
  // The same for a handler that answers before it returns and needs to know the caller (the
  // listener a call came in on, say).
  template <typename Request, typename Response>
  void AddSyncWithPeer(std::string_view service, std::string_view method,
                       std::function<void(const Request&, Response*, const std::string&)> handler) {
    AddMethod(service, method, Request::default_instance(), Response::default_instance(),
              [handler = std::move(handler)](const google::protobuf::Message& request,
                                             google::protobuf::Message* response, Reply reply,
                                             const std::string& peer) {
                handler(static_cast<const Request&>(request), static_cast<Response*>(response),
                        peer);
                reply();
              });
  }
  // The same for a handler that answers before it returns.
  template <typename Request, typename Response>
  void AddSync(std::string_view service, std::string_view method,
               std::function<void(const Request&, Response*)> handler) {
    Add<Request, Response>(
        service, method,
        [handler = std::move(handler)](const Request& request, Response* response, Reply reply) {
          handler(request, response);
          reply();
        });
  }

  // Aborts unless every method the proto declares for `service` was added: a forgotten one
  // would answer UNIMPLEMENTED.
  void CheckComplete(std::string_view service) const;

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

  // Bytes of request messages held by calls under way.
  base::ByteBudget& inflight() { return inflight_; }
  // Calls started since the dispatcher was made.
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }

  const RpcLimits& limits() const { return limits_; }
  // A call of `peer` ended before its request arrived.
  void NotePrematureReset(const std::string& peer);
  BrokerMetrics* metrics() const { return metrics_; }

  struct Method {
    std::string name;  // "/rill.v1.Rill/Produce"
    const google::protobuf::Message* request_prototype;
    const google::protobuf::Message* response_prototype;
    Handler handler;
  };

 private:
  void AddMethod(std::string_view service, std::string_view method,
                 const google::protobuf::Message& request_prototype,
                 const google::protobuf::Message& response_prototype, Handler handler);

  const RpcLimits limits_;
  BrokerMetrics* const metrics_;
  const std::function<void(const std::string&)> on_abusive_peer_;
  struct ResetWindow {
    std::chrono::steady_clock::time_point start;
    int64_t count = 0;
  };
  absl::Mutex resets_mu_;
  absl::flat_hash_map<std::string, ResetWindow> resets_ ABSL_GUARDED_BY(resets_mu_);
  absl::flat_hash_map<std::string, Method> methods_;
  base::ByteBudget inflight_;
  std::atomic<uint64_t> calls_{0};
};

// Entries of every repeated field of a serialized `type` message read from `in`, at every level
// of nesting, counted in the wire format without building the message (a packed field counts
// one per byte, an upper bound). Stops once past `max`, so the walk is bounded by the limit, and
// returns max + 1 then. InvalidArgument for bytes that are not a well-formed message (as far as
// it read).
absl::StatusOr<int64_t> CountWireEntries(const google::protobuf::Descriptor* type,
                                         google::protobuf::io::ZeroCopyInputStream* in,
                                         int64_t max);

}  // namespace rill::server
