#include "net/host_port.h"

#include <charconv>
#include <string_view>

#include "fmt/format.h"

namespace rill::net {

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

}  // namespace rill::net
