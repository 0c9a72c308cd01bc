#include "server/guarded_connections.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"

namespace rill::server {
namespace {

// Each direction moves its bytes through a pipe: spliced in and out where the guard need not
// see them, so the payload is never copied into the broker, and written in where it was read
// to be seen (frame headers, message prefixes, small frames).
constexpr int kPipeBytes = 256 * 1024;
constexpr size_t kMaxFreePipes = 64;
// Fewer unseen bytes than this are read (and copied) with the bytes around them rather than
// spliced on their own.
constexpr size_t kSpliceMinBytes = 16 * 1024;
constexpr size_t kReadBytes = 16 * 1024;
// Pipe loads one direction moves before it lets other connections' work run.
constexpr int kRoundsPerTurn = 16;
// The socketpair's buffers: gRPC writes a fetch response's frames in few large writes, and each
// one wakes the relay once (with 256 KiB, consuming cost the broker twice the CPU per MB).
// Kernel memory, used only while a reader is behind, as a TCP socket's send buffer is.
constexpr int kSocketPairBufferBytes = 1 << 20;

class Pipe {
 public:
  Pipe(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  ~Pipe() {
    close(read_fd_);
    close(write_fd_);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  int read_fd() const { return read_fd_; }
  int write_fd() const { return write_fd_; }

 private:
  const int read_fd_;
  const int write_fd_;
};

bool Retry(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK); }

}  // namespace

struct GuardedConnections::Shared {
  Http2GuardLimits limits;
  std::function<void()> on_refused;

  // An empty pipe; nullptr when none can be made (out of descriptors).
  std::unique_ptr<Pipe> TakePipe() {
    {
      absl::MutexLock lock(&mu);
      if (!free_pipes.empty()) {
        auto pipe = std::move(free_pipes.back());
        free_pipes.pop_back();
        return pipe;
      }
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
    // Past the user's pipe-buffer allowance the kernel refuses; the default size still works.
    fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes);
    return std::make_unique<Pipe>(fds[0], fds[1]);
  }

  void GivePipe(std::unique_ptr<Pipe> pipe) {
    absl::MutexLock lock(&mu);
    if (free_pipes.size() < kMaxFreePipes) free_pipes.push_back(std::move(pipe));
  }

  absl::Mutex mu;
  std::vector<std::unique_ptr<Pipe>> free_pipes ABSL_GUARDED_BY(mu);
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
    // Reads and writes are tried at once, and waited for only when they would block.
    client_.non_blocking(true, ec);
    server_.non_blocking(true, ec);
    up_.from_fd = client_fd_;
    up_.to_fd = server_.native_handle();
    down_.from_fd = up_.to_fd;
    down_.to_fd = client_fd_;
  }

