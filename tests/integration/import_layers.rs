//! The source files of the crate import one another without circles, and no import runs up the
//! layers of top-level modules.
//!
//! The check reads every `.rs` file under `src/`, finds the paths in it that name something of
//! this crate, maps each path to the file that defines it, and so builds a graph of files. It
//! then asserts two things:
//!
//! 1. no strongly connected component of that graph holds more than one file (no circle);
//! 2. every edge between two top-level modules points to a lower layer of [`LAYERS`].
//!
//! # What counts as an edge
//!
//! * Every path of a `use` declaration, `pub use` included: a re-export is an import of the
//!   re-exporting file. Grouped trees (`use crate::{a, b::{c, d}}`) are expanded leaf by leaf;
//!   a glob (`use super::*`) is an edge to the file of the module it names.
//! * Every path in code that starts with `crate::`, `$crate::` (inside a `macro_rules!` body,
//!   where it names what the macro's text depends on), `self::`, `super::`, the name of a child
//!   module the file declares, or a name the file binds with `use` (`use super::state;` then
//!   `state::Org`).
//! * Declaring a child module (`mod x;`) is not an edge: it only says where the file is.
//!   References from a parent to its children (`self::x::f`, `x::f`, `pub use x::F`) are edges
//!   like any other and point downwards; they become part of a circle only if the child also
//!   reaches up into its parent.
//! * Visibilities (`pub(crate)`, `pub(super)`, `pub(in crate::a)`) name no item and are no edge.
//!
//! # To which file an edge points
//!
//! A path is resolved against the module of the file it is written in (`crate` is the root,
//! `self` this module, each `super` one module up), which gives an absolute module path such as
//! `simulator::routes_users::list_users`. Its file is the longest prefix that is a module file
//! (`src/simulator/routes_users.rs`, or `src/a/mod.rs` for `a`, or `src/lib.rs` for the root).
//! If the segment after that prefix is a name the file binds with `use` (its own item is then
//! defined elsewhere: a re-export, or a private import that children may reach through `super`),
//! the path continues through that binding to the file that defines the item. Otherwise the item
//! is taken as defined in that file. So a child that uses `super::Foo`, where the parent's
//! `mod.rs` defines `Foo` in its own body, depends on `mod.rs`; if `mod.rs` also uses anything of
//! that child, the two files are a circle like any other, and the fix is to move `Foo` down.
//! A path into the same file is no edge.
//!
//! # What is left out
//!
//! Items under `#[cfg(test)]` (the `mod tests { ... }` blocks) are skipped: test code may reach
//! any part of the crate to set up a case, and it is not part of what the crate's layers build.
//! Comments (doc links included), string and character literals are skipped too. The graph is
//! one of names: a method called on a value, or a trait's method, makes no edge by itself; the
//! file that names the value's type or the trait does.
//!
//! # Layers
//!
//! [`LAYERS`] lists the top-level modules from the bottom up. A file may use files of its own
//! top-level module (subject only to the circle check) and of modules in lower layers; modules in
//! the same layer do not use each other. The crate root (`src/lib.rs`) only declares modules and
//! re-exports, and sits above every layer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The top-level modules of the crate, from the bottom layer up.
///
/// * `error`, `secret`, `paths`, `input`: the vocabulary every other module speaks (the crate's
///   error, secret strings, where state files live, reading input files within limits).
/// * `pg`, `jose`, `scim`: PostgreSQL connections from a URL, JSON Web Signatures (OAuth 2.0
///   client assertions, DPoP proofs), the SCIM filter language.
/// * `config`: the client's configuration, in terms of the modules below.
/// * `http`: the transport.
/// * `okta`: typed endpoints over the transport.
/// * `lifecycle` and `simulator`: the engine, over the endpoints; and the offline org, which
///   speaks HTTP on its own and uses the SCIM language and signatures, never the client. Neither
///   uses the other.
/// * `python`: the bindings, over everything.
const LAYERS: &[&[&str]] = &[
    &["error", "secret", "paths", "input"],
    &["pg", "jose", "scim"],
    &["config"],
    &["http"],
    &["okta"],
    &["lifecycle", "simulator"],
    &["python"],
];

