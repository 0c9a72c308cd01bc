#include "kafka/server/connection.h"

#include <array>

#include "fmt/format.h"
#include "base/logging.h"
#include "kafka/server/errors.h"
#include "kafka/server/handlers/handlers.h"

namespace rill::kafka {

namespace {

using Clock = std::chrono::steady_clock;

// How long a connection waits before it tries again to take its request's bytes from the
// broker-wide budget.
constexpr auto kBudgetRetry = std::chrono::milliseconds(5);

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, std::string listener,
                       ConnectionSettings settings, KafkaContext* context,
                       base::ByteBudget* inflight)
    : socket_(std::move(socket)),
      strand_(asio::make_strand(*context->io)),
      idle_timer_(strand_),
      budget_timer_(strand_),
      listener_(std::move(listener)),
      settings_(settings),
      context_(context),
      inflight_(inflight),
      last_activity_(Clock::now()) {
  std::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  client_host_ = ec ? std::string("unknown") : remote.address().to_string();
}

void Connection::Start() {
  asio::post(strand_, [self = shared_from_this()] {
    self->ArmIdleTimer(self->last_activity_ +
                       std::chrono::milliseconds(self->settings_.idle_timeout_ms));
    self->ReadSize();
  });
}

void Connection::Close() {
  asio::post(strand_, [self = shared_from_this()] { self->Shutdown("the listener stops"); });
}

bool Connection::CanRead() const {
  return !closed_ && !draining_ &&
         pending_.size() < static_cast<size_t>(settings_.max_inflight_requests);
}

void Connection::CloseAfterAnswers() {
  draining_ = true;
  if (pending_.empty() && !writing_) Shutdown(nullptr);
}

void Connection::ReadSize() {
  if (!CanRead()) {
    reading_ = false;
    return;
  }
  reading_ = true;
  asio::async_read(socket_, asio::buffer(size_bytes_, sizeof size_bytes_),
                   asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec,
                                                                            size_t) {
                     self->OnSize(ec);
                   }));
}

void Connection::OnSize(std::error_code ec) {
  if (ec) {
    Shutdown(nullptr);
    return;
  }
  frame_size_ = static_cast<int32_t>(uint32_t{size_bytes_[0]} << 24 |
                                     uint32_t{size_bytes_[1]} << 16 |
                                     uint32_t{size_bytes_[2]} << 8 | uint32_t{size_bytes_[3]});
  const int64_t limit =
      seen_api_versions_ ? settings_.max_request_bytes : settings_.max_initial_request_bytes;
  if (frame_size_ < 8 || frame_size_ > limit) {
    logging::Info("kafka", "closing the connection of {}: a request of {} bytes (the limit {}{})",
                  client_host_, frame_size_, limit,
                  seen_api_versions_ ? "" : " before ApiVersions");
    Shutdown(nullptr);
    return;
  }
  ReadFrame();
}

void Connection::ReadFrame() {
  if (closed_) return;
  // The request's bytes are held from here until its response is sent; while the broker's
  // budget is spent, the connection reads nothing more.
  if (!inflight_->TryTake(frame_size_)) {
    budget_timer_.expires_after(kBudgetRetry);
    budget_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->ReadFrame();
    });
    return;
  }
  frame_.resize(static_cast<size_t>(frame_size_));
  asio::async_read(
      socket_, asio::buffer(frame_),
      asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec, size_t) {
        if (ec) {
          self->inflight_->Give(self->frame_size_);
          self->Shutdown(nullptr);
          return;
        }
        self->last_activity_ = Clock::now();
        self->Dispatch(std::move(self->frame_));
        self->frame_.clear();
        if (!self->closed_) self->ReadSize();
      }));
}

void Connection::Dispatch(std::string frame) {
  const int64_t held = static_cast<int64_t>(frame.size());
  RequestHeader peeked;
  PeekRequestHeader(frame, &peeked);
  const ApiSpec* api = FindApi(peeked.api_key);
  if (api == nullptr || HandlerFor(api->key) == nullptr) {
    Refuse(held, fmt::format("unknown API key {}", peeked.api_key));
    return;
  }
  const bool supported = api->Supports(peeked.api_version);
  if (!supported && api->key != ApiKey::kApiVersions) {
    Refuse(held, fmt::format("{} v{} is not implemented (v{}-v{} are)", api->name,
                             peeked.api_version, api->min_version, api->max_version));
    return;
  }
  const uint64_t sequence = next_sequence_++;
  Pending& pending = pending_[sequence];
  pending.correlation_id = peeked.correlation_id;
  pending.response_header_version = ResponseHeaderVersion(*api, peeked.api_version);
  pending.held_bytes = held;
  if (!supported) {
    Complete(sequence, handlers::ApiVersionsBody(KafkaError::kUnsupportedVersion, 0));
    return;
  }
  if (api->key == ApiKey::kApiVersions) seen_api_versions_ = true;
  WireReader reader(frame, static_cast<size_t>(settings_.max_request_entries));
  Request request;
  request.header = ReadRequestHeader(reader, RequestHeaderVersion(*api, peeked.api_version));
  request.api = api;
  request.listener = listener_;
  request.client_host = client_host_;
  absl::Status read = reader.status();
  if (read.ok()) {
    Respond respond = [self = shared_from_this(), sequence](std::optional<std::string> body) {
      asio::post(self->strand_, [self, sequence, body = std::move(body)]() mutable {
        self->Complete(sequence, std::move(body));
      });
    };
    read = HandlerFor(api->key)(*context_, request, reader, std::move(respond));
  }
  if (!read.ok()) {
    // The handler never answers a request it could not read.
    pending_.erase(sequence);
    Refuse(held, fmt::format("a malformed {} v{} request: {}", api->name, peeked.api_version,
                             read.message()));
  }
}

