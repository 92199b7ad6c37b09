//! Fault injection: the sandbox misbehaves on purpose, the way networks and vendors do, so
//! tests can prove that underwrite retries what it should and never does anything twice.
//!
//! Each API request gets at most one [`Fault`]: the next one of the scripted list
//! [`Faults::next`] if any (deterministic: what tests use), else one drawn at random from the
//! configured rates. Set them in [`super::ProtegerSandboxConfig`] or at runtime with
//! `GET`/`PUT /_admin/faults`.
//!
//! Where each fault strikes matters, so it is applied at one of two points:
//!
//! - **before executing** (the [`gateway`] layer, outside the idempotency layer, like a load
//!   balancer in front of the vendor): dropped connections, 429, and 5xx with
//!   [`Phase::Before`]. Nothing was created, and nothing is stored under the idempotency key:
//!   a retry with the same key executes for real.
//! - **after executing** (the [`after`] layer, inside the idempotency layer): 5xx with
//!   [`Phase::After`], where the contracts *were* created but the client sees a 500, and
//!   stalls, where the answer comes late (after the client's timeout) or never. The
//!   idempotency layer stores what the request produced, so a retry with the same key
//!   replays it: the stored 500 for an after-execution error, the real answer after a stall.
//!   This is the case that makes idempotency keys matter: a retry with a *new* key would
//!   create the contracts a second time.
//!
//! Latency (`latency_ms`) is added to every API request.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::errors::{NotExecuted, vendor_error};
use super::state::Shared;
use crate::sandbox::DropConnection;

/// When a 5xx strikes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing executed; nothing stored under the idempotency key.
    #[default]
    Before,
    /// The request executed (contracts created); the 500 is stored under the key.
    After,
}

/// What a stalled request does once its stall is over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StallThen {
    /// Sends the answer (which a client with a shorter timeout no longer waits for).
    #[default]
    Answer,
    /// Closes the connection without answering.
    Drop,
}

/// One injected fault. JSON: `{"kind": "error", "status": 500, "phase": "after"}`,
/// `{"kind": "rate_limit", "retry_after_secs": 2}`, `{"kind": "drop"}`,
/// `{"kind": "stall", "ms": 2000, "then": "answer"}`, `{"kind": "none"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// No fault (lets a script skip a request).
    #[serde(rename = "none")]
    Pass,
    Error {
        status: u16,
        #[serde(default)]
        phase: Phase,
    },
    RateLimit {
        retry_after_secs: u64,
    },
    /// Close the connection without answering, before executing.
    Drop,
    /// Execute, then answer `200` with a body that is not the documented shape (a vendor
    /// release that changed its answer): the effect happened, the client cannot read it.
    Garble,
    /// Execute, then wait `ms` before answering (or dropping). The idempotency key stays
    /// in flight meanwhile: the same key again gets a 409.
    Stall {
        ms: u64,
        #[serde(default)]
        then: StallThen,
    },
}

/// The faults in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Scripted faults, one per API request, in order, before any random one.
    pub next: Vec<Fault>,
    /// Share of requests (0 to 1) answered 500, 502 or 503 (picked at random).
    pub error_rate: f64,
    /// Of those, the share (0 to 1) injected after executing; the rest strike before.
    pub error_after_share: f64,
    /// Share of requests answered 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_rate: f64,
    pub retry_after_secs: u64,
    /// Share of requests whose connection is dropped without an answer (before executing).
    pub drop_rate: f64,
    /// Share of requests that stall `stall_ms` after executing, then `stall_then`.
    pub stall_rate: f64,
    pub stall_ms: u64,
    pub stall_then: StallThen,
    /// Added to every API request.
    pub latency_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            next: Vec::new(),
            error_rate: 0.0,
            error_after_share: 0.5,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            drop_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 5_000,
            stall_then: StallThen::Answer,
            latency_ms: 0,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly these faults, for the next requests, then none.
    pub fn scripted(faults: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            next: faults.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Rates are shares (0 to 1) and injected errors are 5xx.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("error_after_share", self.error_after_share),
            ("rate_limit_rate", self.rate_limit_rate),
            ("drop_rate", self.drop_rate),
            ("stall_rate", self.stall_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        for fault in &self.next {
            if let Fault::Error { status, .. } = fault
                && !(500..=599).contains(status)
            {
                return Err(format!("injected errors are 5xx, not {status}"));
            }
        }
        Ok(())
    }

    /// The fault for the next request: scripted first, else drawn from the rates (one
    /// roll, so the rates add up: `drop`, then `rate_limit`, `error`, `stall`).
    pub fn pick(&mut self) -> Fault {
        if !self.next.is_empty() {
            return self.next.remove(0);
        }
        let mut rng = rand::rng();
        let roll: f64 = rng.random();
        let mut edge = self.drop_rate;
        if roll < edge {
            return Fault::Drop;
        }
        edge += self.rate_limit_rate;
        if roll < edge {
            return Fault::RateLimit {
                retry_after_secs: self.retry_after_secs,
            };
        }
        edge += self.error_rate;
        if roll < edge {
            let status = [500, 502, 503][rng.random_range(0..3)];
            let phase = if rng.random_bool(self.error_after_share.clamp(0.0, 1.0)) {
                Phase::After
            } else {
                Phase::Before
            };
            return Fault::Error { status, phase };
        }
        edge += self.stall_rate;
        if roll < edge {
            return Fault::Stall {
                ms: self.stall_ms,
                then: self.stall_then,
            };
        }
        Fault::Pass
    }
}