#[test]
fn no_import_circles_and_no_import_up_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    collect_sources(root, &root.join("src"), &mut sources);
    sources.sort();
    assert!(sources.len() > 50, "expected the crate's source files under src/, found {}", sources.len());
    let graph = Graph::build(&sources);

    // The reader must see the imports it is meant to see; a graph without them proves nothing.
    for (from, to) in [
        ("src/http/client.rs", "src/error.rs"),
        ("src/okta/users.rs", "src/http/client.rs"),
        ("src/lib.rs", "src/http/client.rs"),
    ] {
        assert!(
            graph.edges.contains_key(&(from.to_owned(), to.to_owned())),
            "the import graph lacks the edge {from} -> {to}; the source reader is broken"
        );
    }

    let mut failures = String::new();
    let circles = graph.circles();
    if !circles.is_empty() {
        writeln!(failures, "{} import circle(s) across files in src/:", circles.len()).unwrap();
        failures.push_str(&graph.describe_circles(&circles));
    }
    let upward = graph.upward_edges(LAYERS);
    if !upward.is_empty() {
        writeln!(failures, "{} import(s) run up the layers (LAYERS in {}):", upward.len(), file!()).unwrap();
        failures.push_str(&upward.concat());
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn every_top_level_module_has_one_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    collect_sources(root, &root.join("src"), &mut sources);
    let modules: BTreeSet<String> = sources.iter().filter_map(|(path, _)| module_of(path).first().cloned()).collect();
    let mut listed = BTreeSet::new();
    for module in LAYERS.iter().flat_map(|layer| layer.iter()) {
        assert!(listed.insert(module.to_string()), "{module} is listed twice in LAYERS");
    }
    assert_eq!(listed, modules, "LAYERS must list each top-level module of src/ once");
}

// The reader itself, on small made-up crates.

fn crate_of(files: &[(&str, &str)]) -> Graph {
    let sources: Vec<(String, String)> =
        files.iter().map(|(path, text)| (path.to_string(), text.to_string())).collect();
    Graph::build(&sources)
}

fn edge_set(graph: &Graph) -> BTreeSet<(String, String)> {
    graph.edges.keys().cloned().collect()
}

fn pairs(edges: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    edges.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn reader_expands_grouped_uses_and_resolves_relative_paths() {
    let graph = crate_of(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("src/a/mod.rs", "mod x;\nmod y;\npub use x::X;\n"),
        ("src/a/x.rs", "use super::y::{self, Y};\npub struct X;\n"),
        ("src/a/y.rs", "pub struct Y;\n"),
        ("src/b.rs", "use crate::{a::{self, X}, c as see};\nfn f() { see::g(); }\n"),
        ("src/c.rs", "pub fn g() {}\n"),
    ]);
    assert_eq!(
        edge_set(&graph),
        pairs(&[
            ("src/a/mod.rs", "src/a/x.rs"),
            ("src/a/x.rs", "src/a/y.rs"),
            // `a` names the module file; `X` is re-exported there and defined in x.rs.
            ("src/b.rs", "src/a/mod.rs"),
            ("src/b.rs", "src/a/x.rs"),
            ("src/b.rs", "src/c.rs"),
        ])
    );
    assert!(graph.circles().is_empty());
}

#[test]
fn reader_finds_a_child_reaching_into_its_parents_body() {
    let graph = crate_of(&[
        ("src/lib.rs", "mod sim;\n"),
        ("src/sim/mod.rs", "mod routes;\npub struct State;\nfn serve() { routes::all(); }\n"),
        ("src/sim/routes.rs", "pub fn all() -> super::State { super::State }\n"),
    ]);
    let circles = graph.circles();
    assert_eq!(circles, vec![vec!["src/sim/mod.rs".to_owned(), "src/sim/routes.rs".to_owned()]]);
    let report = graph.describe_circles(&circles);
    assert!(report.contains("src/sim/mod.rs:3: fn serve() { routes::all(); }"), "{report}");
    assert!(report.contains("src/sim/routes.rs:1: pub fn all()"), "{report}");
}

