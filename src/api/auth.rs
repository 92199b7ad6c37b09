//! Bearer tokens: who may call `/v1/*`, and as whom.
//!
//! Tokens come from the environment, never from a file (`config_tokens.rs`): each of
//! `UNDERWRITE_API_TOKENS` belongs to an upstream app (`app:token`; a bare token is the app
//! `default`), each of `UNDERWRITE_API_OPERATOR_TOKENS` to the operator. A request must send
//! `Authorization: Bearer <token>` with one of them; otherwise it gets a 401 with
//! `WWW-Authenticate: Bearer` before any of its body is read. A request let through carries
//! its [`Caller`] in its extensions; handlers take it as an extractor.
//!
//! ## Roles
//!
//! - An **app** (a tenant: a shop, a back end) enqueues work, and sees and acts on its own
//!   jobs, webhook endpoints and deliveries only. Another app's record answers 404, exactly
//!   as one that does not exist (never 403): an id tells an app nothing about others.
//! - The **operator** sees and acts on every app's records and the internal jobs of none
//!   (vendor batches, scheduled polls), and alone may use the dead set's bulk routes
//!   ([`Operator`]; an app gets 403 there, the route being the same for everyone). It does
//!   not enqueue nor own endpoints ([`AppCaller`] answers it 403): work and webhooks are
//!   always some app's. The CLI reads Redis directly and is the operator by nature.
//!
//! ## Comparing without leaking
//!
//! A token compared byte by byte with `==` returns sooner the earlier it differs, and that
//! timing tells an attacker how much of a guess was right. So both sides are first hashed
//! with SHA-256 (equal length, whatever was sent), and the presented hash is compared with
//! *every* configured one in constant time (`subtle`), without stopping at a match, and
//! the role of the match is picked with a constant-time select: the time taken says
//! neither which token matched nor how close a guess came.
//!
//! Idempotency keys are scoped by a keyed hash of the caller's *app* (`scope_key.rs`): the
//! tokens of one app share its keys (so a token rotated mid-retry still replays), two apps
//! never see each other's jobs through a shared key, and key names give no token away.
//!
//! Two `Authorization` headers are refused with 400, whatever they hold: a request must say
//! once who it is.
//!
//! With no tokens configured, every `/v1` request is refused (and the message says why):
//! an API that opens up when a variable is missing would be a worse failure.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::ApiState;
use super::error::ApiError;
use crate::config_tokens::AppToken;
use crate::queue::AppName;

/// The SHA-256 of each configured token, with whose it is. The tokens themselves are not
/// kept.
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<([u8; 32], Caller)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens([{} redacted])", self.digests.len())
    }
}

impl Tokens {
    pub fn new(apps: &[AppToken], operators: &[String]) -> Self {
        let apps = apps
            .iter()
            .map(|t| (digest(&t.token), Caller::App(t.app.clone())));
        let operators = operators.iter().map(|t| (digest(t), Caller::Operator));
        Self {
            digests: apps.chain(operators).collect(),
        }
    }

    /// Who `presented` (a token's digest) is, if it is a configured token's. Runs through
    /// every token whatever the answer (see the module doc).
    fn admit(&self, presented: &[u8; 32]) -> Option<Caller> {
        let mut matched = Choice::from(0);
        let mut index = 0u32;
        for (i, (known, _)) in self.digests.iter().enumerate() {
            let equal = known.ct_eq(presented);
            index.conditional_assign(&u32::try_from(i).unwrap_or(u32::MAX), equal);
            matched |= equal;
        }
        if bool::from(matched) {
            let index = usize::try_from(index).ok()?;
            self.digests.get(index).map(|(_, caller)| caller.clone())
        } else {
            None
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The authenticated caller, put in the request's extensions by [`require_bearer`]; an
/// extractor for handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An upstream app: its own records only.
    App(AppName),
    /// The operator: every record.
    Operator,
}

impl Caller {
    /// Whether the caller may see a record that belongs to `owner` (`None`: an internal
    /// record, the operator's only).
    pub fn sees(&self, owner: Option<&AppName>) -> bool {
        match self {
            Self::Operator => true,
            Self::App(app) => owner == Some(app),
        }
    }

    /// The app whose records alone the caller sees; `None` for the operator (everything).
    /// What listings filter by and the stores check writes against.
    pub fn only_app(&self) -> Option<&AppName> {
        match self {
            Self::App(app) => Some(app),
            Self::Operator => None,
        }
    }

    /// What its idempotency keys are scoped by (`scope_key.rs`): the app, not the token,
    /// so that every token of an app shares its keys.
    pub(crate) fn scope_identity(&self) -> Vec<u8> {
        match self {
            Self::App(app) => [b"app:".as_slice(), app.as_str().as_bytes()].concat(),
            Self::Operator => b"operator".to_vec(),
        }
    }
}

/// The caller of a route behind [`require_bearer`].
fn caller_of(parts: &Parts) -> Result<Caller, ApiError> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
        // Reaching here means the router was assembled wrongly (a /v1 route without the
        // layer), not that the caller did something wrong.
        tracing::error!("a route read its caller without authentication");
        ApiError::Internal
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        caller_of(parts)
    }
}

