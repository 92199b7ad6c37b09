//! The members a batcher has read and not yet batched, oldest first, and their leases.
//!
//! Each is a pending entry of the batcher's consumer: its lease runs out a lease after it
//! was read or last renewed, and then any batcher may reclaim it. A batcher holds members
//! for a linger, and a member whose key repeats one of a batch for longer, so it renews
//! them every third of a lease, as a worker's heartbeat renews running jobs (`leases.rs`).

use std::time::{Duration, Instant};

use crate::queue::id::JobId;
use crate::queue::store::Store;

struct Member {
    job: JobId,
    entry: String,
    read_at: Instant,
}

pub(super) struct Held {
    members: Vec<Member>,
    lease: Duration,
    /// When the leases of every held member were last known fresh.
    renewed: Instant,
}

impl Held {
    pub(super) fn new(lease: Duration) -> Self {
        Self {
            members: Vec::new(),
            lease,
            renewed: Instant::now(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.members.len()
    }

    /// When the oldest held member was read.
    pub(super) fn oldest(&self) -> Option<Instant> {
        self.members.first().map(|m| m.read_at)
    }

    /// Holds a member just read. An entry held already (reclaimed back from ourselves after
    /// a missed renewal) is not held twice.
    pub(super) fn add(&mut self, job: JobId, entry: String) {
        if self.members.iter().any(|m| m.entry == entry) {
            return;
        }
        if self.members.is_empty() {
            self.renewed = Instant::now();
        }
        self.members.push(Member {
            job,
            entry,
            read_at: Instant::now(),
        });
    }

    /// Held members as (job, stream entry), oldest first.
    pub(super) fn members(&self) -> impl Iterator<Item = (JobId, &str)> {
        self.members.iter().map(|m| (m.job, m.entry.as_str()))
    }

    /// Keeps only the members whose entries are in `entries` (the rest were batched).
    pub(super) fn keep_only(&mut self, entries: &[String]) {
        self.members.retain(|m| entries.contains(&m.entry));
    }

    /// Renews every held member's lease once a third of a lease has passed since the last
    /// renewal. A failed renewal is only logged: the next call tries again, and a lease
    /// outlives two misses.
    pub(super) async fn renew_if_due(&mut self, store: &Store, kind: &str, consumer: &str) {
        if self.members.is_empty() || self.renewed.elapsed() < self.lease / 3 {
            return;
        }
        let entries: Vec<String> = self.members.iter().map(|m| m.entry.clone()).collect();
        match store.heartbeat(kind, consumer, &entries).await {
            Ok(_) => self.renewed = Instant::now(),
            Err(e) => {
                if e.is_connection() {
                    store.note_unreachable();
                }
                tracing::warn!(%kind, error = %e, "batcher cannot renew its members' leases");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_read_again_is_held_once() {
        let mut held = Held::new(Duration::from_secs(30));
        let job = JobId::new();
        held.add(job, "1-0".into());
        held.add(job, "1-0".into());
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn the_members_left_for_later_stay_oldest_first() {
        let mut held = Held::new(Duration::from_secs(30));
        let jobs: Vec<JobId> = (0..4).map(|_| JobId::new()).collect();
        for (i, job) in jobs.iter().enumerate() {
            held.add(*job, format!("{i}-0"));
        }
        held.keep_only(&["3-0".to_string(), "1-0".to_string()]);
        let left: Vec<JobId> = held.members().map(|(job, _)| job).collect();
        assert_eq!(left, vec![jobs[1], jobs[3]]);
    }
}
