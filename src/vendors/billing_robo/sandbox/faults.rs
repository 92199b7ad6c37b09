//! Scripted faults: the sandbox misbehaves on purpose, one fault per API request, in the
//! order scripted (`BillingRoboSandbox::push_faults`, `PUT /_admin/faults`), then none.
//!
//! A fault strikes at one of two points:
//!
//! - **before executing** (a drop, a 5xx with [`Phase::Before`]): nothing was stored; a
//!   resend is as good as the first call;
//! - **after executing** (a 5xx with [`Phase::After`], [`Fault::Garble`], [`Fault::Stall`]):
//!   the call did its work (applications stored) and then the answer is lost, late or
//!   unreadable. This is the case of "a timeout after sending": the client must find out
//!   what landed (search by billing code) before sending again, or read the resend's
//!   "already applied".
//!
//! After-execution faults strike only a call that answered `200`: a refused call executed
//! nothing worth hiding. Faults sit inside the rate limit (a faulty request still counts)
//! and outside maintenance and authentication.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use super::errors::{dropped, garbled, parse_body, server_error};
use super::routes::MAX_BODY;
use super::state::Shared;
use crate::sandbox::DropConnection;

/// When a 5xx strikes.
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

/// One injected fault. JSON: `{"kind": "drop"}`, `{"kind": "error", "status": 502,
/// "phase": "after"}`, `{"kind": "stall", "ms": 2000, "then": "drop"}`,
/// `{"kind": "garble"}`, `{"kind": "none"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// No fault (lets a script skip a request).
    #[serde(rename = "none")]
    Pass,
    /// Close the connection without answering, before executing.
    Drop,
    Error {
        status: u16,
        #[serde(default)]
        phase: Phase,
    },
    /// Execute, then answer `200` with a body that is not the call's shape.
    Garble,
    /// Execute, then wait `ms` before answering (or dropping).
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

/// The fault layer, around maintenance, authentication and the handler.
pub async fn layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let fault = {
        let mut inner = shared.lock();
        if inner.faults.is_empty() {
            Fault::Pass
        } else {
            let fault = inner.faults.remove(0);
            if fault != Fault::Pass {
                inner.effects.faults_injected += 1;
            }
            fault
        }
    };
    match fault {
        Fault::Drop => return dropped(),
        Fault::Error {
            status,
            phase: Phase::Before,
        } => return server_error(status),
        _ => {}
    }
    let (request, echo) = if fault == Fault::Garble {
        credentials_of(request).await
    } else {
        (request, Map::new())
    };
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    match fault {
        Fault::Error {
            status,
            phase: Phase::After,
        } => server_error(status),
        Fault::Garble => garbled(echo),
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

/// The request, whole again, and its body's credentials (for a garbled answer's echo).
async fn credentials_of(request: Request) -> (Request, Map<String, Value>) {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let echo = parse_body(&bytes)
        .map(|body| super::auth::echo(&body))
        .unwrap_or_default();
    (Request::from_parts(parts, Body::from(bytes)), echo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_json() {
        let faults: Faults = serde_json::from_str(
            r#"{"next":[{"kind":"error","status":503},{"kind":"stall","ms":10,"then":"drop"},{"kind":"none"},{"kind":"garble"}]}"#,
        )
        .expect("parses");
        assert_eq!(
            faults.next,
            [
                Fault::Error {
                    status: 503,
                    phase: Phase::Before
                },
                Fault::Stall {
                    ms: 10,
                    then: StallThen::Drop
                },
                Fault::Pass,
                Fault::Garble,
            ]
        );
        assert!(faults.validate().is_ok());
        let bad = Faults {
            next: vec![Fault::Error {
                status: 404,
                phase: Phase::Before,
            }],
        };
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"nxt":[]}"#).is_err());
    }
}
