//! The queue's clock: unix milliseconds.
//!
//! Every score the scripts sort by (due times, state changes, deaths) and every timestamp
//! of a job record is in this unit. The scripts never read Redis's clock: the caller
//! passes `now` in, taken here.

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