  int client_fd() const { return client_fd_; }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] {
      self->Pump(kUp);
      self->Pump(kDown);
    });
  }

  // From any thread.
  void CloseSoon() {
    asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }

 private:
  enum Way { kUp, kDown };  // client to server, server to client
  enum class State { kRunning, kWaitingToRead, kWaitingToWrite, kEnded };

  struct Direction {
    int from_fd = -1;
    int to_fd = -1;
    std::unique_ptr<Pipe> pipe;
    size_t in_pipe = 0;
    // Bytes to write into the pipe next: bytes read to be seen, and the guard's frames.
    std::string pending;
    State state = State::kRunning;
    // Tells a wait's handler whether it still stands (a kick can start the pump before it).
    uint64_t wait_id = 0;
  };

  Direction& direction(Way way) { return way == kUp ? up_ : down_; }

  // Moves one direction's bytes until it would block, ends, or has had its turn.
  void Pump(Way way) {
    Direction& d = direction(way);
    d.state = State::kRunning;
    for (int round = 0; round < kRoundsPerTurn; ++round) {
      if (closed_) return;
      if (!d.pipe && !(d.pipe = shared_->TakePipe())) {
        logging::Warn("net", "grpc: closing a connection: no descriptor for a pipe");
        return Close();
      }
      if (!d.pending.empty()) {
        const ssize_t n = write(d.pipe->write_fd(), d.pending.data(), d.pending.size());
        if (n > 0) {
          d.pending.erase(0, static_cast<size_t>(n));
          d.in_pipe += static_cast<size_t>(n);
        } else if (!Retry(n)) {
          return Close();
        }
      }
      if (d.in_pipe > 0) {
        const ssize_t n = splice(d.pipe->read_fd(), nullptr, d.to_fd, nullptr, d.in_pipe,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
          d.in_pipe -= static_cast<size_t>(n);
          continue;
        }
        if (Retry(n)) return Wait(way, State::kWaitingToWrite);
        return Close();
      }
      if (!d.pending.empty()) continue;
      if (!Read(way, d)) return;
    }
    asio::post(strand_, [self = shared_from_this(), way] {
      if (self->direction(way).state == State::kRunning) self->Pump(way);
    });
  }

  // With the pipe empty: moves what `from` has into it, through the guard. Returns whether to
  // go on.
  bool Read(Way way, Direction& d) {
    std::vector<Http2Insertion> insertions;
    const size_t unseen = way == kUp ? guard_.ClientBytesUnseen() : guard_.ServerBytesUnseen();
    ssize_t n = 0;
    if (unseen >= kSpliceMinBytes) {
      n = splice(d.from_fd, nullptr, d.pipe->write_fd(), nullptr,
                 std::min<size_t>(unseen, kPipeBytes), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe += static_cast<size_t>(n);
        if (way == kUp) {
          guard_.SkipFromClient(static_cast<size_t>(n), &insertions);
        } else {
          guard_.SkipFromServer(static_cast<size_t>(n), &insertions);
        }
        for (auto& insertion : insertions) d.pending += insertion.bytes;
      }
    } else {
      char buffer[kReadBytes];
      n = recv(d.from_fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        const std::string_view seen(buffer, static_cast<size_t>(n));
        if (way == kUp) {
          if (auto s = guard_.FromClient(seen, &insertions); !s.ok()) {
            logging::Debug("net", "grpc: closing a connection: {}", s.message());
            Close();
            return false;
          }
        } else {
          guard_.FromServer(seen, &insertions);
        }
        size_t at = 0;
        for (const auto& insertion : insertions) {
          d.pending.append(seen.substr(at, insertion.offset - at));
          d.pending += insertion.bytes;
          at = insertion.offset;
        }
        d.pending.append(seen.substr(at));
      }
    }
    if (n > 0) {
      AfterGuard();
      return true;
    }
    if (n == 0) {
      End(way);
    } else if (Retry(n)) {
      Wait(way, State::kWaitingToRead);
    } else {
      Close();
    }
    return false;
  }

  // Counts refusals, and sends the client the frames the guard owes it once the way is clear.
  void AfterGuard() {
    for (; refused_reported_ < guard_.refused(); ++refused_reported_) shared_->on_refused();
    std::string owed = guard_.TakeForClient();
    if (owed.empty()) return;
    down_.pending += owed;
    if (down_.state == State::kWaitingToRead) {
      ++down_.wait_id;
      down_.state = State::kRunning;
      asio::post(strand_, [self = shared_from_this()] {
        if (self->down_.state == State::kRunning) self->Pump(kDown);
      });
    }
  }

  void Wait(Way way, State state) {
    Direction& d = direction(way);
    d.state = state;
    const uint64_t id = ++d.wait_id;
    if (state == State::kWaitingToRead && d.pipe) shared_->GivePipe(std::move(d.pipe));
    auto resume =
        asio::bind_executor(strand_, [self = shared_from_this(), way, id](std::error_code ec) {
          if (id != self->direction(way).wait_id) return;
          if (ec) return self->Close();
          self->Pump(way);
        });
    const bool on_client = (way == kUp) == (state == State::kWaitingToRead);
    const auto wait = state == State::kWaitingToRead ? asio::socket_base::wait_read
                                                     : asio::socket_base::wait_write;
    if (on_client) {
      client_.async_wait(wait, std::move(resume));
    } else {
      server_.async_wait(wait, std::move(resume));
    }
  }

  void End(Way way) {
    Direction& d = direction(way);
    d.state = State::kEnded;
    if (d.pipe) shared_->GivePipe(std::move(d.pipe));
    if (way == kUp) {
      // The client finished sending: gRPC reads the end after everything before it, and closes.
      shutdown(up_.to_fd, SHUT_WR);
      if (down_.state != State::kEnded) return;
    }
    // gRPC closed the connection, and all it wrote went out (a direction reads only once its
    // pipe is empty): nothing reads what the client would send now.
    Close();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    for (Direction* d : {&up_, &down_}) {
      d->state = State::kEnded;
      // A pipe with bytes left in it is not given to another connection.
      if (d->pipe && d->in_pipe == 0) shared_->GivePipe(std::move(d->pipe));
      d->pipe.reset();
    }
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
  Direction up_;
  Direction down_;
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
  for (int fd : fds) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketPairBufferBytes, sizeof kSocketPairBufferBytes);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketPairBufferBytes, sizeof kSocketPairBufferBytes);
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

}  // namespace rill::server
