//! What every vendor request passes before its handler: counting, the `key` header (9001
//! missing, 9002 unknown), the quota switch (99888) and the permission switch (98888 on
//! writes).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::error;
use super::state::{Shared, TRACES_KEPT};
use crate::vendors::tulip::client::KEY_HEADER;
use crate::vendors::tulip::types::codes::{INVALID_KEY, MISSING_KEY, NO_PERMISSION, QUOTA_REACHED};

/// The key a request was authenticated with, for the handlers (a contract belongs to the
/// key that created it; another key reading it gets 9003).
#[derive(Debug, Clone)]
pub struct Caller(pub String);

pub async fn layer(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|k| !k.is_empty());
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let refusal = {
        let mut inner = shared.lock();
        inner.effects.requests += 1;
        if let Some(traceparent) = traceparent {
            if inner.traceparents.len() == TRACES_KEPT {
                inner.traceparents.pop_front();
            }
            inner.traceparents.push_back(traceparent);
        }
        let switches = inner.switches.clone();
        let known = |key: &str| {
            shared.config.keys.is_empty() || shared.config.keys.iter().any(|k| k == key)
        };
        let refusal = match &key {
            None => Some((401, MISSING_KEY)),
            Some(key) if !known(key) => Some((401, INVALID_KEY)),
            Some(_) if switches.quota_exceeded => {
                Some((switches.quota_status.unwrap_or(400), QUOTA_REACHED))
            }
            Some(_) if switches.forbidden && request.method() != Method::GET => {
                Some((403, NO_PERMISSION))
            }
            Some(_) => None,
        };
        match refusal {
            Some((401, _)) => inner.effects.unauthenticated += 1,
            Some((_, QUOTA_REACHED)) => inner.effects.quota_refusals += 1,
            _ => {}
        }
        refusal.map(|(status, code)| (status, code, switches))
    };
    if let Some((status, code, switches)) = refusal {
        let mut response = error(switches.envelope, status, code);
        if code == QUOTA_REACHED
            && let Some(secs) = switches.quota_retry_after_secs
        {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        return response;
    }
    if let Some(key) = key {
        request.extensions_mut().insert(Caller(key));
    }
    next.run(request).await
}
