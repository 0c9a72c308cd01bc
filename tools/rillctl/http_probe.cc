#include "tools/rillctl/http_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "fmt/format.h"

namespace rill::ctl {

namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until `fd` is ready for `events`; false when the deadline passed first.
bool WaitReady(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

// A non-blocking socket connected to one of `address`'s resolved addresses, or -1.
int Connect(const std::string& host, const std::string& port, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int error = 0;
    socklen_t length = sizeof error;
    const bool connected =
        connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
        (errno == EINPROGRESS && WaitReady(fd, POLLOUT, deadline) &&
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0);
    if (!connected) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

}  // namespace

absl::StatusOr<HttpReply> HttpGet(const std::string& address, const std::string& path,
                                  int timeout_ms, size_t body_bytes_max) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not HOST:PORT", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = address.substr(colon + 1);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int fd = Connect(host, port, deadline);
  if (fd < 0) return absl::UnavailableError(fmt::format("cannot connect to {}", address));
  const std::string request =
      fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n", path, address);
  size_t sent = 0;
  while (sent < request.size() && WaitReady(fd, POLLOUT, deadline)) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  // The status line and headers are small; the body is capped.
  const size_t response_bytes_max = body_bytes_max + 16384;
  std::string response;
  bool closed = false;
  char buffer[16384];
  while (sent == request.size() && response.size() < response_bytes_max &&
         WaitReady(fd, POLLIN, deadline)) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      closed = true;
      break;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  // "HTTP/1.x NNN reason"
  if (header_end == std::string::npos || response.compare(0, 5, "HTTP/") != 0 ||
      response.size() < 12 || response[8] != ' ') {
    return absl::UnavailableError(fmt::format(
        "no HTTP answer from {}{}", address, closed || sent < request.size() ? "" : " in time"));
  }
  HttpReply reply;
  reply.status = std::atoi(response.substr(9, 3).c_str());
  reply.body = response.substr(header_end + 4, body_bytes_max);
  return reply;
}

}  // namespace rill::ctl
