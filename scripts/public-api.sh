#!/usr/bin/env bash
# Checks the library's public API against the reviewed listing in crates/aitaem/public-api.txt,
# so that a change to what users can name is always deliberate. With --update, writes the
# listing of the current code instead (commit it with the change).
#
# The listing comes from cargo-public-api (installed into ~/.cache/aitaem/tools when missing) over
# rustdoc's JSON output of the library with every backend's feature. Rustdoc's JSON output is
# unstable, so it is built with RUSTC_BOOTSTRAP=1, in a build directory of its own: that variable
# changes how build scripts see the compiler and would otherwise rebuild the shared build
# directory's DuckDB. Documenting needs no object code, so there the C++ compiler writes an empty
# object file for each of the bundled DuckDB's sources instead of compiling them.
set -euo pipefail
cd "$(dirname "$0")/.."

listing=crates/aitaem/public-api.txt
tools="$HOME/.cache/aitaem/tools"
version=0.52.0 # reads rustdoc JSON format 57 (Rust 1.93 and later)
if ! "$tools/bin/cargo-public-api" --version 2>/dev/null | grep -q "$version"; then
    echo "public-api.sh: installing cargo-public-api $version (crates.io) into $tools" >&2
    (cd / && cargo install --quiet --locked "cargo-public-api@$version" --root "$tools")
fi

build="$HOME/.cache/aitaem/public-api-build"
host="$(rustc -vV | sed -n 's/^host: //p')"
mkdir -p "$build"
cat >"$build/c++" <<'SH'
#!/bin/sh
out=""
prev=""
for arg in "$@"; do
    [ "$prev" = "-o" ] && out="$arg"
    prev="$arg"
done
case "$out" in
*/libduckdb-sys-*/out/*.o) exec cc -c -x c /dev/null -o "$out" ;;
*) exec c++ "$@" ;;
esac
SH
chmod +x "$build/c++"
RUSTC_BOOTSTRAP=1 CXX="$build/c++" \
    CARGO_BUILD_BUILD_DIR="$build" CARGO_TARGET_DIR="$build/target" \
    RUSTDOCFLAGS="-Z unstable-options --output-format json -D warnings" \
    cargo doc --quiet --locked -p aitaem --lib --no-deps --features duckdb,postgres,bigquery,spark
current="$("$tools/bin/cargo-public-api" --rustdoc-json "$build/target/$host/doc/aitaem.json" \
    --simplified --simplified)"

if [ "${1:-}" = "--update" ]; then
    printf '%s\n' "$current" >"$listing"
    echo "public-api.sh: wrote $listing" >&2
elif ! diff -u "$listing" <(printf '%s\n' "$current"); then
    echo "public-api.sh: the public API differs from $listing (above: - listed, + now)." >&2
    echo "If the change is deliberate, run scripts/public-api.sh --update and commit $listing." >&2
    exit 1
fi
