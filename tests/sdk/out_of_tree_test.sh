#!/usr/bin/env bash
# The SDK as an application developer gets it: `cmake --install` into a fresh prefix, then a
# program outside the source tree (app/) built four ways (CMake and pkg-config, shared and
# static) and run against the installed broker. The installed tools answer --version.
#
#   out_of_tree_test.sh BUILD_DIR LIBDIR VERSION [EXTRA_CXX_FLAGS]
set -euo pipefail
build_dir=$1
libdir=$2
version=$3
extra_flags=${4:-}
app_dir=$(cd "$(dirname "$0")/app" && pwd)

work=$(mktemp -d)
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then kill -9 "$broker_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  if [ -f "$work/broker.log" ]; then echo "--- broker log"; cat "$work/broker.log"; fi
  exit 1
}

prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log" || fail "cmake --install"
for file in include/rill/producer.h include/rill/consumer.h include/rill/admin.h \
            include/rill/types.h include/rill/version.h \
            "$libdir/librill.so" "$libdir/librill.a" "$libdir/cmake/Rill/RillConfig.cmake" \
            "$libdir/pkgconfig/rill.pc" "$libdir/pkgconfig/rill-static.pc"; do
  [ -e "$prefix/$file" ] || fail "cmake --install did not install $file"
done
for tool in rill-broker rillctl rill-bench rill-dump; do
  out=$("$prefix/bin/$tool" --version) || fail "$tool --version exited $?"
  [ "$out" = "$tool $version" ] || fail "$tool --version printed '$out', not '$tool $version'"
done
# No internal symbol leaks out of the shared library.
exported=$(nm -DC --defined-only "$prefix/$libdir/librill.so" |
  grep ' [TWVBDR] ' | grep -v ' rill::\(Admin\|Consumer\|Producer\|ErrorCodeOf\|Version\)' || true)
[ -z "$exported" ] || fail "librill.so exports symbols beyond the public API: $exported"

"$prefix/bin/rill-broker" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --kafka-listeners kafka://127.0.0.1:0 \
  --data-dir "$work/data" 2> "$work/broker.log" &
broker_pid=$!
brokers=""
for _ in $(seq 1 200); do
  brokers=$(grep -o ' grpc=[^ ]*' "$work/broker.log" | head -1 | cut -d= -f2 || true)
  [ -n "$brokers" ] && break
  kill -0 "$broker_pid" 2>/dev/null || fail "the installed broker exited"
  sleep 0.05
done
[ -n "$brokers" ] || fail "the installed broker did not start"

run_app() {
  local how=$1 binary=$2
  local out
  out=$("$binary" "$brokers" "sdk-$how" 300 2>&1) || fail "$how: the app failed: $out"
  grep -q "headers $version, library $version" <<< "$out" || fail "$how: versions: $out"
  grep -q "produced 300, consumed 300 distinct" <<< "$out" || fail "$how: $out"
  echo "ok: $how"
}

for link in shared static; do
  cmake -S "$app_dir" -B "$work/cmake-$link" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DLINK_STATIC="$([ $link = static ] && echo ON || echo OFF)" \
    -DCMAKE_CXX_FLAGS="$extra_flags" -DCMAKE_EXE_LINKER_FLAGS="$extra_flags" \
    > "$work/cmake-$link.log" 2>&1 || { cat "$work/cmake-$link.log"; fail "cmake ($link) configure"; }
  cmake --build "$work/cmake-$link" > "$work/cmake-$link-build.log" 2>&1 ||
    { cat "$work/cmake-$link-build.log"; fail "cmake ($link) build"; }
  run_app "cmake-$link" "$work/cmake-$link/sdk-app"
done
# Whole outputs first: `grep -q` closing a pipe early would fail the pipeline (pipefail).
shared_libs=$(ldd "$work/cmake-shared/sdk-app")
static_libs=$(ldd "$work/cmake-static/sdk-app")
grep -q "librill.so.* => $prefix/" <<< "$shared_libs" ||
  fail "the CMake-built app does not load librill.so from the prefix: $shared_libs"
if grep -q librill <<< "$static_libs"; then
  fail "the static CMake-built app loads librill.so"
fi

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
# shellcheck disable=SC2046,SC2086
g++ -std=c++20 $extra_flags "$app_dir/main.cc" -o "$work/pkg-shared" \
  $(pkg-config --cflags --libs rill) -Wl,-rpath,"$prefix/$libdir" || fail "pkg-config rill build"
run_app pkg-config-shared "$work/pkg-shared"
# shellcheck disable=SC2046,SC2086
g++ -std=c++20 $extra_flags "$app_dir/main.cc" -o "$work/pkg-static" \
  $(pkg-config --cflags --libs rill-static) || fail "pkg-config rill-static build"
run_app pkg-config-static "$work/pkg-static"
echo "PASS"
