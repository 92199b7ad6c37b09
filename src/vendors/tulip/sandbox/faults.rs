//! Scripted faults: one per vendor API request, in the order scripted
//! (`TulipSandbox::push_faults`, `PUT /_admin/faults`), then none.
//!
//! - **before executing** (`drop`, `rate_limited`, `error` with `phase: before`): nothing
//!   was stored; a resend is as good as the first call.
//! - **after executing** (`error` with `phase: after`, `stall`): the call did its work (the
//!   contract is stored) and then the answer is lost or late. This is "a timeout after the
//!   request went out": a client that sends the creation again blindly makes a second
//!   contract, which `GET /_admin/counts` shows. After-execution faults strike only a call
//!   that succeeded.
//!
//! JSON: `{"kind": "drop"}`, `{"kind": "rate_limited", "retry_after_secs": 1}`,
//! `{"kind": "error", "status": 503, "phase": "after"}`, `{"kind": "stall", "ms": 2000,
//! "then": "drop"}`, `{"kind": "none"}`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::errors::{dropped, error_with, server_error};
use super::state::Shared;
use crate::sandbox::DropConnection;

/// When an injected 5xx strikes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Before,
    After,
}

/// What a stalled call does once its stall is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StallThen {
    /// Sends the answer (which a client with a shorter timeout no longer waits for).
    #[default]
    Answer,
    /// Closes the connection without answering.
    Drop,
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// No fault (lets a script skip a request).
    #[serde(rename = "none")]
    Pass,
    /// Close the connection without answering, before executing.
    Drop,
    /// 429 before executing, with `Retry-After` when given.
    RateLimited {
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// A 5xx page.
    Error {
        status: u16,
        #[serde(default)]
        phase: Phase,
    },
    /// Execute (store the contract), then wait `ms` before answering or dropping.
    Stall {
        ms: u64,
        #[serde(default)]
        then: StallThen,
    },
}

/// The scripted faults, as `GET`/`PUT /_admin/faults` show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub next: Vec<Fault>,
}

impl Faults {
    /// Injected errors are 5xx.
    pub fn validate(&self) -> Result<(), String> {
        for fault in &self.next {
            if let Fault::Error { status, .. } = fault
                && !(500..=599).contains(status)
            {
                return Err(format!("injected errors are 5xx, not {status}"));
            }
        }
        Ok(())
    }
}

/// The fault layer, around authentication and the handler.
pub async fn layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (fault, envelope) = {
        let mut inner = shared.lock();
        let fault = if inner.faults.is_empty() {
            Fault::Pass
        } else {
            inner.faults.remove(0)
        };
        if fault != Fault::Pass {
            inner.effects.faults_injected += 1;
        }
        if matches!(fault, Fault::RateLimited { .. }) {
            inner.effects.rate_limited += 1;
        }
        (fault, inner.switches.envelope)
    };
    match fault {
        Fault::Drop => return dropped(),
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error_with(envelope, 429, 429, "Too many requests");
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            return response;
        }
        Fault::Error {
            status,
            phase: Phase::Before,
        } => return server_error(status),
        _ => {}
    }
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    match fault {
        Fault::Error {
            status,
            phase: Phase::After,
        } => server_error(status),
        Fault::Stall { ms, then } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if then == StallThen::Drop {
                response.extensions_mut().insert(DropConnection);
            }
            response
        }
        _ => response,
    }
}
