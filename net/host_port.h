// Addresses as the broker's settings write them.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace rill::net {

// Splits "HOST:PORT" (IPv6 as "[::1]:PORT"); InvalidArgument names what is wrong.
absl::Status SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace rill::net
