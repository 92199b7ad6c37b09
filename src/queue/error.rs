//! Errors of the queue itself (not of the jobs it runs: those are `outcome::JobError`).

use super::job::CorruptRecord;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Corrupt(#[from] CorruptRecord),
    #[error("cannot encode or decode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the cursor is not one this API handed out")]
    BadCursor,
    #[error("redis answered something unexpected: {0}")]
    Unexpected(String),
}

impl QueueError {
    /// Whether the error says Redis is unreachable (as opposed to a bug or bad data).
    /// Redis refused a write because it is full (`maxmemory` reached under the
    /// `noeviction` policy: "OOM command not allowed"). Nothing was written.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::Redis(e) if e.code() == Some("OOM"))
    }

    pub fn is_connection(&self) -> bool {
        match self {
            Self::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || matches!(
                        e.kind(),
                        redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                    )
            }
            _ => false,
        }
    }
}
