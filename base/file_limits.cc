#include "base/file_limits.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"

namespace rill::base {

absl::StatusOr<int64_t> RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(std::string("getrlimit: ") + std::strerror(errno));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<int64_t>(limit.rlim_cur == RLIM_INFINITY ? INT64_MAX : limit.rlim_cur);
}

absl::StatusOr<int64_t> OpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(std::string("getrlimit: ") + std::strerror(errno));
  }
  return static_cast<int64_t>(limit.rlim_cur == RLIM_INFINITY ? INT64_MAX : limit.rlim_cur);
}

absl::StatusOr<int64_t> OpenFileCount() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return absl::InternalError(std::string("/proc/self/fd: ") + std::strerror(errno));
  }
  int64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  // The directory's own descriptor was open while it was read.
  return count - 1;
}

}  // namespace rill::base
