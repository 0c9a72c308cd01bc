#include "broker/http_server.h"

#include <charconv>

#include "base/fmt_absl.h"

namespace rill::broker {
namespace {

constexpr size_t kMaxRequestHeadBytes = 8192;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

absl::Status SplitHostPort(const std::string& address, std::string* host, int* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not HOST:PORT", address));
  }
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  std::string_view digits(address.data() + colon + 1, address.size() - colon - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *port);
  if (ec != std::errc() || end != digits.data() + digits.size() || *port < 0 || *port > 65535) {
    return absl::InvalidArgumentError(fmt::format("'{}' has no valid port", address));
  }
  return absl::OkStatus();
}

HttpServer::HttpServer(asio::io_context& io, std::map<std::string, Handler> handlers)
    : io_(io), acceptor_(io), handlers_(std::move(handlers)) {}

absl::StatusOr<int> HttpServer::Start(const std::string& address) {
  std::string host;
  int port = 0;
  if (auto s = SplitHostPort(address, &host, &port); !s.ok()) return s;
  std::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("'{}' is not an IP address", host));
  asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("cannot listen on {}: {}", address, ec.message()));
  }
  Accept();
  return static_cast<int>(acceptor_.local_endpoint().port());
}

void HttpServer::Stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

void HttpServer::Accept() {
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  acceptor_.async_accept(*socket, [this, socket](std::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) Serve(socket);
    Accept();
  });
}

void HttpServer::Serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  auto buffer = std::make_shared<asio::streambuf>(kMaxRequestHeadBytes);
  asio::async_read_until(
      *socket, *buffer, "\r\n\r\n", [this, socket, buffer](std::error_code ec, size_t) {
        HttpResponse response;
        if (ec) {
          response = {400, "text/plain", "bad request\n"};
        } else {
          std::istream in(buffer.get());
          std::string method, target;
          in >> method >> target;
          auto query = target.find('?');
          if (query != std::string::npos) target.resize(query);
          auto it = handlers_.find(target);
          if (method != "GET") {
            response = {405, "text/plain", "only GET is supported\n"};
          } else if (it == handlers_.end()) {
            response = {404, "text/plain", "not found\n"};
          } else {
            response = it->second();
          }
        }
        auto text = std::make_shared<std::string>(
            fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: "
                        "close\r\n\r\n{}",
                        response.status, Reason(response.status), response.content_type,
                        response.body.size(), response.body));
        asio::async_write(*socket, asio::buffer(*text), [socket, text](std::error_code, size_t) {
          std::error_code ignored;
          socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        });
      });
}

}  // namespace rill::broker
