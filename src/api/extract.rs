//! Extractors that read the request and refuse it in our error shape.
//!
//! axum's own extractors answer their rejections in plain text; these wrap them so that a
//! caller always gets `{"error": {...}}` (see `error.rs`).
//!
//! The JSON body is read in two steps on purpose:
//!
//! 1. bytes → `serde_json::Value`: fails only when the body is not JSON at all → **400**,
//!    with serde's line and column;
//! 2. `Value` → the route's type, tracking the path of what went wrong
//!    (`serde_path_to_error`) → **422**, naming the field (`contracts[3].customer.email`).
//!
//! So "400" always means "this is not JSON" and "422" always means "JSON, but not what we
//! accept", whatever the order of the mistakes in the body.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use serde_path_to_error::Segment;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::{IntoParams, PartialSchema};

use super::ApiState;
use super::error::ApiError;
use crate::queue::JobId;
use crate::validation::FieldError;

/// A JSON body: `Content-Type` must say JSON (else 415), the body must fit
/// `api.body_limit_bytes` (else 413) and arrive within `api.body_timeout_secs` (else 408),
/// parse (else 400) and deserialize as `T` (else 422).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ApiState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, ApiError> {
        if !declares_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.body_limit();
        // A declared length past the limit is refused before reading a byte. Bodies without
        // a length (chunked) are cut off by `DefaultBodyLimit` while being read.
        if content_length(req.headers()).is_some_and(|length| length > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        // A body trickling in holds a task and a connection: it has `api.body_timeout_secs`
        // in all, from the moment its reading begins.
        let timeout = state.body_timeout();
        let read = tokio::time::timeout(timeout, Bytes::from_request(req, state))
            .await
            .map_err(|_| ApiError::RequestTimeout {
                secs: timeout.as_secs(),
            })?;
        let bytes = read.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
            _ => ApiError::BadRequest {
                message: "the body could not be read".into(),
                fields: Vec::new(),
            },
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::MalformedJson(error.to_string()))?;
        from_value(value, "").map(Self).map_err(ApiError::invalid)
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Deserializes `value` as `T`; on failure, the fields at fault, with their paths under
/// `parent` (`""` for the body itself).
///
/// serde stops at the first mistake. Unknown fields are all listed at once anyway: each
/// one found is taken out of the value and the value read again (at most
/// [`MAX_UNKNOWN_FIELDS`] times), so a request with three typos hears of all three, then of
/// the first other mistake, if any. The checks a type runs after deserializing
/// (`validate()`) are where the other field errors are gathered.
pub fn from_value<T: DeserializeOwned>(
    mut value: Value,
    parent: &str,
) -> Result<T, Vec<FieldError>> {
    let mut errors = Vec::new();
    for _ in 0..=MAX_UNKNOWN_FIELDS {
        let error = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(parsed) if errors.is_empty() => return Ok(parsed),
            Ok(_) => return Err(errors),
            Err(error) => error,
        };
        let (field, unknown) = describe(&error, parent);
        errors.push(field);
        match unknown {
            Some((path, name)) if remove(&mut value, &path, &name) => continue,
            _ => return Err(errors),
        }
    }
    Err(errors)
}

/// How many unknown fields one value may be read again for.
pub const MAX_UNKNOWN_FIELDS: usize = 64;

/// A serde error as a field error; for an unknown field, also where it is in the value
/// (the path's segments) and its name, so that it can be taken out.
fn describe(
    error: &serde_path_to_error::Error<serde_json::Error>,
    parent: &str,
) -> (FieldError, Option<(Vec<Segment>, String)>) {
    // The path names the value that failed: for a missing field that is the object that
    // lacks it, so the field's own name is taken from serde's message.
    let at = match error.path().to_string().as_str() {
        "." => parent.to_string(),
        path => join(parent, path),
    };
    let message = error.inner().to_string();
    if let Some(name) = quoted_after(&message, "unknown field `") {
        let expected = message
            .split_once(", ")
            .map_or(String::new(), |(_, rest)| format!("; {rest}"));
        // The path already ends with an unknown key (it was read before it was refused);
        // joining it again would name it twice.
        let field = if at == name || at.ends_with(&format!(".{name}")) {
            at
        } else {
            join(&at, &name)
        };
        let path = error.path().iter().cloned().collect();
        (
            FieldError::new(field, format!("unknown field{expected}")),
            Some((path, name)),
        )
    } else if let Some(name) = quoted_after(&message, "missing field `") {
        (FieldError::new(join(&at, &name), "is required"), None)
    } else {
        (FieldError::new(at, message), None)
    }
}

