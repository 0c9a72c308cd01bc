#include "tests/sim/raft_simulator.h"

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
  MemoryLog log;          // what the node works on
  MemoryLog durable_log;  // what survives a crash
  HardState durable_state;
  std::unique_ptr<RaftNode> raft;
  Index applied = 0;  // applied through this index (since the last restart)
};

struct InFlight {
  int deliver_at = 0;
  Message message;
};

class Simulator {
 public:
  explicit Simulator(const SimOptions& o) : o_(o), rng_(o.seed) {
    for (int i = 1; i <= o.nodes; ++i) voters_.push_back(i);
    for (NodeId id : voters_) {
      auto node = std::make_unique<Node>();
      node->id = id;
      Start(*node);
      nodes_[id] = std::move(node);
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
    // One last proposal must reach every node, and with it everything committed before.
    auto index = leader->raft->Propose("final");
    if (!index.ok()) return Fail("the leader refused a proposal");
    for (int i = 0; i < 200 && result_.ok; ++i, ++tick_) Step(false);
    for (auto& [id, n] : nodes_) {
      if (n->applied < *index) {
        return Fail(
            fmt::format("node {} applied through {} but {} was committed", id, n->applied, *index));
      }
    }
    result_.committed = static_cast<int64_t>(committed_.size());
    return result_;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<>(lo, hi)(rng_); }

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
    config.voters = voters_;
    config.seed = o_.seed;
    n.log = n.durable_log;
    n.applied = 0;
    n.raft = std::make_unique<RaftNode>(config, &n.log, n.durable_state);
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

  // Persist, then send, then apply: the order the core requires.
  void HandleReady(Node& n) {
    Ready ready = n.raft->TakeReady();
    n.durable_log = n.log;
    if (ready.hard_state) n.durable_state = *ready.hard_state;
    for (auto& m : ready.messages) {
      if (!faults_off_ && Chance(o_.drop)) continue;
      const int copies = !faults_off_ && Chance(o_.duplicate) ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        network_.push_back({tick_ + Uniform(0, o_.max_delay_ticks), m});
      }
    }
    for (const auto& e : ready.committed) Apply(n, e);
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
  }

  void Crash(Node& n) {
    // Whatever the node did since its last Ready is lost: it restarts from what it persisted.
    n.up = false;
    n.restart_at = tick_ + Uniform(5, 60);
  }

  void Step(bool faults) {
    if (faults) {
      if (Chance(o_.partition)) {
        if (!blocked_.empty() && Chance(0.5)) {
          blocked_.clear();
        } else {
          // Cut one node off, in one direction or both.
          const NodeId victim = voters_[static_cast<size_t>(Uniform(0, o_.nodes - 1))];
          const bool one_way = Chance(0.3);
          for (NodeId other : voters_) {
            if (other == victim) continue;
            blocked_.insert({victim, other});
            if (!one_way) blocked_.insert({other, victim});
          }
        }
      }
      if (Chance(o_.crash)) {
        auto& n = *nodes_[voters_[static_cast<size_t>(Uniform(0, o_.nodes - 1))]];
        if (n.up) {
          // Crash between a step and its Ready: the step's effects are lost.
          n.raft->Tick();
          Crash(n);
        }
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
    for (auto& [id, n] : nodes_) {
      if (!n->up) continue;
      n->raft->Tick();
      HandleReady(*n);
    }
    // Deliver what is due, in a shuffled order.
    std::vector<InFlight> due;
    for (auto it = network_.begin(); it != network_.end();) {
      if (it->deliver_at <= tick_) {
        due.push_back(std::move(*it));
        it = network_.erase(it);
      } else {
        ++it;
      }
    }
    std::shuffle(due.begin(), due.end(), rng_);
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
      if (first) ++result_.elections;
      if (it->second != id) {
        Fail(fmt::format("two leaders in term {}: {} and {}", term, it->second, id));
        return;
      }
      // Leader completeness: an entry committed in an earlier term is in this leader's log.
      for (const auto& [index, entry] : committed_) {
        if (commit_term_[index] >= term) continue;
        auto t = n->log.TermAt(index);
        if (!t.ok() || *t != entry.first) {
          Fail(fmt::format("leader {} of term {} lacks committed entry {}", id, term, index));
          return;
        }
      }
    }
    if (tick_ % 25 != 0) return;
    // Log matching: same index and term means identical logs up to there.
    for (auto& [a_id, a] : nodes_) {
      for (auto& [b_id, b] : nodes_) {
        if (a_id >= b_id) continue;
        const auto& ea = a->log.entries();
        const auto& eb = b->log.entries();
        size_t common = 0;
        while (common < ea.size() && common < eb.size() && ea[common].index == eb[common].index &&
               ea[common].term == eb[common].term && ea[common].data == eb[common].data) {
          ++common;
        }
        for (size_t i = common; i < ea.size(); ++i) {
          auto t = b->log.TermAt(ea[i].index);
          if (t.ok() && *t == ea[i].term) {
            Fail(
                fmt::format("log matching: nodes {} and {} share index {} term {} but differ "
                            "before it",
                            a_id, b_id, ea[i].index, ea[i].term));
            return;
          }
        }
      }
    }
  }

  const SimOptions o_;
  std::mt19937_64 rng_;
  std::vector<NodeId> voters_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::vector<InFlight> network_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  bool faults_off_ = false;
  int tick_ = 0;
  int next_value_ = 0;
  std::map<Term, NodeId> leaders_;
  std::map<Index, std::pair<Term, std::string>> committed_;
  std::map<Index, Term> commit_term_;
  SimResult result_;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) { return Simulator(options).Run(); }

}  // namespace rill::raft::sim
