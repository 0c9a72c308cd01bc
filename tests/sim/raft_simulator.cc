#include "tests/sim/raft_simulator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "fmt/format.h"
#include "raft/raft.h"

namespace rill::raft::sim {
namespace {

struct Node {
  NodeId id = kNoNode;
  bool up = true;
  int restart_at = -1;
  MemoryLog storage;  // what survives a crash, with `durable_state`
  HardState durable_state;
  std::unique_ptr<RaftNode> raft;
  // The state machine: applied through `applied`, with the configuration applied so far.
  Index applied;
  ConfState applied_conf;
  // Partition mode: the Ready whose entries are being written (durable at `persist_at`).
  std::shared_ptr<Ready> persisting;
  int persist_at = 0;
};

struct InFlight {
  int deliver_at = 0;
  Message message;
};

struct PendingReadCheck {
  NodeId node = kNoNode;
  // The newest index committed anywhere when the read was asked: the read must see it.
  Index must_see;
  bool served = false;
};

class Simulator {
 public:
  explicit Simulator(const SimOptions& o) : o_(o), rng_(o.seed) {
    // The first `nodes` ids form the group; the rest are spares that may be added later.
    for (int i = 1; i <= 2 * o.nodes; ++i) {
      all_.push_back(NodeId(i));
      if (i <= o.nodes) bootstrap_.voters.push_back(NodeId(i));
    }
    for (NodeId id : all_) {
      auto node = std::make_unique<Node>();
      node->id = id;
      nodes_[id] = std::move(node);
      Start(*nodes_[id]);
    }
  }

  SimResult Run() {
    for (tick_ = 0; tick_ < o_.fault_ticks && result_.ok; ++tick_) Step(/*faults=*/true);
    // Heal: everyone up, no partitions, and no more losses.
    blocked_.clear();
    for (auto& [id, n] : nodes_) {
      if (!n->up) Restart(*n);
    }
    const int heal_start = tick_;
    faults_off_ = true;
    for (; tick_ < heal_start + o_.heal_ticks && result_.ok; ++tick_) {
      Step(/*faults=*/false);
      if (result_.ticks_to_elect_after_heal < 0 && Leader() != nullptr) {
        result_.ticks_to_elect_after_heal = tick_ - heal_start;
      }
    }
    if (!result_.ok) return result_;
    Node* leader = Leader();
    if (leader == nullptr) return Fail("no leader after the faults healed");
    // Failover on a quiet network: the leader crashes, and the others elect a new one.
    const NodeId crashed = leader->id;
    Crash(*leader);
    leader->restart_at = -1;
    const int crash_tick = tick_;
    for (; tick_ < crash_tick + o_.heal_ticks && result_.ok; ++tick_) {
      Step(/*faults=*/false);
      if (Node* l = Leader(); l != nullptr && l->id != crashed) {
        result_.ticks_to_elect_after_crash = tick_ - crash_tick;
        break;
      }
    }
    if (!result_.ok) return result_;
    if (result_.ticks_to_elect_after_crash < 0) {
      return Fail(
          fmt::format("no new leader within {} ticks of the leader crashing", o_.heal_ticks));
    }
    Restart(*nodes_[crashed]);
    leader = Leader();
    // One last proposal must reach every member, and with it everything committed before.
    absl::StatusOr<Index> index = absl::UnavailableError("not proposed");
    for (int i = 0; i < 50 && !index.ok() && result_.ok; ++i, ++tick_) {
      if ((leader = Leader()) != nullptr) {
        index = leader->raft->Propose("final");
        HandleReady(*leader);
      }
      Step(false);
    }
    if (!index.ok())
      return Fail(fmt::format("the leader refused a proposal: {}", index.status().ToString()));
    // A partition's writes take up to 2 ticks, one Ready at a time, so a learner far behind
    // (one entry per append in some seeds) catches up more slowly.
    const int settle_ticks = o_.partition_mode ? 800 : 200;
    for (int i = 0; i < settle_ticks && result_.ok; ++i, ++tick_) Step(false);
    if (!result_.ok) return result_;
    leader = Leader();
    if (leader == nullptr) return Fail("no leader at the end");
    const ConfState conf = leader->raft->conf();
    std::vector<NodeId> members = conf.voters;
    members.insert(members.end(), conf.learners.begin(), conf.learners.end());
    for (NodeId id : members) {
      const Node& n = *nodes_[id];
      if (n.applied < *index) {
        return Fail(fmt::format("member {} applied through {} but {} was committed; leader {}", id,
                                n.applied, *index, Describe()));
      }
    }
    result_.committed = static_cast<int64_t>(committed_.size());
    return result_;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng_); }
  template <typename T>
  T Pick(const std::vector<T>& from) {
    return from[static_cast<size_t>(Uniform(0, static_cast<int>(from.size()) - 1))];
  }

