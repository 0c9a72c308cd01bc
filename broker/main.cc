// rill-broker: see `rill-broker --help` and docs/operations.md.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/allocator.h"
#include "base/fmt_absl.h"
#include "broker/broker.h"
#include "broker/config.h"

int main(int argc, char** argv) {
  rill::base::TuneAllocatorForLargeBuffers();
  // Debian's Abseil is built with deadlock detection on, which records every lock order in a
  // global graph: a few percent of the broker's CPU on the produce path. Lock order is checked by
  // the sanitized test builds instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto load = rill::broker::LoadBrokerConfig(std::vector<std::string>(argv + 1, argv + argc));
  if (!load.ok()) {
    fmt::print(stderr, "rill-broker: {}\n", load.status().message());
    return 2;
  }
  if (load->help) {
    fmt::print("{}", load->help_text);
    return 0;
  }
  // SIGINT and SIGTERM are taken by sigwait below, in this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  rill::broker::Broker broker(std::move(load->config));
  if (absl::Status s = broker.Start(); !s.ok()) {
    fmt::print(stderr, "rill-broker: {}\n", s.message());
    return 1;
  }
  int signal = 0;
  sigwait(&signals, &signal);
  broker.Stop();
  if (absl::Status s = broker.fatal_error(); !s.ok()) {
    fmt::print(stderr, "rill-broker: {}\n", s.message());
    return 1;
  }
  return 0;
}
