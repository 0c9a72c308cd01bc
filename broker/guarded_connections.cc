#include "broker/guarded_connections.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"

namespace rill::broker {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
constexpr size_t kMaxFreeBuffers = 64;

using Buffer = std::unique_ptr<char[]>;

bool WouldBlock(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// Bytes read in one direction, with the guard's frames to put among them.
struct Chunk {
  Buffer buffer;
  size_t size = 0;
  std::vector<Http2Insertion> insertions;

  std::vector<asio::const_buffer> Buffers() const {
    std::vector<asio::const_buffer> out;
    out.reserve(insertions.size() * 2 + 1);
    size_t at = 0;
    for (const auto& insertion : insertions) {
      if (insertion.offset > at) out.emplace_back(buffer.get() + at, insertion.offset - at);
      out.emplace_back(insertion.bytes.data(), insertion.bytes.size());
      at = insertion.offset;
    }
    if (size > at) out.emplace_back(buffer.get() + at, size - at);
    return out;
  }
};

}  // namespace

struct GuardedConnections::Shared {
  Http2GuardLimits limits;
  std::function<void()> on_refused;

  Buffer TakeBuffer() {
    {
      absl::MutexLock lock(&mu);
      if (!free_buffers.empty()) {
        Buffer buffer = std::move(free_buffers.back());
        free_buffers.pop_back();
        return buffer;
      }
    }
    return Buffer(new char[kBufferBytes]);
  }

  void GiveBuffer(Buffer buffer) {
    if (!buffer) return;
    absl::MutexLock lock(&mu);
    if (free_buffers.size() < kMaxFreeBuffers) free_buffers.push_back(std::move(buffer));
  }

