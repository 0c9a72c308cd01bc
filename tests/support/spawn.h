// Starting and stopping child processes in tests.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace rill::testing {

struct Spawned {
  pid_t pid = -1;
  int fd = -1;  // the read end of the child's piped stream
};

// Runs `args` (args[0] is the program's path) with its `stream` (STDOUT_FILENO or
// STDERR_FILENO) piped to the returned fd. The child dies with the test process, even when a
// test crashes. Aborts if it cannot fork.
inline Spawned SpawnPiped(std::vector<std::string> args, int stream) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], stream);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Sends `sig` and reaps the child; its exit status, or 128 + the signal that ended it.
inline int SignalAndWait(pid_t pid, int sig) {
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rill::testing
