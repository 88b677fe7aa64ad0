//! The crate's import graph, beside the layer rules of `layers.rs`: no
//! import circle between files of `src/` (a module's `mod.rs` re-exporting
//! its own parts with `pub use` depends on none of them); the service crate depends
//! on none of the load tools' crates (`tools/`); and the tools reach the
//! service through its generated clients, configuration, auth and store
//! API, never its use cases or the store's sea-orm internals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::layers::strip;

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

/// The module path of a library file: `service/partners.rs` →
/// `service::partners`, `api/mod.rs` → `api`, `lib.rs` → ``.
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
        segments.pop();
    }
    segments
}

/// Every path a `use` declaration names, in full: `use a::{b, c::{d, e}};`
/// gives `a::b`, `a::c::d`, `a::c::e` (`self` in a group names its parent).
fn expand(tree: &str, prefix: &str, into: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &base, into);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &base, into);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        let path = path.strip_suffix("::self").unwrap_or(path);
        if path == "self" {
            into.push(prefix.to_owned());
        } else {
            into.push(join(prefix, path));
        }
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}::{path}"),
    }
}

/// How many inline modules (`mod tests { … }`) enclose each byte of a
/// (stripped) source: their `super::` and `self::` stay in the file.
fn inline_depths(source: &str) -> Vec<usize> {
    let mut depths = Vec::with_capacity(source.len());
    // Per open brace: whether it opens an inline module.
    let mut braces: Vec<bool> = Vec::new();
    let mut depth = 0;
    for (i, c) in source.char_indices() {
        match c {
            '{' => {
                let before = source[..i].trim_end();
                let name_start = before
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |p| p + 1);
                let is_module = before[..name_start].trim_end().ends_with("mod")
                    && find_word(&before[..name_start], "mod").is_some();
                braces.push(is_module);
                depth += usize::from(is_module);
            }
            '}' if braces.pop() == Some(true) => depth -= 1,
            _ => {}
        }
        depths.extend(std::iter::repeat_n(depth, c.len_utf8()));
    }
    depths
}

/// A path a source names: `use a::b` in full, or a `crate::`, `super::`
/// or `self::` path elsewhere.
#[derive(Debug, PartialEq)]
struct Named {
    path: String,
    /// Named by a `pub use` (a re-export).
    reexport: bool,
    /// Inline modules around it.
    depth: usize,
}

/// The paths a (stripped) source names, and the source outside its `use`
/// declarations.
fn named_paths(source: &str) -> (Vec<Named>, String) {
    let depths = inline_depths(source);
    let mut found = Vec::new();
    let mut offset = 0;
    let mut outside = String::new();
    let mut outside_depths = Vec::new();
    while let Some(at) = find_word(&source[offset..], "use") {
        let at = offset + at;
        outside.push_str(&source[offset..at]);
        outside_depths.extend_from_slice(&depths[offset..at]);
        let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
        let reexport = source[line_start..at].trim_start().starts_with("pub");
        let after = &source[at + 3..];
        let end = after.find(';').unwrap_or(after.len());
        let mut paths = Vec::new();
        expand(&after[..end].replace(char::is_whitespace, " "), "", &mut paths);
        found.extend(paths.into_iter().map(|path| Named {
            path,
            reexport,
            depth: depths[at],
        }));
        offset = (at + 3 + end + 1).min(source.len());
    }
    outside.push_str(&source[offset..]);
    outside_depths.extend_from_slice(&depths[offset..]);
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = outside[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            if outside[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = outside[start..]
                .chars()
                .take_while(|&c| c.is_alphanumeric() || c == '_' || c == ':')
                .collect();
            found.push(Named {
                path: path.trim_end_matches(':').to_owned(),
                reexport: false,
                depth: outside_depths[start],
            });
        }
    }
    (found, outside)
}

/// The byte offset of `word` standing alone (not inside an identifier).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(word) {
        let start = from + at;
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !ident(before) && !ident(after) {
            return Some(start);
        }
        from = end;
    }
    None
}