  SimResult Fail(std::string what) {
    if (result_.ok) {
      result_.ok = false;
      result_.failure = fmt::format("tick {}: {}", tick_, what);
    }
    return result_;
  }

  void Start(Node& n) {
    RaftConfig config;
    config.id = n.id;
    config.bootstrap = bootstrap_;
    config.seed = o_.seed;
    // Small limits, so flow control and backpressure are exercised.
    config.max_entries_per_append = static_cast<size_t>(1 + o_.seed % 4);
    // A quarter of the seeds run without check-quorum: then a leader cut off with a minority
    // keeps leading, and only read-index's quorum round keeps its reads from going stale.
    config.check_quorum = (o_.seed / 4) % 4 != 3;
    config.max_inflight_appends = 4;
    HardState state = n.durable_state;
    if (o_.partition_mode) {
      config.hand_out_committed = false;
      config.skip_noop_on_empty_log = true;
      // As RaftGroup::Open: the commit, written with a term or vote ahead of the entries, is a
      // hint clamped to the log.
      state.commit = std::min(state.commit, n.storage.LastIndex());
    }
    auto raft = RaftNode::Create(config, &n.storage, state);
    if (!raft.ok()) {
      Fail(fmt::format("node {} cannot restart: {}", n.id, raft.status().ToString()));
      n.up = false;
      return;
    }
    n.raft = *std::move(raft);
    // The state machine restarts from the snapshot; committed entries after it come again.
    const SnapshotMeta snap = n.storage.SnapshotMetadata();
    n.applied = snap.index;
    n.applied_conf = snap.index > Index(0) ? snap.conf : bootstrap_;
  }

  void Restart(Node& n) {
    n.up = true;
    n.restart_at = -1;
    Start(n);
  }

  Node* Leader() {
    Node* best = nullptr;
    for (auto& [id, n] : nodes_) {
      if (n->up && n->raft->role() == Role::kLeader &&
          (best == nullptr || n->raft->term() > best->raft->term())) {
        best = n.get();
      }
    }
    return best;
  }

  // Every node's state, for a failure message.
  std::string Describe() const {
    std::string out;
    for (const auto& [id, n] : nodes_) {
      out += fmt::format("\n{}: {}", id, n->up ? n->raft->Describe() : "down");
    }
    return out;
  }

  Index NewestCommitted() const {
    return committed_.empty() ? Index() : committed_.rbegin()->first;
  }

  // A partition's order (RaftGroup::Drive and Finish): snapshot and hard state, then every
  // message but append answers, then the entries are written, durable a few ticks later (one
  // Ready at a time; a crash meanwhile loses them), then the append answers, then what is
  // committed is read from the log itself.
  void HandlePartitionReady(Node& n) {
    if (n.persisting) return;
    auto ready = std::make_shared<Ready>(n.raft->TakeReady());
    if (ready->snapshot) InstallSnapshot(n, *ready->snapshot);
    if (ready->hard_state &&
        (ready->hard_state->term != n.durable_state.term ||
         ready->hard_state->vote != n.durable_state.vote)) {
      n.durable_state = *ready->hard_state;
    }
    std::vector<Message> later;
    for (auto& m : ready->messages) {
      if (m.type == MessageType::kAppendResponse) {
        later.push_back(std::move(m));
      } else {
        Send(std::move(m));
      }
    }
    ready->messages = std::move(later);
    n.persisting = ready;
    n.persist_at = ready->entries.empty() ? tick_ : tick_ + Uniform(0, 2);
    if (n.persist_at <= tick_) FinishPersisting(n);
  }

