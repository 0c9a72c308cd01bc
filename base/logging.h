// Structured, leveled logging to stderr: `2026-11-22T23:00:00.123Z WARN storage: message`.
// Messages are fmt format strings; put machine-readable facts as key=value pairs.
// Thread-safe: each line is written with one call.
#pragma once

#include <string_view>

#include "base/fmt_absl.h"
#include "fmt/format.h"

namespace rill::logging {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
// Parses "debug", "info", "warn" or "error".
bool ParseLevel(std::string_view name, Level* level);

void Write(Level level, std::string_view module, std::string_view message);

template <typename... Args>
void Debug(std::string_view module, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kDebug)
    Write(Level::kDebug, module, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(std::string_view module, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kInfo)
    Write(Level::kInfo, module, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(std::string_view module, fmt::format_string<Args...> f, Args&&... args) {
  if (GetLevel() <= Level::kWarn)
    Write(Level::kWarn, module, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(std::string_view module, fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, module, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace rill::logging
