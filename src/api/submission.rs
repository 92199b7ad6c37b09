//! What every enqueued body may carry next to its payload: the producer's own `reference`
//! and `metadata`, stored with the job and echoed in its record, never interpreted.
//!
//! They sit *beside* the payload's fields in the same object:
//!
//! ```json
//! {"transactionId": "...", ..., "reference": "order-1", "metadata": {"shop": "a"}}
//! ```
//!
//! serde cannot read that shape into a wrapper struct: `#[serde(flatten)]` turns off the
//! payload's `deny_unknown_fields`, and a typo would pass silently. So [`parse`] takes the
//! two keys out of the JSON object by hand and deserializes what remains as the payload,
//! which still refuses any field it does not know.
//!
//! For the OpenAPI document, [`Submitted<P>`] is the schema of such a body: `P`'s schema
//! with the two fields added.

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{AllOfBuilder, ObjectBuilder, RefOr, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::extract::{from_value, join};
use crate::producer::Submission;
use crate::validation::FieldError;

/// Longest `reference`, in characters.
pub const MAX_REFERENCE_CHARS: usize = 255;
/// Largest `metadata`, as compact JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Reads one submission object found at `at` (`""` for the body, `contracts[3]` in a bulk).
/// On failure, every field error found, with paths under `at`.
pub fn parse<P: DeserializeOwned>(
    value: Value,
    at: &str,
) -> Result<Submission<P>, Vec<FieldError>> {
    let Value::Object(mut object) = value else {
        return Err(vec![FieldError::new(at, "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let reference = reference(&mut object, at, &mut errors);
    let metadata = metadata(&mut object, at, &mut errors);
    let payload = match from_value::<P>(Value::Object(object), at) {
        Ok(payload) => Some(payload),
        Err(fields) => {
            errors.extend(fields);
            None
        }
    };
    match payload {
        Some(payload) if errors.is_empty() => Ok(Submission {
            payload,
            reference,
            metadata,
        }),
        _ => Err(errors),
    }
}

/// The schema of a body that [`parse`] reads as `P`: `P`'s own fields, `reference` and
/// `metadata` beside them, and nothing else. For the document only: nothing has this type.
pub struct Submitted<P>(PhantomData<P>);

impl<P: ToSchema> PartialSchema for Submitted<P> {
    fn schema() -> RefOr<Schema> {
        // `null` reads as absent (see `reference` and `metadata` below).
        let reference = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .min_length(Some(1))
            .max_length(Some(MAX_REFERENCE_CHARS))
            .description(Some(
                "Your own reference for the job, stored with it and echoed in its record and \
                 webhooks; never interpreted.",
            ));
        let metadata = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .description(Some(format!(
                "Any JSON object of yours, at most {MAX_METADATA_BYTES} bytes as JSON; stored \
                 and echoed like `reference`."
            )));
        match P::schema() {
            RefOr::T(Schema::Object(mut object)) => {
                // `P`'s description is about `P`; the operation says what the body is.
                object.description = None;
                object
                    .properties
                    .insert("reference".into(), reference.into());
                object.properties.insert("metadata".into(), metadata.into());
                RefOr::T(Schema::Object(object))
            }
            // A payload that is not a plain object (an enum, say): the fields go beside it.
            payload => AllOfBuilder::new()
                .item(payload)
                .item(
                    ObjectBuilder::new()
                        .property("reference", reference)
                        .property("metadata", metadata),
                )
                .into(),
        }
    }
}

impl<P: ToSchema> ToSchema for Submitted<P> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Submission", P::name()))
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        // `P`'s own fields are copied in, not referenced: only what they refer to is needed.
        P::schemas(schemas);
    }
}

/// A non-empty string of at most [`MAX_REFERENCE_CHARS`]; `null` reads as absent.
fn reference(
    object: &mut Map<String, Value>,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let field = || join(at, "reference");
    match object.remove("reference")? {
        Value::Null => None,
        // An empty reference would read back as none at all (records store absent as ""),
        // so it is refused rather than silently dropped.
        Value::String(s) if s.is_empty() => {
            errors.push(FieldError::new(
                field(),
                "must not be empty (leave it out instead)",
            ));
            None
        }
        Value::String(s) if s.chars().count() > MAX_REFERENCE_CHARS => {
            errors.push(FieldError::new(
                field(),
                format!("must be at most {MAX_REFERENCE_CHARS} characters"),
            ));
            None
        }
        Value::String(s) => Some(s),
        _ => {
            errors.push(FieldError::new(field(), "must be a string"));
            None
        }
    }
}

/// A JSON object of at most [`MAX_METADATA_BYTES`]; `null` reads as absent.
fn metadata(
    object: &mut Map<String, Value>,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let field = || join(at, "metadata");
    match object.remove("metadata")? {
        Value::Null => None,
        value @ Value::Object(_) => {
            // Serializing a `Value` cannot fail; if it somehow did, count it as too large.
            let size = serde_json::to_vec(&value).map_or(usize::MAX, |bytes| bytes.len());
            if size > MAX_METADATA_BYTES {
                errors.push(FieldError::new(
                    field(),
                    format!("must be at most {MAX_METADATA_BYTES} bytes as JSON (is {size})"),
                ));
                None
            } else {
                Some(value)
            }
        }
        _ => {
            errors.push(FieldError::new(field(), "must be a JSON object"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        preview: bool,
    }

    #[test]
    fn reference_and_metadata_are_taken_out_and_the_rest_stays_strict() {
        let parsed = parse::<Payload>(
            json!({"preview": true, "reference": "r-1", "metadata": {"a": 1}}),
            "",
        )
        .expect("valid");
        assert_eq!(parsed.payload, Payload { preview: true });
        assert_eq!(parsed.reference.as_deref(), Some("r-1"));
        assert_eq!(parsed.metadata, Some(json!({"a": 1})));

        let errors = parse::<Payload>(json!({"preview": true, "previw": false}), "")
            .expect_err("unknown field");
        assert_eq!(errors[0].field, "previw");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors = parse::<Payload>(
            json!({"preview": "yes", "reference": "", "metadata": [1]}),
            "contracts[1]",
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "contracts[1].reference",
                "contracts[1].metadata",
                "contracts[1].preview"
            ]
        );
    }

    #[test]
    fn limits() {
        let long = "x".repeat(MAX_REFERENCE_CHARS + 1);
        assert!(parse::<Payload>(json!({"preview": true, "reference": long}), "").is_err());
        let big = json!({"blob": "x".repeat(MAX_METADATA_BYTES)});
        assert!(parse::<Payload>(json!({"preview": true, "metadata": big}), "").is_err());
        let nulls = parse::<Payload>(
            json!({"preview": false, "reference": null, "metadata": null}),
            "",
        )
        .expect("null is absent");
        assert_eq!((nulls.reference, nulls.metadata), (None, None));
    }
}
