//! The demo's standard output, which a reader may close early (`underwrite demo | head`).
//!
//! `println!` panics when stdout is a closed pipe, and a panic would skip the cleanup (the
//! demo's keys in the user's Redis, its private redis-server and temporary directory). The
//! demo prints with [`say!`](crate::demo) instead: a write that fails marks stdout closed
//! and prints nothing more, and the demo's runner, seeing the mark, ends the run through
//! the same cleanup as every other exit.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout, unless stdout is closed.
pub fn line(args: fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|()| out.flush()).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Resolves once a write found stdout closed.
pub async fn closed() {
    while !CLOSED.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
