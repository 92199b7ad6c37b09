//! Reading the layers into one TOML table before it is typed: a file laid over the
//! defaults, then `UNDERWRITE_<SECTION>_<KEY>` variables, each parsed as the type its
//! default has (which is why every key has a value in `config/default.toml`), and a
//! vendor's secrets told apart from its settings.

use super::ConfigError;

/// Every environment variable that the settings name as a secret's place: the
/// `secret_env` of each `[[webhooks.endpoints]]`.
pub(super) fn secret_env_names(table: &toml::Table) -> std::collections::HashSet<String> {
    table
        .get("webhooks")
        .and_then(|webhooks| webhooks.get("endpoints"))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|endpoint| endpoint.get("secret_env")?.as_str().map(String::from))
        .collect()
}

/// `rest` (a variable without `UNDERWRITE_`) names a secret of a vendor that has a section:
/// `PROTEGER_TOKEN` → (`proteger`, `token`).
pub(super) fn vendor_secret(table: &toml::Table, rest: &str) -> Option<(String, String)> {
    let lower = rest.to_ascii_lowercase();
    let vendors = table.get("vendors")?.as_table()?;
    let (vendor, name) = longest_prefix(vendors, &lower)?;
    Some((vendor.to_string(), name.to_string()))
}

/// Splits `<name>_<rest>` where `<name>` is the longest key of `table` that fits.
fn longest_prefix<'t, 's>(table: &'t toml::Table, text: &'s str) -> Option<(&'t str, &'s str)> {
    table
        .keys()
        .filter_map(|name| {
            let rest = text.strip_prefix(name.as_str())?.strip_prefix('_')?;
            (!rest.is_empty()).then_some((name.as_str(), rest))
        })
        .max_by_key(|(name, _)| name.len())
}

/// Deep-merges `overlay` into `base`.
pub(super) fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `UNDERWRITE_<SECTION>_<KEY>=value` to the table.
pub(super) fn apply_env(
    table: &mut toml::Table,
    var: &str,
    rest: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let env_error = |reason: String| ConfigError::Env {
        var: var.to_string(),
        reason,
    };
    let lower = rest.to_ascii_lowercase();
    let (section, key) = lower
        .split_once('_')
        .ok_or_else(|| env_error("expected UNDERWRITE_<SECTION>_<KEY>".into()))?;
    let sections: Vec<String> = table.keys().cloned().collect();
    let Some(toml::Value::Table(section_table)) = table.get_mut(section) else {
        return Err(env_error(format!(
            "unknown section `{section}`{}",
            crate::config_hints::suggestion(section, sections.iter().map(String::as_str))
        )));
    };
    let (section_table, path, key) = if section == "vendors" {
        // `VENDORS_<VENDOR>_<KEY>`: one level deeper.
        let Some((vendor, rest)) = longest_prefix(section_table, key) else {
            return Err(env_error(format!(
                "no vendor section matches `{key}` (expected UNDERWRITE_VENDORS_<VENDOR>_<KEY>)"
            )));
        };
        let vendor = vendor.to_string();
        let Some(toml::Value::Table(inner)) = section_table.get_mut(&vendor) else {
            return Err(env_error(format!("`vendors.{vendor}` is not a section")));
        };
        (inner, format!("vendors.{vendor}"), rest)
    } else {
        (section_table, section.to_string(), key)
    };
    let Some(current) = section_table.get(key) else {
        return Err(env_error(format!(
            "unknown key `{path}.{key}`{}",
            crate::config_hints::suggestion(key, section_table.keys().map(String::as_str))
        )));
    };
    // Parse the value as the type the default has, so `8080` stays a string for a URL and
    // becomes an integer for a count.
    let parsed = match current {
        toml::Value::String(_) => toml::Value::String(value.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not an integer")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not true or false")))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not a number")))?,
        ),
        // Lists are comma-separated: `UNDERWRITE_WEBHOOKS_ALLOW_CIDRS=127.0.0.0/8,::1/128`.
        toml::Value::Array(items) => {
            let numeric = items.first().is_some_and(toml::Value::is_integer);
            let mut list = Vec::new();
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                list.push(if numeric {
                    toml::Value::Integer(
                        part.parse()
                            .map_err(|_| env_error(format!("`{part}` is not an integer")))?,
                    )
                } else {
                    toml::Value::String(part.to_string())
                });
            }
            toml::Value::Array(list)
        }
        _ => {
            return Err(env_error(
                "this key cannot be set from the environment".into(),
            ));
        }
    };
    section_table.insert(key.to_string(), parsed);
    Ok(())
}
