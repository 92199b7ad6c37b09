//! The demo's producer: plain HTTP against the in-process API, as any upstream app.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::Value;

use super::{DEMO_API_TOKEN, DemoError, PATIENCE, POLL_EVERY, WEBHOOK_PATIENCE};
use crate::queue::{JobId, JobRecord, JobState};
use crate::startup::RunningApp;

pub(super) struct Sent {
    pub(super) job_id: JobId,
    pub(super) what: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Accepted {
    pub(super) job_id: JobId,
}

#[derive(Debug, Deserialize)]
pub(super) struct CreatedEndpoint {
    pub(super) id: String,
    pub(super) events: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct BulkAccepted {
    pub(super) jobs: Vec<Accepted>,
}

/// The demo's producer: plain HTTP against the in-process API.
pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
}

impl Api {
    pub(super) fn new(app: &RunningApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.base_url(),
        }
    }

    pub(super) async fn wait_ready(&self) -> Result<(), DemoError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.http.get(format!("{}/readyz", self.base)).send().await;
            if matches!(&answer, Ok(r) if r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DemoError::Http("the API did not become ready".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs a request that enqueues work: `202 Accepted` or an error.
    pub(super) async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<T, DemoError> {
        self.send(path, body, idempotency_key, reqwest::StatusCode::ACCEPTED)
            .await
    }

    /// POSTs `body`; any answer but `expected` is an error.
    pub(super) async fn send<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
        expected: reqwest::StatusCode,
    ) -> Result<T, DemoError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(DEMO_API_TOKEN)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await?;
        let status = response.status();
        if status != expected {
            let text = response.text().await.unwrap_or_default();
            return Err(DemoError::Http(format!(
                "POST {path} answered {status}: {text}"
            )));
        }
        Ok(response.json().await?)
    }

    /// POSTs a request the API must refuse with `expected`; answers the error body.
    pub(super) async fn refuse(
        &self,
        path: &str,
        body: &Value,
        expected: reqwest::StatusCode,
    ) -> Result<Value, DemoError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(DEMO_API_TOKEN)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if status != expected {
            return Err(DemoError::Http(format!(
                "POST {path} answered {status}, not {expected}: {answer}"
            )));
        }
        Ok(answer)
    }

    /// Waits until `count` deliveries to `endpoint` have succeeded.
    pub(super) async fn wait_delivered(
        &self,
        endpoint: &str,
        count: usize,
    ) -> Result<(), DemoError> {
        let deadline = Instant::now() + WEBHOOK_PATIENCE;
        loop {
            let page: Value = self
                .http
                .get(format!(
                    "{}/v1/webhook-deliveries?endpoint={endpoint}&state=succeeded&limit=500",
                    self.base
                ))
                .bearer_auth(DEMO_API_TOKEN)
                .send()
                .await?
                .json()
                .await?;
            let done = page["jobs"].as_array().map_or(0, Vec::len);
            if done >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DemoError::Unexpected(format!(
                    "the extra receiver got {done} of {count} deliveries"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(super) async fn job(&self, id: &JobId) -> Result<JobRecord, DemoError> {
        let response = self
            .http
            .get(format!("{}/v1/jobs/{id}", self.base))
            .bearer_auth(DEMO_API_TOKEN)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(DemoError::Http(format!(
                "GET /v1/jobs/{id} answered {status}: {text}"
            )));
        }
        Ok(response.json().await?)
    }

    /// Polls the jobs until every one is final, with a progress bar. Records in `ids` order.
    pub(super) async fn follow(
        &self,
        ids: &[JobId],
        label: &str,
    ) -> Result<Vec<JobRecord>, DemoError> {
        let bar = ProgressBar::new(ids.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} {elapsed:>4} {bar:24.cyan/blue} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▓░"),
        );
        bar.set_prefix(label.to_string());
        let deadline = Instant::now() + PATIENCE;
        let mut records: Vec<Option<JobRecord>> = vec![None; ids.len()];
        loop {
            for (slot, id) in records.iter_mut().zip(ids) {
                if slot.as_ref().is_some_and(|r| r.state.is_final()) {
                    continue;
                }
                *slot = Some(self.job(id).await?);
            }
            let count = |state: JobState| {
                records
                    .iter()
                    .flatten()
                    .filter(|r| r.state == state)
                    .count()
            };
            let done = records
                .iter()
                .flatten()
                .filter(|r| r.state.is_final())
                .count();
            bar.set_message(format!(
                "{} ok, {} failed, {} running, {} waiting",
                count(JobState::Succeeded),
                count(JobState::Failed) + count(JobState::Dead),
                count(JobState::Running),
                count(JobState::Queued) + count(JobState::Retrying) + count(JobState::Snoozed),
            ));
            bar.set_position(done as u64);
            if done == ids.len() {
                bar.finish();
                return Ok(records.into_iter().flatten().collect());
            }
            if Instant::now() > deadline {
                bar.abandon();
                return Err(DemoError::Unexpected(format!(
                    "{} of {} jobs were not done after {} s",
                    ids.len() - done,
                    ids.len(),
                    PATIENCE.as_secs()
                )));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}