#[test]
fn reader_skips_test_code_comments_strings_and_visibilities() {
    let graph = crate_of(&[
        ("src/lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "src/a.rs",
            concat!(
                "/// See [`crate::b::B`]. /* crate::b::B */\n",
                "pub(crate) fn f() -> &'static str { let c = 'c'; \"crate::b::B\" }\n",
                "pub(in crate::a) struct Raw(&'static str);\n",
                "const R: &str = r#\"crate::b::B \"quoted\"\"#;\n",
                "#[cfg(test)]\nmod tests {\n    use crate::b::B;\n    fn t() { let _ = { B }; }\n}\n",
            ),
        ),
        ("src/b.rs", "pub struct B;\npub(super) fn g() { crate::a::f(); }\n"),
    ]);
    assert_eq!(edge_set(&graph), pairs(&[("src/b.rs", "src/a.rs")]));
}

#[test]
fn reader_counts_globs_and_the_paths_a_macro_writes() {
    let graph = crate_of(&[
        ("src/lib.rs", "mod m;\n"),
        ("src/m/mod.rs", "mod core;\nmod gen;\nmod user;\npub(crate) fn helper() {}\n"),
        ("src/m/core.rs", "pub struct Core;\n"),
        (
            "src/m/gen.rs",
            "macro_rules! holder { () => { struct H($crate::m::core::Core); }; }\npub(crate) use holder;\n",
        ),
        ("src/m/user.rs", "use super::*;\nfn f() { helper() }\n"),
    ]);
    assert_eq!(edge_set(&graph), pairs(&[("src/m/gen.rs", "src/m/core.rs"), ("src/m/user.rs", "src/m/mod.rs")]));
}

#[test]
fn reader_reports_an_import_up_the_layers() {
    let graph = crate_of(&[
        ("src/lib.rs", "pub mod low;\npub mod high;\n"),
        ("src/low.rs", "use crate::high::Thing;\n"),
        ("src/high.rs", "pub struct Thing;\n"),
    ]);
    let report = graph.upward_edges(&[&["low"], &["high"]]).concat();
    assert_eq!(graph.upward_edges(&[&["low"], &["high"]]).len(), 1);
    assert!(report.contains("src/low.rs -> src/high.rs"), "{report}");
    assert!(report.contains("src/low.rs:1: use crate::high::Thing"), "{report}");
    assert!(graph.upward_edges(&[&["high"], &["low"]]).is_empty());
}

fn collect_sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_sources(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under the root");
            let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.push((name.join("/"), text));
        }
    }
}

