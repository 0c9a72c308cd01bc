// raft-interaction: runs the data-driven Raft interaction scripts (tests/raft/testdata/).
//
//   raft-interaction [--rewrite] FILE...
//
// A script is a sequence of blocks:
//
//   # comments
//   command arg key=value
//   ----
//   expected output (no blank lines)
//   <blank line>
//
// Each command drives a small cluster of RaftNodes by hand (see RunCommand for the list). The
// actual output of every command is compared with the expected one; --rewrite writes the
// actual output into the file instead, for reviewing as a diff.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "raft/raft.h"

namespace rill::raft {
namespace {

struct Command {
  std::string name;
  std::vector<std::string> args;               // positional
  std::map<std::string, std::string> options;  // key=value
  int line = 0;
};

std::vector<NodeId> ParseIds(const std::string& s) {
  std::vector<NodeId> ids;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) ids.push_back(NodeId(std::stoi(part)));
  }
  return ids;
}

std::string EntryString(const Entry& e) {
  std::string out = fmt::format("{}/{}", e.term, e.index);
  if (e.type == EntryType::kConfChange) {
    auto change = DecodeConfChange(e.data);
    if (!change.ok()) return out + " conf(corrupt)";
    const char* type = change->type == ConfChangeType::kAddLearner ? "add-learner"
                       : change->type == ConfChangeType::kAddVoter ? "add-voter"
                                                                   : "remove";
    return out + fmt::format(" conf({} {})", type, change->node);
  }
  if (!e.data.empty()) out += " " + e.data;
  return out;
}

std::string EntriesString(const std::vector<Entry>& entries) {
  std::vector<std::string> parts;
  for (const Entry& e : entries) parts.push_back(EntryString(e));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

const char* TypeName(MessageType t) {
  switch (t) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResp";
    case MessageType::kAppend:
      return "App";
    case MessageType::kAppendResponse:
      return "AppResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResp";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResp";
  }
  return "?";
}

std::string MessageString(const Message& m) {
  std::string out = fmt::format("{}->{} {} term={}", m.from, m.to, TypeName(m.type), m.term);
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      out += fmt::format(" last={}/{}", m.log_term, m.index);
      if (m.transfer) out += " transfer";
      break;
    case MessageType::kAppend:
      out += fmt::format(" prev={}/{} commit={} entries={}", m.log_term, m.index, m.commit,
                         EntriesString(m.entries));
      break;
    case MessageType::kAppendResponse:
      out += fmt::format(" index={}", m.index);
      if (m.reject) out += fmt::format(" reject hint={}", m.reject_hint);
      break;
    case MessageType::kHeartbeat:
      out += fmt::format(" commit={}", m.commit);
      break;
    case MessageType::kSnapshot:
      out += fmt::format(" snapshot={}/{} voters={} learners={}", m.snapshot.meta.term,
                         m.snapshot.meta.index, m.snapshot.meta.conf.voters,
                         m.snapshot.meta.conf.learners);
      break;
    case MessageType::kReadIndexResponse:
      out += fmt::format(" index={}", m.index);
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      if (m.reject) out += " reject";
      break;
    case MessageType::kHeartbeatResponse:
    case MessageType::kTimeoutNow:
    case MessageType::kReadIndex:
      break;
  }
  if (!m.context.empty()) out += fmt::format(" context={}", m.context);
  return out;
}

struct TestNode {
  MemoryLog storage;
  HardState hard_state;
  RaftConfig config;
  std::unique_ptr<RaftNode> raft;
  ConfState applied_conf;
  Index applied;
};

class Cluster {
 public:
  std::string Run(const Command& c) {
    try {
      return CollapseRepeats(RunCommand(c));
    } catch (const std::exception& e) {
      return fmt::format("bad command: {}", e.what());
    }
  }

