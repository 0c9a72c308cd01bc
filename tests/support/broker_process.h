// A real rill-broker process for integration tests: listens on 127.0.0.1 with ports picked by
// the OS, data in a directory the test owns, stderr captured (printed when a test fails), and
// always stopped by the end of the test.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/spawn.h"

namespace rill::testing {

class BrokerProcess {
 public:
  // Starts the broker and waits until it serves; aborts the test binary if it cannot.
  BrokerProcess(std::string data_dir, std::vector<std::string> extra_args = {})
      : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
    Start();
  }
  ~BrokerProcess() { Kill(); }

  // Starts the process (again, after Stop or Kill, on the same data).
  void Start() {
    address_.clear();
    std::vector<std::string> args = {RILL_BROKER_BIN,   "--listen",   listen_,
                                     "--admin-listen",  "127.0.0.1:0", "--kafka-listeners",
                                     "kafka://" + kafka_listen_, "--data-dir", data_dir_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    const Spawned broker = SpawnPiped(std::move(args), STDERR_FILENO);
    pid_ = broker.pid;
    stderr_fd_ = broker.fd;
    // Read until the broker says where it listens; keep draining afterwards.
    std::string line;
    char c;
    while (read(stderr_fd_, &c, 1) == 1) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        log_.push_back(c);
      }
      if (c != '\n') {
        line.push_back(c);
        continue;
      }
      if (auto at = line.find(" grpc="); at != std::string::npos) {
        address_ = line.substr(at + 6, line.find(' ', at + 6) - at - 6);
        auto kafka = line.find(" kafka=");
        kafka_address_ = line.substr(kafka + 7, line.find(' ', kafka + 7) - kafka - 7);
        auto admin = line.find(" admin=");
        admin_address_ = line.substr(admin + 7, line.find(' ', admin + 7) - admin - 7);
        break;
      }
      line.clear();
    }
    if (address_.empty()) {
      fprintf(stderr, "rill-broker did not start:\n%s\n", log().c_str());
      std::abort();
    }
    drain_ = std::thread([this] {
      char buf[4096];
      ssize_t n;
      while ((n = read(stderr_fd_, buf, sizeof buf)) > 0) {
        std::lock_guard<std::mutex> lock(mu_);
        log_.append(buf, static_cast<size_t>(n));
      }
    });
  }

  // SIGTERM and wait; returns the exit status (-1 if not running).
  int Stop() { return Signal(SIGTERM); }
  // SIGKILL and wait.
  void Kill() { Signal(SIGKILL); }
  void Restart() {
    Stop();
    address_.clear();
    Start();
  }
  // SIGKILL (no clean shutdown) and start again on the same data.
  void KillAndRestart() {
    Kill();
    address_.clear();
    Start();
  }

  // SIGKILL and start again on the same data and the same gRPC port, so that running clients
  // find the broker where it was.
  void KillAndRestartOnSamePort() {
    Kill();
    StartOnSamePort();
  }

  // Starts again (after Kill or Stop) on the gRPC port it had.
  void StartOnSamePort() {
    listen_ = address_;
    kafka_listen_ = kafka_address_;
    address_.clear();
    Start();
    listen_ = "127.0.0.1:0";
    kafka_listen_ = "127.0.0.1:0";
  }
  // SIGSTOP and SIGCONT: the process stalls with its sockets open, as a hung machine does.
  void Pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // Resident memory of the broker process now, from /proc (0 if it is not running).
  int64_t RssBytes() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    }
    return 0;
  }
  const std::string& admin_address() const { return admin_address_; }
  // The Kafka listener's address.
  const std::string& kafka_address() const { return kafka_address_; }
  std::string log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  int Signal(int sig) {
    if (pid_ <= 0) return -1;
    // A paused broker handles SIGTERM only once it runs again.
    if (sig != SIGKILL) ::kill(pid_, SIGCONT);
    const int status = SignalAndWait(pid_, sig);
    pid_ = -1;
    if (drain_.joinable()) drain_.join();
    close(stderr_fd_);
    return status;
  }

  const std::string data_dir_;
  const std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::thread drain_;
  mutable std::mutex mu_;
  std::string log_;
  std::string address_;
  std::string admin_address_;
  std::string kafka_address_;
  std::string listen_ = "127.0.0.1:0";
  std::string kafka_listen_ = "127.0.0.1:0";
};

}  // namespace rill::testing
