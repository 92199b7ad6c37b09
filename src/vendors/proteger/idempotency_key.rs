//! The `X-Idempotency-Key` of one bulk call, as a type.
//!
//! A batch's key is its job id, derived once when the batch is sent: every retry of the
//! batch carries the same key, so the vendor replays its first answer instead of creating
//! the contracts again. A split batch's parts have ids (and so keys) derived from the
//! parent's. Being built only from a [`JobId`] (a UUID), a key is always a valid, non-empty
//! header value: the client needs no check at run time.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::queue::JobId;

#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    text: String,
}

impl IdempotencyKey {
    /// The key of the batch job `batch`, the same on every attempt.
    pub fn for_batch(batch: &JobId) -> Self {
        Self {
            text: batch.to_string(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The header value. A UUID's text is ASCII letters, digits and dashes, always valid.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.text)
            .unwrap_or_else(|_| unreachable!("a UUID is a valid header value: {}", self.text))
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_has_one_key_on_every_attempt() {
        let batch = JobId::new();
        assert_eq!(
            IdempotencyKey::for_batch(&batch),
            IdempotencyKey::for_batch(&batch)
        );
        let key = IdempotencyKey::for_batch(&batch);
        assert_eq!(key.header_value().to_str().ok(), Some(key.as_str()));
        assert_ne!(key, IdempotencyKey::for_batch(&JobId::derived(&batch, 0)));
    }
}
