// rillctl partition ...: moving a partition's leadership.
#include "base/fmt_absl.h"
#include "tools/rillctl/commands.h"
#include "tools/rillctl/text.h"

namespace rill::ctl {

namespace {

int TransferLeader(const Context& ctx, const ParsedArgs& args) {
  const std::string& topic = args.positionals()[0];
  const auto partition =
      static_cast<int32_t>(ParseInt("PARTITION", args.positionals()[1], 0, INT32_MAX));
  auto to = args.Value("--to");
  if (!to) throw UsageError{"partition transfer-leader needs --to BROKER"};
  const auto broker = static_cast<int32_t>(ParseInt("--to", *to, 1, INT32_MAX));
  auto timeout = args.Value("--timeout-ms");
  const int timeout_ms =
      timeout ? static_cast<int>(ParseInt("--timeout-ms", *timeout, 100, 3600000)) : 10000;
  Check(MakeAdmin(ctx)->TransferLeadership(topic, partition, broker, timeout_ms));
  if (ctx.json) {
    fmt::print("{{\"topic\":{},\"partition\":{},\"leader\":{}}}\n", JsonString(topic), partition,
               broker);
  } else {
    fmt::print("broker {} now leads {}-{}\n", broker, topic, partition);
  }
  return 0;
}

}  // namespace

std::vector<Command> PartitionCommands() {
  return {
      {{"partition transfer-leader",
        "TOPIC PARTITION",
        2,
        2,
        "Hands a partition's leadership to another of its replicas (a Raft leadership "
        "transfer) and waits until that broker leads. Producers and consumers follow the move "
        "without errors.",
        {{"--to", 0, "BROKER", "the node id of the replica to lead"},
         {"--timeout-ms", 0, "N", "how long to wait for the move (default 10000)"}},
        ""},
       TransferLeader},
  };
}

}  // namespace rill::ctl
