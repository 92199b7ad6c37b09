//! Signing and verifying webhooks, as the Standard Webhooks spec (v1, symmetric) has it.
//!
//! Every delivery carries three headers:
//!
//! | header              | value                                                        |
//! |---------------------|--------------------------------------------------------------|
//! | `webhook-id`        | the event id: the same on every retry, so receivers can dedupe |
//! | `webhook-timestamp` | unix seconds of *this attempt*                               |
//! | `webhook-signature` | `v1,<base64 signature>`, several separated by spaces         |
//!
//! A signature is HMAC-SHA256 over `"{id}.{timestamp}.{body}"`, keyed by the decoded part
//! of a `whsec_<base64>` [`Secret`], and base64-encoded (standard alphabet, padded). The id
//! and the timestamp are inside the signed content, so a receiver that checks the
//! signature and the timestamp's age also knows that nobody replayed an old delivery under
//! a fresh timestamp, nor moved a body to another event id.
//!
//! ## Rotation
//!
//! After a rotation an endpoint has two secrets for a grace period, and
//! [`signature_header`] signs with each: `v1,<old> v1,<new>`. A receiver that still has only
//! the old secret, or already only the new one, finds its match, which is why the
//! [`Verifier`] accepts a header as soon as *any* signature in it matches *any* of its
//! secrets.
//!
//! ## What a receiver must check ([`Verifier`])
//!
//! 1. the three headers are present;
//! 2. the timestamp is an integer within ±[`DEFAULT_TOLERANCE_SECS`] of the receiver's
//!    clock, refusing stale deliveries (replays) *and* ones from the future (a far-future
//!    timestamp would otherwise stay "fresh" forever);
//! 3. one of the `v1,` signatures equals the one it computes over the body exactly as
//!    received (bytes, not re-serialised JSON), compared in constant time (`subtle`), so
//!    the time a comparison takes tells an attacker nothing about how much of a guess was
//!    right.
//!
//! Signatures of other versions (`v1a,` is the spec's asymmetric scheme) are skipped, not
//! errors: a sender may add them for receivers that want them.
//!
//! A receiver in a few lines (axum; the README has the same):
//!
//! ```no_run
//! use axum::{Router, body::Bytes, extract::State, http::{HeaderMap, StatusCode}, routing::post};
//! use underwrite::webhooks::signing::{Secret, Verifier};
//!
//! async fn receive(State(verifier): State<Verifier>, headers: HeaderMap, body: Bytes) -> StatusCode {
//!     if let Err(why) = verifier.verify(&headers, &body, chrono::Utc::now().timestamp()) {
//!         eprintln!("refused: {why}");
//!         return StatusCode::BAD_REQUEST;
//!     }
//!     // Genuine. Retries repeat the `webhook-id`: act on each id once.
//!     StatusCode::NO_CONTENT
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let secret: Secret = std::env::var("WEBHOOK_SECRET")?.parse()?;
//!     let app = Router::new()
//!         .route("/webhooks", post(receive))
//!         .with_state(Verifier::new(vec![secret]));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Secrets never show in logs: [`Secret`]'s `Debug` and `Display` print `whsec_[redacted]`,
//! and the key is only readable through [`Secret::expose`], for the one time it is handed
//! to the endpoint's owner.

use std::fmt;
use std::str::FromStr;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of every secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// The fewest key bytes a secret may have (the spec's vectors use 24).
pub const MIN_KEY_BYTES: usize = 24;

/// The most key bytes a secret may have.
pub const MAX_KEY_BYTES: usize = 64;

/// How many random bytes [`Secret::generate`] draws: the block-size-independent sweet spot
/// for HMAC-SHA256 (a key as long as the hash output).
pub const GENERATED_KEY_BYTES: usize = 32;

/// How far a delivery's timestamp may be from the receiver's clock, either way, in seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// The header names, as the spec spells them (HTTP header names are case-insensitive).
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The version tag of the symmetric HMAC-SHA256 scheme.
const VERSION: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a text is not a webhook secret. The messages never quote the text: it may be a
/// real secret with a typo in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_`")]
    MissingPrefix,
    #[error(
        "the part of a webhook secret after `whsec_` must be standard base64 (A-Z a-z 0-9 + /, padded with =)"
    )]
    NotBase64,
    #[error(
        "a webhook secret's key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes; this one has {0}"
    )]
    BadLength(usize),
}

