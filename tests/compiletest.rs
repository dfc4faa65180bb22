//! Compile errors of the attribute macros: each `tests/ui/*.rs` must fail to
//! compile with exactly the messages in its `.stderr` file.
//!
//! After changing a message on purpose, regenerate the expected output with
//!
//! ```text
//! TRYBUILD=overwrite cargo test --test compiletest
//! ```
//!
//! and read every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
