// One client connection of a Kafka listener (docs/kafka.md, "Framing" and "Limits").
//
// Reads int32-size-prefixed requests, one after another, and answers them in the order they
// came, whatever order their handlers finish in; a Produce with acks=0 has no response. Each
// request is handed to its handler as soon as it is read, so a client's pipelined requests
// (up to max_inflight_requests) are worked on together, and appends of one connection reach
// each partition in the order they were sent.
//
// Bounds: a frame over max_request_bytes (max_initial_request_bytes until the connection's
// first ApiVersions) closes the connection before anything is allocated for it; request bytes
// held, from the read until the response is sent, come out of a budget shared by every
// connection (reading pauses while it is spent); a connection idle for idle_timeout_ms is
// closed. A request that cannot be read, of an unknown API or of a version the listener does
// not implement closes the connection, as Kafka does (ApiVersions answers error 35 instead).
//
// Thread-safety: all state lives on the connection's strand.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "asio.hpp"
#include "base/byte_budget.h"
#include "kafka/server/context.h"
#include "kafka/server/handler.h"

namespace rill::kafka {

struct ConnectionSettings {
  int64_t max_request_bytes = 64 << 20;
  int64_t max_initial_request_bytes = 64 << 10;
  int32_t max_inflight_requests = 100;
  int64_t max_request_entries = 10000;
  int64_t idle_timeout_ms = 600000;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `context` and `inflight` outlive the connection.
  Connection(asio::ip::tcp::socket socket, std::string listener, ConnectionSettings settings,
             KafkaContext* context, base::ByteBudget* inflight);

  void Start();
  // Closes the socket; handlers still running answer into nothing. Thread-safe.
  void Close();

 private:
  void ReadSize();
  void OnSize(std::error_code ec);
  void ReadFrame();
  void Dispatch(std::string frame);
  // Runs on the strand with a handler's answer to request `sequence`.
  void Complete(uint64_t sequence, std::optional<std::string> body);
  void WriteNext();
  void Shutdown(const char* why);
  // After a request the connection cannot serve: reads nothing more, sends the answers to the
  // requests before it, then closes (a client learns what it can from them).
  void CloseAfterAnswers();
  // Gives back a request's `held` bytes, logs `why` and closes after the earlier answers.
  void Refuse(int64_t held, const std::string& why);
  // Checks at `at` whether the connection is idle (nothing under way, nothing said) or its
  // client stopped reading (an answer unwritten), each for the idle timeout, and closes it then.
  void ArmIdleTimer(std::chrono::steady_clock::time_point at);
  // Whether the read loop may take another request.
  bool CanRead() const;

  struct Pending {
    int32_t correlation_id = 0;
    int response_header_version = 0;
    int64_t held_bytes = 0;
    bool done = false;
    std::optional<std::string> body;
  };

  asio::ip::tcp::socket socket_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer idle_timer_;
  asio::steady_timer budget_timer_;
  const std::string listener_;
  const ConnectionSettings settings_;
  KafkaContext* const context_;
  base::ByteBudget* const inflight_;
  std::string client_host_;

  uint8_t size_bytes_[4] = {};
  int32_t frame_size_ = 0;
  std::string frame_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool draining_ = false;
  bool seen_api_versions_ = false;
  // Requests not yet answered on the wire, by sequence, oldest first.
  std::map<uint64_t, Pending> pending_;
  uint64_t next_sequence_ = 0;
  // The response being written (size, header, body).
  std::string write_head_;
  std::string write_body_;
  int64_t write_held_bytes_ = 0;
  std::chrono::steady_clock::time_point last_activity_;
  // When the answer being written was handed to the socket.
  std::chrono::steady_clock::time_point write_started_;
};

}  // namespace rill::kafka