/// A webhook signing key. Once one exists it is valid: 24 to 64 bytes, from a parsed
/// `whsec_` text or from [`Secret::generate`].
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// Parses `whsec_<base64>`. Surrounding whitespace (a trailing newline from a file or a
    /// paste) is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        // The decode error is dropped on purpose: it names the offending byte.
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        Self::from_key(key)
    }

    /// A secret from raw key bytes.
    pub fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self { key })
    }

    /// A new secret of [`GENERATED_KEY_BYTES`] random bytes from the thread's CSPRNG
    /// (ChaCha, seeded from the operating system).
    pub fn generate() -> Self {
        let mut key = vec![0; GENERATED_KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// The `whsec_<base64>` text. Call it only to hand the secret to its owner (once, when
    /// it is created or rotated) or to store it; never to log it.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The HMAC of `"{id}.{timestamp}.{body}"`. The timestamp is taken as text so that a
    /// verifier signs exactly the header it received.
    fn mac(&self, msg_id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts a key of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Equal keys, compared in constant time.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_[redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_[redacted]")
    }
}

/// One signature: `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = secret.mac(msg_id, &timestamp.to_string(), body);
    format!("{VERSION},{}", STANDARD.encode(mac))
}

/// The `webhook-signature` value: one signature per secret, separated by spaces (during a
/// rotation the old and the new secret both sign). No secrets, an empty string.
pub fn signature_header(secrets: &[Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing (or not text)")]
    MissingHeader(&'static str),
    #[error("the `webhook-timestamp` header is not unix seconds: `{0}`")]
    BadTimestamp(String),
    #[error(
        "the timestamp {timestamp} is {} s in the past, more than the {tolerance} s allowed (a replay, or a clock far behind)",
        now - timestamp
    )]
    TooOld {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error(
        "the timestamp {timestamp} is {} s in the future, more than the {tolerance} s allowed (a clock far ahead)",
        timestamp - now
    )]
    TooNew {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("no `v1,` signature in `webhook-signature` matches the body with any of the secrets")]
    NoMatchingSignature,
}

/// Checks deliveries against one or more secrets (several while a rotation is under way).
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance_secs: i64,
}

impl Verifier {
    /// A verifier with the default tolerance of ±[`DEFAULT_TOLERANCE_SECS`]. With no
    /// secrets, nothing verifies.
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self {
            secrets,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
        }
    }

    /// The same verifier with another tolerance (seconds either way; negative counts as 0).
    pub fn with_tolerance(mut self, tolerance_secs: i64) -> Self {
        self.tolerance_secs = tolerance_secs.max(0);
        self
    }

    /// Verifies a delivery from its headers and its body exactly as received. `now` is the
    /// receiver's clock in unix seconds (`chrono::Utc::now().timestamp()`).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or(VerifyError::MissingHeader(name))
        };
        self.verify_parts(
            header(HEADER_ID)?,
            header(HEADER_TIMESTAMP)?,
            header(HEADER_SIGNATURE)?,
            body,
            now,
        )
    }

    /// Verifies a delivery from the three header values (for receivers whose framework
    /// hands them over one by one, and for `underwrite webhooks verify`).
    pub fn verify_parts(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let timestamp = timestamp.trim();
        let seconds = parse_timestamp(timestamp)?;
        // Tolerance first: a stale delivery is refused whatever its signature, and the
        // check costs no HMAC.
        if now.saturating_sub(seconds) > self.tolerance_secs {
            return Err(VerifyError::TooOld {
                timestamp: seconds,
                now,
                tolerance: self.tolerance_secs,
            });
        }
        if seconds.saturating_sub(now) > self.tolerance_secs {
            return Err(VerifyError::TooNew {
                timestamp: seconds,
                now,
                tolerance: self.tolerance_secs,
            });
        }
        let candidates: Vec<Vec<u8>> = signature
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == VERSION)
            // An undecodable entry cannot match; it is skipped like a foreign version.
            .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::NoMatchingSignature);
        }
        // Every secret against every candidate, without stopping at the first match: the
        // time taken depends on how many there are, never on which one matched.
        let mut matched = subtle::Choice::from(0);
        for secret in &self.secrets {
            let expected = secret.mac(msg_id, timestamp, body);
            for candidate in &candidates {
                matched |= expected.as_slice().ct_eq(candidate);
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }
}

