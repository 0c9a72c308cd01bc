#include "net/connection_gate.h"
#include "net/host_port.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "base/file_limits.h"
#include "base/fmt_absl.h"
#include "base/logging.h"

namespace rill::net {
namespace {

using Clock = std::chrono::steady_clock;

// After an accept failed for lack of descriptors, wait this long before the next one rather
// than spinning on a listening socket that stays readable.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);
// The gate counts as not accepting for this long after such a failure.
constexpr auto kNotAcceptingFor = std::chrono::seconds(1);
constexpr auto kSweepInterval = std::chrono::seconds(1);

bool OutOfDescriptors(const std::error_code& ec) {
  return ec.value() == EMFILE || ec.value() == ENFILE || ec == asio::error::no_descriptors;
}

std::optional<ino_t> SocketInode(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return st.st_ino;
}

}  // namespace

ConnectionGate::ConnectionGate(asio::io_context& io, std::string name, ConnectionLimits limits,
                               Admit admit)
    : io_(io),
      name_(std::move(name)),
      limits_(limits),
      admit_(std::move(admit)),
      acceptor_(io),
      backoff_(io),
      sweep_timer_(io) {}

ConnectionGate::~ConnectionGate() { Stop(); }

absl::StatusOr<int> ConnectionGate::Bind(const std::string& address) {
  std::string host;
  int port = 0;
  if (auto s = net::SplitHostPort(address, &host, &port); !s.ok()) return s;
  std::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("'{}' is not an IP address", host));
  asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  int bound_port = 0;
  {
    absl::MutexLock lock(&io_mu_);
    // SO_REUSEADDR only: a port another process listens on is refused (EADDRINUSE), never
    // shared.
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          fmt::format("cannot listen on {} ({}): {}", address, name_, ec.message()));
    }
    spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    bound_port = static_cast<int>(acceptor_.local_endpoint().port());
  }
  return bound_port;
}

void ConnectionGate::Start() {
  Accept();
  ScheduleSweep();
}

void ConnectionGate::Stop() {
  absl::MutexLock lock(&io_mu_);
  if (stopped_.exchange(true)) return;
  std::error_code ec;
  acceptor_.close(ec);
  backoff_.cancel();
  sweep_timer_.cancel();
  if (spare_fd_ >= 0) close(spare_fd_);
  spare_fd_ = -1;
}

ConnectionStats ConnectionGate::Stats() const {
  absl::MutexLock lock(&mu_);
  ConnectionStats stats = stats_;
  stats.open = static_cast<int64_t>(connections_.size());
  stats.accepting = Clock::now() - last_accept_failure_ > kNotAcceptingFor;
  return stats;
}

void ConnectionGate::Accept() {
  absl::MutexLock lock(&io_mu_);
  if (stopped_) return;
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    OnAccepted(ec, std::move(socket));
  });
}

void ConnectionGate::OnAccepted(std::error_code ec, asio::ip::tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    if (!OutOfDescriptors(ec)) {
      Accept();  // the peer gave up before it was accepted, and the like
      return;
    }
    ShedOne();
    NoteOutOfFiles();
    absl::MutexLock lock(&io_mu_);
    if (stopped_) return;
    backoff_.expires_after(kAcceptBackoff);
    backoff_.async_wait([this](std::error_code wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }

  std::error_code peer_ec;
  const std::string address = socket.remote_endpoint(peer_ec).address().to_string();
  const int fd = socket.native_handle();
  auto file_limit = base::OpenFileLimit();
  // Descriptors are handed out lowest first, so this one's number is a floor on how many are
  // open: past the headroom, the broker's own files come first.
  const bool files_short = file_limit.ok() && fd >= *file_limit - limits_.files_headroom;
  if (files_short) {
    std::error_code close_ec;
    socket.close(close_ec);
    NoteOutOfFiles();
    Accept();
    return;
  }
  bool admitted = false;
  {
    absl::MutexLock lock(&mu_);
    {
      auto over = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        auto it = per_address_.find(address);
        return static_cast<int>(connections_.size()) >= limits_.max_connections ||
               (it != per_address_.end() && it->second >= limits_.max_connections_per_address);
      };
      auto ban = banned_until_.find(address);
      if (ban != banned_until_.end() && Clock::now() >= ban->second) {
        banned_until_.erase(ban);
        ban = banned_until_.end();
      }
      if (ban == banned_until_.end() && over()) Sweep();
      if (ban != banned_until_.end()) {
        ++stats_.refused_banned;
      } else if (over()) {
        ++stats_.refused_limit;
      } else {
        // The descriptor may still be listed for a connection closed since the last sweep.
        if (auto old = connections_.find(fd); old != connections_.end()) Forget(old);
        if (auto inode = SocketInode(fd)) {
          connections_[fd] = Tracked{*inode, address};
          ++per_address_[address];
          admitted = true;
        }
      }
    }
  }
  if (admitted && limits_.first_bytes_timeout_ms > 0) {
    AdmitWhenReadable(std::move(socket));
  } else if (admitted) {
    admit_(std::move(socket));
  } else {
    std::error_code close_ec;
    socket.close(close_ec);
  }
  Accept();
}

