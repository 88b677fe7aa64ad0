//! `docs/rules.md` stays true: every place it names as enforcing a rule
//! exists (the file, and the function or item in it), and every test it
//! names exists, so the reference cannot silently rot as code moves.

use std::path::Path;

/// The backticked `path`: `item`, `item` runs of one "Enforced:" or
/// "Tested:" entry, as (rule, path, item).
fn references(doc: &str, label: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut rule = String::new();
    let mut entry = String::new();
    let flush = |rule: &str, entry: &mut String, found: &mut Vec<(String, String, String)>| {
        let mut path: Option<String> = None;
        for (i, piece) in entry.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            if piece.starts_with("src/") || piece.starts_with("tests/") {
                path = Some(piece.to_owned());
            } else if let Some(path) = &path {
                found.push((rule.to_owned(), path.clone(), piece.to_owned()));
            }
        }
        entry.clear();
    };
    let prefix = format!("- {label}:");
    let mut in_entry = false;
    for line in doc.lines() {
        if let Some(id) = line.strip_prefix("### ") {
            flush(&rule, &mut entry, &mut found);
            rule = id.trim().to_owned();
            in_entry = false;
        } else if line.starts_with(&prefix) {
            flush(&rule, &mut entry, &mut found);
            in_entry = true;
            entry.push_str(&line[prefix.len()..]);
        } else if line.starts_with("- ") || line.trim().is_empty() {
            if in_entry {
                flush(&rule, &mut entry, &mut found);
            }
            in_entry = false;
        } else if in_entry {
            entry.push(' ');
            entry.push_str(line.trim());
        }
    }
    flush(&rule, &mut entry, &mut found);
    found
}

/// The name an item is declared by: `LocalPartners::create_partner` →
/// `create_partner`; `in_force()` → `in_force`.
fn declared_name(item: &str) -> &str {
    let last = item.rsplit("::").next().unwrap_or(item);
    last.split(['(', ' ']).next().unwrap_or(last)
}

#[test]
fn docs_rules_names_only_places_and_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/rules.md")).expect("docs/rules.md");
    let enforced = references(&doc, "Enforced");
    let tested = references(&doc, "Tested");
    assert!(enforced.len() > 60 && tested.len() > 100, "the parser found too little");
    let mut missing = Vec::new();
    for (rule, path, item) in enforced.iter().chain(&tested) {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            missing.push(format!("{rule}: {path} does not exist"));
            continue;
        };
        let name = declared_name(item);
        // An item, a field (`Filter::field`), or an impl named verbatim.
        let declared = ["fn ", "struct ", "enum ", "const ", "trait ", "type ", "mod "]
            .iter()
            .any(|keyword| text.contains(&format!("{keyword}{name}")))
            || (item.contains("::") && text.contains(&format!("{name}:")))
            || (item.starts_with("impl ") && text.contains(item.as_str()));
        if !declared {
            missing.push(format!("{rule}: {path} declares no {item}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/rules.md is out of date:\n{}",
        missing.join("\n")
    );
}

/// Every test named after a rule (`fn c4_…`) is listed under that rule.
#[test]
fn docs_rules_lists_every_test_named_after_a_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/rules.md")).expect("docs/rules.md");
    let listed: std::collections::HashSet<String> = references(&doc, "Tested")
        .into_iter()
        .map(|(_, _, item)| item)
        .collect();
    let mut unlisted = Vec::new();
    // The integration tests, and the unit tests of the domain and the index,
    // in their folders too.
    let mut dirs: Vec<_> = ["tests/api", "src/domain", "src/index"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a test directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a test file");
        for line in text.lines() {
            let Some(rest) = line
                .trim_start()
                .strip_prefix("async fn ")
                .or_else(|| line.trim_start().strip_prefix("fn "))
            else {
                continue;
            };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let mut parts = name.split('_');
            let named_after_a_rule = parts.next().is_some_and(|first| {
                first.len() == 2
                    && first.as_bytes()[0].is_ascii_lowercase()
                    && first.as_bytes()[1].is_ascii_digit()
                    && "pcstimdgaewlrh".contains(first.as_bytes()[0] as char)
            });
            if named_after_a_rule && !listed.contains(&name) {
                unlisted.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "tests named after a rule but missing from docs/rules.md:\n{}",
        unlisted.join("\n")
    );
}
