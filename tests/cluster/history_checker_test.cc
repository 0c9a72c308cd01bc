#include "tests/support/history_checker.h"

#include <catch2/catch.hpp>

namespace rill::testing {
namespace {

TEST_CASE("history checker: a clean history passes", "[checker]") {
  HistoryChecker h;
  h.Queued("p", "a", 0);
  h.Queued("p", "b", 0);
  h.Sent("a", 0, SendOutcome::kAcknowledged, 0);
  h.Sent("b", 0, SendOutcome::kAcknowledged, 1);
  h.Read("c1", 0, 0, "a");
  h.Read("c1", 0, 1, "b");
  h.InReplica(1, 0, 0, "a");
  h.InReplica(1, 0, 1, "b");
  h.Committed("g", 0, 1);
  h.Committed("g", 0, 2);
  const CheckReport r = h.Check();
  CHECK(r.ok(false));
  CHECK(r.acknowledged == 2);
}

TEST_CASE("history checker: each unsafe outcome is reported", "[checker]") {
  HistoryChecker h;
  SECTION("an acknowledged record never read though later ones were is lost") {
    h.Sent("a", 0, SendOutcome::kAcknowledged, 0);
    h.Read("c1", 0, 1, "b");
    CHECK(h.Check().lost.size() == 1);
  }
  SECTION("a replica lacking an acknowledged record below its end has lost it") {
    h.Sent("a", 0, SendOutcome::kAcknowledged, 0);
    h.InReplica(2, 0, 1, "b");
    CHECK(h.Check().lost.size() == 1);
  }
  SECTION("one offset with two values is inconsistent") {
    h.Read("c1", 0, 0, "a");
    h.InReplica(3, 0, 0, "x");
    CHECK(h.Check().inconsistent.size() == 1);
  }
  SECTION("an acknowledged offset holding another value is inconsistent") {
    h.Sent("a", 0, SendOutcome::kAcknowledged, 0);
    h.Read("c1", 0, 0, "b");
    CHECK_FALSE(h.Check().inconsistent.empty());
  }
  SECTION("a failed send that was read is an aborted read") {
    h.Sent("a", 0, SendOutcome::kFailed, -1);
    h.Read("c1", 0, 0, "a");
    CHECK(h.Check().aborted.size() == 1);
  }
  SECTION("a poll going back or skipping an existing record is non-monotonic") {
    h.InReplica(1, 0, 1, "b");
    h.Read("c1", 0, 0, "a");
    h.Read("c1", 0, 2, "c");
    h.Read("c1", 0, 0, "a");
    CHECK(h.Check().non_monotonic.size() == 2);
  }
  SECTION("a value at two offsets is a duplicate, allowed only when asked") {
    h.Read("c1", 0, 0, "a");
    h.Read("c1", 0, 1, "a");
    const CheckReport r = h.Check();
    CHECK(r.duplicated.size() == 1);
    CHECK(r.ok(true));
    CHECK_FALSE(r.ok(false));
  }
  SECTION("records of a partition written out of the order they were sent in are reordered") {
    h.Queued("p", "a", 0);
    h.Queued("p", "b", 0);
    h.Queued("p", "c", 1);
    // Another producer's records are in no order with these.
    h.Queued("q", "d", 0);
    h.Sent("d", 0, SendOutcome::kAcknowledged, 3);
    h.Sent("a", 0, SendOutcome::kAcknowledged, 5);
    h.Sent("b", 0, SendOutcome::kAcknowledged, 4);
    h.Sent("c", 1, SendOutcome::kAcknowledged, 0);
    CHECK(h.Check().reordered.size() == 1);
  }
  SECTION("a committed offset moving back is reported") {
    h.Committed("g", 3, 10);
    h.Committed("g", 3, 7);
    CHECK(h.Check().backwards.size() == 1);
  }
  CHECK_FALSE(h.Check().ok(false));
}

}  // namespace
}  // namespace rill::testing
