//! Receiver header values are write-only, like the signing secret.
//!
//! An endpoint's `headers` carry the receiver's credentials (the README tells producers to
//! put an `authorization` there), so once written they are only ever *sent*, to the
//! receiver: every API answer shows the header names with [`MASK`] for each value, and the
//! `Debug` of every type that holds them does the same, so a log line cannot carry them.
//! Delivery records never held them (a delivery stores its event and its endpoint's id).
//!
//! A write that sends [`MASK`] back as a value (a client that read an endpoint, changed its
//! URL and wrote the whole object back) is refused with a 422 naming the header: storing
//! the stars would break the receiver's authentication, and quietly keeping the old value
//! would hide a client bug. Leaving `headers` out of a `PATCH` keeps them as they are.

use std::collections::BTreeMap;
use std::fmt;

/// What answers show in place of a header value.
pub const MASK: &str = "********";

/// The header names, each with [`MASK`] for its value.
pub fn masked(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .keys()
        .map(|name| (name.clone(), MASK.to_string()))
        .collect()
}

/// `Debug` of a header map that shows the names only.
pub struct Masked<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|name| (name, MASK)))
            .finish()
    }
}

/// `Debug` of an optional header map (a patch's), names only.
pub struct MaskedOption<'a>(pub &'a Option<BTreeMap<String, String>>);

impl fmt::Debug for MaskedOption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(headers) => f.debug_tuple("Some").field(&Masked(headers)).finish(),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_are_shown() {
        let headers: BTreeMap<String, String> =
            [("authorization".to_string(), "Bearer s3cr3t".to_string())].into();
        assert_eq!(masked(&headers)["authorization"], MASK);
        let shown = format!(
            "{:?} {:?}",
            Masked(&headers),
            MaskedOption(&Some(headers.clone()))
        );
        assert!(
            shown.contains("authorization") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
