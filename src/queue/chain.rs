//! Chains: the job that a finished job leads to, started in the same atomic step.
//!
//! Some vendor work has two stages that must not be one job: a credit application is
//! *sent* (its job succeeds, and its producer hears `applied`), then *awaited* for days.
//! A [`Chains`] registry says "when a job of kind K finishes, start this job", and, as a
//! [`FinalHook`], hands the queue that job as a follow-up: `settle.lua` writes it with the
//! finished job's final state. So a crash can never leave a finished stage without its
//! next one, and the next stage cannot start before the first one's webhook events exist
//! (they are written in the same step), which keeps a subject's events in order.
//!
//! A link names its job with [`JobId::then`] (derived from the finished job): a settlement
//! written twice finds the job existing and creates nothing.

use std::collections::HashMap;
use std::fmt;

use futures::future::BoxFuture;

use super::error::QueueError;
use super::hook::{FinalHook, Finished};
use super::job::NewJob;
use super::settlement::FollowUp;

/// The next job of a finished one, or none (not every outcome leads on).
pub type Link = fn(&Finished) -> Option<NewJob>;

/// What each job kind leads to when it finishes.
#[derive(Default, Clone)]
pub struct Chains {
    links: HashMap<String, Vec<Link>>,
}

impl fmt::Debug for Chains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.links.keys()).finish()
    }
}

impl Chains {
    /// When a job of `kind` finishes, `link` says which job (if any) comes next.
    pub fn register(&mut self, kind: &str, link: Link) {
        self.links.entry(kind.to_string()).or_default().push(link);
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The next jobs of these finished jobs.
    pub fn next_jobs(&self, finished: &[Finished]) -> Vec<NewJob> {
        finished
            .iter()
            .flat_map(|job| {
                self.links
                    .get(&job.kind)
                    .into_iter()
                    .flatten()
                    .filter_map(move |link| link(job))
                    // The next stage is the same app's work, in the same trace.
                    .map(move |next| {
                        next.with_traceparent(job.traceparent)
                            .with_app(job.app.clone())
                    })
            })
            .collect()
    }
}

impl FinalHook for Chains {
    fn concerns(&self, kind: &str) -> bool {
        self.links.contains_key(kind)
    }

    fn follow_ups<'a>(
        &'a self,
        finished: &'a [Finished],
    ) -> BoxFuture<'a, Result<Vec<FollowUp>, QueueError>> {
        let jobs = self.next_jobs(finished);
        Box::pin(async move {
            Ok(jobs
                .into_iter()
                .map(|job| FollowUp { job, index: None })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::queue::{JobId, JobState};

    fn finished(kind: &str, state: JobState) -> Finished {
        Finished {
            id: JobId::new(),
            kind: kind.into(),
            state,
            attempts: 1,
            result: None,
            error: None,
            reference: None,
            metadata: None,
            payload: json!({}),
            traceparent: None,
            app: None,
        }
    }

    fn on_success(job: &Finished) -> Option<NewJob> {
        (job.state == JobState::Succeeded).then(|| {
            let mut next = NewJob::new("next", json!({ "after": job.id }));
            next.id = JobId::then(&job.id, "next");
            next
        })
    }

    #[test]
    fn a_link_starts_one_job_named_after_the_finished_one() {
        let mut chains = Chains::default();
        chains.register("first", on_success);
        let done = finished("first", JobState::Succeeded);
        let jobs = chains.next_jobs(&[
            done.clone(),
            finished("first", JobState::Failed),
            finished("other", JobState::Succeeded),
        ]);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, "next");
        // The same finished job always names the same next job: a replay creates nothing.
        assert_eq!(jobs[0].id, JobId::then(&done.id, "next"));
        assert_ne!(jobs[0].id, JobId::then(&done.id, "other"));
        assert!(chains.concerns("first") && !chains.concerns("other"));
    }

    #[test]
    fn the_next_job_is_the_same_app_s() {
        let mut chains = Chains::default();
        chains.register("first", on_success);
        let shop = crate::queue::AppName::parse("shop").expect("name");
        let done = Finished {
            app: Some(shop.clone()),
            ..finished("first", JobState::Succeeded)
        };
        let jobs = chains.next_jobs(&[done, finished("first", JobState::Succeeded)]);
        let apps: Vec<_> = jobs.iter().map(|job| job.app.clone()).collect();
        assert_eq!(apps, [Some(shop), None]);
    }
}