 private:
  std::string RunCommand(const Command& c) {
    if (c.name == "add-nodes") return AddNodes(c);
    if (c.name == "campaign") return StatusString(Node(c, 0).raft->Campaign());
    if (c.name == "propose") {
      const int64_t offsets = c.options.count("offsets") ? std::stoll(c.options.at("offsets")) : 1;
      auto index = Node(c, 0).raft->Propose(c.args.at(1), offsets);
      return index.ok() ? fmt::format("index {}", *index) : index.status().ToString();
    }
    if (c.name == "propose-conf-change") {
      const std::string& type = c.args.at(1);
      ConfChange change;
      change.type = type == "add-learner" ? ConfChangeType::kAddLearner
                    : type == "add-voter" ? ConfChangeType::kAddVoter
                    : type == "remove"    ? ConfChangeType::kRemoveNode
                                          : throw std::invalid_argument("conf change type");
      change.node = NodeId(std::stoi(c.args.at(2)));
      auto index = Node(c, 0).raft->ProposeConfChange(change);
      return index.ok() ? fmt::format("index {}", *index) : index.status().ToString();
    }
    if (c.name == "transfer-leadership") {
      return StatusString(Node(c, 0).raft->TransferLeadership(NodeId(std::stoi(c.args.at(1)))));
    }
    if (c.name == "read-index") return StatusString(Node(c, 0).raft->ReadIndex(c.args.at(1)));
    if (c.name == "tick") {
      const int n = c.args.size() > 1 ? std::stoi(c.args.at(1)) : 1;
      for (int i = 0; i < n; ++i) Node(c, 0).raft->Tick();
      return "ok";
    }
    if (c.name == "process-ready") {
      std::string out;
      for (const auto& arg : c.args) Append(out, ProcessReady(NodeId(std::stoi(arg))));
      return out.empty() ? "ok" : out;
    }
    if (c.name == "deliver-msgs") {
      const bool drop = c.options.count("drop") && c.options.at("drop") == "true";
      std::string out;
      for (const auto& arg : c.args) Append(out, Deliver(NodeId(std::stoi(arg)), drop));
      return out.empty() ? "ok" : out;
    }
    if (c.name == "stabilize") return Stabilize(c.args);
    if (c.name == "partition") {
      partition_.clear();
      int group = 0;
      for (const auto& arg : c.args) {
        for (NodeId id : ParseIds(arg)) partition_[id] = group;
        ++group;
      }
      return "ok";
    }
    if (c.name == "heal") {
      partition_.clear();
      return "ok";
    }
    if (c.name == "status") return Node(c, 0).raft->Describe();
    if (c.name == "raft-state") {
      std::string out;
      for (auto& [id, n] : nodes_) {
        const std::string status = n->raft->Describe();
        Append(out, fmt::format("{}: {}", id, status.substr(0, status.find('\n'))));
      }
      return out;
    }
    if (c.name == "raft-log") {
      TestNode& n = Node(c, 0);
      const SnapshotMeta snap = n.storage.SnapshotMetadata();
      std::string out = fmt::format("snapshot {}/{} entries {} applied {}", snap.term, snap.index,
                                    EntriesString(n.storage.entries()), n.applied);
      return out;
    }
    if (c.name == "compact") {
      TestNode& n = Node(c, 0);
      const Index index(std::stoll(c.args.at(1)));
      if (index > n.applied) return fmt::format("index {} is not applied yet", index);
      return StatusString(n.storage.Compact(index, n.applied_conf, fmt::format("state@{}", index)));
    }
    if (c.name == "restart") {
      TestNode& n = Node(c, 0);
      return StatusString(Start(n));
    }
    throw std::invalid_argument(fmt::format("unknown command {}", c.name));
  }

  // Identical consecutive lines (a burst of heartbeats after many ticks) become one, "(xN)".
  static std::string CollapseRepeats(const std::string& text) {
    std::vector<std::string> lines;
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string out;
    for (size_t i = 0; i < lines.size();) {
      size_t j = i + 1;
      while (j < lines.size() && lines[j] == lines[i]) ++j;
      Append(out, j - i > 1 ? fmt::format("{} (x{})", lines[i], j - i) : lines[i]);
      i = j;
    }
    return out;
  }

  static void Append(std::string& out, const std::string& more) {
    if (more.empty()) return;
    if (!out.empty()) out += "\n";
    out += more;
  }

