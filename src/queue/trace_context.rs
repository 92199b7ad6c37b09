//! W3C Trace Context (`traceparent`) carried from a producer's request to the vendor calls
//! and webhooks its job causes.
//!
//! A producer that traces its requests sends `traceparent: 00-<trace-id>-<parent-id>-<flags>`
//! with an enqueue. The trace is kept with each job it creates (the job record's
//! `traceparent` field, copied to the batch a job travels in and to the webhook deliveries
//! and chained jobs it causes), and every vendor call and webhook delivery made while running
//! the job sends it on, with a parent id of our own (this service is a participant in the
//! trace, not a pipe), the same trace id and the same flags. Logs of the attempt carry the
//! `trace_id`, so a producer's trace finds them.
//!
//! How it travels without every function passing it: the API sets it for the request
//! ([`scope`], in `api/observe.rs`), the producer stamps it on the jobs it enqueues
//! ([`current`]), the queue sets it again around each attempt (`ack.rs`), and the HTTP
//! clients add the header ([`outgoing`]: `vendors/http.rs` for the vendors,
//! `webhooks/http.rs` for the receivers).
//!
//! A malformed `traceparent` is ignored, as the W3C recommendation says (a participant that
//! cannot parse it starts a new trace rather than failing the request). We start none: no
//! header in, no header out.
//!
//! A batch carries many jobs, so possibly many traces: its vendor call carries the trace of
//! its first member that has one; each member's webhook carries the member's own.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

tokio::task_local! {
    static CURRENT: Option<TraceParent>;
}

/// A parsed `traceparent` header of version `00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

/// Why a `traceparent` value was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a W3C traceparent: {0}")]
pub struct InvalidTraceParent(&'static str);

impl TraceParent {
    /// The trace this belongs to, as 32 lowercase hex digits (what logs carry).
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// The same trace and flags, with a fresh parent id: what this service sends on, as
    /// the parent of the vendor's or receiver's work.
    pub fn child(&self) -> Self {
        let mut parent_id = [0u8; 8];
        while parent_id == [0u8; 8] {
            parent_id = rand::random();
        }
        Self { parent_id, ..*self }
    }
}

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidTraceParent(
                "expected version-traceid-parentid-flags",
            ));
        };
        let version = unhex::<1>(version).ok_or(InvalidTraceParent("version"))?[0];
        // Version ff is forbidden; 00 has exactly four fields. A later version may add
        // fields after these four, which we read as version 00's (the spec asks so).
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return Err(InvalidTraceParent("version"));
        }
        let trace_id = unhex::<16>(trace_id).ok_or(InvalidTraceParent("trace-id"))?;
        let parent_id = unhex::<8>(parent_id).ok_or(InvalidTraceParent("parent-id"))?;
        let flags = unhex::<1>(flags).ok_or(InvalidTraceParent("trace-flags"))?[0];
        if trace_id == [0; 16] {
            return Err(InvalidTraceParent("trace-id is all zeros"));
        }
        if parent_id == [0; 8] {
            return Err(InvalidTraceParent("parent-id is all zeros"));
        }
        Ok(Self {
            trace_id,
            parent_id,
            flags,
        })
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            self.flags
        )
    }
}

/// Reads a header value; `None` for a missing or malformed one (ignored, as the spec says).
pub fn parse_header(value: Option<&str>) -> Option<TraceParent> {
    let value = value?;
    match value.parse() {
        Ok(parent) => Some(parent),
        Err(e) => {
            tracing::debug!(error = %e, "ignoring a malformed traceparent");
            None
        }
    }
}

/// Runs `future` with `parent` as the current trace (none: no trace).
pub async fn scope<F: Future>(parent: Option<TraceParent>, future: F) -> F::Output {
    CURRENT.scope(parent, future).await
}

/// The trace of the request or job being handled, if any.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(|parent| *parent).ok().flatten()
}

/// The `traceparent` to send on an outgoing call made now: the current trace with a fresh
/// parent id, or `None` outside a trace.
pub fn outgoing() -> Option<String> {
    current().map(|parent| parent.child().to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `2 * N` lowercase hex digits (the spec allows no uppercase).
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specs_example_round_trips() {
        let parent: TraceParent = EXAMPLE.parse().expect("valid");
        assert_eq!(parent.to_string(), EXAMPLE);
        assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_child_keeps_the_trace_and_flags_with_a_new_parent() {
        let parent: TraceParent = EXAMPLE.parse().expect("valid");
        let child = parent.child();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_eq!(child.flags, parent.flags);
        assert_ne!(child.parent_id, parent.parent_id);
        assert_ne!(child.parent_id, [0; 8]);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_later_version_is_read_as_version_00() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes";
        let parent: TraceParent = later.parse().expect("forward compatible");
        assert_eq!(parent.to_string(), EXAMPLE);
    }

    #[tokio::test]
    async fn the_current_trace_is_the_scopes() {
        assert_eq!(current(), None);
        assert_eq!(outgoing(), None);
        let parent: TraceParent = EXAMPLE.parse().expect("valid");
        scope(Some(parent), async move {
            assert_eq!(current(), Some(parent));
            let sent = outgoing().expect("a header inside the scope");
            assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
            assert!(sent.ends_with("-01"));
        })
        .await;
    }
}
