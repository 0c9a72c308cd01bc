// RILL_CHECK: an always-on assertion for broken invariants of our own code. Never use it on
// input from the network or disk: validate that and return a Status instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RILL_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)
