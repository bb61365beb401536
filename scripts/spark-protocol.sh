#!/usr/bin/env bash
# Regenerates the Spark Connect client code (crates/aitaem/src/backend/spark/protocol/
# spark.connect.rs) from the protocol definitions kept beside it (Apache Spark's
# sql/connect/common/src/main/protobuf/spark/connect/*.proto, Apache-2.0; the version is in
# PROTO_VERSION.txt). Uses tonic-prost-build with protox, a protobuf compiler in Rust, so no
# `protoc` is needed; the generated file is checked in, so building aitaem needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
here="$PWD/crates/aitaem/src/backend/spark/protocol"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat >"$work/Cargo.toml" <<'TOML'
[package]
name = "spark-protocol"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tonic-prost-build = "=0.14.9"
protox = "=0.10.0"

[workspace]
TOML
cat >"$work/src/main.rs" <<'RS'
fn main() {
    let mut args = std::env::args().skip(1);
    let root = std::path::PathBuf::from(args.next().expect("the protocol directory"));
    let out = args.next().expect("the output directory");
    let files: Vec<_> = std::fs::read_dir(root.join("spark/connect"))
        .expect("spark/connect")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    let descriptors = protox::compile(&files, [&root]).expect("the definitions compile");
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .bytes(".")
        .out_dir(&out)
        .compile_fds(descriptors)
        .expect("code is generated");
}
RS
cargo run --quiet --manifest-path "$work/Cargo.toml" --target-dir "$work/target" -- "$here" "$work"
cp "$work/spark.connect.rs" "$here/spark.connect.rs"
echo "spark-protocol.sh: wrote $here/spark.connect.rs" >&2