/// Takes the unknown field `name` out of the object at `path` (or `path` itself when it
/// ends with that field). False when it is not there: then reading again would not help.
fn remove(value: &mut Value, path: &[Segment], name: &str) -> bool {
    let (object_path, last) = match path.split_last() {
        Some((Segment::Map { key }, rest)) if key == name => (rest, name),
        _ => (path, name),
    };
    let mut current = value;
    for segment in object_path {
        current = match (segment, current) {
            (Segment::Map { key }, Value::Object(fields)) => match fields.get_mut(key) {
                Some(inner) => inner,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(items)) => match items.get_mut(*index) {
                Some(inner) => inner,
                None => return false,
            },
            _ => return false,
        };
    }
    match current {
        Value::Object(fields) => fields.remove(last).is_some(),
        _ => false,
    }
}

/// The text between `prefix` (which ends with a backtick) and the next backtick.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name.to_string())
}

/// `join("contracts[3]", "customer.email")` → `contracts[3].customer.email`; an index
/// attaches without a dot (`contracts` + `[3]`).
pub fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (_, true) => parent.to_string(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// A path parameter, refused as a 400 in our shape when it cannot be decoded.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|_| ApiError::BadRequest {
                message: "the URL path could not be decoded".into(),
                fields: Vec::new(),
            })
    }
}

/// A job id from the path (`/v1/jobs/{id}`): a malformed one is a 400, not a 404, so a
/// caller can tell "you sent garbage" from "no such job".
#[derive(Debug)]
pub struct JobIdPath(pub JobId);

impl<S: Send + Sync> FromRequestParts<S> for JobIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiPath(raw) = ApiPath::<String>::from_request_parts(parts, state).await?;
        raw.parse()
            .map(Self)
            .map_err(|_| ApiError::bad_request("id", "must be a job id (a UUID)"))
    }
}

/// For the document: `{id}`, a job id.
impl IntoParams for JobIdPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("A job id; anything but a UUID is a 400."))
                .schema(Some(JobId::schema()))
                .build(),
        ]
    }
}

/// Most items one page may hold, and how many a page holds when the caller does not say.
pub const MAX_PAGE: usize = 500;
pub const DEFAULT_PAGE: usize = 50;

/// The query string as name → value. Each route says which names it knows: an unknown one
/// is refused rather than ignored, because a typo (`?stat=dead`) would otherwise quietly
/// answer something else than what was asked.
#[derive(Debug)]
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest {
                message: "the query string could not be decoded".into(),
                fields: Vec::new(),
            })?;
        let mut map = HashMap::with_capacity(pairs.len());
        let mut errors = Vec::new();
        for (name, value) in pairs {
            match map.entry(name) {
                Entry::Occupied(entry) => {
                    errors.push(FieldError::new(entry.key(), "is given more than once"));
                }
                Entry::Vacant(entry) => {
                    entry.insert(value);
                }
            }
        }
        if errors.is_empty() {
            Ok(Self(map))
        } else {
            Err(ApiError::invalid(errors))
        }
    }
}

