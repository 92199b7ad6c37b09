//! Job ids: UUID v7, so they sort by creation time; ids derived from a parent's; and the
//! id of a periodic job's tick, the same in every process.
//!
//! Its own file because every other file of the queue names jobs by id, while only a few
//! need the rest of `job.rs` (states and records).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A job id: a UUID v7, so ids sort by creation time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// A deterministic id derived from another job: the same `(parent, index)` always gives
    /// the same id, so a step that is replayed after a crash creates nothing new.
    pub fn derived(parent: &JobId, index: usize) -> Self {
        // Keep the parent's timestamp prefix (48 bits) so derived ids still sort by time.
        let mut prefix = [0u8; 6];
        prefix.copy_from_slice(&parent.0.as_bytes()[..6]);
        Self::hashed(prefix, &format!("{}/{index}", parent.0))
    }

    /// The id of the job that `parent` leads to when it finishes (`chain.rs`): one per
    /// `(parent, step)`, so a settlement written again, or a parent retried by an
    /// operator after it had succeeded once, never starts the next step twice.
    pub fn then(parent: &JobId, step: &str) -> Self {
        let mut prefix = [0u8; 6];
        prefix.copy_from_slice(&parent.0.as_bytes()[..6]);
        Self::hashed(prefix, &format!("{}/then/{step}", parent.0))
    }

    /// The job of tick `tick_ms` (unix ms) of the schedule `schedule`: every process that
    /// would enqueue that tick names the same job, so it can exist only once. It sorts (and
    /// reads back, `created_at_ms`) as the tick's time.
    pub fn of_tick(schedule: &str, tick_ms: i64) -> Self {
        let mut prefix = [0u8; 6];
        prefix.copy_from_slice(&tick_ms.max(0).to_be_bytes()[2..]);
        Self::hashed(prefix, &format!("schedule/{schedule}/{tick_ms}"))
    }

    /// A v7 id (variant RFC 4122) with this timestamp prefix, the rest from a hash of `seed`.
    fn hashed(prefix: [u8; 6], seed: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(seed.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[..6].copy_from_slice(&prefix);
        bytes[6] = (bytes[6] & 0x0f) | 0x70;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self(Uuid::from_bytes(bytes))
    }

    /// When the id was made, in Unix milliseconds: the timestamp a UUID v7 starts with (a
    /// derived id carries its parent's). `None` for an id of another version.
    pub fn created_at_ms(&self) -> Option<i64> {
        if self.0.get_version_num() != 7 {
            return None;
        }
        let mut millis = [0u8; 8];
        millis[2..].copy_from_slice(&self.0.as_bytes()[..6]);
        i64::try_from(u64::from_be_bytes(millis)).ok()
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_distinct_and_v7() {
        let parent = JobId::new();
        let a = JobId::derived(&parent, 0);
        assert_eq!(a, JobId::derived(&parent, 0));
        assert_ne!(a, JobId::derived(&parent, 1));
        assert_eq!(a.0.get_version_num(), 7);
        assert_eq!(&a.0.as_bytes()[..6], &parent.0.as_bytes()[..6]);
    }

    #[test]
    fn an_id_knows_when_it_was_made() {
        let before = crate::queue::clock::now_ms();
        let id = JobId::new();
        let after = crate::queue::clock::now_ms();
        let made = id.created_at_ms().expect("a v7 id");
        assert!(
            (before..=after).contains(&made),
            "{before} <= {made} <= {after}"
        );
        assert_eq!(JobId::derived(&id, 3).created_at_ms(), Some(made));
        assert_eq!(JobId(Uuid::nil()).created_at_ms(), None);
    }

    #[test]
    fn a_tick_has_one_id_of_its_own() {
        let tick = 1_767_225_600_000;
        let id = JobId::of_tick("acme.poll", tick);
        assert_eq!(id, JobId::of_tick("acme.poll", tick));
        assert_ne!(id, JobId::of_tick("acme.poll", tick + 1));
        assert_ne!(id, JobId::of_tick("acme.other", tick));
        assert_eq!(id.created_at_ms(), Some(tick));
    }
}
