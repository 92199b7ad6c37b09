//! The media-type headers the vendor's pages mark as required, checked before anything
//! executes.
//!
//! What the seeds say, per endpoint:
//!
//! | call                                  | `Content-Type: application/json` | `Accept: application/json` |
//! |---------------------------------------|----------------------------------|----------------------------|
//! | `POST /v1/contracts/bulk` (000)       | required                         | required                   |
//! | `PUT /v1/contracts/{id}/refund` (001) | required (the `PUT` has no body) | required                   |
//! | every other call                      | **unknown**                      | **unknown**                |
//!
//! For the calls the seeds do not cover, the sandbox follows its rule for silence (the
//! hardest behaviour on clients that is still plausible): `Accept` is required on every
//! call, as on both documented pages, and `Content-Type` on every call that carries a body
//! (`POST /v1/contracts`, sibling of the bulk). A `GET` has nothing to declare.
//!
//! How the vendor refuses a missing or wrong header is **unknown**: the sandbox answers the
//! HTTP statuses meant for it, in the vendor's error shape with codes named like its own:
//! 415 `UnsupportedMediaTypeException` and 406 `NotAcceptableException`. Either is a
//! refusal before executing, and this layer sits outside the idempotency layer, so nothing
//! is stored under the key.

use axum::extract::Request;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::vendor_error;

const JSON: &str = "application/json";

pub async fn require_media_types(request: Request, next: Next) -> Response {
    let needs_content_type = matches!(*request.method(), Method::POST | Method::PUT);
    if needs_content_type && !declares_json(request.headers()) {
        return vendor_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            "Content-Type must be application/json",
        );
    }
    if !accepts_json(request.headers()) {
        return vendor_error(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptableException",
            "Accept must be application/json",
        );
    }
    next.run(request).await
}

/// `Content-Type` is `application/json`, parameters (`; charset=utf-8`) allowed.
fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| media_type(value).eq_ignore_ascii_case(JSON))
}

/// Some `Accept` header names `application/json`, unless with the weight `q=0` (which
/// means "not this"). Wildcards (`*/*`, `application/*`) do not count, although HTTP would
/// let them: the pages document the value `application/json`, and reqwest (like curl)
/// sends `Accept: */*` when nobody set the header, so a wildcard would let a client that
/// forgot it through.
fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let admits = media_type(range).eq_ignore_ascii_case(JSON);
            let refused = range.split(';').skip(1).any(|param| {
                let param: String = param.chars().filter(|c| !c.is_whitespace()).collect();
                param
                    .strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            admits && !refused
        })
}

/// The media type of a header value, without parameters or surrounding spaces.
fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: axum::http::HeaderName, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(name.clone(), HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn content_type_must_be_json() {
        for good in ["application/json", "Application/JSON; charset=utf-8"] {
            assert!(declares_json(&headers(CONTENT_TYPE, &[good])), "{good}");
        }
        for bad in ["text/plain", "application/jsonx", "", "string"] {
            assert!(!declares_json(&headers(CONTENT_TYPE, &[bad])), "{bad}");
        }
        assert!(!declares_json(&HeaderMap::new()));
    }

    #[test]
    fn accept_must_admit_json() {
        for good in [
            &["application/json"][..],
            &["text/html, application/json;q=0.9"],
            &["text/html", "Application/JSON"],
        ] {
            assert!(accepts_json(&headers(ACCEPT, good)), "{good:?}");
        }
        for bad in [
            &["text/html"][..],
            &["application/json;q=0"],
            &["application/json; q=0.0"],
            &["*/*"],
            &["application/*"],
            &["string"],
        ] {
            assert!(!accepts_json(&headers(ACCEPT, bad)), "{bad:?}");
        }
        assert!(!accepts_json(&HeaderMap::new()));
    }
}
