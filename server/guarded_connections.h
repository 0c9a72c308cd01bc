// GuardedConnections: the gRPC port's admitted connections, each passed to the gRPC server
// through an Http2RequestGuard.
//
// The gRPC server is handed one end of a socketpair; each connection moves bytes between the
// client's TCP socket and the other end, on a strand per connection, through a pipe per direction:
// runs of 16 KiB or more that the guard need not see are spliced through it (never copied into the
// broker), the rest read (16 KiB at a time) and written into it. A direction reads only once its
// pipe is empty, so a connection holds at most one pipe load per direction, and an idle one holds
// no pipe at all (pipes of 256 KiB, on a free list of at most 64). A connection ends when either
// side closes it or breaks HTTP/2: its sockets are closed and gRPC sees its end close.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "asio.hpp"
#include "server/http2_request_guard.h"

namespace rill::server {

class GuardedConnections {
 public:
  // `on_refused` runs (on an io thread) for each request refused as too large.
  GuardedConnections(asio::io_context& io, Http2GuardLimits limits,
                     std::function<void()> on_refused);
  ~GuardedConnections();

  // Starts guarding `client`; returns the descriptor gRPC is to serve (the caller hands it over
  // and never closes it).
  absl::StatusOr<int> Adopt(asio::ip::tcp::socket client);

  // The client socket's descriptor behind the descriptor gRPC serves, or -1 when that
  // connection has ended.
  int ClientFd(int server_fd) const;

  // Ends every connection (at shutdown).
  void CloseAll();

  class Connection;
  // What connections share with their owner; a connection's pending handlers keep it alive.
  struct Shared;

 private:
  asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace rill::server