  void FinishPersisting(Node& n) {
    std::shared_ptr<Ready> ready = std::move(n.persisting);
    // A leader whose followers may already hold what it is writing is the case that matters.
    const bool leading = n.raft->role() == Role::kLeader;
    if (!ready->entries.empty() && !faults_off_ &&
        Chance(leading ? o_.crash_new_leader / 4 : o_.torn_write)) {
      const auto kept = static_cast<size_t>(Uniform(0, static_cast<int>(ready->entries.size())));
      if (kept > 0) {
        n.storage.Append(ready->entries_after, {ready->entries.begin(),
                                                ready->entries.begin() + static_cast<long>(kept)});
      }
      ++result_.torn_writes;
      Crash(n);
      return;
    }
    if (!ready->entries.empty()) n.storage.Append(ready->entries_after, ready->entries);
    for (auto& m : ready->messages) Send(std::move(m));
    ApplyFromLog(n, ready->applied_index);
    for (const auto& rs : ready->read_states) CheckRead(n, rs);
    n.raft->Advance();
    ApplyFromLog(n, std::min(n.raft->commit(), n.storage.LastIndex()));
  }

  // Applies the node's own log through `through` (a partition's high watermark).
  void ApplyFromLog(Node& n, Index through) {
    while (result_.ok && n.applied < through) {
      auto entries = n.storage.EntriesAfter(n.applied, through, 64, size_t{1} << 20);
      if (entries.empty()) {
        Fail(fmt::format("node {} committed through {} but its log has nothing after {}", n.id,
                         through, n.applied));
        return;
      }
      for (const auto& e : entries) Apply(n, e);
    }
  }

  void Send(Message m) {
    if (!faults_off_ && Chance(o_.drop)) return;
    const int copies = !faults_off_ && Chance(o_.duplicate) ? 2 : 1;
    const int delay = faults_off_ ? 1 : Uniform(0, o_.max_delay_ticks);
    for (int c = 0; c < copies; ++c) network_.push_back({tick_ + delay, m});
  }

  // Persist, then send, then apply: the order the core requires.
  void HandleReady(Node& n) {
    if (!n.up) return;
    if (o_.partition_mode) {
      HandlePartitionReady(n);
      return;
    }
    Ready ready = n.raft->TakeReady();
    // New leaders are the ones whose log repairs matter most (Figure 8): they crash more.
    const bool new_leader =
        n.raft->role() == Role::kLeader && tick_ - elected_at_[n.raft->term()] < 6;
    if (!faults_off_ && Chance(new_leader ? o_.crash_new_leader : o_.torn_write) &&
        TornWrite(n, ready)) {
      return;
    }
    if (ready.snapshot) InstallSnapshot(n, *ready.snapshot);
    if (!ready.entries.empty()) n.storage.Append(ready.entries_after, ready.entries);
    if (ready.hard_state) n.durable_state = *ready.hard_state;
    for (auto& m : ready.messages) {
      if (!faults_off_ && Chance(o_.drop)) continue;
      const int copies = !faults_off_ && Chance(o_.duplicate) ? 2 : 1;
      // A healed network delivers in order, one tick later, like a TCP stream.
      const int delay = faults_off_ ? 1 : Uniform(0, o_.max_delay_ticks);
      for (int c = 0; c < copies; ++c) network_.push_back({tick_ + delay, m});
    }
    for (const auto& e : ready.committed) Apply(n, e);
    for (const auto& rs : ready.read_states) CheckRead(n, rs);
    n.raft->Advance();
  }