impl QueryParams {
    /// Records every parameter that is not in `known`.
    pub fn check_known(&self, known: &[&str], errors: &mut Vec<FieldError>) {
        let mut unknown: Vec<&String> = self
            .0
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .collect();
        unknown.sort();
        for name in unknown {
            errors.push(FieldError::new(
                name.as_str(),
                format!(
                    "unknown query parameter; expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `cursor` (passed through: the store checks it) and `limit` (1 to [`MAX_PAGE`],
    /// default [`DEFAULT_PAGE`]).
    pub fn paging(&self, errors: &mut Vec<FieldError>) -> (Option<String>, usize) {
        let cursor = self
            .get("cursor")
            .filter(|c| !c.is_empty())
            .map(String::from);
        let limit = match self.get("limit") {
            None => DEFAULT_PAGE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(limit) if (1..=MAX_PAGE).contains(&limit) => limit,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    ));
                    DEFAULT_PAGE
                }
            },
        };
        (cursor, limit)
    }
}

/// For the document: the `cursor` and `limit` that [`QueryParams::paging`] reads.
pub struct Paging;

impl IntoParams for Paging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let limit = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_PAGE))
            .default(Some(json!(DEFAULT_PAGE)));
        vec![
            ParameterBuilder::new()
                .name("cursor")
                .parameter_in(ParameterIn::Query)
                .description(Some(
                    "The `next_cursor` of the previous page; leave it out for the first page.",
                ))
                .schema(Some(String::schema()))
                .build(),
            ParameterBuilder::new()
                .name("limit")
                .parameter_in(ParameterIn::Query)
                .description(Some("How many jobs a page holds at most."))
                .schema(Some(limit))
                .build(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        email: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        total: i64,
        items: Vec<Inner>,
    }

    fn error(value: Value) -> FieldError {
        let mut errors = from_value::<Outer>(value, "contracts[2]").expect_err("must fail");
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn every_unknown_field_is_listed_at_once_then_the_first_other_mistake() {
        let errors = from_value::<Outer>(
            json!({"total": 1, "items": [{"email": "a@b.c", "emial": 1}, {"email": 2, "x": 1}], "colour": "red"}),
            "",
        )
        .expect_err("must fail");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        // Unknown ones in the order read (keys sorted), up to the first other mistake.
        assert_eq!(
            fields,
            ["colour", "items[0].emial", "items[1].email"][..],
            "{errors:?}"
        );
        let errors = from_value::<Outer>(
            json!({"totl": 1, "items": [{"email": "a@b.c", "emial": 1}, {"email": "d@e.f", "x": 1}], "colour": "red"}),
            "",
        )
        .expect_err("must fail");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["colour", "items[0].emial", "items[1].x", "totl", "total"][..],
            "{errors:?}"
        );
        assert!(
            errors[..4]
                .iter()
                .all(|e| e.reason.starts_with("unknown field"))
        );
        assert_eq!(errors[4].reason, "is required");
    }

    #[test]
    fn errors_name_the_field_by_its_full_path() {
        let wrong_type = error(json!({"total": "12", "items": []}));
        assert_eq!(wrong_type.field, "contracts[2].total");
        assert!(wrong_type.reason.contains("invalid type"), "{wrong_type:?}");

        let missing = error(json!({"total": 1, "items": [{"email": "a@b.c"}, {}]}));
        assert_eq!(missing.field, "contracts[2].items[1].email");
        assert_eq!(missing.reason, "is required");

        let unknown = error(json!({"total": 1, "items": [], "colour": "red"}));
        assert_eq!(unknown.field, "contracts[2].colour");
        assert_eq!(unknown.reason, "unknown field; expected `total` or `items`");

        let not_an_object = error(json!("text"));
        assert_eq!(not_an_object.field, "contracts[2]");
    }

    #[test]
    fn paths_join_with_dots_except_before_an_index() {
        assert_eq!(join("", "a.b"), "a.b");
        assert_eq!(join("a", ""), "a");
        assert_eq!(join("contracts", "[3]"), "contracts[3]");
        assert_eq!(join("contracts[3]", "customer"), "contracts[3].customer");
    }

    #[test]
    fn json_content_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().expect("header"));
            declares_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!declares_json(&HeaderMap::new()));
    }
}