/// The module a file defines: `src/lib.rs` is the root, `src/a/mod.rs` and `src/a.rs` are `a`.
fn module_of(path: &str) -> Vec<String> {
    let inner = path.strip_prefix("src/").expect("a file under src/");
    let inner = inner.strip_suffix(".rs").expect("a .rs file");
    let mut segments: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if segments.last().is_some_and(|last| last == "mod") || segments == ["lib"] {
        segments.pop();
    }
    segments
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Lexed {
    token: Token,
    line: usize,
}

/// Splits Rust source into identifiers and punctuation, leaving out comments, literals and
/// lifetimes. `$crate` becomes the identifier `crate`.
fn lex(text: &str) -> Vec<Lexed> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines = |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i);
        } else if c == '"' {
            let start = i;
            i = skip_quoted(&chars, i + 1, '"');
            line += count_lines(start, i);
        } else if c == '\'' {
            if next == Some('\\') || (next.is_some() && chars.get(i + 2) == Some(&'\'')) {
                i = skip_quoted(&chars, i + 1, '\'');
            } else {
                // A lifetime or a label: skip the quote and its name.
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let here = chars.get(i).copied();
            let raw_string = matches!(word.as_str(), "r" | "br" | "cr") && matches!(here, Some('"') | Some('#'));
            if raw_string && (here == Some('"') || chars.get(i + 1).is_some_and(|c| *c == '"' || *c == '#')) {
                let mut hashes = 0;
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    i += 1;
                }
                // Now at the opening quote; find a quote followed by as many hashes.
                let open = i;
                i += 1;
                while i < chars.len() {
                    if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
                line += count_lines(open, i);
            } else if word == "r" && here == Some('#') {
                // A raw identifier, r#type.
                let start = i + 1;
                i = start;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Lexed { token: Token::Ident(chars[start..i].iter().collect()), line });
            } else if matches!(word.as_str(), "b" | "c") && here == Some('"') {
                let start = i;
                i = skip_quoted(&chars, i + 1, '"');
                line += count_lines(start, i);
            } else if word == "b" && here == Some('\'') {
                i = skip_quoted(&chars, i + 1, '\'');
            } else {
                out.push(Lexed { token: Token::Ident(word), line });
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            out.push(Lexed { token: Token::PathSep, line });
            i += 2;
        } else if c == '$' && chars[i + 1..].starts_with(&['c', 'r', 'a', 't', 'e']) {
            out.push(Lexed { token: Token::Ident("crate".to_owned()), line });
            i += 6;
        } else {
            out.push(Lexed { token: Token::Punct(c), line });
            i += 1;
        }
    }
    out
}

/// From just after an opening quote, the index just after its closing quote.
fn skip_quoted(chars: &[char], mut i: usize, quote: char) -> usize {
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
        } else if chars[i] == quote {
            return i + 1;
        } else {
            i += 1;
        }
    }
    i
}

/// Leaves out every item under `#[cfg(test)]`: its other attributes, then up to the first `;`
/// or the `}` that closes its first `{`, whichever comes first.
fn without_test_items(tokens: Vec<Lexed>) -> Vec<Lexed> {
    let is = |t: &Lexed, want: &str| match &t.token {
        Token::Ident(word) => word == want,
        Token::Punct(c) => want.len() == 1 && want.starts_with(*c),
        Token::PathSep => want == "::",
    };
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let at_cfg_test =
            i + cfg_test.len() <= tokens.len() && cfg_test.iter().enumerate().all(|(k, w)| is(&tokens[i + k], w));
        if !at_cfg_test {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += cfg_test.len();
        let mut depth = 0usize;
        while i < tokens.len() {
            let token = &tokens[i].token;
            i += 1;
            match token {
                Token::Punct('{') | Token::Punct('[') | Token::Punct('(') => depth += 1,
                Token::Punct('}') | Token::Punct(']') | Token::Punct(')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && *token == Token::Punct('}') {
                        break;
                    }
                }
                Token::Punct(';') if depth == 0 => break,
                _ => {}
            }
        }
    }
    out
}

/// A path found in a file, with the scope it is written in.
#[derive(Debug, Clone)]
struct Reference {
    scope: Vec<String>,
    path: Vec<String>,
    line: usize,
    /// How the reference reads in the report: the `use` leaf, or the source line.
    shown: Option<String>,
}

#[derive(Debug, Default)]
struct FileInfo {
    /// Module scope (the file's module, or an inline module in it) -> name -> path as written.
    bindings: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    /// Module scope -> the child modules it declares.
    children: BTreeMap<Vec<String>, BTreeSet<String>>,
    references: Vec<Reference>,
}

fn ident(tokens: &[Lexed], i: usize) -> Option<&str> {
    match tokens.get(i).map(|t| &t.token) {
        Some(Token::Ident(word)) => Some(word),
        _ => None,
    }
}

