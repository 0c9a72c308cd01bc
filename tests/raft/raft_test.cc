#include "raft/raft.h"

#include "catch2/catch.hpp"
#include "raft/log_view.h"

namespace rill::raft {
namespace {

Entry E(int64_t term, int64_t index, std::string data = "") {
  return Entry{Term(term), Index(index), EntryType::kNormal, std::move(data)};
}

Index I(int64_t index) { return Index(index); }
Term T(int64_t term) { return Term(term); }
NodeId N(int32_t id) { return NodeId(id); }
std::vector<NodeId> Nodes(std::initializer_list<int32_t> ids) {
  std::vector<NodeId> out;
  for (int32_t id : ids) out.push_back(NodeId(id));
  return out;
}

TEST_CASE("conf change encoding round-trips and rejects corrupt data", "[raft]") {
  for (auto type :
       {ConfChangeType::kAddLearner, ConfChangeType::kAddVoter, ConfChangeType::kRemoveNode}) {
    const ConfChange change{type, N(70000)};
    auto decoded = DecodeConfChange(EncodeConfChange(change));
    REQUIRE(decoded.ok());
    CHECK(*decoded == change);
  }
  std::string data = EncodeConfChange({ConfChangeType::kAddVoter, N(4)});
  CHECK(DecodeConfChange(data.substr(0, 5)).status().code() == absl::StatusCode::kDataLoss);
  std::string bad_version = data;
  bad_version[0] = 2;
  CHECK(DecodeConfChange(bad_version).status().code() == absl::StatusCode::kDataLoss);
  std::string bad_type = data;
  bad_type[1] = 9;
  CHECK(DecodeConfChange(bad_type).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("ApplyConfChange refuses changes that do not fit the configuration", "[raft]") {
  const ConfState conf{Nodes({1, 2, 3}), Nodes({4})};
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kAddLearner, N(2)}).ok());
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kAddVoter, N(3)}).ok());
  CHECK(!ApplyConfChange(conf, {ConfChangeType::kRemoveNode, N(9)}).ok());
  CHECK(
      !ApplyConfChange(ConfState{Nodes({1}), Nodes({})}, {ConfChangeType::kRemoveNode, N(1)}).ok());
  auto promoted = ApplyConfChange(conf, {ConfChangeType::kAddVoter, N(4)});
  REQUIRE(promoted.ok());
  CHECK(*promoted == ConfState{Nodes({1, 2, 3, 4}), Nodes({})});
}

TEST_CASE("MemoryLog indexes entries by their last offset and compacts", "[raft]") {
  MemoryLog log;
  log.Append(I(0), {E(1, 3, "abc"), E(1, 5, "de"), E(2, 9, "fghi")});
  CHECK(log.LastIndex() == I(9));
  CHECK(*log.TermAt(I(5)) == T(1));
  CHECK(log.TermAt(I(4)).status().code() == absl::StatusCode::kNotFound);
  CHECK(log.BoundaryAtOrBefore(I(8)) == I(5));
  // The byte limit stops after the entry that crosses it, but always gives one entry.
  CHECK(log.EntriesAfter(I(0), I(9), 10, 4).size() == 1);
  CHECK(log.EntriesAfter(I(0), I(9), 10, 5).size() == 2);
  CHECK(log.EntriesAfter(I(0), I(9), 2, 1000).size() == 2);
  CHECK(log.EntriesAfter(I(0), I(5), 10, 1000).size() == 2);
  REQUIRE(log.Compact(I(5), ConfState{Nodes({1}), Nodes({})}, "state").ok());
  CHECK(log.TermAt(I(3)).status().code() == absl::StatusCode::kOutOfRange);
  CHECK(*log.TermAt(I(5)) == T(1));
  CHECK(log.BoundaryAtOrBefore(I(2)) == I(2));
  CHECK(log.Compact(I(7), {}, "").code() == absl::StatusCode::kNotFound);
  log.Append(I(5), {E(3, 6)});
  CHECK(log.LastIndex() == I(6));
}

