#include "server/http_server.h"

#include <charconv>

#include "base/fmt_absl.h"

namespace rill::server {
namespace {

constexpr size_t kMaxRequestHeadBytes = 8192;
// A client that has not sent its request and read the answer by then is cut off: an idle or
// trickling connection would otherwise hold its descriptor for ever.
constexpr auto kExchangeTimeout = std::chrono::seconds(10);
constexpr net::ConnectionLimits kAdminLimits{64, 16, 64};

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

HttpServer::HttpServer(asio::io_context& io, std::map<std::string, Handler> handlers)
    : io_(io),
      handlers_(std::move(handlers)),
      gate_(io, "admin", kAdminLimits, [this](asio::ip::tcp::socket socket) {
        Serve(std::make_shared<asio::ip::tcp::socket>(std::move(socket)));
      }) {}

void HttpServer::Stop() { gate_.Stop(); }

void HttpServer::Serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  // The deadline and the exchange run on one strand: the deadline may close the socket while a
  // read is pending, never while a handler of the same connection runs on the other io thread.
  auto strand = asio::make_strand(io_);
  auto deadline = std::make_shared<asio::steady_timer>(strand, kExchangeTimeout);
  deadline->async_wait(asio::bind_executor(strand, [socket](std::error_code ec) {
    if (ec) return;  // the exchange finished first
    std::error_code ignored;
    socket->close(ignored);
  }));
  auto buffer = std::make_shared<asio::streambuf>(kMaxRequestHeadBytes);
  asio::async_read_until(
      *socket, *buffer, "\r\n\r\n",
      asio::bind_executor(
          strand, [this, socket, buffer, deadline, strand](std::error_code ec, size_t) {
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
            auto text = std::make_shared<std::string>(fmt::format(
                "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: "
                "close\r\n\r\n{}",
                response.status, Reason(response.status), response.content_type,
                response.body.size(), response.body));
            asio::async_write(
                *socket, asio::buffer(*text),
                asio::bind_executor(strand, [socket, text, deadline](std::error_code, size_t) {
                  deadline->cancel();
                  std::error_code ignored;
                  socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                  socket->close(ignored);
                }));
          }));
}

}  // namespace rill::server
