#include "raft/raft.h"

#include "catch2/catch.hpp"
#include "raft/log_view.h"

namespace rill::raft {
namespace {

Entry E(Term term, Index index, std::string data = "") {
  return Entry{term, index, EntryType::kNormal, std::move(data)};
}

TEST_CASE("conf change encoding round-trips and rejects corrupt data", "[raft]") {
  for (auto type :
       {ConfChangeType::kAddLearner, ConfChangeType::kAddVoter, ConfChangeType::kRemoveNode}) {
    const ConfChange change{type, 70000};
    auto decoded = DecodeConfChange(EncodeConfChange(change));
    REQUIRE(decoded.ok());
    CHECK(*decoded == change);
  }
  std::string data = EncodeConfChange({ConfChangeType::kAddVoter, 4});
  CHECK(DecodeConfChange(data.substr(0, 5)).status().code() == absl::StatusCode::kDataLoss);
  std::string bad_version = data;
  bad_version[0] = 2;
  CHECK(DecodeConfChange(bad_version).status().code() == absl::StatusCode::kDataLoss);
  std::string bad_type = data;
  bad_type[1] = 9;
  CHECK(DecodeConfChange(bad_type).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("ApplyConfChange refuses changes that do not fit the configuration", "[raft]") {
  const ConfState conf{{1, 2, 3}, {4}};
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kAddLearner, 2}).ok());
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kAddVoter, 3}).ok());
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kRemoveNode, 9}).ok());
  CHECK(!ApplyConfChange(ConfState{{1}, {}}, {ConfChangeType::kRemoveNode, 1}).ok());
  auto promoted = ApplyConfChange(conf, {ConfChangeType::kAddVoter, 4});
  REQUIRE(promoted.ok());
  CHECK(*promoted == ConfState{{1, 2, 3, 4}, {}});
}

TEST_CASE("MemoryLog indexes entries by their last offset and compacts", "[raft]") {
  MemoryLog log;
  log.Append(0, {E(1, 3, "abc"), E(1, 5, "de"), E(2, 9, "fghi")});
  CHECK(log.LastIndex() == 9);
  CHECK(*log.TermAt(5) == 1);
  CHECK(log.TermAt(4).status().code() == absl::StatusCode::kNotFound);
  CHECK(log.BoundaryAtOrBefore(8) == 5);
  // The byte limit stops after the entry that crosses it, but always gives one entry.
  CHECK(log.EntriesAfter(0, 9, 10, 4).size() == 1);
  CHECK(log.EntriesAfter(0, 9, 10, 5).size() == 2);
  CHECK(log.EntriesAfter(0, 9, 2, 1000).size() == 2);
  CHECK(log.EntriesAfter(0, 5, 10, 1000).size() == 2);
  REQUIRE(log.Compact(5, ConfState{{1}, {}}, "state").ok());
  CHECK(log.TermAt(3).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(*log.TermAt(5) == 1);
  CHECK(log.BoundaryAtOrBefore(2) == 2);
  CHECK(log.Compact(7, {}, "").code() == absl::StatusCode::kNotFound);
  log.Append(5, {E(3, 6)});
  CHECK(log.LastIndex() == 6);
}

TEST_CASE("LogView never reads a storage suffix it is replacing", "[raft]") {
  MemoryLog storage;
  storage.Append(0, {E(1, 1), E(1, 2), E(1, 3), E(1, 4)});
  LogView view(&storage);
  view.Append(2, {E(2, 4)});  // replaces 3 and 4
  CHECK(view.LastIndex() == 4);
  CHECK(*view.TermAt(4) == 2);
  CHECK(view.TermAt(3).status().code() == absl::StatusCode::kNotFound);
  CHECK(view.EntriesAfter(0, 2, 10, 1000).size() == 2);
  auto entries = view.EntriesAfter(0, 4, 10, 1000);
  REQUIRE(entries.size() == 3);
  CHECK(entries[2] == E(2, 4));
  CHECK(view.unpersisted_after() == 2);
  storage.Append(view.unpersisted_after(), view.unpersisted_entries());
  view.Persisted(0, 4, 2);
  CHECK(view.unpersisted_entries().empty());
  CHECK(view.unpersisted_after() == 4);
  CHECK(*view.TermAt(4) == 2);
}

TEST_CASE("RaftNode::Create checks its configuration and the persisted state", "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.bootstrap.voters = {1};
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kInvalidArgument);
  config.id = 1;
  config.election_ticks = 1;
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kInvalidArgument);
  config.election_ticks = 10;
  CHECK(RaftNode::Create(config, &log, HardState{1, 1, 5}).status().code() ==
        absl::StatusCode::kDataLoss);
  log.Append(0, {Entry{1, 1, EntryType::kConfChange, "junk"}});
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("a single voter leads at once and refuses proposals past its limits", "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.id = 1;
  config.bootstrap.voters = {1, 2};
  config.max_uncommitted_bytes = 10;
  auto node = RaftNode::Create(config, &log, {});
  REQUIRE(node.ok());
  RaftNode& raft = **node;
  CHECK(raft.Propose("x").status().code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(raft.Campaign().ok());
  CHECK(raft.role() == Role::kPreCandidate);

  MemoryLog solo_log;
  config.bootstrap.voters = {1};
  auto solo = RaftNode::Create(config, &solo_log, {});
  REQUIRE(solo.ok());
  REQUIRE((*solo)->Campaign().ok());
  CHECK((*solo)->role() == Role::kLeader);
  CHECK((*solo)->Propose("x", 0).status().code() == absl::StatusCode::kInvalidArgument);
  // A lone voter commits at once, so nothing stays uncommitted.
  auto index = (*solo)->Propose(std::string(10, 'a'), 5);
  REQUIRE(index.ok());
  CHECK(*index == 6);
  CHECK((*solo)->commit() == 6);
  Ready ready = (*solo)->TakeReady();
  CHECK(ready.entries.size() == 2);
  CHECK(ready.committed.size() == 2);
  CHECK((*solo)->TransferLeadership(2).code() == absl::StatusCode::kInvalidArgument);

  // With two voters nothing commits without the other, so uncommitted bytes pile up until
  // proposals are refused.
  REQUIRE(raft.Campaign().ok());
  Message grant;
  grant.type = MessageType::kPreVoteResponse;
  grant.from = 2;
  grant.to = 1;
  grant.term = raft.term() + 1;
  raft.Step(grant);
  REQUIRE(raft.role() == Role::kCandidate);
  grant.type = MessageType::kVoteResponse;
  grant.term = raft.term();
  raft.Step(grant);
  REQUIRE(raft.role() == Role::kLeader);
  REQUIRE(raft.Propose(std::string(8, 'a')).ok());
  CHECK(raft.Propose(std::string(2, 'b')).ok());
  CHECK(raft.Propose("c").status().code() == absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace rill::raft