/// Unix seconds: ASCII digits only (no sign, no fraction, no exponent), so that the text
/// signed is the number checked.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    let bad = || VerifyError::BadTimestamp(text.chars().take(32).collect());
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's first vector.
    const SECRET_1: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID_1: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS_1: i64 = 1614265330;
    const BODY_1: &[u8] = br#"{"test": 2432232314}"#;
    const SIG_1: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// The spec's second vector.
    const SECRET_2: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID_2: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS_2: i64 = 1649367553;
    const BODY_2: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG_2: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn secret(text: &str) -> Secret {
        Secret::parse(text).expect("a valid test secret")
    }

    fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(HEADER_ID, id.parse().expect("header"));
        map.insert(HEADER_TIMESTAMP, ts.parse().expect("header"));
        map.insert(HEADER_SIGNATURE, signature.parse().expect("header"));
        map
    }

    #[test]
    fn the_spec_vectors_are_reproduced_exactly() {
        assert_eq!(sign(&secret(SECRET_1), ID_1, TS_1, BODY_1), SIG_1);
        assert_eq!(sign(&secret(SECRET_2), ID_2, TS_2, BODY_2), SIG_2);
    }

    #[test]
    fn the_spec_vectors_verify() {
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let map = headers(ID_1, &TS_1.to_string(), SIG_1);
        assert_eq!(verifier.verify(&map, BODY_1, TS_1), Ok(()));
        let verifier = Verifier::new(vec![secret(SECRET_2)]);
        assert_eq!(
            verifier.verify_parts(ID_2, &TS_2.to_string(), SIG_2, BODY_2, TS_2 + 10),
            Ok(())
        );
    }

    #[test]
    fn rotation_signs_with_every_secret_and_each_verifies_alone() {
        let old = Secret::generate();
        let new = Secret::generate();
        let header = signature_header(&[old.clone(), new.clone()], ID_1, TS_1, BODY_1);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&old, ID_1, TS_1, BODY_1));
        assert_eq!(parts[1], sign(&new, ID_1, TS_1, BODY_1));
        let ts = TS_1.to_string();
        for alone in [old, new] {
            let verifier = Verifier::new(vec![alone.clone()]);
            assert_eq!(
                verifier.verify_parts(ID_1, &ts, &header, BODY_1, TS_1),
                Ok(())
            );
            // And the single signature of that secret verifies too.
            let single = sign(&alone, ID_1, TS_1, BODY_1);
            assert_eq!(
                verifier.verify_parts(ID_1, &ts, &single, BODY_1, TS_1),
                Ok(())
            );
        }
        let stranger = Verifier::new(vec![Secret::generate()]);
        assert_eq!(
            stranger.verify_parts(ID_1, &ts, &header, BODY_1, TS_1),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_verifier_with_several_secrets_accepts_either() {
        let verifier = Verifier::new(vec![Secret::generate(), secret(SECRET_1)]);
        assert_eq!(
            verifier.verify_parts(ID_1, &TS_1.to_string(), SIG_1, BODY_1, TS_1),
            Ok(())
        );
    }

    #[test]
    fn tampering_with_body_id_or_timestamp_is_refused() {
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let ts = TS_1.to_string();
        let refused = Err(VerifyError::NoMatchingSignature);
        assert_eq!(
            verifier.verify_parts(ID_1, &ts, SIG_1, br#"{"test": 2432232315}"#, TS_1),
            refused
        );
        assert_eq!(
            verifier.verify_parts(ID_1, &ts, SIG_1, br#"{"test":2432232314}"#, TS_1),
            refused,
            "the body is signed as bytes, not as JSON"
        );
        assert_eq!(
            verifier.verify_parts("msg_p5jXN8AQM9LWM0D4loKWxJel", &ts, SIG_1, BODY_1, TS_1),
            refused
        );
        let later = (TS_1 + 1).to_string();
        assert_eq!(
            verifier.verify_parts(ID_1, &later, SIG_1, BODY_1, TS_1),
            refused
        );
        // A signature for another secret, and a signature bit flipped.
        let wrong_key = Verifier::new(vec![secret(SECRET_2)]);
        assert_eq!(
            wrong_key.verify_parts(ID_1, &ts, SIG_1, BODY_1, TS_1),
            refused
        );
        let flipped = SIG_1.replace("g0hM", "g0hN");
        assert_eq!(
            verifier.verify_parts(ID_1, &ts, &flipped, BODY_1, TS_1),
            refused
        );
    }

    #[test]
    fn the_tolerance_is_five_minutes_either_way_edges_included() {
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let ts = TS_1.to_string();
        let at = |now| verifier.verify_parts(ID_1, &ts, SIG_1, BODY_1, now);
        assert_eq!(at(TS_1 + 300), Ok(()));
        assert_eq!(at(TS_1 - 300), Ok(()));
        assert_eq!(
            at(TS_1 + 301),
            Err(VerifyError::TooOld {
                timestamp: TS_1,
                now: TS_1 + 301,
                tolerance: 300
            })
        );
        assert_eq!(
            at(TS_1 - 301),
            Err(VerifyError::TooNew {
                timestamp: TS_1,
                now: TS_1 - 301,
                tolerance: 300
            })
        );
        let strict = Verifier::new(vec![secret(SECRET_1)]).with_tolerance(0);
        assert_eq!(strict.verify_parts(ID_1, &ts, SIG_1, BODY_1, TS_1), Ok(()));
        assert!(matches!(
            strict.verify_parts(ID_1, &ts, SIG_1, BODY_1, TS_1 + 1),
            Err(VerifyError::TooOld { .. })
        ));
    }

    #[test]
    fn a_stale_delivery_is_refused_even_with_a_valid_signature() {
        // The spec vector itself, checked against today's clock.
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let now = chrono::Utc::now().timestamp();
        assert!(matches!(
            verifier.verify_parts(ID_1, &TS_1.to_string(), SIG_1, BODY_1, now),
            Err(VerifyError::TooOld { .. })
        ));
    }

    #[test]
    fn missing_headers_and_bad_timestamps_are_named() {
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let ts = TS_1.to_string();
        let full = headers(ID_1, &ts, SIG_1);
        for name in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
            let mut map = full.clone();
            map.remove(name);
            assert_eq!(
                verifier.verify(&map, BODY_1, TS_1),
                Err(VerifyError::MissingHeader(name))
            );
        }
        for bad in [
            "",
            "soon",
            "-1614265330",
            "+1614265330",
            "1614265330.5",
            "1e9",
            "99999999999999999999",
        ] {
            assert!(
                matches!(
                    verifier.verify_parts(ID_1, bad, SIG_1, BODY_1, TS_1),
                    Err(VerifyError::BadTimestamp(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn other_versions_and_garbage_in_the_header_are_skipped() {
        let verifier = Verifier::new(vec![secret(SECRET_1)]);
        let ts = TS_1.to_string();
        let header = format!("v1a,abcd v2,{} v1,not*base64 nonsense {SIG_1}", &SIG_1[3..]);
        assert_eq!(
            verifier.verify_parts(ID_1, &ts, &header, BODY_1, TS_1),
            Ok(())
        );
        for only_noise in ["", "   ", "v1a,abcd", "v1,", "v1,%%%", &SIG_1[3..]] {
            assert_eq!(
                verifier.verify_parts(ID_1, &ts, only_noise, BODY_1, TS_1),
                Err(VerifyError::NoMatchingSignature),
                "{only_noise:?}"
            );
        }
    }

    #[test]
    fn a_verifier_without_secrets_accepts_nothing() {
        let verifier = Verifier::new(Vec::new());
        assert_eq!(
            verifier.verify_parts(ID_1, &TS_1.to_string(), SIG_1, BODY_1, TS_1),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn secrets_parse_strictly_and_round_trip() {
        let parsed = secret(SECRET_1);
        assert_eq!(parsed.expose(), SECRET_1);
        assert_eq!(secret(&format!("  {SECRET_1}\n")), parsed);
        assert_eq!(SECRET_1.parse::<Secret>(), Ok(parsed));
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::MissingPrefix)
        );
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        // 16 bytes: too short. 65 bytes: too long. 24 and 64: the edges, accepted.
        let encoded = |n: usize| format!("whsec_{}", STANDARD.encode(vec![7u8; n]));
        assert_eq!(Secret::parse(&encoded(16)), Err(SecretError::BadLength(16)));
        assert_eq!(Secret::parse(&encoded(23)), Err(SecretError::BadLength(23)));
        assert_eq!(Secret::parse(&encoded(65)), Err(SecretError::BadLength(65)));
        assert!(Secret::parse(&encoded(24)).is_ok());
        assert!(Secret::parse(&encoded(64)).is_ok());
    }

    #[test]
    fn generated_secrets_are_32_random_bytes_that_parse_back() {
        let one = Secret::generate();
        let two = Secret::generate();
        assert_ne!(one, two);
        let text = one.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(
            STANDARD.decode(&text[6..]).map(|k| k.len()),
            Ok(GENERATED_KEY_BYTES)
        );
        assert_eq!(Secret::parse(&text), Ok(one));
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let secret = secret(SECRET_1);
        let key_part = &SECRET_1[6..];
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{:?}", Verifier::new(vec![secret.clone()])),
        ] {
            assert!(!shown.contains(key_part), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        for error in [
            SecretError::MissingPrefix,
            SecretError::NotBase64,
            SecretError::BadLength(3),
        ] {
            assert!(!error.to_string().contains(key_part));
        }
    }
}