fn punct(tokens: &[Lexed], i: usize, c: char) -> bool {
    tokens.get(i).is_some_and(|t| t.token == Token::Punct(c))
}

fn path_sep(tokens: &[Lexed], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| t.token == Token::PathSep)
}

/// One leaf of a `use` tree: the full path, the name it binds (none for a glob), its line.
struct UseLeaf {
    path: Vec<String>,
    binds: Option<String>,
    line: usize,
}

/// Parses a `use` tree from `i` and returns the index after it.
fn parse_use_tree(tokens: &[Lexed], mut i: usize, prefix: &[String], leaves: &mut Vec<UseLeaf>) -> usize {
    let mut path = prefix.to_vec();
    if path_sep(tokens, i) {
        // `use ::std::...`: an external crate.
        path.push("::".to_owned());
        i += 1;
    }
    loop {
        if punct(tokens, i, '{') {
            i += 1;
            while !punct(tokens, i, '}') && i < tokens.len() {
                i = parse_use_tree(tokens, i, &path, leaves);
                if punct(tokens, i, ',') {
                    i += 1;
                }
            }
            return i + 1;
        }
        if punct(tokens, i, '*') {
            leaves.push(UseLeaf { path, binds: None, line: tokens[i].line });
            return i + 1;
        }
        let Some(word) = ident(tokens, i) else {
            return i;
        };
        let line = tokens[i].line;
        i += 1;
        if path_sep(tokens, i) {
            path.push(word.to_owned());
            i += 1;
            continue;
        }
        // The leaf. `self` in a group binds the group's last segment.
        let mut binds = if word == "self" { path.last().cloned() } else { Some(word.to_owned()) };
        if word != "self" {
            path.push(word.to_owned());
        }
        if ident(tokens, i) == Some("as") {
            binds = ident(tokens, i + 1).map(str::to_owned).filter(|name| name != "_");
            i += 2;
        }
        leaves.push(UseLeaf { path, binds, line });
        return i;
    }
}

fn read_file(module: &[String], tokens: &[Lexed]) -> FileInfo {
    let mut info = FileInfo::default();
    // Inline modules open a scope: (name, the brace depth their body is at).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope_of = |inline: &[(String, usize)]| {
        let mut scope = module.to_vec();
        scope.extend(inline.iter().map(|(name, _)| name.clone()));
        scope
    };
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].token {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
                continue;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            _ => {}
        }
        let word = ident(tokens, i);
        let after_path_sep = i > 0 && path_sep(tokens, i - 1);
        if word == Some("pub") && punct(tokens, i + 1, '(') {
            // A visibility: skip to its closing parenthesis.
            i += 2;
            while i < tokens.len() && !punct(tokens, i, ')') {
                i += 1;
            }
            i += 1;
        } else if word == Some("mod") && !after_path_sep {
            if let Some(name) = ident(tokens, i + 1) {
                info.children.entry(scope_of(&inline)).or_default().insert(name.to_owned());
                if punct(tokens, i + 2, '{') {
                    depth += 1;
                    inline.push((name.to_owned(), depth));
                    i += 3;
                    continue;
                }
            }
            i += 2;
        } else if word == Some("use") && !after_path_sep {
            let scope = scope_of(&inline);
            let mut leaves = Vec::new();
            i = parse_use_tree(tokens, i + 1, &[], &mut leaves);
            for leaf in leaves {
                if let Some(name) = &leaf.binds {
                    info.bindings.entry(scope.clone()).or_default().insert(name.clone(), leaf.path.clone());
                }
                let mut shown = format!("use {}", leaf.path.join("::"));
                if leaf.binds.is_none() {
                    shown.push_str("::*");
                }
                info.references.push(Reference {
                    scope: scope.clone(),
                    path: leaf.path,
                    line: leaf.line,
                    shown: Some(shown),
                });
            }
        } else if let (Some(first), false, true) = (word, after_path_sep, path_sep(tokens, i + 1)) {
            let line = tokens[i].line;
            let mut path = vec![first.to_owned()];
            i += 1;
            while path_sep(tokens, i) {
                match ident(tokens, i + 1) {
                    Some(next) => path.push(next.to_owned()),
                    None => break,
                }
                i += 2;
            }
            info.references.push(Reference { scope: scope_of(&inline), path, line, shown: None });
        } else {
            i += 1;
        }
    }
    info
}

