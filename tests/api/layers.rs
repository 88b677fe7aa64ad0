//! The layer rules, checked on the source text: tonic and prost only in the
//! gRPC adapters (`src/api/`, with the generated `pb`), sea-orm only in the
//! store, a domain that imports neither nor any other layer, an index in
//! memory (`src/index/`) built on the domain alone, a use-case layer
//! without tonic, prost or sea-orm, and a store that never reaches up into
//! the services or the adapters; the configuration reads none of the
//! layers, and the metrics nothing of the crate (leaves that every layer may
//! use without a circle). A breach names its file and line.
//!
//! The scan is textual: comments and string literals are blanked, then
//! every path root (`tonic::`, `sea_orm::`, `crate::store`, `crate::{..}`)
//! is classified. `src/main.rs`, the binary, may use anything.

use std::path::{Path, PathBuf};

/// What a path root reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// tonic, prost and their companion crates (`tonic_health`, `prost_types`, ...).
    Grpc,
    /// sea-orm and its migration crate.
    Orm,
    /// The gRPC adapters, or the generated code (`crate::pb` re-exports it).
    Api,
    Service,
    Store,
    Index,
    /// Any other part of the crate but the domain (`crate::config`,
    /// `crate::auth`, ...); the domain, the bottom layer, any layer may use.
    Crate,
}

/// Where a file sits, by its path under `src/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    Api,
    Domain,
    /// The indexes in memory: infrastructure on the domain's types.
    Index,
    Service,
    Store,
    /// The configuration: read by the layers, reading none of them.
    Config,
    /// The metrics: a leaf, which every layer may count into.
    Metrics,
    /// Everything else in the library (`auth`, `telemetry`, `lib.rs`):
    /// plain Rust shared by the layers.
    Shared,
    Binary,
}

fn layer_of(relative: &str) -> Layer {
    let first = relative.split('/').next().unwrap_or_default();
    match first {
        "api" => Layer::Api,
        "domain" => Layer::Domain,
        "index" => Layer::Index,
        "service" => Layer::Service,
        "store" => Layer::Store,
        "config" => Layer::Config,
        "metrics.rs" => Layer::Metrics,
        "main.rs" => Layer::Binary,
        _ => Layer::Shared,
    }
}

/// Why `layer` may not reach `target`, or `None` when it may.
fn forbidden(layer: Layer, target: Target) -> Option<&'static str> {
    use Target::*;
    match (layer, target) {
        (Layer::Api | Layer::Binary, _) => None,
        (Layer::Metrics, Crate | Api | Service | Store | Index) => {
            Some("the metrics are a leaf: they import nothing of the crate")
        }
        (Layer::Domain | Layer::Index, Crate) => Some("the domain and the index import no other layer"),
        (_, Crate) => None,
        (_, Grpc) => Some("tonic/prost belong to the gRPC adapters (src/api/)"),
        (Layer::Store, Orm) => None,
        (_, Orm) => Some("sea-orm belongs to the store (src/store/)"),
        (Layer::Domain, _) => Some("the domain imports no other layer"),
        (Layer::Index, Index) => None,
        (Layer::Index, _) => Some("the index builds on the domain alone"),
        (Layer::Store, Service | Api) => Some("the store never imports the services or the adapters"),
        (Layer::Store, Store) => None,
        (_, Api) => Some("only the adapters (and the binary) reach into src/api/"),
        (Layer::Config, Service | Store | Index) => Some("the configuration reads none of the layers: they read it"),
        (_, Service | Store | Index) => None,
    }
}

/// The source with comments and string/char literals blanked (newlines kept,
/// so line numbers hold). Crude but enough for import paths.
pub(crate) fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            for &skipped in &chars[i..j.min(chars.len())] {
                out.push(blank(skipped));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime.
            let end = if next == Some('\\') {
                chars[i + 2..].iter().position(|&c| c == '\'').map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.extend(std::iter::repeat_n(' ', end + 1 - i));
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && ident_char(chars[i - 1])
}

/// The path roots on one (stripped) line: each identifier that starts a
/// path (not preceded by `::`) and is followed by `::`, with the segment
/// after `crate::` (or every name in `crate::{..}`) for crate paths.
fn paths(line: &str) -> Vec<(String, Target)> {
    let mut found = Vec::new();
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if !ident_char(bytes[i]) || ident_before(&bytes, i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident_char(bytes[i]) {
            i += 1;
        }
        let word: String = bytes[start..i].iter().collect();
        let before: String = bytes[..start].iter().collect();
        if before.trim_end().ends_with("::") {
            continue;
        }
        let rest: String = bytes[i..].iter().collect();
        let rest = rest.trim_start();
        let Some(after) = rest.strip_prefix("::") else {
            // `use tonic;`, `extern crate prost;` and the like.
            if before.trim_end().ends_with("use")
                && let Some(target) = crate_target(&word)
            {
                found.push((word, target));
            }
            continue;
        };
        if let Some(target) = crate_target(&word) {
            found.push((format!("{word}::"), target));
            continue;
        }
        if word != "crate" {
            continue;
        }
        let after = after.trim_start();
        // Each item's path: `crate::{api::pb, store::Store}` gives two (a
        // group spanning lines is read from this line only).
        let items: Vec<String> = if let Some(group) = after.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            group.split(',').map(|item| item.trim().replace(' ', "")).collect()
        } else {
            vec![after.chars().take_while(|&c| ident_char(c) || c == ':').collect()]
        };
        for item in items {
            let target = match item.split("::").next().unwrap_or_default() {
                "api" | "pb" => Target::Api,
                "service" => Target::Service,
                "store" => Target::Store,
                "index" => Target::Index,
                "domain" | "" => continue,
                _ => Target::Crate,
            };
            let shown = if item.starts_with("api::pb") {
                "crate::api::pb".to_owned()
            } else {
                format!("crate::{}", item.split("::").next().unwrap_or_default())
            };
            found.push((shown, target));
        }
    }
    found
}