  // A crash while persisting a Ready, in the documented order (snapshot, entries, hard state),
  // or just after: a prefix of it, or all of it, is durable, and nothing was sent. False if the
  // Ready had nothing to persist.
  bool TornWrite(Node& n, const Ready& ready) {
    const int steps = (ready.snapshot ? 1 : 0) + static_cast<int>(ready.entries.size()) +
                      (ready.hard_state ? 1 : 0);
    if (steps == 0) return false;
    const bool all = Uniform(0, steps) == steps;
    int durable = all ? steps : Uniform(0, steps - 1);
    if (ready.snapshot && durable > 0) {
      n.storage.ApplySnapshot(*ready.snapshot);
      --durable;
    }
    const auto entries =
        static_cast<size_t>(std::min<int>(durable, static_cast<int>(ready.entries.size())));
    if (entries > 0) {
      n.storage.Append(ready.entries_after,
                       {ready.entries.begin(), ready.entries.begin() + static_cast<long>(entries)});
    }
    if (all && ready.hard_state) n.durable_state = *ready.hard_state;
    ++result_.torn_writes;
    Crash(n);
    return true;
  }

  void InstallSnapshot(Node& n, const Snapshot& snapshot) {
    const SnapshotMeta& meta = snapshot.meta;
    auto it = committed_.find(meta.index);
    if (it == committed_.end() || it->second.first != meta.term ||
        snapshot.data != SnapshotData(meta.index, meta.term)) {
      Fail(fmt::format("node {} got a snapshot at {} term {} that matches no committed entry", n.id,
                       meta.index, meta.term));
      return;
    }
    if (meta.index <= n.applied) {
      Fail(fmt::format("node {} got a snapshot at {} after applying {}", n.id, meta.index,
                       n.applied));
      return;
    }
    n.storage.ApplySnapshot(snapshot);
    n.applied = meta.index;
    n.applied_conf = meta.conf;
    ++result_.snapshots;
  }

  static std::string SnapshotData(Index index, Term term) {
    return fmt::format("state@{}/{}", index, term);
  }

  void Apply(Node& n, const Entry& e) {
    if (e.index <= n.applied) {
      Fail(fmt::format("node {} applied {} after {}", n.id, e.index, n.applied));
      return;
    }
    n.applied = e.index;
    auto [it, first] = committed_.try_emplace(e.index, std::make_pair(e.term, e.data));
    if (!first && (it->second.first != e.term || it->second.second != e.data)) {
      Fail(
          fmt::format("state machine safety: node {} applied term {} at {}, another node "
                      "applied term {}",
                      n.id, e.term, e.index, it->second.first));
    }
    if (first) commit_term_[e.index] = n.raft->term();
    if (e.type == EntryType::kConfChange) {
      auto change = DecodeConfChange(e.data);
      auto next = change.ok() ? ApplyConfChange(n.applied_conf, *change) : change.status();
      if (!next.ok()) {
        Fail(fmt::format("node {} cannot apply the conf change at {}: {}", n.id, e.index,
                         next.status().ToString()));
        return;
      }
      n.applied_conf = *next;
      if (first) ++result_.conf_changes;
    }
  }

  void CheckRead(Node& n, const ReadState& rs) {
    auto it = reads_.find(rs.context);
    if (it == reads_.end() || it->second.node != n.id) {
      Fail(fmt::format("node {} got a read state for {} it did not ask for", n.id, rs.context));
      return;
    }
    if (rs.index < it->second.must_see) {
      Fail(fmt::format("read {} on node {} at index {} misses committed index {}", rs.context, n.id,
                       rs.index, it->second.must_see));
      return;
    }
    // A duplicated request or answer may serve one read twice; each must be correct.
    if (!it->second.served) ++result_.reads;
    it->second.served = true;
  }

  void Crash(Node& n) {
    // Whatever the node did since its last Ready is lost: it restarts from what it persisted.
    n.up = false;
    n.raft.reset();
    n.persisting.reset();
    n.restart_at = tick_ + Uniform(5, 60);
  }