/// The evidence for one edge: the line that makes it.
#[derive(Debug, Clone)]
struct Evidence {
    line: usize,
    text: String,
}

struct Graph {
    /// The module each file defines -> the file.
    files: BTreeMap<Vec<String>, String>,
    infos: BTreeMap<String, FileInfo>,
    /// (from, to) -> the first line that makes the edge.
    edges: BTreeMap<(String, String), Evidence>,
}

impl Graph {
    fn build(sources: &[(String, String)]) -> Graph {
        let mut files = BTreeMap::new();
        let mut infos = BTreeMap::new();
        let mut lines = BTreeMap::new();
        for (path, text) in sources {
            let module = module_of(path);
            let tokens = without_test_items(lex(text));
            infos.insert(path.clone(), read_file(&module, &tokens));
            files.insert(module, path.clone());
            lines.insert(path.clone(), text.lines().map(str::to_owned).collect::<Vec<_>>());
        }
        let mut graph = Graph { files, infos, edges: BTreeMap::new() };
        let mut edges = BTreeMap::new();
        for (from, info) in &graph.infos {
            for reference in &info.references {
                let Some(absolute) = graph.absolute(from, &reference.scope, &reference.path, 0) else {
                    continue;
                };
                let Some(to) = graph.defining_file(&absolute, 0) else {
                    continue;
                };
                if to == *from {
                    continue;
                }
                let text = match &reference.shown {
                    Some(shown) => shown.clone(),
                    None => lines[from].get(reference.line - 1).map(|l| l.trim().to_owned()).unwrap_or_default(),
                };
                edges.entry((from.clone(), to)).or_insert(Evidence { line: reference.line, text });
            }
        }
        graph.edges = edges;
        graph
    }

    /// The absolute module path a path written in `scope` of `file` names, or `None` if it
    /// names something outside the crate (or a local item, a generic parameter, ...).
    fn absolute(&self, file: &str, scope: &[String], path: &[String], hops: usize) -> Option<Vec<String>> {
        let first = path.first()?;
        if hops > 16 {
            return None;
        }
        let info = &self.infos[file];
        let mut base = scope.to_vec();
        let rest = match first.as_str() {
            "crate" => {
                base.clear();
                &path[1..]
            }
            "self" => &path[1..],
            "super" => {
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                rest
            }
            name if info.children.get(scope).is_some_and(|c| c.contains(name)) => path,
            name => {
                let bound = info.bindings.get(scope).and_then(|b| b.get(name))?;
                if bound.as_slice() == path {
                    return None;
                }
                let mut target = self.absolute(file, scope, bound, hops + 1)?;
                target.extend_from_slice(&path[1..]);
                return Some(target);
            }
        };
        base.extend_from_slice(rest);
        Some(base)
    }

    /// The file that defines what an absolute path names: the longest prefix that is a module
    /// file, then through a `use` binding of that file if the next segment is one.
    fn defining_file(&self, absolute: &[String], hops: usize) -> Option<String> {
        let (length, file) =
            (0..=absolute.len()).rev().find_map(|n| self.files.get(&absolute[..n]).map(|file| (n, file)))?;
        if hops > 16 || length == absolute.len() {
            return Some(file.clone());
        }
        let module = &absolute[..length];
        let name = &absolute[length];
        let info = &self.infos[file];
        let Some(bound) = info.bindings.get(module).and_then(|b| b.get(name)) else {
            return Some(file.clone());
        };
        match self.absolute(file, module, bound, 0) {
            Some(mut target) if target.as_slice() != absolute => {
                target.extend_from_slice(&absolute[length + 1..]);
                self.defining_file(&target, hops + 1)
            }
            _ => Some(file.clone()),
        }
    }

