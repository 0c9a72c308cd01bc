#include <algorithm>

#include "fmt/format.h"
#include "tools/rillctl/commands.h"

namespace rill::ctl {

std::unique_ptr<Admin> MakeAdmin(const Context& ctx) { return Check(Admin::Create(ctx.client)); }

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
    }
    fmt::print("{}\n", line);
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string JoinInts(const std::vector<int32_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

std::string JoinPartitions(const std::vector<TopicPartition>& partitions) {
  std::string out;
  for (const auto& tp : partitions) {
    out += fmt::format("{}{}-{}", out.empty() ? "" : ",", tp.topic, tp.partition);
  }
  return out;
}

std::vector<int32_t> PartitionFlags(const ParsedArgs& args, const std::string& flag) {
  std::vector<int32_t> out;
  for (const auto& v : args.Values(flag)) {
    out.push_back(static_cast<int32_t>(ParseInt(flag, v, 0, INT32_MAX)));
  }
  return out;
}

}  // namespace rill::ctl