  absl::Mutex mu;
  std::vector<Buffer> free_buffers ABSL_GUARDED_BY(mu);
  // Keyed by the descriptor gRPC serves.
  std::map<int, std::weak_ptr<Connection>> by_server_fd ABSL_GUARDED_BY(mu);
};

class GuardedConnections::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, std::shared_ptr<Shared> shared, asio::ip::tcp::socket client,
             int our_fd, int grpc_fd)
      : shared_(std::move(shared)),
        strand_(asio::make_strand(io)),
        client_(std::move(client)),
        server_(strand_),
        client_fd_(client_.native_handle()),
        grpc_fd_(grpc_fd),
        guard_(shared_->limits) {
    std::error_code ec;
    server_.assign(asio::local::stream_protocol(), our_fd, ec);
    if (ec) close(our_fd);
    // Reads are tried at once and waited for only when nothing is there (Read).
    client_.non_blocking(true, ec);
    server_.non_blocking(true, ec);
  }

  int client_fd() const { return client_fd_; }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] {
      self->PumpUp();
      self->PumpDown();
    });
  }

  // From any thread.
  void CloseSoon() {
    asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }

 private:
  // Client to server: everything the client sends goes through the guard.
  void PumpUp() {
    auto chunk = Read(client_, &Connection::PumpUp, &Connection::OnClientEnded);
    if (!chunk) return;
    if (auto s = guard_.FromClient(std::string_view(chunk->buffer.get(), chunk->size),
                                   &chunk->insertions);
        !s.ok()) {
      logging::Debug("net", "grpc: closing a connection: {}", s.message());
      shared_->GiveBuffer(std::move(chunk->buffer));
      Close();
      return;
    }
    for (; refused_reported_ < guard_.refused(); ++refused_reported_) shared_->on_refused();
    if (std::string owed = guard_.TakeForClient(); !owed.empty()) {
      auto frames = std::make_shared<Chunk>();
      frames->insertions.push_back(Http2Insertion{0, std::move(owed)});
      WriteToClient(std::move(frames), /*then_pump_down=*/false);
    }
    asio::async_write(server_, chunk->Buffers(),
                      asio::bind_executor(
                          strand_, [self = shared_from_this(), chunk](std::error_code ec, size_t) {
                            self->shared_->GiveBuffer(std::move(chunk->buffer));
                            if (ec) return self->Close();
                            self->PumpUp();
                          }));
  }

  // Server to client, with what the guard adds for the client between frames.
  void PumpDown() {
    auto chunk = Read(server_, &Connection::PumpDown, &Connection::OnServerEnded);
    if (!chunk) return;
    guard_.FromServer(std::string_view(chunk->buffer.get(), chunk->size), &chunk->insertions);
    WriteToClient(std::move(chunk), /*then_pump_down=*/true);
  }

  // The client finished sending: gRPC reads the end after everything before it, and closes.
  void OnClientEnded() {
    std::error_code ignored;
    server_.shutdown(asio::socket_base::shutdown_send, ignored);
  }

  // gRPC closed the connection: what it wrote goes out, then the client's socket is closed
  // (nothing reads what the client would send now).
  void OnServerEnded() {
    close_when_written_ = true;
    if (client_queue_.empty()) Close();
  }

  // Reads what `from` has now. Returns nothing when there was nothing to read (and then calls
  // `again` once there is), at the end of the stream (and then calls `on_end`) or on an error
  // (and then closes the connection).
  template <typename Socket>
  std::shared_ptr<Chunk> Read(Socket& from, void (Connection::*again)(),
                              void (Connection::*on_end)()) {
    if (closed_) return nullptr;
    auto chunk = std::make_shared<Chunk>();
    chunk->buffer = shared_->TakeBuffer();
    std::error_code ec;
    chunk->size = from.read_some(asio::buffer(chunk->buffer.get(), kBufferBytes), ec);
    if (!ec) return chunk;
    shared_->GiveBuffer(std::move(chunk->buffer));
    if (WouldBlock(ec)) {
      from.async_wait(
          asio::socket_base::wait_read,
          asio::bind_executor(strand_, [self = shared_from_this(), again](std::error_code wait_ec) {
            if (wait_ec) return self->Close();
            ((*self).*again)();
          }));
    } else if (ec == asio::error::eof) {
      (this->*on_end)();
    } else {
      Close();
    }
    return nullptr;
  }

  void WriteToClient(std::shared_ptr<Chunk> chunk, bool then_pump_down) {
    client_queue_.emplace_back(std::move(chunk), then_pump_down);
    if (!client_writing_) StartClientWrite();
  }

  void StartClientWrite() {
    if (closed_ || client_queue_.empty()) return;
    client_writing_ = true;
    asio::async_write(
        client_, client_queue_.front().first->Buffers(),
        asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec, size_t) {
          self->OnClientWritten(ec);
        }));
  }

  void OnClientWritten(std::error_code ec) {
    client_writing_ = false;
    if (closed_) return;
    auto [chunk, then_pump_down] = std::move(client_queue_.front());
    client_queue_.pop_front();
    shared_->GiveBuffer(std::move(chunk->buffer));
    if (ec) return Close();
    if (client_queue_.empty() && close_when_written_) return Close();
    StartClientWrite();
    if (then_pump_down) PumpDown();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    for (auto& [chunk, unused] : client_queue_) shared_->GiveBuffer(std::move(chunk->buffer));
    client_queue_.clear();
    absl::MutexLock lock(&shared_->mu);
    auto it = shared_->by_server_fd.find(grpc_fd_);
    if (it != shared_->by_server_fd.end() && it->second.lock().get() == this) {
      shared_->by_server_fd.erase(it);
    }
  }

  const std::shared_ptr<Shared> shared_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::ip::tcp::socket client_;
  asio::local::stream_protocol::socket server_;
  const int client_fd_;
  const int grpc_fd_;
  Http2RequestGuard guard_;
  int64_t refused_reported_ = 0;
  std::deque<std::pair<std::shared_ptr<Chunk>, bool>> client_queue_;
  bool client_writing_ = false;
  bool close_when_written_ = false;
  bool closed_ = false;
};

GuardedConnections::GuardedConnections(asio::io_context& io, Http2GuardLimits limits,
                                       std::function<void()> on_refused)
    : io_(io), shared_(std::make_shared<Shared>()) {
  shared_->limits = limits;
  shared_->on_refused = std::move(on_refused);
}

GuardedConnections::~GuardedConnections() { CloseAll(); }

absl::StatusOr<int> GuardedConnections::Adopt(asio::ip::tcp::socket client) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::ResourceExhaustedError(
        fmt::format("socketpair for a connection: {}", std::strerror(errno)));
  }
  auto connection = std::make_shared<Connection>(io_, shared_, std::move(client), fds[0], fds[1]);
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->by_server_fd[fds[1]] = connection;
  }
  connection->Start();
  return fds[1];
}

int GuardedConnections::ClientFd(int server_fd) const {
  std::shared_ptr<Connection> connection;
  {
    absl::MutexLock lock(&shared_->mu);
    auto it = shared_->by_server_fd.find(server_fd);
    if (it != shared_->by_server_fd.end()) connection = it->second.lock();
  }
  return connection ? connection->client_fd() : -1;
}

void GuardedConnections::CloseAll() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&shared_->mu);
    for (auto& [fd, weak] : shared_->by_server_fd) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (auto& connection : open) connection->CloseSoon();
}

int64_t GuardedConnections::open() const {
  absl::MutexLock lock(&shared_->mu);
  return static_cast<int64_t>(shared_->by_server_fd.size());
}

}  // namespace rill::broker
