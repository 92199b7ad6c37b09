//! Field-level validation errors, shared by the API and the vendor types that check
//! themselves before anything is enqueued.

use serde::Serialize;
use utoipa::ToSchema;

/// One field that is wrong, and why. `field` is a JSON path as the caller sent it,
/// for example `contracts[3].customer.email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error under a parent path: `customer.email` → `contracts[3].customer.email`.
    pub fn nested(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}
