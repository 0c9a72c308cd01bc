#include "server/rpc_dispatcher.h"

#include <utility>

#include "base/check.h"
#include "base/fmt_absl.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/proto_buffer_reader.h"
#include "grpcpp/impl/codegen/proto_utils.h"

namespace rill::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr int kMaxNesting = 32;

enum class Walk { kDone, kOverLimit, kMalformed };

// Counts into *counted the repeated entries of one `type` message that ends where `in`'s
// current limit (or the input) ends, stopping once the count passes `max`.
Walk CountMessage(const google::protobuf::Descriptor* type,
                  google::protobuf::io::CodedInputStream* in, int depth, int64_t max,
                  int64_t* counted) {
  using google::protobuf::internal::WireFormatLite;
  if (depth > kMaxNesting) return Walk::kMalformed;
  while (true) {
    const uint32_t tag = in->ReadTag();
    if (tag == 0) return in->ConsumedEntireMessage() ? Walk::kDone : Walk::kMalformed;
    const FieldDescriptor* field = type->FindFieldByNumber(static_cast<int>(tag >> 3));
    if (field == nullptr ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (field != nullptr && field->is_repeated()) ++*counted;
      if (!WireFormatLite::SkipField(in, tag)) return Walk::kMalformed;
    } else {
      uint32_t length = 0;
      if (!in->ReadVarint32(&length) || length > static_cast<uint32_t>(INT32_MAX)) {
        return Walk::kMalformed;
      }
      const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      const bool packed = !is_message && field->type() != FieldDescriptor::TYPE_STRING &&
                          field->type() != FieldDescriptor::TYPE_BYTES;
      if (field->is_repeated()) *counted += packed ? static_cast<int64_t>(length) : 1;
      if (*counted > max) return Walk::kOverLimit;
      if (is_message) {
        const auto limit = in->PushLimit(static_cast<int>(length));
        const Walk nested = CountMessage(field->message_type(), in, depth + 1, max, counted);
        if (nested != Walk::kDone) return nested;
        if (in->BytesUntilLimit() != 0) return Walk::kMalformed;  // cut short
        in->PopLimit(limit);
      } else if (!in->Skip(static_cast<int>(length))) {
        return Walk::kMalformed;
      }
    }
    if (*counted > max) return Walk::kOverLimit;
  }
}

// Answers a call at once with `status` (unknown methods).
class Refusal final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One unary call: read the request, check it, run the handler, write the response.
class UnaryCall final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryCall(RpcDispatcher* dispatcher, const RpcDispatcher::Method* method, std::string peer)
      : dispatcher_(dispatcher), method_(method), peer_(std::move(peer)) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      dispatcher_->NotePrematureReset(peer_);
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request"));
      return;
    }
    const int64_t bytes = static_cast<int64_t>(request_bytes_.Length());
    if (!dispatcher_->inflight().TryTake(bytes)) {
      // UNAVAILABLE, not RESOURCE_EXHAUSTED: the request itself is fine and clients (the SDK
      // among them) retry it with backoff.
      Refuse("inflight_bytes",
             grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          fmt::format("the broker holds {} bytes of requests under way; a request "
                                      "of {} bytes would pass max.requests.inflight.bytes={}: "
                                      "retry later",
                                      dispatcher_->inflight().held(), bytes,
                                      dispatcher_->limits().max_inflight_request_bytes)));
      return;
    }
    reserved_bytes_ = bytes;
    // Entries are counted in the bytes, before parsing: a million tiny entries cost far more
    // as parsed messages than as bytes.
    const auto* type = method_->request_prototype->GetDescriptor();
    const int64_t max_entries = dispatcher_->limits().max_request_entries;
    absl::StatusOr<int64_t> entries;
    {
      grpc::ProtoBufferReader reader(&request_bytes_);
      entries = CountWireEntries(type, &reader, max_entries);
    }
    if (entries.ok() && *entries > max_entries) {
      Refuse("entries",
             grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          fmt::format("the request has more than max.request.entries={} entries "
                                      "in its lists: split it",
                                      max_entries)));
      return;
    }
    request_.reset(method_->request_prototype->New());
    bool parsed = false;
    {
      grpc::ProtoBufferReader reader(&request_bytes_);
      parsed = request_->ParseFromZeroCopyStream(&reader);
    }
    request_bytes_.Clear();
    if (!parsed) {
      Refuse("malformed",
             grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          fmt::format("the request is not a valid {}", type->full_name())));
      return;
    }
    response_.reset(method_->response_prototype->New());
    method_->handler(
        *request_, response_.get(),
        Reply([this](std::function<void()> after_sent) {
          after_sent_ = std::move(after_sent);
          Respond();
        }),
        peer_);
  }

  void OnDone() override {
    dispatcher_->inflight().Give(reserved_bytes_);
    if (after_sent_) after_sent_();
    delete this;
  }

 private:
  void Refuse(const char* reason, grpc::Status status) {
    dispatcher_->metrics()->RequestRefused(reason);
    Finish(std::move(status));
  }

  void Respond() {
    bool own_buffer = false;
    grpc::Status serialized = grpc::GenericSerialize<grpc::ProtoBufferWriter, Message>(
        *response_, &response_bytes_, &own_buffer);
    // The request is done with: its budget goes back before the response is on the wire.
    request_.reset();
    response_.reset();
    dispatcher_->inflight().Give(std::exchange(reserved_bytes_, 0));
    if (!serialized.ok()) {
      Finish(serialized);
      return;
    }
    StartWriteAndFinish(&response_bytes_, grpc::WriteOptions(), grpc::Status::OK);
  }

  RpcDispatcher* const dispatcher_;
  const RpcDispatcher::Method* const method_;
  const std::string peer_;
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  std::unique_ptr<Message> request_;
  std::unique_ptr<Message> response_;
  int64_t reserved_bytes_ = 0;
  std::function<void()> after_sent_;
};

}  // namespace