void ConnectionGate::AdmitWhenReadable(asio::ip::tcp::socket accepted) {
  auto strand = asio::make_strand(io_);
  auto socket = std::make_shared<asio::ip::tcp::socket>(std::move(accepted));
  auto timer = std::make_shared<asio::steady_timer>(
      strand, std::chrono::milliseconds(limits_.first_bytes_timeout_ms));
  timer->async_wait(asio::bind_executor(strand, [socket](std::error_code ec) {
    if (ec) return;  // it spoke in time
    std::error_code ignored;
    socket->close(ignored);
  }));
  socket->async_wait(asio::socket_base::wait_read,
                     asio::bind_executor(strand, [this, socket, timer](std::error_code ec) {
                       timer->cancel();
                       if (ec || !socket->is_open() || stopped_) return;
                       admit_(std::move(*socket));
                     }));
}

void ConnectionGate::Disconnect(int fd, std::string_view why, std::chrono::seconds ban) {
  std::string address = "unknown";
  bool closed = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = connections_.find(fd);
    if (it != connections_.end() && SocketInode(fd) == it->second.inode) {
      address = it->second.address;
      banned_until_[address] = Clock::now() + ban;
      // The descriptor stays its owner's to close; shutting the socket down ends the
      // connection under it.
      shutdown(fd, SHUT_RDWR);
      closed = true;
      ++stats_.disconnected;
    }
  }
  if (closed) {
    logging::Warn("net", "{}: closed the connection from {}: {}; refusing {} for {} s", name_,
                  address, why, address, ban.count());
  }
}

void ConnectionGate::NoteOutOfFiles() {
  const auto now = Clock::now();
  int64_t open = 0;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.refused_files;
    last_accept_failure_ = now;
    open = static_cast<int64_t>(connections_.size());
  }
  if (now - last_failure_log_ > std::chrono::seconds(1)) {
    last_failure_log_ = now;
    logging::Warn("net",
                  "{}: out of file descriptors ({} connections open); refusing connections until "
                  "some close",
                  name_, open);
  }
}

void ConnectionGate::ShedOne() {
  absl::MutexLock lock(&io_mu_);
  if (stopped_) return;
  if (spare_fd_ >= 0) close(spare_fd_);
  spare_fd_ = -1;
  const int fd = accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) close(fd);
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

std::map<int, ConnectionGate::Tracked>::iterator ConnectionGate::Forget(
    std::map<int, Tracked>::iterator it) {
  auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second <= 0) per_address_.erase(count);
  return connections_.erase(it);
}

void ConnectionGate::Sweep() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto inode = SocketInode(it->first);
    it = inode && *inode == it->second.inode ? std::next(it) : Forget(it);
  }
}

void ConnectionGate::ScheduleSweep() {
  absl::MutexLock lock(&io_mu_);
  if (stopped_) return;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    {
      absl::MutexLock lock(&mu_);
      Sweep();
    }
    ScheduleSweep();
  });
}

}  // namespace rill::net