  static std::string StatusString(const absl::Status& s) { return s.ok() ? "ok" : s.ToString(); }

  TestNode& Node(const Command& c, size_t arg) {
    const NodeId id(std::stoi(c.args.at(arg)));
    auto it = nodes_.find(id);
    if (it == nodes_.end()) throw std::invalid_argument(fmt::format("no node {}", id));
    return *it->second;
  }

  // add-nodes N [voters=1,2,3] [learners=4] [prevote=false] [checkquorum=false]
  //           [max-entries=N] [max-inflight=N]
  std::string AddNodes(const Command& c) {
    const int count = std::stoi(c.args.at(0));
    const NodeId first = nodes_.empty() ? NodeId(1) : nodes_.rbegin()->first + 1;
    ConfState bootstrap;
    if (c.options.count("voters")) {
      bootstrap.voters = ParseIds(c.options.at("voters"));
    } else {
      for (NodeId id = first; id < first + count; ++id) bootstrap.voters.push_back(id);
    }
    if (c.options.count("learners")) bootstrap.learners = ParseIds(c.options.at("learners"));
    for (NodeId id = first; id < first + count; ++id) {
      auto n = std::make_unique<TestNode>();
      n->config.id = id;
      n->config.bootstrap = bootstrap;
      n->config.seed = 1;
      n->config.pre_vote = !(c.options.count("prevote") && c.options.at("prevote") == "false");
      n->config.check_quorum =
          !(c.options.count("checkquorum") && c.options.at("checkquorum") == "false");
      if (c.options.count("max-entries")) {
        n->config.max_entries_per_append = std::stoul(c.options.at("max-entries"));
      }
      if (c.options.count("max-inflight")) {
        n->config.max_inflight_appends = std::stoul(c.options.at("max-inflight"));
      }
      if (auto s = Start(*n); !s.ok()) return s.ToString();
      nodes_[id] = std::move(n);
    }
    return "ok";
  }

  absl::Status Start(TestNode& n) {
    auto raft = RaftNode::Create(n.config, &n.storage, n.hard_state);
    if (!raft.ok()) return raft.status();
    n.raft = *std::move(raft);
    const SnapshotMeta snap = n.storage.SnapshotMetadata();
    n.applied = snap.index;
    n.applied_conf = snap.index > Index(0) ? snap.conf : n.config.bootstrap;
    return absl::OkStatus();
  }

  std::string ProcessReady(NodeId id) {
    TestNode& n = *nodes_.at(id);
    Ready ready = n.raft->TakeReady();
    if (ready.empty()) return "";
    std::string out = fmt::format("> {} handling Ready", id);
    if (ready.hard_state) {
      Append(out, fmt::format("  HardState term={} vote={} commit={}", ready.hard_state->term,
                              ready.hard_state->vote, ready.hard_state->commit));
      n.hard_state = *ready.hard_state;
    }
    if (ready.snapshot) {
      const SnapshotMeta& meta = ready.snapshot->meta;
      Append(out,
             fmt::format("  Snapshot {}/{} voters={} learners={} data={}", meta.term, meta.index,
                         meta.conf.voters, meta.conf.learners, ready.snapshot->data));
      n.storage.ApplySnapshot(*ready.snapshot);
      n.applied = meta.index;
      n.applied_conf = meta.conf;
    }
    if (!ready.entries.empty()) {
      Append(out, fmt::format("  Entries after {}: {}", ready.entries_after,
                              EntriesString(ready.entries)));
      n.storage.Append(ready.entries_after, ready.entries);
    }
    if (!ready.committed.empty()) {
      Append(out, fmt::format("  Committed: {}", EntriesString(ready.committed)));
      for (const Entry& e : ready.committed) {
        n.applied = e.index;
        if (e.type != EntryType::kConfChange) continue;
        auto change = DecodeConfChange(e.data);
        if (!change.ok()) continue;
        auto next = ApplyConfChange(n.applied_conf, *change);
        if (next.ok()) n.applied_conf = *next;
      }
    }
    for (const ReadState& rs : ready.read_states) {
      Append(out, fmt::format("  ReadState {} at {}", rs.context, rs.index));
    }
    if (!ready.messages.empty()) {
      Append(out, "  Messages:");
      for (const Message& m : ready.messages) {
        Append(out, "  " + MessageString(m));
        mailbox_[m.to].push_back(m);
      }
    }
    n.raft->Advance();
    return out;
  }

