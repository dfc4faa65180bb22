//! Compile errors of the attribute macros: each `tests/ui/*.rs` must fail to
//! compile with exactly the messages in its `.stderr` file.
//!
//! Some `.stderr` files quote rustc's own wording, so they are written
//! against the compiler pinned in `rust-toolchain.toml`. After changing a
//! message on purpose, or moving the pin to a new compiler, regenerate the
//! expected output with
//!
//! ```text
//! TRYBUILD=overwrite cargo test --test compiletest
//! ```
//!
//! and read every changed `.stderr` before committing it.

use std::process::Command;

/// The `channel` of `rust-toolchain.toml`, e.g. `1.95.0`.
fn pinned_channel() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rust-toolchain.toml");
    let text = std::fs::read_to_string(path).expect("rust-toolchain.toml at the workspace root");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("channel"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .next()
        .expect("rust-toolchain.toml names a `channel`")
}

/// The version of the `rustc` that trybuild's `cargo` will run here: the same
/// environment (`RUSTUP_TOOLCHAIN`, a `+toolchain` override) and directory.
fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(&rustc)
        .arg("--version")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|error| panic!("cannot run `{rustc} --version`: {error}"));
    assert!(output.status.success(), "`{rustc} --version` failed");
    String::from_utf8(output.stdout).expect("rustc prints UTF-8")
}

/// Fails with how to fix it when this is not the pinned compiler, instead of
/// letting a changed rustc message look like a broken macro.
fn assert_pinned_compiler() {
    let pinned = pinned_channel();
    let version = rustc_version();
    // `rustc 1.95.0 (59807616e 2026-04-14)`
    let actual = version.split_whitespace().nth(1).unwrap_or_default();
    assert_eq!(
        actual,
        pinned,
        "the UI tests' .stderr files are written against rustc {pinned} (rust-toolchain.toml), \
         but this is `{}`. Run them with the pinned compiler, or move the pin: change \
         `channel` in rust-toolchain.toml, run `TRYBUILD=overwrite cargo test --test compiletest` \
         and review every changed .stderr",
        version.trim()
    );
}

#[test]
fn the_compiler_is_the_pinned_one() {
    assert_pinned_compiler();
}

#[test]
fn ui() {
    assert_pinned_compiler();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