/// The files of `src/` (the library) and the other files each imports.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    // The binary's main.rs is a crate of its own: nothing imports it.
    files.retain(|file| !file.ends_with("src/main.rs"));
    let relative: Vec<String> = files
        .iter()
        .map(|file| {
            file.strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let modules: BTreeMap<Vec<String>, String> = relative.iter().map(|file| (module_of(file), file.clone())).collect();
    let mut graph = BTreeMap::new();
    for (file, path) in relative.iter().zip(&files) {
        let here = module_of(file);
        let is_face = file.ends_with("mod.rs") || file == "lib.rs";
        let source = strip(&std::fs::read_to_string(path).expect("readable source"));
        let mut edges = BTreeSet::new();
        let (named_paths, body) = named_paths(&source);
        for Named {
            path: named,
            reexport,
            depth,
        } in named_paths
        {
            let mut segments: Vec<&str> = named.split("::").filter(|s| !s.is_empty()).collect();
            // Where the path starts: the crate root, or this module.
            let mut absolute: Vec<String> = match segments.first().copied() {
                Some("crate") => {
                    segments.remove(0);
                    Vec::new()
                }
                Some("super" | "self") => {
                    // A file `a/b.rs` is module a::b; `super` is `a`, but
                    // the first `depth` supers only leave inline modules.
                    let mut base = here.clone();
                    let mut inline = depth;
                    while let Some(&first) = segments.first() {
                        match first {
                            "super" if inline > 0 => inline -= 1,
                            "super" => {
                                base.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        segments.remove(0);
                    }
                    base
                }
                Some(first) if modules.contains_key(&[here.clone(), vec![first.to_owned()]].concat()) => here.clone(),
                _ => continue,
            };
            absolute.extend(segments.iter().map(|s| (*s).to_owned()));
            // The longest prefix that is a file's module.
            let target = (0..=absolute.len())
                .rev()
                .find_map(|len| modules.get(&absolute[..len]).map(|file| (len, file)));
            let Some((len, target)) = target else { continue };
            // A module's face re-exporting its own parts depends on none
            // of them, unless it also uses what it re-exports.
            let used_here = absolute.last().is_some_and(|name| find_word(&body, name).is_some());
            let own_part = is_face && reexport && !used_here && len > here.len() && absolute[..here.len()] == here[..];
            if target != file && !own_part {
                edges.insert(target.clone());
            }
        }
        graph.insert(file.clone(), edges);
    }
    graph
}

/// The import circles: strongly connected groups of two or more files
/// (Tarjan), each shown as its files in order.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, node: &'a str) {
            let index = self.index.len();
            self.index.insert(node, index);
            self.low.insert(node, index);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    group.push(top.to_owned());
                    if top == node {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    tarjan.found
}

#[test]
fn no_import_circle_between_files() {
    let graph = import_graph();
    assert!(graph.len() > 50, "the scan found only {} files", graph.len());
    let found = circles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|group| {
            let edges: Vec<String> = group
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| group.contains(to))
                        .map(move |to| format!("{from} → {to}"))
                })
                .collect();
            edges.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "import circles between files:\n{}", shown.join("\n"));
}

#[test]
fn the_import_scan_finds_use_trees_relative_paths_and_circles() {
    let mut paths = Vec::new();
    expand("crate::{a::b, c::{d, e as f, self}}", "", &mut paths);
    assert_eq!(paths, ["crate::a::b", "crate::c::d", "crate::c::e", "crate::c"]);
    let source = "use super::x::Y;\nfn f() { crate::store::new_id(); my_crate::z(); }\n";
    let named = |path: &str, reexport, depth| Named {
        path: path.to_owned(),
        reexport,
        depth,
    };
    assert_eq!(
        named_paths(source).0,
        [named("super::x::Y", false, 0), named("crate::store::new_id", false, 0)]
    );
    assert_eq!(named_paths("pub use a::B;").0, [named("a::B", true, 0)]);
    assert_eq!(
        named_paths("mod tests {\n    use super::*;\n}\nfn f() { super::g(); }").0,
        [named("super::*", false, 1), named("super::g", false, 0)]
    );
    assert_eq!(module_of("service/contract/mod.rs"), ["service", "contract"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a.rs", vec!["b.rs"]),
        ("b.rs", vec!["c.rs"]),
        ("c.rs", vec!["a.rs"]),
        ("d.rs", vec!["a.rs"]),
    ]
    .into_iter()
    .map(|(from, to)| (from.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&graph), [vec!["a.rs", "b.rs", "c.rs"]]);
}

/// `cargo tree` of one package, every kind of dependency, one crate name a
/// line.
fn dependencies_of(package: &str) -> BTreeSet<String> {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal,build,dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn the_service_crate_depends_on_none_of_the_tools_crates() {
    let service = dependencies_of("partnercenter");
    let tools = dependencies_of("partnercenter-tools");
    assert!(
        tools.contains("partnercenter") && tools.contains("hdrhistogram"),
        "{tools:?}"
    );
    for tool_only in [
        "partnercenter-tools",
        "hdrhistogram",
        "rand_distr",
        "rand_pcg",
        "indicatif",
    ] {
        assert!(!service.contains(tool_only), "the service crate depends on {tool_only}");
    }
}

#[test]
fn the_tools_reach_the_service_through_its_public_contract_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 5, "no tools found under tools/src");
    let mut breaches = Vec::new();
    for file in &files {
        let source = strip(&std::fs::read_to_string(file).expect("readable source"));
        for (number, line) in source.lines().enumerate() {
            for forbidden in ["partnercenter::service", "partnercenter::store::entity", "sea_orm"] {
                if line.contains(forbidden) {
                    breaches.push(format!("{}:{}: {forbidden}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "the tools reach past the contract:\n{}",
        breaches.join("\n")
    );
}
