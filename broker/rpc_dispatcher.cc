#include "broker/rpc_dispatcher.h"

#include <utility>

#include "base/check.h"
#include "base/fmt_absl.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/proto_buffer_reader.h"
#include "grpcpp/impl/codegen/proto_utils.h"

namespace rill::broker {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Answers a call at once with `status` (unknown methods).
class Refusal final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One unary call: read the request, check it, run the handler, write the response.
class UnaryCall final : public grpc::ServerGenericBidiReactor {
 public:
  UnaryCall(RpcDispatcher* dispatcher, const RpcDispatcher::Method* method)
      : dispatcher_(dispatcher), method_(method) {
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request"));
      return;
    }
    const int64_t bytes = static_cast<int64_t>(request_bytes_.Length());
    if (!dispatcher_->inflight().TryTake(bytes)) {
      Refuse("inflight_bytes",
             grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          fmt::format("the broker holds {} bytes of requests under way; a request "
                                      "of {} bytes would pass max.requests.inflight.bytes={}: "
                                      "retry later",
                                      dispatcher_->inflight().held(), bytes,
                                      dispatcher_->limits().max_inflight_request_bytes)));
      return;
    }
    reserved_bytes_ = bytes;
    request_.reset(method_->request_prototype->New());
    bool parsed = false;
    {
      grpc::ProtoBufferReader reader(&request_bytes_);
      parsed = request_->ParseFromZeroCopyStream(&reader);
    }
    request_bytes_.Clear();
    if (!parsed) {
      Refuse("malformed", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       fmt::format("the request is not a valid {}",
                                                   request_->GetDescriptor()->full_name())));
      return;
    }
    const int64_t max_entries = dispatcher_->limits().max_request_entries;
    if (CountEntries(*request_, max_entries) > max_entries) {
      Refuse("entries",
             grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          fmt::format("the request has more than max.request.entries={} entries "
                                      "in its lists: split it",
                                      max_entries)));
      return;
    }
    response_.reset(method_->response_prototype->New());
    method_->handler(*request_, response_.get(), Reply([this](std::function<void()> after_sent) {
      after_sent_ = std::move(after_sent);
      Respond();
    }));
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
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  std::unique_ptr<Message> request_;
  std::unique_ptr<Message> response_;
  int64_t reserved_bytes_ = 0;
  std::function<void()> after_sent_;
};

int64_t CountFieldEntries(const Message& message, int64_t max, int64_t counted) {
  const auto* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (counted > max) return counted;
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!field->is_repeated()) {
      if (is_message)
        counted = CountFieldEntries(reflection->GetMessage(message, field), max, counted);
      continue;
    }
    const int size = reflection->FieldSize(message, field);
    counted += size;
    if (!is_message) continue;
    for (int i = 0; i < size && counted <= max; ++i) {
      counted = CountFieldEntries(reflection->GetRepeatedMessage(message, field, i), max, counted);
    }
  }
  return counted;
}

}  // namespace

int64_t CountEntries(const Message& message, int64_t max) {
  return CountFieldEntries(message, max, 0);
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
  return new UnaryCall(this, &it->second);
}

}  // namespace rill::broker
