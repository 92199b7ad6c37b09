//! The README and `docs/` stay true: every relative link leads to a file that exists (and
//! to a heading that exists, when it names one), every `underwrite ...` command they show
//! exists, and every setting they name in backticks is a key of `config/default.toml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("docs/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, into);
            } else if path.extension().is_some_and(|e| e == "md") {
                into.push(path);
            }
        }
    }
    let mut pages = vec![root().join("README.md")];
    walk(&root().join("docs"), &mut pages);
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| anchor(line.trim_start_matches('#')))
        .collect()
}

/// `(text, target)` of every markdown link `[text](target)`.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        if let Some(end) = after.find(')') {
            found.push(after[..end].to_string());
        }
        rest = after;
    }
    found
}

#[test]
fn every_link_leads_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        let dir = page.parent().expect("a folder");
        for target in links(&text) {
            if target.starts_with("http") || target.contains(' ') {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: {target} (no such file)", page.display()));
                continue;
            }
            if !fragment.is_empty()
                && file.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&file)).contains(fragment)
            {
                broken.push(format!("{}: {target} (no such heading)", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// The subcommand paths the pages show as code: `underwrite dead retry ...` →
/// `["dead", "retry"]` (at most two words, the ones that are lowercase names). Code is a
/// fenced block's line, or inline code that starts with the command.
fn commands(text: &str) -> BTreeSet<Vec<String>> {
    let mut starts = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            let code = line.trim_start().trim_start_matches("$ ");
            if let Some(rest) = code.strip_prefix("underwrite ") {
                starts.push(rest.to_string());
            }
        } else {
            for piece in line.split('`').skip(1).step_by(2) {
                if let Some(rest) = piece.strip_prefix("underwrite ") {
                    starts.push(rest.to_string());
                }
            }
        }
    }
    starts
        .iter()
        .map(|rest| {
            rest.split_whitespace()
                .take(2)
                .take_while(|w| {
                    w.starts_with(|c: char| c.is_ascii_lowercase())
                        && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .collect()
}

#[test]
fn every_command_shown_exists() {
    let mut shown = BTreeSet::new();
    for page in pages() {
        for command in commands(&read(&page)) {
            shown.insert(command);
        }
    }
    assert!(shown.len() >= 10, "{shown:?}");
    let mut unknown = Vec::new();
    for words in &shown {
        // `--help` after a subcommand path succeeds; after an argument (`bench noop`) it
        // shows the command's help, and succeeds too; an unknown subcommand fails.
        let ok = Command::new(env!("CARGO_BIN_EXE_underwrite"))
            .args(words)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            unknown.push(words.join(" "));
        }
    }
    assert!(unknown.is_empty(), "no such command: {unknown:#?}");
}

#[test]
fn every_setting_named_is_a_key_of_the_defaults() {
    let defaults: toml::Table = read(&root().join("config/default.toml"))
        .parse()
        .expect("default.toml");
    let sections: BTreeSet<&str> = defaults.keys().map(String::as_str).collect();
    let exists = |key: &str| {
        let mut table = &defaults;
        let parts: Vec<&str> = key.split('.').collect();
        for (n, part) in parts.iter().enumerate() {
            match table.get(*part) {
                Some(toml::Value::Table(inner)) if n + 1 < parts.len() => table = inner,
                Some(_) => return n + 1 == parts.len(),
                None => return false,
            }
        }
        false
    };
    let mut unknown = Vec::new();
    for page in pages() {
        let text = read(&page);
        for (n, piece) in text.split('`').enumerate() {
            // Inside backticks, a dotted lowercase name whose first part is a section.
            if n % 2 == 0 || piece.contains(' ') || !piece.contains('.') {
                continue;
            }
            let Some(first) = piece.split('.').next() else {
                continue;
            };
            let is_name = piece
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            // retry."<kind>" and the endpoints' array are not plain keys.
            if !is_name || !sections.contains(first) || first == "retry" {
                continue;
            }
            if piece.starts_with("webhooks.endpoints") || piece.ends_with('.') {
                continue;
            }
            if !exists(piece) {
                unknown.push(format!("{}: `{piece}`", page.display()));
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(unknown.is_empty(), "not a setting: {unknown:#?}");
}

/// The config-file endpoint of docs/webhooks.md, as written, with its secret in the
/// variable it names: every command starts with it (the variable is the endpoint's, not a
/// setting), and a process with workers creates the endpoint.
#[tokio::test]
async fn the_config_file_endpoint_example_works_as_written() {
    let page = read(&root().join("docs/webhooks.md"));
    let example = page
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("[[webhooks.endpoints]]"))
        .expect("the example");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ep.toml");
    std::fs::write(&file, example).expect("write");
    let secret = underwrite::webhooks::signing::Secret::generate().expose();
    let redis = crate::helpers::redis::TestRedis::shared();
    let queue = crate::helpers::redis::unique_queue();

    let mut command = crate::cli::underwrite(&redis.url(), &queue);
    command
        .env("UNDERWRITE_WEBHOOK_SECRET_SHOP", &secret)
        .args(["jobs", "list", "--config"])
        .arg(&file);
    let listed = crate::cli::run(command);
    assert!(listed.status.success(), "{}", listed.stderr);

    let mut serve = crate::cli::underwrite(&redis.url(), &queue);
    serve
        .env("UNDERWRITE_WEBHOOK_SECRET_SHOP", &secret)
        .env(
            "UNDERWRITE_API_LISTEN",
            format!("127.0.0.1:{}", crate::helpers::redis::free_port()),
        )
        .args(["serve", "--config"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut serve = serve.spawn().expect("serve starts");
    let (store, _conn) =
        crate::helpers::redis::store_on(redis, &queue, underwrite::queue::Retention::default());
    let store = underwrite::webhooks::endpoints::EndpointStore::new(&store);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let endpoints = store.list().await.expect("list");
        if let Some(shop) = endpoints.iter().find(|e| e.id == "shop") {
            assert_eq!(shop.url, "https://shop.example/hooks/underwrite");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = serve.kill();
            panic!("no `shop` endpoint: {endpoints:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = serve.kill();
    let _ = serve.wait();
}