absl::StatusOr<int64_t> CountWireEntries(const google::protobuf::Descriptor* type,
                                         google::protobuf::io::ZeroCopyInputStream* in,
                                         int64_t max) {
  google::protobuf::io::CodedInputStream coded(in);
  int64_t counted = 0;
  switch (CountMessage(type, &coded, 0, max, &counted)) {
    case Walk::kDone:
      return counted;
    case Walk::kOverLimit:
      return max + 1;
    case Walk::kMalformed:
      break;
  }
  return absl::InvalidArgumentError(fmt::format("not a valid {}", type->full_name()));
}

void RpcDispatcher::AddMethod(std::string_view service, std::string_view method,
                              const Message& request_prototype, const Message& response_prototype,
                              Handler handler) {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(service));
  RILL_CHECK(descriptor != nullptr);
  const auto* method_descriptor = descriptor->FindMethodByName(std::string(method));
  RILL_CHECK(method_descriptor != nullptr);
  RILL_CHECK(method_descriptor->input_type() == request_prototype.GetDescriptor());
  RILL_CHECK(method_descriptor->output_type() == response_prototype.GetDescriptor());
  std::string name = fmt::format("/{}/{}", service, method);
  RILL_CHECK(!methods_.contains(name));
  methods_.emplace(name, Method{name, &request_prototype, &response_prototype, std::move(handler)});
}

void RpcDispatcher::CheckComplete(std::string_view service) const {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(service));
  RILL_CHECK(descriptor != nullptr);
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const std::string name = fmt::format("/{}/{}", service, descriptor->method(i)->name());
    if (!methods_.contains(name)) {
      std::fprintf(stderr, "rpc method %s has no handler\n", name.c_str());
      RILL_CHECK(methods_.contains(name));
    }
  }
}

grpc::ServerGenericBidiReactor* RpcDispatcher::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  auto it = methods_.find(context->method());
  if (it == methods_.end()) {
    return new Refusal(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                    fmt::format("unknown method {}", context->method())));
  }
  return new UnaryCall(this, &it->second, context->peer());
}

void RpcDispatcher::NotePrematureReset(const std::string& peer) {
  const auto now = std::chrono::steady_clock::now();
  bool abusive = false;
  {
    absl::MutexLock lock(&resets_mu_);
    // Windows of peers long gone are dropped before the map can grow without bound.
    if (resets_.size() > 10000) {
      absl::erase_if(resets_, [now](const auto& entry) {
        return now - entry.second.start > std::chrono::seconds(1);
      });
    }
    ResetWindow& window = resets_[peer];
    if (now - window.start > std::chrono::seconds(1)) window = ResetWindow{now, 0};
    abusive = ++window.count == limits_.max_premature_resets_per_second + 1;
  }
  if (abusive) {
    metrics_->RequestRefused("premature_resets");
    if (on_abusive_peer_) on_abusive_peer_(peer);
  }
}

}  // namespace rill::server
