//! Keeping the credentials out of everything the client hands back.
//!
//! Billing-Robo echoes the request's `access_key` (and `user_id`) in its answers (seed
//! 002's example does), so an answer is never returned, stored, logged or put in an error
//! as it came. The client runs every body through a [`Redactor`] first:
//!
//! - a JSON answer loses its `access_key` and `user_id` members, at any depth, and every
//!   string in it is scrubbed;
//! - any other text (an error page, a body we cannot parse) is scrubbed.
//!
//! Scrubbing replaces every occurrence of a credential, ignoring ASCII case, raw and as
//! JSON would escape it, with `<redacted>`.
//!
//! ## Why `user_id` too
//!
//! The access key is the secret. The `user_id` is not, strictly, but it is the login e-mail
//! of the vendor's web console (a person's address, and half of what an attacker needs to
//! try that console's password), and we never need it back: the answer's `user_id` is our
//! own. Removing it costs nothing and keeps a personal address out of Redis, logs and
//! webhook payloads.

use serde_json::Value;

/// What a credential becomes.
pub const REDACTED: &str = "<redacted>";

/// The answer members that carry credentials.
const CREDENTIAL_KEYS: [&str; 2] = ["access_key", "user_id"];

/// Scrubs the credentials of one client. Cheap to clone.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Lowercased needles: each credential raw and as JSON escapes it.
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            let slashed = escaped.replace('/', "\\/");
            for needle in [secret.to_string(), escaped, slashed] {
                let needle = needle.to_ascii_lowercase();
                if !needle.is_empty() && !needles.contains(&needle) {
                    needles.push(needle);
                }
            }
        }
        // Longest first, so a credential that contains another goes whole.
        needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        Self { needles }
    }

    /// The longest needle, in bytes: read this much past a cut so that a credential
    /// straddling it is still found.
    pub fn longest(&self) -> usize {
        self.needles.first().map_or(0, String::len)
    }

    /// `text` with every credential replaced.
    pub fn text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for needle in &self.needles {
            text = replace_ignoring_case(&text, needle);
        }
        text
    }

    /// Removes the credential members and scrubs every string (keys included), in place.
    pub fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => *text = self.text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut member) in entries {
                    if CREDENTIAL_KEYS.contains(&key.as_str()) {
                        continue;
                    }
                    self.value(&mut member);
                    map.insert(self.text(&key), member);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Replaces every occurrence of `needle` (lowercase) in `text`, ignoring ASCII case.
/// Lowercasing ASCII keeps every byte where it was, so positions found in the lowercased
/// copy are positions (and character boundaries) of `text`.
fn replace_ignoring_case(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    while let Some(found) = lower[copied..].find(needle) {
        let start = copied + found;
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = start + needle.len();
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new(["sample@robotpayment.co.jp", "AbC123xyz", ""])
    }

    #[test]
    fn text_loses_every_credential_whatever_its_case() {
        let scrubbed = redactor().text("key abc123XYZ; user SAMPLE@robotpayment.co.jp; 名前");
        assert_eq!(scrubbed, "key <redacted>; user <redacted>; 名前");
        assert_eq!(redactor().text("nothing here"), "nothing here");
        assert_eq!(Redactor::default().text("AbC123xyz"), "AbC123xyz");
    }

    #[test]
    fn json_loses_the_credential_members_and_any_echo() {
        let mut answer = json!({
            "user_id": "sample@robotpayment.co.jp",
            "access_key": "AbC123xyz",
            "marunage_credit": [{"error_message": "bad access_key AbC123xyz", "nested": {"access_key": "x"}}]
        });
        redactor().value(&mut answer);
        assert_eq!(
            answer,
            json!({"marunage_credit": [{"error_message": "bad access_key <redacted>", "nested": {}}]})
        );
    }

    #[test]
    fn escaped_forms_are_found() {
        let redactor = Redactor::new(["a/b\"c"]);
        assert_eq!(redactor.text(r#"{"k":"a\/b\"c"}"#), r#"{"k":"<redacted>"}"#);
        assert_eq!(redactor.text(r#"{"k":"a/b\"c"}"#), r#"{"k":"<redacted>"}"#);
        assert!(redactor.longest() >= "a\\/b\\\"c".len());
    }
}