    /// The strongly connected components of more than one file (Tarjan's algorithm).
    fn circles(&self) -> Vec<Vec<String>> {
        let nodes: Vec<&String> = self.infos.keys().collect();
        let index_of: BTreeMap<&String, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut successors = vec![Vec::new(); nodes.len()];
        for (from, to) in self.edges.keys() {
            if let (Some(&a), Some(&b)) = (index_of.get(from), index_of.get(to)) {
                successors[a].push(b);
            }
        }
        struct Tarjan<'a> {
            successors: &'a [Vec<usize>],
            index: Vec<Option<usize>>,
            low: Vec<usize>,
            on_stack: Vec<bool>,
            stack: Vec<usize>,
            next: usize,
            components: Vec<Vec<usize>>,
        }
        impl Tarjan<'_> {
            fn visit(&mut self, v: usize) {
                self.index[v] = Some(self.next);
                self.low[v] = self.next;
                self.next += 1;
                self.stack.push(v);
                self.on_stack[v] = true;
                for &w in &self.successors[v] {
                    match self.index[w] {
                        None => {
                            self.visit(w);
                            self.low[v] = self.low[v].min(self.low[w]);
                        }
                        Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                        Some(_) => {}
                    }
                }
                if Some(self.low[v]) == self.index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = self.stack.pop() {
                        self.on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    self.components.push(component);
                }
            }
        }
        let mut tarjan = Tarjan {
            successors: &successors,
            index: vec![None; nodes.len()],
            low: vec![0; nodes.len()],
            on_stack: vec![false; nodes.len()],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        };
        for v in 0..nodes.len() {
            if tarjan.index[v].is_none() {
                tarjan.visit(v);
            }
        }
        let mut circles: Vec<Vec<String>> = tarjan
            .components
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut files: Vec<String> = c.into_iter().map(|v| nodes[v].clone()).collect();
                files.sort();
                files
            })
            .collect();
        circles.sort();
        circles
    }

    fn describe_edge(&self, out: &mut String, from: &str, to: &str) {
        let evidence = &self.edges[&(from.to_owned(), to.to_owned())];
        writeln!(out, "    {from} -> {to}\n        {from}:{}: {}", evidence.line, evidence.text).unwrap();
    }

    fn describe_circles(&self, circles: &[Vec<String>]) -> String {
        let mut out = String::new();
        for circle in circles {
            writeln!(out, "  circle of {} files: {}", circle.len(), circle.join(", ")).unwrap();
            let members: BTreeSet<&String> = circle.iter().collect();
            for (from, to) in self.edges.keys() {
                if members.contains(from) && members.contains(to) {
                    self.describe_edge(&mut out, from, to);
                }
            }
        }
        out
    }

    /// The edges from one top-level module to another that is not in a lower layer, described.
    fn upward_edges(&self, layers: &[&[&str]]) -> Vec<String> {
        let layer_of = |file: &str| -> Option<(String, usize)> {
            let top = module_of(file).first()?.clone();
            let layer = layers.iter().position(|layer| layer.contains(&top.as_str()))?;
            Some((top, layer))
        };
        let mut out = Vec::new();
        for (from, to) in self.edges.keys() {
            if from == "src/lib.rs" {
                continue;
            }
            let (Some((from_top, from_layer)), to_layer) = (layer_of(from), layer_of(to)) else {
                continue;
            };
            let upward = match to_layer {
                // Only the crate root has no top-level module, and it is above every layer.
                None => true,
                Some((to_top, to_layer)) => to_top != from_top && to_layer >= from_layer,
            };
            if upward {
                let mut described = String::new();
                self.describe_edge(&mut described, from, to);
                out.push(described);
            }
        }
        out
    }
}