/// The caller of a route only apps use (enqueueing, creating an endpoint): the app it
/// acts for. The operator gets 403: what is enqueued or subscribed is always some app's.
#[derive(Debug, Clone)]
pub struct AppCaller(pub AppName);

impl<S: Send + Sync> FromRequestParts<S> for AppCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match caller_of(parts)? {
            Caller::App(app) => Ok(Self(app)),
            Caller::Operator => Err(ApiError::Forbidden(
                "the operator's token acts on apps' work but does not create any: use the                  token of the app it is for (UNDERWRITE_API_TOKENS)"
                    .into(),
            )),
        }
    }
}

/// The caller of a route for the operator only (the dead set's bulk routes, which act on
/// every app's jobs at once). An app gets 403.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match caller_of(parts)? {
            Caller::Operator => Ok(Self),
            Caller::App(_) => Err(ApiError::Forbidden(
                "this route acts on every app's jobs: only an operator token                  (UNDERWRITE_API_OPERATOR_TOKENS) may use it; an app acts on its own jobs one                  at a time (/v1/dead/{id})"
                    .into(),
            )),
        }
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
            "no API tokens are configured on this server (UNDERWRITE_API_TOKENS and UNDERWRITE_API_OPERATOR_TOKENS are empty), so every /v1 request is refused",
        ));
    }
    let presented = bearer_token(&request)?;
    let Some(caller) = tokens.admit(&digest(presented)) else {
        return Err(ApiError::Unauthorized("the bearer token is not valid"));
    };
    request.extensions_mut().insert(caller);
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

    fn app(name: &str) -> AppName {
        AppName::parse(name).expect("name")
    }

    fn tokens() -> Tokens {
        Tokens::new(
            &[
                AppToken {
                    app: app("shop-a"),
                    token: "alpha".into(),
                },
                AppToken {
                    app: app("shop-a"),
                    token: "alpha-2".into(),
                },
                AppToken::default_app("beta"),
            ],
            &["omega".into()],
        )
    }

    #[test]
    fn admits_any_configured_token_as_its_role_and_nothing_else() {
        let tokens = tokens();
        assert_eq!(
            tokens.admit(&digest("alpha")),
            Some(Caller::App(app("shop-a")))
        );
        assert_eq!(
            tokens.admit(&digest("alpha-2")),
            Some(Caller::App(app("shop-a")))
        );
        assert_eq!(
            tokens.admit(&digest("beta")),
            Some(Caller::App(app("default")))
        );
        assert_eq!(tokens.admit(&digest("omega")), Some(Caller::Operator));
        assert_eq!(tokens.admit(&digest("gamma")), None);
        assert_eq!(tokens.admit(&digest("alph")), None);
        assert_eq!(Tokens::new(&[], &[]).admit(&digest("")), None);
    }

    #[test]
    fn an_app_sees_its_own_the_operator_everything() {
        let a = Caller::App(app("a"));
        assert!(a.sees(Some(&app("a"))));
        assert!(!a.sees(Some(&app("b"))));
        assert!(!a.sees(None));
        assert!(Caller::Operator.sees(Some(&app("b"))));
        assert!(Caller::Operator.sees(None));
        assert_eq!(a.only_app(), Some(&app("a")));
        assert_eq!(Caller::Operator.only_app(), None);
        assert_ne!(a.scope_identity(), Caller::App(app("b")).scope_identity());
        assert_ne!(a.scope_identity(), Caller::Operator.scope_identity());
    }

    #[test]
    fn debug_shows_no_digest() {
        assert_eq!(format!("{:?}", tokens()), "Tokens([4 redacted])");
    }
}