  void ChangeMembership(Node& leader) {
    const ConfState& conf = leader.raft->conf();
    std::vector<ConfChange> options;
    for (NodeId id : all_) {
      if (!conf.IsMember(id) && !retired_.count(id)) {
        options.push_back({ConfChangeType::kAddLearner, id});
      }
    }
    for (NodeId id : conf.learners) {
      options.push_back({ConfChangeType::kAddVoter, id});
      options.push_back({ConfChangeType::kRemoveNode, id});
    }
    if (conf.voters.size() > 3 || (conf.voters.size() > 1 && o_.nodes < 3)) {
      for (NodeId id : conf.voters) options.push_back({ConfChangeType::kRemoveNode, id});
    }
    if (options.empty()) return;
    const ConfChange change = Pick(options);
    // A removed node's id is never reused: it may still hold an old log.
    if (leader.raft->ProposeConfChange(change).ok() && change.type == ConfChangeType::kRemoveNode) {
      retired_.insert(change.node);
    }
  }

  void Step(bool faults) {
    if (faults) {
      if (Chance(o_.partition)) {
        if (!blocked_.empty() && Chance(0.5)) {
          blocked_.clear();
        } else if (Chance(0.5)) {
          // Cut one node off, in one direction or both.
          const NodeId victim = Pick(all_);
          const bool one_way = Chance(0.3);
          for (NodeId other : all_) {
            if (other == victim) continue;
            blocked_.insert({victim, other});
            if (!one_way) blocked_.insert({other, victim});
          }
        } else {
          // Split the nodes into two random sides that cannot talk.
          std::vector<bool> side(all_.size());
          for (size_t i = 0; i < side.size(); ++i) side[i] = Chance(0.5);
          for (size_t i = 0; i < all_.size(); ++i) {
            for (size_t j = 0; j < all_.size(); ++j) {
              if (side[i] != side[j]) blocked_.insert({all_[i], all_[j]});
            }
          }
        }
      }
      if (Chance(o_.crash)) {
        Node& n = *nodes_[Pick(all_)];
        if (n.up) {
          // Crash between a step and its Ready: the step's effects are lost.
          n.raft->Tick();
          Crash(n);
        }
      }
      if (Chance(o_.compact)) {
        Node& n = *nodes_[Pick(all_)];
        if (n.up && n.applied > n.storage.SnapshotMetadata().index) {
          auto term = n.storage.TermAt(n.applied);
          if (term.ok()) {
            (void)n.storage.Compact(n.applied, n.applied_conf, SnapshotData(n.applied, *term));
          }
        }
      }
      // Each action looks the leader up again: handling a Ready may have crashed it.
      if (Node* leader = Leader(); leader != nullptr && Chance(o_.conf_change)) {
        ChangeMembership(*leader);
        HandleReady(*leader);
      }
      if (Node* leader = Leader(); leader != nullptr && Chance(o_.transfer)) {
        const NodeId to = Pick(leader->raft->conf().voters);
        if (to != leader->id && leader->raft->TransferLeadership(to).ok()) {
          transfer_to_ = to;
          transfer_term_ = leader->raft->term();
        }
        HandleReady(*leader);
      }
    }
    for (auto& [id, n] : nodes_) {
      if (!n->up && n->restart_at >= 0 && tick_ >= n->restart_at) Restart(*n);
    }
    if (Chance(o_.propose)) {
      if (Node* leader = Leader(); leader != nullptr) {
        (void)leader->raft->Propose(fmt::format("v{}", next_value_++), Uniform(1, 3));
        HandleReady(*leader);
      }
    }
    if (Chance(o_.read)) {
      // Half the reads go to a node that believes it leads: a stale leader is the one that
      // could serve a stale read.
      std::vector<NodeId> leaders;
      for (const auto& [id, n] : nodes_) {
        if (n->up && n->raft->role() == Role::kLeader) leaders.push_back(id);
      }
      Node& n = *nodes_[!leaders.empty() && Chance(0.5) ? Pick(leaders) : Pick(all_)];
      if (n.up) {
        const std::string context = fmt::format("read{}", next_read_++);
        if (n.raft->ReadIndex(context).ok()) reads_[context] = {n.id, NewestCommitted()};
        HandleReady(n);
      }
    }
    for (auto& [id, n] : nodes_) {
      if (!n->up) continue;
      if (n->persisting && n->persist_at <= tick_) FinishPersisting(*n);
      if (!n->up) continue;
      n->raft->Tick();
      HandleReady(*n);
    }
    // Deliver what is due, in a shuffled order while faults are on.
    std::vector<InFlight> due;
    for (auto it = network_.begin(); it != network_.end();) {
      if (it->deliver_at <= tick_) {
        due.push_back(std::move(*it));
        it = network_.erase(it);
      } else {
        ++it;
      }
    }
    if (!faults_off_) std::shuffle(due.begin(), due.end(), rng_);
    for (auto& f : due) {
      const Message& m = f.message;
      if (blocked_.count({m.from, m.to}) > 0) continue;
      Node& to = *nodes_[m.to];
      if (!to.up) continue;
      to.raft->Step(m);
      HandleReady(to);
    }
    CheckSafety();
  }