void Connection::Refuse(int64_t held, const std::string& why) {
  inflight_->Give(held);
  logging::Info("kafka", "closing the connection of {}: {}", client_host_, why);
  CloseAfterAnswers();
}

void Connection::Complete(uint64_t sequence, std::optional<std::string> body) {
  auto it = pending_.find(sequence);
  if (it == pending_.end()) return;
  if (closed_) {
    inflight_->Give(it->second.held_bytes);
    pending_.erase(it);
    return;
  }
  it->second.done = true;
  // An answer waiting to be written counts against the same budget as the request bytes, so a
  // client that does not read its answers (large fetches) stops the connections reading more.
  if (body) {
    inflight_->Add(static_cast<int64_t>(body->size()));
    it->second.held_bytes += static_cast<int64_t>(body->size());
  }
  it->second.body = std::move(body);
  WriteNext();
}

void Connection::WriteNext() {
  while (!writing_ && !closed_ && !pending_.empty() && pending_.begin()->second.done) {
    Pending next = std::move(pending_.begin()->second);
    pending_.erase(pending_.begin());
    if (!next.body) {
      inflight_->Give(next.held_bytes);
      continue;
    }
    std::string header;
    WireWriter header_writer(&header);
    WriteResponseHeader(next.correlation_id, next.response_header_version, header_writer);
    write_head_.clear();
    WireWriter head(&write_head_);
    head.Int32(static_cast<int32_t>(header.size() + next.body->size()));
    head.Raw(header);
    write_body_ = std::move(*next.body);
    write_held_bytes_ = next.held_bytes;
    writing_ = true;
    write_started_ = Clock::now();
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(write_head_),
                                                       asio::buffer(write_body_)};
    asio::async_write(socket_, buffers,
                      asio::bind_executor(strand_, [self = shared_from_this()](
                                                       std::error_code ec, size_t) {
                        self->writing_ = false;
                        self->inflight_->Give(self->write_held_bytes_);
                        self->write_held_bytes_ = 0;
                        self->write_body_.clear();
                        self->last_activity_ = Clock::now();
                        if (ec) {
                          self->Shutdown(nullptr);
                          return;
                        }
                        self->WriteNext();
                      }));
  }
  if (draining_ && pending_.empty() && !writing_) {
    Shutdown(nullptr);
    return;
  }
  if (!reading_ && CanRead()) ReadSize();
}

void Connection::ArmIdleTimer(Clock::time_point at) {
  idle_timer_.expires_at(at);
  idle_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || self->closed_) return;
    const auto now = Clock::now();
    const auto limit = std::chrono::milliseconds(self->settings_.idle_timeout_ms);
    if (self->writing_ && now - self->write_started_ >= limit) {
      // Its answers hold bytes of the listener's budget: a client that never reads them
      // would hold them for good.
      self->Shutdown("the client stopped reading its answers");
      return;
    }
    if (!self->writing_ && self->pending_.empty() && now - self->last_activity_ >= limit) {
      self->Shutdown("idle");
      return;
    }
    auto next = (self->writing_ ? self->write_started_ : self->last_activity_) + limit;
    // Requests under way (a held JoinGroup, a long poll): look again an idle timeout later.
    if (next <= now) next = now + limit;
    self->ArmIdleTimer(next);
  });
}

void Connection::Shutdown(const char* why) {
  if (closed_) return;
  closed_ = true;
  if (why != nullptr) {
    logging::Debug("kafka", "closing the connection of {}: {}", client_host_, why);
  }
  idle_timer_.cancel();
  budget_timer_.cancel();
  std::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  // Answered requests give their bytes back now; the others when their handlers answer.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.done) {
      inflight_->Give(it->second.held_bytes);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace rill::kafka
