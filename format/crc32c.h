// CRC32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time) and a
// portable slicing-by-8 table otherwise; both give identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rill::format {

// Extends `crc` (the CRC32C of earlier data; 0 for none) with `data`.
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t size);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

// Exposed for tests: forces the portable implementation.
uint32_t Crc32cExtendPortable(uint32_t crc, const char* data, size_t size);
bool Crc32cHardwareAvailable();

}  // namespace rill::format
