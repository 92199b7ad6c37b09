//! Event-type filters: which events an endpoint wants.
//!
//! Event types are `<vendor>.<subject>.<what>` (`proteger.contract.created`), each part of
//! `[a-z0-9_]`. An endpoint lists one or more patterns, and wants an event when any matches:
//!
//! | pattern                     | matches                                   |
//! |-----------------------------|-------------------------------------------|
//! | `*`                         | every event                               |
//! | `proteger.*`                | every event of the vendor `proteger`      |
//! | `proteger.contract.created` | that event type only                      |
//!
//! Nothing else is a pattern (`proteger.contract.*` neither): a typo in a filter would
//! otherwise match nothing, quietly. Patterns are checked when an endpoint is written, so
//! matching only compares text.

/// The pattern that matches every event.
pub const ALL: &str = "*";

/// The longest pattern accepted (event types are short dotted names).
pub const MAX_PATTERN_LEN: usize = 128;

/// Why `pattern` is not a pattern, if it is not.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    const SHAPE: &str = "must be `*`, `<vendor>.*` or an event type `<vendor>.<subject>.<what>` (lowercase letters, digits and `_`)";
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("must be at most {MAX_PATTERN_LEN} characters"));
    }
    if pattern == ALL {
        return Ok(());
    }
    let parts: Vec<&str> = pattern.split('.').collect();
    let well_formed = match parts.as_slice() {
        [vendor, "*"] => is_part(vendor),
        [vendor, subject, what] => is_part(vendor) && is_part(subject) && is_part(what),
        _ => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(SHAPE.into())
    }
}

fn is_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether the (well-formed) `pattern` matches `event_type`.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == ALL {
        return true;
    }
    match pattern.strip_suffix('*') {
        // `proteger.*`: the vendor part and its dot, then anything.
        Some(prefix) => event_type.len() > prefix.len() && event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// Whether any of `patterns` matches `event_type`.
pub fn any_matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| pattern_matches(p, event_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_are_patterns_and_nothing_else() {
        for good in ["*", "acme.*", "acme.contract.created", "a_1.b.c_2"] {
            assert_eq!(check_pattern(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "**",
            "acme",
            "acme.",
            "acme.contract",
            "acme.contract.*",
            "acme.*.created",
            "Acme.*",
            "acme.contract.created.now",
            "acme..created",
            "acme.contract-x.created",
            " acme.*",
            "*.contract.created",
        ] {
            assert!(check_pattern(bad).is_err(), "{bad:?}");
        }
        assert!(check_pattern(&format!("{}.*", "a".repeat(200))).is_err());
    }

    #[test]
    fn matching() {
        let created = "acme.contract.created";
        assert!(pattern_matches("*", created));
        assert!(pattern_matches("acme.*", created));
        assert!(pattern_matches(created, created));
        assert!(!pattern_matches("acme.contract.failed", created));
        assert!(!pattern_matches("other_vendor.*", created));
        // A vendor whose name starts like another's is another vendor.
        assert!(!pattern_matches("acme.*", "acme_two.contract.created"));
        assert!(!pattern_matches("acme.*", "acme."));
        assert!(any_matches(
            &["other_vendor.*".to_string(), created.to_string()],
            created
        ));
        assert!(!any_matches(&[], created));
    }
}
