// Http2RequestGuard: reads the HTTP/2 frames between a client and the gRPC server and refuses a
// request message whose length prefix is over the limit, before gRPC buffers its body.
//
// gRPC (1.51) compares a message with its maximum size only once the whole message has arrived,
// and its flow control opens the window to let the whole message in: a length prefix claiming
// 2 GiB is buffered in full. The guard sees the prefix (the 5 bytes opening each gRPC message in
// a stream's DATA frames) and, when it claims more than the limit:
//   - toward the server, after the frame holding the prefix, it adds RST_STREAM(CANCEL), so
//     gRPC drops the stream and what it holds of it (one frame at most) and discards the rest
//     of the body as data of a closed stream, crediting the connection's flow-control window;
//   - toward the client, at the next frame boundary outside a header block, it adds the call's
//     end, grpc-status RESOURCE_EXHAUSTED with a message naming the limit, as a header block
//     that HPACK-encodes only literals and static-table entries (it leaves the dynamic table as
//     it is), and RST_STREAM(NO_ERROR), which asks the client to stop sending the body
//     (RFC 9113 §8.1).
// Frames are never buffered: bytes pass through as they come, and the guard returns where to
// insert its own frames. Most bytes need not be seen at all (the payload of frames other than
// DATA, a message's body past its prefix): the guard says how many may pass unseen next, so
// that its caller can move them without copying (splice). Per stream it keeps a few bytes of state,
// for streams open in both directions as far as it has seen; more than `max_streams` of them closes
// the connection.
//
// Thread-safety: none; one connection's two directions call it from one strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/http2_frame.h"

namespace rill::server {

struct Http2GuardLimits {
  // The largest gRPC message a client may send (its length prefix, after any gRPC compression).
  int64_t max_message_bytes = 64 << 20;
  // The most streams tracked at once; gRPC itself refuses streams past MAX_CONCURRENT_STREAMS,
  // and a client that opens many more before it sees the refusals is closed.
  size_t max_streams = 464;
};

// Bytes the guard adds to one direction: `bytes` go in before the input byte at `offset`
// (offset == input size: after all of it).
struct Http2Insertion {
  size_t offset = 0;
  std::string bytes;
};

class Http2RequestGuard {
 public:
  explicit Http2RequestGuard(Http2GuardLimits limits) : limits_(limits) {}

  // Bytes from the client, to be passed on to the server in order with `insertions` (appended
  // to, ordered by offset). An error means the connection breaks HTTP/2 or a limit and must be
  // closed; nothing of `in` should be passed on then.
  absl::Status FromClient(std::string_view in, std::vector<Http2Insertion>* insertions);

  // How many of the client's next bytes may pass without being seen (0: the next must be).
  size_t ClientBytesUnseen() const;
  // `n` bytes from the client passed unseen; n <= ClientBytesUnseen(). Insertions are at
  // offset n.
  void SkipFromClient(size_t n, std::vector<Http2Insertion>* insertions);

  // Bytes from the server, to be passed on to the client with `insertions`: frames the guard
  // owes the client go in at the first frame boundary outside a header block.
  void FromServer(std::string_view in, std::vector<Http2Insertion>* insertions);

  // The same for the server's bytes.
  size_t ServerBytesUnseen() const;
  void SkipFromServer(size_t n, std::vector<Http2Insertion>* insertions);

  // Frames owed to the client that can be sent now, with nothing from the server in between
  // (the server's bytes so far end on a frame boundary outside a header block); else empty.
  std::string TakeForClient();

  // Requests refused so far.
  int64_t refused() const { return refused_; }

 private:
  struct Stream {
    // The gRPC message prefix being read (flag byte, 4-byte big-endian length).
    uint8_t prefix[5] = {};
    uint8_t prefix_bytes = 0;
    // Bytes of the current message's body still to come.
    uint64_t body_remaining = 0;
    // The server has sent this stream's response headers, so the guard's end of it is trailers.
    bool server_sent_headers = false;
  };

  // Where a direction's parser is: frames are read as a 9-byte header and a payload.
  struct FrameCursor {
    uint8_t header[http2::kFrameHeaderBytes] = {};
    uint8_t header_bytes = 0;
    uint32_t payload_remaining = 0;  // of the frame being read
    uint8_t type = 0;
    uint8_t flags = 0;
    uint32_t stream_id = 0;
    bool in_payload = false;

    // Takes what `data` holds of a frame header; returns how much. With the whole header in,
    // the fields above are set and the cursor is in the payload.
    size_t ReadHeader(const char* data, size_t size);
  };

  // Bytes from the client; `data` is null when they pass unseen.
  absl::Status ClientBytes(const char* data, size_t size, std::vector<Http2Insertion>* insertions);
  void ServerBytes(const char* data, size_t size, std::vector<Http2Insertion>* insertions);
  // DATA payload from the client, past any padding: walks the messages of `stream`. `data` is
  // null when the bytes are within a message's body.
  void ReadMessageBytes(uint32_t stream_id, const char* data, size_t size);
  absl::Status OnClientFrameHeader();
  void OnClientFrameEnd(size_t offset, std::vector<Http2Insertion>* insertions);
  void OnServerFrameHeader();
  void Refuse(uint32_t stream_id, const Stream& stream, uint64_t claimed_bytes);

  const Http2GuardLimits limits_;
  size_t preface_bytes_ = 0;
  FrameCursor client_;
  // DATA padding of the client frame being read: its pad-length byte is still to come, and how
  // much padding ends the frame.
  bool client_pad_length_pending_ = false;
  uint32_t client_padding_ = 0;
  FrameCursor server_;
  bool server_in_header_block_ = false;
  uint32_t last_client_stream_ = 0;
  std::map<uint32_t, Stream> streams_;
  // A stream refused in the client frame being read: RST_STREAM goes to the server at its end.
  std::vector<uint32_t> cancel_at_frame_end_;
  std::string for_client_;
  int64_t refused_ = 0;
};

}  // namespace rill::server
