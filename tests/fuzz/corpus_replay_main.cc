// Runs a fuzz target over every file of the corpus directories given, without libFuzzer: the
// corpus becomes a regression test in every build (and under the sanitizers in
// build-sanitize). Fails if a directory holds no input, so a lost corpus is noticed.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    size_t inputs = 0;
    for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
      if (!entry.is_regular_file()) continue;
      std::ifstream file(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(file)),
                              std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
    if (inputs == 0) {
      std::fprintf(stderr, "no inputs in %s\n", argv[i]);
      return 1;
    }
    std::printf("%zu inputs of %s read\n", inputs, argv[i]);
  }
  return 0;
}
