// A plain HTTP/1.0 GET for the broker's admin endpoints (/readyz, /healthz, /metrics), so that
// `rillctl broker ready` can be a container's healthcheck in an image that has no curl.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace rill::ctl {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET `path` from `address` (HOST:PORT; the host a name or an IPv4/IPv6 literal, "[::1]:9291"),
// the whole exchange within `timeout_ms`. Reads at most `body_bytes_max` of the body.
// Unavailable when no connection or no well-formed answer came; InvalidArgument for a bad
// address.
absl::StatusOr<HttpReply> HttpGet(const std::string& address, const std::string& path,
                                  int timeout_ms, size_t body_bytes_max = 1 << 20);

}  // namespace rill::ctl