  void CheckSafety() {
    for (auto& [id, n] : nodes_) {
      if (!n->up || n->raft->role() != Role::kLeader) continue;
      const Term term = n->raft->term();
      auto [it, first] = leaders_.try_emplace(term, id);
      if (first) {
        elected_at_[term] = tick_;
        ++result_.elections;
        if (id == transfer_to_ && term > transfer_term_) {
          ++result_.transfers;
          transfer_to_ = kNoNode;
        }
      }
      if (it->second != id) {
        Fail(fmt::format("two leaders in term {}: {} and {}", term, it->second, id));
        return;
      }
      // Leader completeness: an entry committed in an earlier term is in this leader's log
      // (or folded into its snapshot). Checked when the leader is new and then now and again:
      // a leader never removes entries from its log.
      if (!first && tick_ % 25 != 0) continue;
      for (const auto& [index, entry] : committed_) {
        if (commit_term_[index] >= term) continue;
        auto t = n->raft->TermAt(index);
        if (t.status().code() == absl::StatusCode::kOutOfRange) continue;
        if (!t.ok() || *t != entry.first) {
          Fail(fmt::format("leader {} of term {} lacks committed entry {}", id, term, index));
          return;
        }
      }
    }
    if (tick_ % 25 == 0) CheckLogMatching();
  }

  // Log matching: two logs with an entry of the same index and term are identical up to it
  // (over the part both still hold).
  void CheckLogMatching() {
    for (auto& [a_id, a] : nodes_) {
      for (auto& [b_id, b] : nodes_) {
        if (a_id >= b_id) continue;
        const auto& ea = a->storage.entries();
        const auto& eb = b->storage.entries();
        const Index start =
            std::max(a->storage.SnapshotMetadata().index, b->storage.SnapshotMetadata().index);
        Index agree;
        for (auto it = ea.rbegin(); it != ea.rend() && it->index > start; ++it) {
          auto t = b->storage.TermAt(it->index);
          if (t.ok() && *t == it->term) {
            agree = it->index;
            break;
          }
        }
        std::vector<Entry> pa, pb;
        for (const auto& e : ea) {
          if (e.index > start && e.index <= agree) pa.push_back(e);
        }
        for (const auto& e : eb) {
          if (e.index > start && e.index <= agree) pb.push_back(e);
        }
        if (pa != pb) {
          Fail(fmt::format("log matching: nodes {} and {} share index {} but differ before it",
                           a_id, b_id, agree));
          return;
        }
      }
    }
  }

  const SimOptions o_;
  std::mt19937_64 rng_;
  std::vector<NodeId> all_;
  ConfState bootstrap_;
  std::set<NodeId> retired_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::vector<InFlight> network_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  bool faults_off_ = false;
  int tick_ = 0;
  int next_value_ = 0;
  int next_read_ = 0;
  NodeId transfer_to_ = kNoNode;
  Term transfer_term_;
  std::map<Term, NodeId> leaders_;
  std::map<Term, int> elected_at_;
  std::map<Index, std::pair<Term, std::string>> committed_;
  std::map<Index, Term> commit_term_;
  std::map<std::string, PendingReadCheck> reads_;
  SimResult result_;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) { return Simulator(options).Run(); }

}  // namespace rill::raft::sim
