// ChildProcess: runs a program with its stdout read line by line on a thread, for tests that
// kill it. It dies with the test process, and with this object.
#pragma once

#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/spawn.h"

namespace rill::testing {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> args) {
    const Spawned child = SpawnPiped(std::move(args), STDOUT_FILENO);
    pid_ = child.pid;
    fd_ = child.fd;
    reader_ = std::thread([this] {
      std::string line;
      char buf[4096];
      ssize_t n;
      while ((n = read(fd_, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] != '\n') {
            line.push_back(buf[i]);
            continue;
          }
          std::lock_guard<std::mutex> lock(mu_);
          lines_.push_back(std::move(line));
          line.clear();
        }
      }
    });
  }
  ~ChildProcess() { Kill(); }

  void Kill() {
    if (pid_ <= 0) return;
    SignalAndWait(pid_, SIGKILL);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    close(fd_);
  }

  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace rill::testing
