//! A worker process's identity: host, pid and a random part, unique per process start.
//!
//! It names the process's consumers in each stream's consumer group. Because a restarted
//! process gets a new name, it can never be mistaken for its previous life: jobs the old
//! one held are reclaimed from the old name once its lease runs out.

use rand::RngExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerIdentity(String);

impl WorkerIdentity {
    pub fn new() -> Self {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let random: u32 = rand::rng().random();
        Self(format!("{host}-{}-{random:08x}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The consumer name of this process for one job kind.
    pub fn consumer(&self, kind: &str) -> String {
        format!("{}/{kind}", self.0)
    }
}

impl Default for WorkerIdentity {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for WorkerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
