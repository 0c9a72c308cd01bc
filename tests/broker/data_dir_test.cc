#include "broker/data_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/test_util.h"

namespace rill::broker {
namespace {

TEST_CASE("data dir: formatted once, then it names its cluster and node", "[broker]") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  auto formatted = LoadOrFormatDataDir(dir, 3, "");
  REQUIRE(formatted.ok());
  CHECK(formatted->formatted);
  CHECK(formatted->cluster_id.size() == 22);
  CHECK(ValidateClusterId(formatted->cluster_id).ok());
  auto again = LoadOrFormatDataDir(dir, 3, "");
  REQUIRE(again.ok());
  CHECK_FALSE(again->formatted);
  CHECK(again->cluster_id == formatted->cluster_id);
  CHECK(LoadOrFormatDataDir(dir, 3, formatted->cluster_id).ok());

  auto other_node = LoadOrFormatDataDir(dir, 4, "");
  CHECK(absl::IsFailedPrecondition(other_node.status()));
  CHECK(std::string(other_node.status().message()) ==
        "data directory " + dir +
            " belongs to node 3, but this broker is node 4 (node.id): give each broker its own "
            "data directory");
  auto other_cluster = LoadOrFormatDataDir(dir, 3, "elsewhere");
  CHECK(absl::IsFailedPrecondition(other_cluster.status()));
  CHECK_THAT(std::string(other_cluster.status().message()),
             Catch::Contains("belongs to cluster " + formatted->cluster_id) &&
                 Catch::Contains("cluster elsewhere"));
}

TEST_CASE("data dir: a given cluster id is used, checked, and a damaged file refused", "[broker]") {
  testing::TempDir tmp;
  auto named = LoadOrFormatDataDir(tmp.Sub("a"), 1, "prod-eu_1");
  REQUIRE(named.ok());
  CHECK(named->cluster_id == "prod-eu_1");
  CHECK(absl::IsInvalidArgument(LoadOrFormatDataDir(tmp.Sub("b"), 1, "no spaces").status()));
  CHECK(
      absl::IsInvalidArgument(LoadOrFormatDataDir(tmp.Sub("b"), 1, std::string(65, 'a')).status()));
  for (const std::string& contents :
       {std::string("version=2\ncluster.id=x\nnode.id=1\n"), std::string("version=1\nnode.id=1\n"),
        std::string("version=1\ncluster.id=x\nnode.id=zero\n"), std::string("garbage")}) {
    INFO(contents);
    const std::string dir = tmp.Sub("damaged");
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/meta.properties", std::ios::trunc) << contents;
    CHECK(absl::IsDataLoss(LoadOrFormatDataDir(dir, 1, "").status()));
  }
}

}  // namespace
}  // namespace rill::broker
