//! What a refused setting's message adds so that the fix is obvious: the nearest known
//! name for a typo ("did you mean"), and the form a value must take where the parser's own
//! words say little (`invalid socket address syntax`).

/// The known name closest to `word`, if it is close enough to be the intended one: at
/// most a third of its letters off (two for short names).
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|candidate| (distance(word, candidate), candidate))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// ", did you mean `x`?" or nothing.
pub fn suggestion<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, known).map_or_else(String::new, |near| format!("; did you mean `{near}`?"))
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// A deserialisation error of the settings, with what the parser leaves unsaid: the
/// nearest field of an unknown one, the form of a socket address.
pub fn explain(message: &str) -> String {
    let mut out = message.trim_end().to_string();
    // toml: "unknown field `jiter`, expected one of `a`, `b`, ..."
    if let Some(rest) = message.split("unknown field `").nth(1)
        && let Some((field, expected)) = rest.split_once('`')
    {
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        out.push_str(&suggestion(field, known));
    }
    if message.contains("invalid socket address syntax") {
        out.push_str(
            " (an IP address and a port, such as `127.0.0.1:8181` or `0.0.0.0:8181`: host \
             names such as `localhost` are not resolved here)",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_nearest_name_and_nonsense_gets_none() {
        let known = ["jitter", "allow_cidrs", "timeout_ms"];
        assert_eq!(did_you_mean("jiter", known), Some("jitter"));
        assert_eq!(did_you_mean("alow_cidr", known), Some("allow_cidrs"));
        assert_eq!(did_you_mean("banana", known), None);
    }

    #[test]
    fn parser_messages_gain_what_they_leave_unsaid() {
        let unknown =
            explain("unknown field `concurency`, expected one of `concurrency`, `lease_secs`");
        assert!(
            unknown.ends_with("did you mean `concurrency`?"),
            "{unknown}"
        );
        let listen = explain("invalid socket address syntax\nin `api.listen`");
        assert!(listen.contains("`127.0.0.1:8181`"), "{listen}");
    }
}
