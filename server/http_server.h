// A minimal HTTP/1.1 server for the broker's admin endpoints (/metrics, /healthz, /readyz):
// GET only, one request per connection, request head bounded at 8 KiB, and the whole exchange
// at 10 s; at most 64 connections, 16 per client address (a ConnectionGate). Runs on the
// caller's io_context.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asio.hpp"
#include "net/connection_gate.h"

namespace rill::server {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;

  HttpServer(asio::io_context& io, std::map<std::string, Handler> handlers);
  // Binds HOST:PORT (port 0: any free); returns the bound port. Start accepts.
  absl::StatusOr<int> Bind(const std::string& address) { return gate_.Bind(address); }
  void Start() { gate_.Start(); }
  void Stop();
  net::ConnectionStats Stats() const { return gate_.Stats(); }

 private:
  void Serve(std::shared_ptr<asio::ip::tcp::socket> socket);

  asio::io_context& io_;
  const std::map<std::string, Handler> handlers_;
  net::ConnectionGate gate_;
};

}  // namespace rill::server
