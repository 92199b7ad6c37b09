//! Vendor calls: how many, how they ended, how long they took, how full the batches were.
//!
//! `outcome` is one of [`CallOutcome`]'s fixed words, never a raw status code: a vendor that
//! starts answering 418 adds no series. Each client counts its calls through
//! [`observe`] (`vendors/http.rs`), with its own operation names (`Vendor::operations`).

use std::sync::LazyLock;

use prometheus::{HistogramVec, IntCounterVec};

use super::{counter, histogram};

/// How a vendor call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// A 2xx (even one whose body could not be read: the vendor answered).
    Ok,
    Http4xx,
    Http429,
    Http5xx,
    /// No (complete) answer in time: the call may have landed.
    Timeout,
    /// Refused, reset or dropped connection, DNS, TLS.
    ConnectError,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 6] = [
        Self::Ok,
        Self::Http4xx,
        Self::Http429,
        Self::Http5xx,
        Self::Timeout,
        Self::ConnectError,
    ];

    /// The class of an HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status {
            429 => Self::Http429,
            500.. => Self::Http5xx,
            400.. => Self::Http4xx,
            _ => Self::Ok,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Http4xx => "http_4xx",
            Self::Http429 => "http_429",
            Self::Http5xx => "http_5xx",
            Self::Timeout => "timeout",
            Self::ConnectError => "connect_error",
        }
    }
}

pub static VENDOR_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_vendor_requests_total",
        "Vendor API calls by vendor, operation and outcome (ok, http_4xx, http_429, http_5xx, \
         timeout, connect_error)",
        &["vendor", "operation", "outcome"],
    )
});

pub static VENDOR_REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "underwrite_vendor_request_duration_seconds",
        "Time a vendor call took, answer read, whatever its outcome",
        &["vendor", "operation"],
        vec![
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0,
        ],
    )
});

pub static VENDOR_BATCH_SIZE: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "underwrite_vendor_batch_size",
        "Items sent in one bulk vendor call",
        &["vendor", "operation"],
        vec![
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 3_000.0,
        ],
    )
});

pub static VENDOR_CREDENTIAL_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_vendor_credential_failures_total",
        "Vendor answers refusing our credentials (401/403 or the vendor's own codes)",
        &["vendor"],
    )
});

/// Creates every series of a vendor's operations at 0.
pub fn init_vendor(vendor: &str, operations: &[&str]) {
    VENDOR_CREDENTIAL_FAILURES.with_label_values(&[vendor]);
    for operation in operations {
        for outcome in CallOutcome::ALL {
            VENDOR_REQUESTS.with_label_values(&[vendor, operation, outcome.as_str()]);
        }
        VENDOR_REQUEST_DURATION.with_label_values(&[vendor, operation]);
    }
}

/// Counts one call and its duration.
pub fn record_call(vendor: &str, operation: &str, outcome: CallOutcome, took_secs: f64) {
    VENDOR_REQUESTS
        .with_label_values(&[vendor, operation, outcome.as_str()])
        .inc();
    VENDOR_REQUEST_DURATION
        .with_label_values(&[vendor, operation])
        .observe(took_secs);
}

/// Records the items of one bulk call.
pub fn record_batch(vendor: &str, operation: &str, items: usize) {
    VENDOR_BATCH_SIZE
        .with_label_values(&[vendor, operation])
        .observe(items as f64);
}
