// ConnectionGate: the accept loop of one listening port, with admission.
//
// - Connections over the port's limits (in total, per client address) or past the process's
//   descriptor budget are accepted and closed at once: refused, counted, never queued.
// - Running out of descriptors never stops the loop: a spare descriptor is kept open and, when
//   accept fails with EMFILE/ENFILE, given up to accept (and close) the waiting connection, then
//   taken again; while that happens the gate reports that it cannot accept (readiness), logs it
//   (at most once a second) and counts it, and backs off instead of spinning.
// - Admitted connections are tracked until they close, by descriptor and socket inode, so a
//   connection whose socket was handed to another owner is still counted.
//
// Thread-safety: Start and Stop from one thread; the rest runs on the io_context; Stats from
// any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"

namespace rill::net {

struct ConnectionLimits {
  int max_connections = 1000;
  int max_connections_per_address = 500;
  // Connections are refused while fewer than this many descriptors stay free under the
  // process's open-files limit (for segments, the metadata store, other ports).
  int64_t files_headroom = 64;
  // A connection that sends nothing this long after it is accepted is closed before it is
  // handed over (0: hand over at once).
  int64_t first_bytes_timeout_ms = 0;
};

struct ConnectionStats {
  int64_t open = 0;
  int64_t refused_limit = 0;   // over max connections, in total or per address
  int64_t refused_files = 0;   // past the descriptor budget, or accept failed for lack of one
  int64_t refused_banned = 0;  // from an address banned for an attack
  int64_t disconnected = 0;    // closed by the broker for an attack
  bool accepting = true;       // false while accept keeps failing for lack of descriptors
};

class ConnectionGate {
 public:
  // Runs on the io_context with each admitted connection; takes ownership of it.
  using Admit = std::function<void(asio::ip::tcp::socket socket)>;

  ConnectionGate(asio::io_context& io, std::string name, ConnectionLimits limits, Admit admit);
  ~ConnectionGate();

  // Binds HOST:PORT and listens (port 0: any free one; an address in use is an error, never
  // shared). Returns the bound port. Connections wait in the backlog until Start.
  absl::StatusOr<int> Bind(const std::string& address);
  // Starts accepting, once Bind succeeded.
  void Start();
  void Stop();

  ConnectionStats Stats() const;

  // Closes the admitted connection whose socket is descriptor `fd` by shutting the socket down
  // under its owner, and refuses new connections from its address for `ban`; logs `why`.
  // Thread-safe.
  void Disconnect(int fd, std::string_view why, std::chrono::seconds ban);

 private:
  struct Tracked {
    ino_t inode;
    std::string address;
  };

  void Accept();
  void OnAccepted(std::error_code ec, asio::ip::tcp::socket socket);
  // Hands `socket` to admit_ once it has bytes to read, or closes it at the timeout.
  void AdmitWhenReadable(asio::ip::tcp::socket socket);
  // Gives up the spare descriptor to accept and close one waiting connection.
  void ShedOne();
  // Counts, logs (at most once a second) and remembers a connection refused for lack of
  // descriptors: the gate is not accepting for a while.
  void NoteOutOfFiles();
  // Forgets connections whose descriptor was closed (or now names another file).
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<int, Tracked>::iterator Forget(std::map<int, Tracked>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleSweep();

  asio::io_context& io_;
  const std::string name_;
  const ConnectionLimits limits_;
  const Admit admit_;
  // The acceptor, the timers and the spare descriptor are used from the io threads and from
  // Stop(); Asio objects are not safe for concurrent calls, so each use holds io_mu_.
  absl::Mutex io_mu_ ABSL_ACQUIRED_AFTER(mu_);
  asio::ip::tcp::acceptor acceptor_ ABSL_GUARDED_BY(io_mu_);
  asio::steady_timer backoff_ ABSL_GUARDED_BY(io_mu_);
  asio::steady_timer sweep_timer_ ABSL_GUARDED_BY(io_mu_);
  int spare_fd_ ABSL_GUARDED_BY(io_mu_) = -1;
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::atomic<bool> stopped_{false};

  mutable absl::Mutex mu_;
  std::map<int, Tracked> connections_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> per_address_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::chrono::steady_clock::time_point> banned_until_ ABSL_GUARDED_BY(mu_);
  ConnectionStats stats_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_accept_failure_ ABSL_GUARDED_BY(mu_){};
};

}  // namespace rill::net
