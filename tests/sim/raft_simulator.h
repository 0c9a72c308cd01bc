// A seeded, deterministic simulator for the Raft core: a cluster on a virtual clock with
// message loss, delay, reordering, duplication, (asymmetric) partitions, crashes that lose
// everything not yet persisted, membership changes, log compaction with snapshot installs,
// leadership transfers and read-index requests. It checks Raft's safety properties after every
// step and, once the faults heal, liveness. Everything random comes from the seed, so a
// failure replays.
#pragma once

#include <cstdint>
#include <string>

namespace rill::raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;                  // initial voters; as many spare nodes can join
  int fault_ticks = 2000;         // ticks with faults
  int heal_ticks = 400;           // ticks without (in-order delivery), before liveness is checked
  double drop = 0.05;             // per message
  double duplicate = 0.02;        // per message
  int max_delay_ticks = 3;        // delivery after 0..max ticks (reorders)
  double partition = 0.004;       // per tick: a new partition (or heal)
  double crash = 0.003;           // per tick: a node crashes (losing unpersisted state)
  double torn_write = 0.001;      // per Ready: a crash while persisting it, or just after
  double crash_new_leader = 0.1;  // the same, per Ready in a leader's first 6 ticks
  double propose = 0.3;           // per tick: the leader gets a proposal
  double conf_change = 0.01;      // per tick: the leader gets a membership change
  double compact = 0.01;          // per tick: a node compacts its log through what it applied
  double transfer = 0.003;        // per tick: the leader is asked to hand over
  double read = 0.05;             // per tick: a node asks for a read index
  // Run as a partition's RaftGroup does (cluster/raft_group.h): no committed entries handed out
  // (the state machine reads its own log through Ready::applied_index, and after Advance
  // through the commit its own write completed), no no-op on an empty log, the hard state
  // persisted before the entries, and every message but append answers sent before the
  // entries are durable, so a crash can hit a leader whose followers already have entries it
  // lost.
  bool partition_mode = false;
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, with the tick
  int64_t committed = 0;
  int64_t elections = 0;
  int64_t conf_changes = 0;  // committed membership changes
  int64_t snapshots = 0;     // snapshots installed from a leader
  int64_t transfers = 0;     // leaderships that moved by transfer
  int64_t reads = 0;         // read indexes served and checked
  int64_t torn_writes = 0;   // crashes part-way through persisting a Ready
  // Ticks from the start of the heal phase until a leader existed.
  int ticks_to_elect_after_heal = -1;
  // Then, on a quiet network, ticks from the leader crashing until another node led.
  int ticks_to_elect_after_crash = -1;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace rill::raft::sim