  std::string Deliver(NodeId to, bool drop) {
    auto box = std::move(mailbox_[to]);
    mailbox_[to].clear();
    std::string out;
    for (const Message& m : box) {
      const bool cut = partition_.count(m.from) && partition_.count(m.to) &&
                       partition_.at(m.from) != partition_.at(m.to);
      if (drop || cut || !nodes_.count(to)) {
        Append(out, "dropped: " + MessageString(m));
        continue;
      }
      Append(out, MessageString(m));
      nodes_.at(to)->raft->Step(m);
    }
    return out;
  }

  std::string Stabilize(const std::vector<std::string>& args) {
    std::vector<NodeId> ids;
    for (const auto& a : args) ids.push_back(NodeId(std::stoi(a)));
    if (ids.empty()) {
      for (auto& [id, n] : nodes_) ids.push_back(id);
    }
    std::string out;
    for (int round = 0; round < 1000; ++round) {
      bool progress = false;
      for (NodeId id : ids) {
        std::string r = ProcessReady(id);
        if (!r.empty()) {
          progress = true;
          Append(out, r);
        }
      }
      for (NodeId id : ids) {
        if (mailbox_[id].empty()) continue;
        progress = true;
        Append(out, fmt::format("> {} receiving messages", id));
        std::string d = Deliver(id, false);
        std::stringstream lines(d);
        std::string line;
        while (std::getline(lines, line)) Append(out, "  " + line);
      }
      if (!progress) break;
    }
    return out.empty() ? "ok" : out;
  }

  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::map<NodeId, std::vector<Message>> mailbox_;
  std::map<NodeId, int> partition_;
};

bool RunFile(const std::string& path, bool rewrite) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  Cluster cluster;
  std::string rewritten;
  bool ok = true;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      rewritten += line + "\n";
      ++i;
      continue;
    }
    Command c;
    c.line = static_cast<int>(i + 1);
    std::stringstream words(line);
    words >> c.name;
    for (std::string w; words >> w;) {
      auto eq = w.find('=');
      if (eq == std::string::npos) {
        c.args.push_back(w);
      } else {
        c.options[w.substr(0, eq)] = w.substr(eq + 1);
      }
    }
    ++i;
    if (i >= lines.size() || lines[i] != "----") {
      std::fprintf(stderr, "%s:%d: expected ---- after the command\n", path.c_str(), c.line);
      return false;
    }
    ++i;
    std::string expected;
    while (i < lines.size() && !lines[i].empty()) {
      expected += lines[i] + "\n";
      ++i;
    }
    const std::string actual = cluster.Run(c) + "\n";
    rewritten += line + "\n----\n" + actual;
    if (i < lines.size()) {
      rewritten += "\n";  // the blank line that ends the block
      ++i;
    }
    if (actual != expected && !rewrite) {
      std::fprintf(stderr, "%s:%d: %s\n--- expected\n%s--- actual\n%s", path.c_str(), c.line,
                   line.c_str(), expected.c_str(), actual.c_str());
      ok = false;
    }
  }
  if (rewrite) {
    std::ofstream out(path);
    out << rewritten;
  }
  return ok;
}

}  // namespace
}  // namespace rill::raft

int main(int argc, char** argv) {
  bool rewrite = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--rewrite") {
      rewrite = true;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "usage: raft-interaction [--rewrite] FILE...\n");
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: raft-interaction [--rewrite] FILE...\n");
    return 2;
  }
  bool ok = true;
  for (const auto& f : files) ok = rill::raft::RunFile(f, rewrite) && ok;
  std::printf("%zu script(s) %s\n", files.size(), ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}
