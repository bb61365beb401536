//! Links the `aitaem` binary as a position-dependent executable on Linux.
//!
//! The bundled DuckDB brings about 120,000 relative relocations; a position-independent
//! executable applies them, and copies the pages they touch, at every start: about 3-4 ms of
//! a 40 ms small compute. A position-dependent executable has them resolved at link time (the
//! binary's own address is then not randomised; shared libraries still are).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
