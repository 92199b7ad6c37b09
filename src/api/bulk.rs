//! The shape every vendor's bulk route shares: `{"<field>": [item, ...]}` with 1 to `max`
//! items, all or nothing, each item checked by the vendor, and one key (a transaction id,
//! a billing code) that no two items of the request may share.
//!
//! Every wrong field is listed in one answer: the envelope's, then every item's.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::validation::FieldError;

/// The items of `body[field]`, or every envelope error: `field` missing or not an array,
/// unknown fields beside it, a count outside `1..=max` (the items are then not read).
pub fn items(
    mut body: Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Vec<Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let items = match body.remove(field) {
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new(field, "must be an array"));
            Vec::new()
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            Vec::new()
        }
    };
    let mut unknown: Vec<&String> = body.keys().collect();
    unknown.sort();
    for name in unknown {
        errors.push(FieldError::new(
            name.as_str(),
            format!("unknown field; expected `{field}`"),
        ));
    }
    if errors.is_empty() && !(1..=max).contains(&items.len()) {
        errors.push(FieldError::new(
            field,
            format!("must hold 1 to {max} items (has {})", items.len()),
        ));
    }
    if errors.is_empty() {
        Ok(items)
    } else {
        Err(errors)
    }
}

/// Checks each item with `check` (which names fields under `<field>[i]`) and refuses a
/// `key` that repeats an earlier item's, naming both. All errors of all items together.
pub fn each<T>(
    items: Vec<Value>,
    field: &str,
    key_name: &str,
    mut check: impl FnMut(Value, &str) -> Result<T, Vec<FieldError>>,
    key: impl Fn(&T) -> String,
) -> Result<Vec<T>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut checked = Vec::with_capacity(items.len());
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        match check(item, &format!("{field}[{i}]")) {
            Ok(value) => {
                let k = key(&value);
                match first_seen.get(&k) {
                    Some(first) => errors.push(FieldError::new(
                        format!("{field}[{i}].{key_name}"),
                        format!(
                            "repeats {field}[{first}].{key_name}; each item of a bulk needs its own"
                        ),
                    )),
                    None => {
                        first_seen.insert(k, i);
                    }
                }
                checked.push(value);
            }
            Err(found) => errors.extend(found),
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_envelope_and_every_item_are_checked_in_one_answer() {
        let body = json!({ "things": [], "other": 1 });
        let Value::Object(body) = body else {
            unreachable!()
        };
        let errors = items(body, "things", 3).expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "other");

        let checked = each(
            vec![json!("a"), json!("b"), json!("a")],
            "things",
            "name",
            |v, _| Ok(v.as_str().unwrap_or_default().to_string()),
            |s: &String| s.clone(),
        )
        .expect_err("a repeat");
        assert_eq!(checked[0].field, "things[2].name");
    }
}