/// The outer fault layer (see the module docs). It also turns any answer marked
/// [`DropConnection`] by an inner layer into a dropped connection, so the idempotency layer
/// can store the real answer of a stalled-then-dropped request first.
pub async fn gateway(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let (fault, latency_ms) = {
        let mut inner = shared.lock();
        let fault = inner.faults.pick();
        if fault != Fault::Pass {
            inner.effects.faults_injected += 1;
        }
        (fault, inner.faults.latency_ms)
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    match fault {
        Fault::Drop => return dropped(),
        Fault::RateLimit { retry_after_secs } => return rate_limited(retry_after_secs),
        Fault::Error {
            status,
            phase: Phase::Before,
        } => return server_error(status),
        _ => {}
    }
    request.extensions_mut().insert(fault);
    let response = next.run(request).await;
    if response.extensions().get::<DropConnection>().is_some() {
        return dropped();
    }
    response
}

/// The inner fault layer: runs the handler, then applies after-execution faults.
pub async fn after(request: Request, next: Next) -> Response {
    let fault = request.extensions().get::<Fault>().copied();
    let mut response = next.run(request).await;
    let executed = response.extensions().get::<NotExecuted>().is_none();
    match fault {
        Some(Fault::Error {
            status,
            phase: Phase::After,
        }) if executed => server_error(status),
        Some(Fault::Garble) if executed && response.status().is_success() => garbled(),
        Some(Fault::Stall { ms, then }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if then == StallThen::Drop {
                response.extensions_mut().insert(DropConnection);
            }
            response
        }
        _ => response,
    }
}

/// A 2xx whose body is JSON, but not what the endpoint documents.
pub fn garbled() -> Response {
    let body = serde_json::json!({ "data": "the answer moved", "version": 2 });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A connection closed without an answer. The [`DropConnection`] mark makes the sandbox
/// server (`crate::sandbox`) close it before writing anything; served by anything else,
/// the body fails at once, which aborts the connection mid-answer.
pub fn dropped() -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    }));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.extensions_mut().insert(DropConnection);
    response
}

pub fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = vendor_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequestsException",
        "rate limit exceeded",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// A 500 in the vendor's JSON shape; 502/503/504 as the HTML page a gateway would send
/// (the client must cope with a body that is not JSON).
pub fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_server_error)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>",
                code = status.as_u16()
            );
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        _ => vendor_error(
            status,
            "InternalServerErrorException",
            "internal server error",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_first_and_in_order() {
        let mut faults = Faults::scripted([
            Fault::Drop,
            Fault::Error {
                status: 500,
                phase: Phase::After,
            },
        ]);
        faults.error_rate = 1.0;
        faults.error_after_share = 0.0;
        assert_eq!(faults.pick(), Fault::Drop);
        assert!(matches!(
            faults.pick(),
            Fault::Error {
                phase: Phase::After,
                ..
            }
        ));
        // Script used up: the rate applies.
        assert!(matches!(
            faults.pick(),
            Fault::Error {
                phase: Phase::Before,
                ..
            }
        ));
    }

    #[test]
    fn no_rates_no_faults() {
        let mut faults = Faults::none();
        assert!((0..1000).all(|_| faults.pick() == Fault::Pass));
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let mut faults = Faults {
            rate_limit_rate: 0.5,
            retry_after_secs: 3,
            ..Faults::none()
        };
        let limited = (0..2000)
            .filter(|_| {
                faults.pick()
                    == Fault::RateLimit {
                        retry_after_secs: 3,
                    }
            })
            .count();
        // 1000 expected; the bounds are many standard deviations (≈22) wide.
        assert!((800..1200).contains(&limited), "{limited}");
    }

    #[test]
    fn faults_read_as_json() {
        let faults: Faults = serde_json::from_str(
            r#"{"next":[{"kind":"error","status":503},{"kind":"stall","ms":10,"then":"drop"},{"kind":"none"}],"latency_ms":5}"#,
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
            ]
        );
        assert_eq!(faults.latency_ms, 5);
        assert!(serde_json::from_str::<Faults>(r#"{"eror_rate":1}"#).is_err());
    }

    #[test]
    fn validation() {
        assert!(Faults::none().validate().is_ok());
        assert!(
            Faults {
                error_rate: 1.5,
                ..Faults::none()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults::scripted([Fault::Error {
                status: 404,
                phase: Phase::Before
            }])
            .validate()
            .is_err()
        );
    }
}
