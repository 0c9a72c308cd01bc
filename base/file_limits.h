// The process's file descriptors: its limit and how many are open, for servers that budget
// descriptors (connections, log segments) instead of failing when they run out.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace rill::base {

// Raises the soft RLIMIT_NOFILE to the hard limit (a server should not fail at the default
// 1,024 when the system allows more); returns the soft limit in force afterwards.
absl::StatusOr<int64_t> RaiseOpenFileLimit();

// The soft RLIMIT_NOFILE.
absl::StatusOr<int64_t> OpenFileLimit();

// Descriptors open in this process now (entries of /proc/self/fd).
absl::StatusOr<int64_t> OpenFileCount();

}  // namespace rill::base
