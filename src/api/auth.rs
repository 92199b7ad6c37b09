//! Bearer tokens: who may call `/v1/*`.
//!
//! Tokens come from `UNDERWRITE_API_TOKENS` (comma-separated, never from a file). A request
//! must send `Authorization: Bearer <token>` with one of them; otherwise it gets a 401 with
//! `WWW-Authenticate: Bearer` before any of its body is read.
//!
//! ## Comparing without leaking
//!
//! A token compared byte by byte with `==` returns sooner the earlier it differs, and that
//! timing tells an attacker how much of a guess was right. So both sides are first hashed
//! with SHA-256 (equal length, whatever was sent), and the presented hash is compared with
//! *every* configured one in constant time (`subtle`), without stopping at a match: the
//! time taken says neither which token matched nor how close a guess came.
//!
//! The same hash identifies the caller afterwards ([`Caller`]): idempotency keys are scoped
//! by a keyed hash of it (`scope_key.rs`), so two callers can never see each other's jobs
//! through a shared key, and the stored key names do not give the token's SHA-256 away.
//!
//! Two `Authorization` headers are refused with 400, whatever they hold: a request must say
//! once who it is.
//!
//! With no tokens configured, every `/v1` request is refused (and the message says why):
//! an API that opens up when a variable is missing would be a worse failure.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::ApiState;
use super::error::ApiError;

/// The SHA-256 of each configured token. The tokens themselves are not kept.
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens([{} redacted])", self.digests.len())
    }
}

impl Tokens {
    pub fn new(tokens: &[String]) -> Self {
        Self {
            digests: tokens.iter().map(|t| digest(t)).collect(),
        }
    }

    /// Whether `presented` is the digest of a configured token. Runs through every token
    /// whatever the answer (see the module doc).
    fn admit(&self, presented: &[u8; 32]) -> bool {
        let mut matched = Choice::from(0);
        for known in &self.digests {
            matched |= known.ct_eq(presented);
        }
        matched.into()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The authenticated caller, put in the request's extensions by [`require_bearer`].
#[derive(Debug, Clone)]
pub struct Caller {
    token_digest: [u8; 32],
}

impl Caller {
    /// The SHA-256 of the caller's token. Never stored or shown as it is: idempotency
    /// scopes are a keyed hash of it (`scope_key.rs`).
    pub(crate) fn token_digest(&self) -> &[u8; 32] {
        &self.token_digest
    }
}

/// Middleware on `/v1`: lets through requests with a valid bearer token, refuses the rest.
pub async fn require_bearer(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = state.tokens();
    if tokens.digests.is_empty() {
        return Err(ApiError::Unauthorized(
            "no API tokens are configured on this server (UNDERWRITE_API_TOKENS is empty), so every /v1 request is refused",
        ));
    }
    let presented = bearer_token(&request)?;
    let presented = digest(presented);
    if !tokens.admit(&presented) {
        return Err(ApiError::Unauthorized("the bearer token is not valid"));
    }
    request.extensions_mut().insert(Caller {
        token_digest: presented,
    });
    Ok(next.run(request).await)
}

const MALFORMED: &str = "the Authorization header must be `Bearer <token>`";

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive). Two
/// `Authorization` headers are a 400: which one a proxy in front of us and which one we
/// would read may differ, so "first wins" is a guess we do not make.
fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(ApiError::Unauthorized(
        "send `Authorization: Bearer <token>`",
    ))?;
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "authorization",
            "is sent more than once; send one `Authorization: Bearer <token>`",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized(MALFORMED))?;
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized(MALFORMED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_any_configured_token_and_nothing_else() {
        let tokens = Tokens::new(&["alpha".into(), "beta".into()]);
        assert!(tokens.admit(&digest("alpha")));
        assert!(tokens.admit(&digest("beta")));
        assert!(!tokens.admit(&digest("gamma")));
        assert!(!tokens.admit(&digest("alph")));
        assert!(!Tokens::new(&[]).admit(&digest("")));
    }

    #[test]
    fn debug_shows_no_digest() {
        let tokens = Tokens::new(&["alpha".into()]);
        assert_eq!(format!("{tokens:?}"), "Tokens([1 redacted])");
    }
}
