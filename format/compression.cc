#include "format/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "fmt/format.h"
#include "format/big_endian.h"

namespace rill::format {
namespace {

// snappy-java's stream header: magic, then version 1 and the oldest compatible version 1.
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeaderBytes = 16;
constexpr size_t kXerialBlockBytes = 32 * 1024;
// Kafka's Java client uses zstd level 3 and gzip's default level.
constexpr int kZstdLevel = 3;

void AppendI32(std::string* out, int32_t v) {
  char bytes[4];
  StoreI32(bytes, v);
  out->append(bytes, sizeof bytes);
}

absl::Status Malformed(Compression codec, std::string_view why) {
  return absl::InvalidArgumentError(
      fmt::format("malformed {} data: {}", CompressionName(codec), why));
}

absl::Status TooLarge(Compression codec, size_t max_bytes) {
  return absl::ResourceExhaustedError(
      fmt::format("{} data decompresses to more than the limit of {} bytes", CompressionName(codec),
                  max_bytes));
}

// Output of a streaming decompressor that may hold at most `max_bytes`. It grows up to one byte
// past the limit, so that a stream longer than the limit shows itself by filling that byte, while
// a stream of exactly the limit still has room to report its end.
class BoundedOutput {
 public:
  BoundedOutput(std::string* out, size_t max_bytes, size_t size_hint)
      : out_(out), max_bytes_(max_bytes) {
    out_->resize(std::min(max_bytes_ + 1, std::max<size_t>(size_hint, 4096)));
  }

  // Makes sure there is room to write; false once the limit is exceeded.
  bool Reserve() {
    if (produced_ > max_bytes_) return false;
    if (produced_ == out_->size()) {
      out_->resize(std::min(max_bytes_ + 1, out_->size() * 2));
    }
    return true;
  }
  char* data() { return out_->data() + produced_; }
  size_t available() const { return out_->size() - produced_; }
  void Advance(size_t n) { produced_ += n; }
  bool exceeded() const { return produced_ > max_bytes_; }
  void Finish() { out_->resize(produced_); }

 private:
  std::string* const out_;
  const size_t max_bytes_;
  size_t produced_ = 0;
};

absl::StatusOr<std::string> GzipCompress(std::string_view raw) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return absl::InternalError("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, raw.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (result != Z_STREAM_END) return absl::InternalError("gzip: deflate did not finish");
  return out;
}

absl::Status GzipDecompress(std::string_view in, size_t max_bytes, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return absl::InternalError("gzip: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  BoundedOutput output(out, max_bytes, in.size() * 4);
  while (true) {
    if (!output.Reserve()) return TooLarge(Compression::kGzip, max_bytes);
    zs.next_out = reinterpret_cast<Bytef*>(output.data());
    zs.avail_out = static_cast<uInt>(output.available());
    const uInt before = zs.avail_out;
    const int result = inflate(&zs, Z_NO_FLUSH);
    output.Advance(before - zs.avail_out);
    if (result == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Concatenated gzip members decompress to the concatenation, as GZIPInputStream reads.
      if (inflateReset(&zs) != Z_OK) return Malformed(Compression::kGzip, "cannot reset");
      continue;
    }
    if (result == Z_BUF_ERROR && zs.avail_in == 0) {
      return Malformed(Compression::kGzip, "truncated stream");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      return Malformed(Compression::kGzip, zs.msg != nullptr ? zs.msg : "inflate failed");
    }
  }
  if (output.exceeded()) return TooLarge(Compression::kGzip, max_bytes);
  output.Finish();
  return absl::OkStatus();
}

absl::StatusOr<std::string> SnappyCompress(std::string_view raw) {
  std::string out(kXerialMagic, sizeof kXerialMagic);
  AppendI32(&out, 1);
  AppendI32(&out, 1);
  for (size_t pos = 0; pos < raw.size(); pos += kXerialBlockBytes) {
    const size_t n = std::min(kXerialBlockBytes, raw.size() - pos);
    const size_t length_pos = out.size();
    AppendI32(&out, 0);
    const size_t block_pos = out.size();
    out.resize(block_pos + snappy::MaxCompressedLength(n));
    size_t compressed = 0;
    snappy::RawCompress(raw.data() + pos, n, out.data() + block_pos, &compressed);
    out.resize(block_pos + compressed);
    StoreI32(out.data() + length_pos, static_cast<int32_t>(compressed));
  }
  return out;
}

// Appends the raw snappy block `block` to `*out`, keeping `*out` within `max_bytes`.
absl::Status AppendSnappyBlock(std::string_view block, size_t max_bytes, std::string* out) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &length)) {
    return Malformed(Compression::kSnappy, "bad block length");
  }
  if (length > max_bytes - out->size()) return TooLarge(Compression::kSnappy, max_bytes);
  const size_t pos = out->size();
  out->resize(pos + length);
  if (!snappy::RawUncompress(block.data(), block.size(), out->data() + pos)) {
    return Malformed(Compression::kSnappy, "corrupt block");
  }
  return absl::OkStatus();
}