fn crate_target(word: &str) -> Option<Target> {
    let grpc = ["tonic", "prost"]
        .iter()
        .any(|root| word == *root || word.starts_with(&format!("{root}_")));
    if grpc {
        Some(Target::Grpc)
    } else if word == "sea_orm" || word == "sea_orm_migration" || word == "sea_query" {
        Some(Target::Orm)
    } else {
        None
    }
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

/// Every breach in `src/`, as `file:line: path (why)`.
fn breaches() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let layer = layer_of(&relative);
        let source = std::fs::read_to_string(&file).expect("a source file");
        for (number, line) in strip(&source).lines().enumerate() {
            for (path, target) in paths(line) {
                let Some(why) = forbidden(layer, target) else {
                    continue;
                };
                let breach = format!("src/{relative}:{}: {path} ({why})", number + 1);
                // `tonic::Request<()>` three times on a line is one breach.
                if found.last() != Some(&breach) {
                    found.push(breach);
                }
            }
        }
    }
    found
}

#[test]
fn layers_hold() {
    let found = breaches();
    assert!(found.is_empty(), "layer rules broken:\n{}", found.join("\n"));
}

/// The scan itself: it sees what it must and ignores comments and strings,
/// so `layers_hold` cannot pass by seeing nothing.
#[test]
fn layers_scan_sees_imports() {
    let source = "use tonic::Status; // sea_orm::X\nlet s = \"crate::store\";\nuse crate::{api::pb, store::Store};\n\
                  fn f<'a>(c: char) -> bool { c == '\"' }\nlet x = prost_types::Any::default();\n/* crate::service */ r#\"tonic::x\"#;\n";
    let found: Vec<Vec<(String, Target)>> = strip(source).lines().map(paths).collect();
    assert_eq!(found[0], vec![("tonic::".to_owned(), Target::Grpc)]);
    assert!(found[1].is_empty());
    assert_eq!(
        found[2],
        vec![
            ("crate::api::pb".to_owned(), Target::Api),
            ("crate::store".to_owned(), Target::Store)
        ]
    );
    assert!(found[3].is_empty());
    assert_eq!(found[4], vec![("prost_types::".to_owned(), Target::Grpc)]);
    assert!(found[5].is_empty());
    assert_eq!(
        forbidden(layer_of("domain/rules/mod.rs"), Target::Store),
        Some("the domain imports no other layer")
    );
    assert_eq!(forbidden(layer_of("main.rs"), Target::Orm), None);
    assert!(forbidden(layer_of("store/mod.rs"), Target::Service).is_some());
    assert!(forbidden(layer_of("service/partners.rs"), Target::Orm).is_some());
    assert_eq!(
        paths("use crate::index::AccessIndex;"),
        vec![("crate::index".to_owned(), Target::Index)]
    );
    for target in [Target::Grpc, Target::Orm, Target::Store, Target::Service, Target::Api] {
        assert!(forbidden(layer_of("index/access.rs"), target).is_some(), "{target:?}");
    }
    assert_eq!(forbidden(layer_of("index/access.rs"), Target::Index), None);
    assert!(forbidden(layer_of("domain/model.rs"), Target::Index).is_some());
    assert_eq!(forbidden(layer_of("store/indexed.rs"), Target::Index), None);
    assert!(forbidden(layer_of("metrics.rs"), Target::Crate).is_some());
    assert!(forbidden(layer_of("config/mod.rs"), Target::Service).is_some());
    assert_eq!(forbidden(layer_of("config/auth.rs"), Target::Crate), None);
    assert!(forbidden(layer_of("domain/model.rs"), Target::Crate).is_some());
}
