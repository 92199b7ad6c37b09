//! A delivery: one stream entry handed to a consumer, and the job id it carries.
//!
//! Both the reader (new and reclaimed entries, `reader.rs`) and the store (entries still
//! pending at shutdown, `store/claim.rs`) hand deliveries out, so the type and the parsing
//! of an entry's fields live here, below both.

use super::id::JobId;

/// One entry handed to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub entry: String,
    pub job: Option<JobId>,
    /// Taken over from a consumer whose lease ran out.
    pub reclaimed: bool,
}

/// Reads the job id out of an entry's fields (`id <job id>`). An entry without a valid id
/// (written by hand, or corrupt) is still delivered, so the caller can bury it.
pub(crate) fn delivery(entry: String, fields: &[String], reclaimed: bool) -> Delivery {
    let job = fields
        .chunks(2)
        .find(|pair| pair.first().map(String::as_str) == Some("id"))
        .and_then(|pair| pair.get(1))
        .and_then(|id| id.parse().ok());
    Delivery {
        entry,
        job,
        reclaimed,
    }
}