absl::Status SnappyDecompress(std::string_view in, size_t max_bytes, std::string* out) {
  out->clear();
  if (in.size() < kXerialHeaderBytes || std::memcmp(in.data(), kXerialMagic, 8) != 0) {
    return AppendSnappyBlock(in, max_bytes, out);
  }
  for (size_t pos = kXerialHeaderBytes; pos < in.size();) {
    if (in.size() - pos < 4) return Malformed(Compression::kSnappy, "truncated block length");
    const int32_t length = LoadI32(in.data() + pos);
    pos += 4;
    if (length < 0 || static_cast<size_t>(length) > in.size() - pos) {
      return Malformed(Compression::kSnappy,
                       fmt::format("block of {} bytes exceeds the data", length));
    }
    if (auto s = AppendSnappyBlock(in.substr(pos, static_cast<size_t>(length)), max_bytes, out);
        !s.ok()) {
      return s;
    }
    pos += static_cast<size_t>(length);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Lz4Compress(std::string_view raw) {
  LZ4F_preferences_t preferences{};
  preferences.frameInfo.blockSizeID = LZ4F_max64KB;
  preferences.frameInfo.blockMode = LZ4F_blockIndependent;
  std::string out(LZ4F_compressFrameBound(raw.size(), &preferences), '\0');
  const size_t written =
      LZ4F_compressFrame(out.data(), out.size(), raw.data(), raw.size(), &preferences);
  if (LZ4F_isError(written)) {
    return absl::InternalError(fmt::format("lz4: {}", LZ4F_getErrorName(written)));
  }
  out.resize(written);
  return out;
}

absl::Status Lz4Decompress(std::string_view in, size_t max_bytes, std::string* out) {
  LZ4F_dctx* context = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION))) {
    return absl::InternalError("lz4: cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> free(context,
                                                                    LZ4F_freeDecompressionContext);
  BoundedOutput output(out, max_bytes, in.size() * 4);
  size_t pos = 0;
  size_t hint = 1;
  while (pos < in.size() || hint != 0) {
    if (!output.Reserve()) return TooLarge(Compression::kLz4, max_bytes);
    size_t written = output.available();
    size_t consumed = in.size() - pos;
    hint = LZ4F_decompress(context, output.data(), &written, in.data() + pos, &consumed, nullptr);
    if (LZ4F_isError(hint)) return Malformed(Compression::kLz4, LZ4F_getErrorName(hint));
    pos += consumed;
    output.Advance(written);
    if (hint != 0 && pos == in.size() && written == 0) {
      return Malformed(Compression::kLz4, "truncated frame");
    }
  }
  if (output.exceeded()) return TooLarge(Compression::kLz4, max_bytes);
  output.Finish();
  return absl::OkStatus();
}

absl::StatusOr<std::string> ZstdCompress(std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const size_t written = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(written)) {
    return absl::InternalError(fmt::format("zstd: {}", ZSTD_getErrorName(written)));
  }
  out.resize(written);
  return out;
}

absl::Status ZstdDecompress(std::string_view in, size_t max_bytes, std::string* out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (context == nullptr) return absl::InternalError("zstd: cannot create a context");
  // The frame may state its size; trusted only as a first allocation, never beyond the limit.
  const unsigned long long stated = ZSTD_getFrameContentSize(in.data(), in.size());
  const size_t hint = stated == ZSTD_CONTENTSIZE_UNKNOWN || stated == ZSTD_CONTENTSIZE_ERROR
                          ? in.size() * 4
                          : static_cast<size_t>(std::min<unsigned long long>(stated, max_bytes));
  BoundedOutput output(out, max_bytes, hint);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t remaining = 1;
  while (input.pos < input.size || remaining != 0) {
    if (!output.Reserve()) return TooLarge(Compression::kZstd, max_bytes);
    ZSTD_outBuffer buffer{output.data(), output.available(), 0};
    remaining = ZSTD_decompressStream(context.get(), &buffer, &input);
    if (ZSTD_isError(remaining)) {
      return Malformed(Compression::kZstd, ZSTD_getErrorName(remaining));
    }
    output.Advance(buffer.pos);
    if (remaining != 0 && input.pos == input.size && buffer.pos == 0) {
      return Malformed(Compression::kZstd, "truncated frame");
    }
  }
  if (output.exceeded()) return TooLarge(Compression::kZstd, max_bytes);
  output.Finish();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> Compress(Compression codec, std::string_view raw) {
  switch (codec) {
    case Compression::kNone:
      return std::string(raw);
    case Compression::kGzip:
      return GzipCompress(raw);
    case Compression::kSnappy:
      return SnappyCompress(raw);
    case Compression::kLz4:
      return Lz4Compress(raw);
    case Compression::kZstd:
      return ZstdCompress(raw);
  }
  return absl::InvalidArgumentError("unknown compression codec");
}

absl::Status Decompress(Compression codec, std::string_view compressed, size_t max_bytes,
                        std::string* out) {
  switch (codec) {
    case Compression::kNone:
      if (compressed.size() > max_bytes) return TooLarge(codec, max_bytes);
      out->assign(compressed);
      return absl::OkStatus();
    case Compression::kGzip:
      return GzipDecompress(compressed, max_bytes, out);
    case Compression::kSnappy:
      return SnappyDecompress(compressed, max_bytes, out);
    case Compression::kLz4:
      return Lz4Decompress(compressed, max_bytes, out);
    case Compression::kZstd:
      return ZstdDecompress(compressed, max_bytes, out);
  }
  return absl::InvalidArgumentError("unknown compression codec");
}

}  // namespace rill::format
