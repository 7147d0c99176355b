//! `cargo xtask`: build orchestration (placeholder until the full pipeline lands).
use std::process::{Command, ExitCode};
fn main() -> ExitCode {
    let ok = Command::new("cargo")
        .args(["test", "--workspace"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
