// Raw gRPC access to a BrokerProcess, for tests that send what the SDK never would (Catch2 test
// files only).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "rill/v1/rill.grpc.pb.h"
#include "tests/support/broker_process.h"

namespace rill::testing {

inline std::unique_ptr<v1::Rill::Stub> RawStub(const BrokerProcess& broker) {
  return v1::Rill::NewStub(
      grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials()));
}

// `chunks` become the entry's records elements, applied as if concatenated.
inline v1::ProduceResponse RawProduce(v1::Rill::Stub* stub, const std::string& topic, int partition,
                                      const std::vector<std::string>& chunks,
                                      v1::Acks acks = v1::ACKS_ALL) {
  v1::ProduceRequest request;
  request.set_acks(acks);
  auto* t = request.add_topics();
  t->set_topic(topic);
  auto* p = t->add_partitions();
  p->set_partition(partition);
  for (const auto& chunk : chunks) p->add_records(chunk);
  v1::ProduceResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Produce(&context, request, &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  REQUIRE(response.partitions_size() == 1);
  return response;
}

inline v1::ProduceResponse RawProduce(v1::Rill::Stub* stub, const std::string& topic, int partition,
                                      const std::string& records, v1::Acks acks = v1::ACKS_ALL) {
  return RawProduce(stub, topic, partition, std::vector<std::string>{records}, acks);
}

// Calls `method` ("/rill.v1.Rill/Produce") with `payload` as the request bytes, whatever they
// are; returns the call's status.
inline grpc::Status RawCall(const BrokerProcess& broker, const std::string& method,
                            const std::string& payload) {
  auto channel = grpc::CreateChannel(broker.address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(m);
                      status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
  return status;
}

// The partition's high watermark, from a ListOffsets LATEST.
inline int64_t HighWatermark(v1::Rill::Stub* stub, const std::string& topic, int partition) {
  v1::ListOffsetsRequest request;
  auto* p = request.add_partitions();
  p->set_topic(topic);
  p->set_partition(partition);
  p->set_timestamp(v1::LATEST);
  v1::ListOffsetsResponse response;
  grpc::ClientContext context;
  REQUIRE(stub->ListOffsets(&context, request, &response).ok());
  REQUIRE(response.partitions_size() == 1);
  return response.partitions(0).offset();
}

}  // namespace rill::testing
