// rillctl's commands: each a CommandSpec (tools/rillctl/cli.h) and the function that runs it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rill/admin.h"
#include "tools/rillctl/cli.h"

namespace rill::ctl {

struct Context {
  ClientOptions client;
  bool json = false;
};

struct Command {
  CommandSpec spec;
  std::function<int(const Context&, const ParsedArgs&)> run;
};

std::vector<Command> TopicCommands();
std::vector<Command> ProduceCommands();
std::vector<Command> ConsumeCommands();
std::vector<Command> GroupCommands();
std::vector<Command> PartitionCommands();
// offsets, cluster status.
std::vector<Command> InfoCommands();

// Shared by the commands.
std::unique_ptr<Admin> MakeAdmin(const Context& ctx);
// Rows as an aligned table under a header.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
std::string JoinInts(const std::vector<int32_t>& values);
// "t-0,t-1".
std::string JoinPartitions(const std::vector<TopicPartition>& partitions);
// -p/--partition values, each checked.
std::vector<int32_t> PartitionFlags(const ParsedArgs& args,
                                    const std::string& flag = "--partition");

}  // namespace rill::ctl