TEST_CASE("LogView never reads a storage suffix it is replacing", "[raft]") {
  MemoryLog storage;
  storage.Append(I(0), {E(1, 1), E(1, 2), E(1, 3), E(1, 4)});
  LogView view(&storage);
  view.Append(I(2), {E(2, 4)});  // replaces 3 and 4
  CHECK(view.LastIndex() == I(4));
  CHECK(*view.TermAt(I(4)) == T(2));
  CHECK(view.TermAt(I(3)).status().code() == absl::StatusCode::kNotFound);
  CHECK(view.EntriesAfter(I(0), I(2), 10, 1000).size() == 2);
  auto entries = view.EntriesAfter(I(0), I(4), 10, 1000);
  REQUIRE(entries.size() == 3);
  CHECK(entries[2] == E(2, 4));
  CHECK(view.unpersisted_after() == I(2));
  storage.Append(view.unpersisted_after(), view.unpersisted_entries());
  view.Persisted(I(0), I(4), T(2));
  CHECK(view.unpersisted_entries().empty());
  CHECK(view.unpersisted_after() == I(4));
  CHECK(*view.TermAt(I(4)) == T(2));
}

TEST_CASE("RaftNode::Create checks its configuration and the persisted state", "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.bootstrap.voters = Nodes({1});
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kInvalidArgument);
  config.id = N(1);
  config.election_ticks = 1;
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kInvalidArgument);
  config.election_ticks = 10;
  CHECK(RaftNode::Create(config, &log, HardState{T(1), N(1), I(5)}).status().code() ==
        absl::StatusCode::kDataLoss);
  log.Append(I(0), {Entry{T(1), I(1), EntryType::kConfChange, "junk"}});
  CHECK(RaftNode::Create(config, &log, {}).status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("a single voter leads at once and refuses proposals past its limits", "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.id = N(1);
  config.bootstrap.voters = Nodes({1, 2});
  config.max_uncommitted_bytes = 10;
  auto node = RaftNode::Create(config, &log, {});
  REQUIRE(node.ok());
  RaftNode& raft = **node;
  CHECK(raft.Propose("x").status().code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(raft.Campaign().ok());
  CHECK(raft.role() == Role::kPreCandidate);

  MemoryLog solo_log;
  config.bootstrap.voters = Nodes({1});
  auto solo = RaftNode::Create(config, &solo_log, {});
  REQUIRE(solo.ok());
  REQUIRE((*solo)->Campaign().ok());
  CHECK((*solo)->role() == Role::kLeader);
  CHECK((*solo)->Propose("x", 0).status().code() == absl::StatusCode::kInvalidArgument);
  // A lone voter commits as soon as its own write is persisted, so nothing stays
  // uncommitted for longer than a write.
  auto index = (*solo)->Propose(std::string(10, 'a'), 5);
  REQUIRE(index.ok());
  CHECK(*index == I(6));
  CHECK((*solo)->commit() == I(0));
  Ready ready = (*solo)->TakeReady();
  CHECK(ready.entries.size() == 2);
  CHECK(ready.committed.empty());
  solo_log.Append(ready.entries_after, ready.entries);
  (*solo)->Advance();
  CHECK((*solo)->commit() == I(6));
  ready = (*solo)->TakeReady();
  CHECK(ready.committed.size() == 2);
  CHECK(ready.applied_index == I(6));
  CHECK((*solo)->TransferLeadership(N(2)).code() == absl::StatusCode::kInvalidArgument);

  // With two voters nothing commits without the other, so uncommitted bytes pile up until
  // proposals are refused.
  REQUIRE(raft.Campaign().ok());
  Message grant;
  grant.type = MessageType::kPreVoteResponse;
  grant.from = N(2);
  grant.to = N(1);
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

TEST_CASE("a leader of a log never written commits a no-op before a membership change",
          "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.id = N(1);
  config.bootstrap.voters = Nodes({1});
  config.skip_noop_on_empty_log = true;
  auto node = RaftNode::Create(config, &log, {});
  REQUIRE(node.ok());
  RaftNode& raft = **node;
  REQUIRE(raft.Campaign().ok());
  REQUIRE(raft.role() == Role::kLeader);
  CHECK(raft.LastIndex() == I(0));
  const ConfChange add{ConfChangeType::kAddLearner, N(2)};
  CHECK(raft.ProposeConfChange(add).status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(raft.LastIndex() == I(1));
  Ready ready = raft.TakeReady();
  log.Append(ready.entries_after, ready.entries);
  raft.Advance();
  REQUIRE(raft.commit() == I(1));
  CHECK(raft.ProposeConfChange(add).ok());
  CHECK(raft.conf().IsLearner(N(2)));
}

TEST_CASE("a leader throttles what a learner copies of the log it joined behind", "[raft]") {
  MemoryLog log;
  RaftConfig config;
  config.id = N(1);
  config.bootstrap.voters = Nodes({1});
  config.max_bytes_per_append = 100;
  auto node = RaftNode::Create(config, &log, {});
  REQUIRE(node.ok());
  RaftNode& raft = **node;
  // Persists a Ready and returns the payload bytes of its appends to the learner, answering
  // each as accepted.
  auto step = [&] {
    Ready ready = raft.TakeReady();
    log.Append(ready.entries_after, ready.entries);
    raft.Advance();
    size_t bytes = 0;
    for (const Message& m : ready.messages) {
      if (m.to != N(2) || m.type != MessageType::kAppend) continue;
      for (const Entry& e : m.entries) bytes += EntryBytes(e);
      Message ack;
      ack.type = MessageType::kAppendResponse;
      ack.from = N(2);
      ack.to = N(1);
      ack.term = raft.term();
      ack.index = m.entries.empty() ? m.index : m.entries.back().index;
      raft.Step(ack);
    }
    return bytes;
  };
  REQUIRE(raft.Campaign().ok());
  step();
  for (int i = 0; i < 20; ++i) REQUIRE(raft.Propose(std::string(100, 'x')).ok());
  step();
  raft.ThrottleLearners(true);
  REQUIRE(raft.ProposeConfChange({ConfChangeType::kAddLearner, N(2)}).ok());
  const Index joined_at = raft.LastIndex();
  // The learner's first probe finds it empty.
  Ready ready = raft.TakeReady();
  log.Append(ready.entries_after, ready.entries);
  raft.Advance();
  Message reject;
  reject.type = MessageType::kAppendResponse;
  reject.from = N(2);
  reject.to = N(1);
  reject.term = raft.term();
  reject.reject = true;
  reject.index = joined_at;
  reject.reject_hint = I(0);
  raft.Step(reject);
  CHECK(step() == 0);  // no budget yet

  // Each grant lets through what it holds, give or take the one append that crosses it.
  size_t copied = 0;
  int grants = 0;
  while (raft.Matches().at(N(2)) < joined_at) {
    REQUIRE(++grants <= 40);
    raft.GrantLearnerBytes(250);
    size_t sent = 0;
    for (size_t bytes = step(); bytes > 0; bytes = step()) sent += bytes;
    CHECK(sent <= 350);
    copied += sent;
    CHECK(copied <= 250 * static_cast<size_t>(grants) + 100);
  }
  CHECK(copied >= 2000);
  CHECK(copied < 2100);  // the entries and the configuration change
  CHECK(grants >= 7);

  // What is written after the learner joined goes out at once, without a grant.
  REQUIRE(raft.Propose(std::string(100, 'y')).ok());
  CHECK(step() == 100);
  CHECK(raft.Matches().at(N(2)) == raft.LastIndex());
}

}  // namespace
}  // namespace rill::raft
