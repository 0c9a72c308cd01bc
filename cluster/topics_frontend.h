// TopicsFrontend: how a broker carries out a topic change a client asked of it. The change
// goes to the controller quorum's leader (wherever it is), which validates and commits it; the
// client is answered once this broker's own image, and so its partition manager, has it, so a
// client reads its own change from the broker it asked.
//
// Thread-safety: thread-safe; never blocks.
#pragma once

#include <functional>

#include "cluster/controller.h"
#include "rpc/controller_client.h"

namespace rill::cluster {

class TopicsFrontend {
 public:
  TopicsFrontend(rpc::ControllerClient* client, Controller* controller)
      : client_(client), controller_(controller) {}

  // `done` gets the controller's verdict (api/error.h codes), once this broker has applied it.
  void Change(const rpc::TopicChangeRequest& request, std::function<void(absl::Status)> done) {
    client_->ChangeTopic(request, [controller = controller_, done = std::move(done)](
                                      absl::StatusOr<Offset> offset) {
      if (!offset.ok()) {
        done(offset.status());
        return;
      }
      controller->WaitForOffset(*offset, done);
    });
  }

 private:
  rpc::ControllerClient* const client_;
  Controller* const controller_;
};

}  // namespace rill::cluster
