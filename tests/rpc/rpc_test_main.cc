// The main of the tests that run gRPC servers and channels inside the test process. Threads of
// gRPC's own may still hold references when static destructors run at exit, and gRPC then
// aborts on an internal assertion ("prior > 0", ref_counted.h) after every test passed. So the
// process ends with _Exit once Catch is done: after an explicit leak check under the
// sanitizers, which would otherwise run at exit.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int main(int argc, char** argv) {
  const int result = Catch::Session().run(argc, argv);
  std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
  std::_Exit(result);
}
