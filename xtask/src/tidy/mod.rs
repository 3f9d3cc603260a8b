//! The tidy test: keeps ARCHITECTURE.md true to the code.
//!
//! It checks three things, each a promise the document makes to a new contributor:
//! - the code map names every product source file by its path from the repository root, and
//!   every `.rs` path the map names exists ([`check_code_map`]);
//! - the "only X names Y" invariants hold: `etcd_client` only in `backend/src/etcd/`, axum only
//!   in `backend/src/api/` and the backend's roots, HTTP requests only in `frontend/src/api*`, the
//!   WebSocket only in `frontend/src/api/live.rs` ([`check_names`], rules in [`NAME_RULES`]);
//! - every `crate::` edge between the backend's modules is one of the "Allowed directions", and
//!   every listed direction is used ([`check_directions`]).
//!
//! The checks are pure functions of the document's text and the files' contents, so they are
//! unit-tested on broken maps and offending files; only [`check_repository`] reads the disk. The
//! test `the_repository_is_tidy` (in `tests.rs`) runs it on this repository as part of
//! `cargo test`. `lex.rs` reads Rust source as tokens, comments and literals left out;
//! `report.rs` writes the failure message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lex::{crate_imports, first_match, lex};
pub use report::report;

mod lex;
mod report;
#[cfg(test)]
mod tests;

/// The directories whose Rust files are product code and must each be named in the code map.
pub const PRODUCT_ROOTS: &[&str] = &[
    "shared/src",
    "backend/src",
    "backend/examples",
    "frontend/src",
    "xtask/src",
];

/// The heading of the code map's section in ARCHITECTURE.md.
const CODE_MAP_HEADING: &str = "## Code map";

/// The sentence that opens the backend's list of allowed directions.
const DIRECTIONS_LEAD: &str = "Allowed directions inside the backend:";

/// Where the backend's modules live; the first path component below it is a module.
const BACKEND_SRC: &str = "backend/src/";

/// The backend's roots, which wire every module together and so import all of them.
const BACKEND_ROOTS: &[&str] = &["lib", "main"];

/// A product source file: its path from the repository root (with `/`) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// What a name rule looks for in code (comments and string literals are not code).
#[derive(Debug, Clone, Copy)]
pub enum Pattern {
    /// This identifier.
    Ident(&'static str),
    /// Any identifier starting with this.
    IdentPrefix(&'static str),
    /// `crate_name::Item`, also inside a `crate_name::{..}` group.
    Path(&'static str, &'static str),
}

/// One "only X names Y" invariant of ARCHITECTURE.md.
#[derive(Debug)]
pub struct NameRule {
    /// What the invariant is about, as the failure message says it.
    pub what: &'static str,
    pub patterns: &'static [Pattern],
    /// The files the rule applies to (path prefixes).
    pub scope: &'static [&'static str],
    /// The files allowed to name it (path prefixes; a directory ends with `/`).
    pub allowed: &'static [&'static str],
}

/// The "only X names Y" invariants.
pub const NAME_RULES: &[NameRule] = &[
    NameRule {
        what: "etcd_client",
        patterns: &[Pattern::Ident("etcd_client")],
        scope: &["backend/", "shared/", "frontend/", "xtask/"],
        // The benchmarks read etcd directly on purpose: that is the baseline they measure
        // etcdeck against.
        allowed: &["backend/src/etcd/", "backend/examples/"],
    },
    NameRule {
        what: "axum",
        patterns: &[Pattern::Ident("axum")],
        scope: &["backend/"],
        allowed: &[
            "backend/src/api/",
            "backend/src/main.rs",
            "backend/src/lib.rs",
        ],
    },
    NameRule {
        what: "an HTTP request",
        patterns: &[
            Pattern::Ident("gloo_net"),
            Pattern::Ident("RequestInit"),
            Pattern::Ident("XmlHttpRequest"),
            // `Window::fetch_with_request`, `fetch_with_str` and their `_and_init` forms are
            // the browser's `fetch`; a variable called `fetch` is not a request.
            Pattern::IdentPrefix("fetch_with_"),
            Pattern::Path("web_sys", "Request"),
        ],
        scope: &["frontend/"],
        allowed: &["frontend/src/api.rs", "frontend/src/api/"],
    },
    NameRule {
        what: "the WebSocket",
        patterns: &[Pattern::Ident("WebSocket")],
        scope: &["frontend/"],
        allowed: &["frontend/src/api/live.rs"],
    },
];

/// A breach of the rules that is known, named and being fixed; the test fails when one no longer
/// happens, so it is removed as soon as the fix lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    /// `file` may name what `NameRule::what` says.
    Name {
        file: &'static str,
        what: &'static str,
    },
    /// The backend module `from` may import `to`.
    Direction {
        from: &'static str,
        to: &'static str,
    },
}

/// Known breaches, each to be mended: none now. An entry that no longer
/// happens is itself reported, so the list cannot go stale.
pub const EXCEPTIONS: &[Exception] = &[];

/// One way ARCHITECTURE.md and the code disagree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// ARCHITECTURE.md has no `## Code map` section.
    NoCodeMap,
    /// ARCHITECTURE.md has no "Allowed directions inside the backend:" paragraph.
    NoDirections,
    /// A product source file the code map does not name.
    NotInMap { file: String },
    /// A code map entry naming a file that does not exist (`line` in ARCHITECTURE.md).
    NoSuchFile { entry: String, line: usize },
    /// A code map entry naming a `.rs` file by anything but its path from the repository root.
    NotRootRelative { entry: String, line: usize },
    /// `file` names what only other files may.
    Named {
        file: String,
        line: usize,
        what: &'static str,
        allowed: &'static [&'static str],
    },
    /// Backend module `from` imports `to` (first at `file:line`), which no listed direction allows.
    Direction {
        from: String,
        to: String,
        file: String,
        line: usize,
    },
    /// A listed direction no code uses.
    UnusedDirection { from: String, to: String },
    /// The listed directions go round in a circle, so two modules could import each other.
    DirectionCycle { modules: Vec<String> },
    /// A known exception that no longer happens: remove it from [`EXCEPTIONS`].
    StaleException { exception: String },
}

/// Checks the code map of `architecture` (the text of ARCHITECTURE.md) against `files`, the
/// paths of every file in the repository's product roots (with `/`, from the repository root),
/// and `exists`, which tells whether a path the map names is a file.
pub fn check_code_map(
    architecture: &str,
    product_files: &[String],
    exists: impl Fn(&str) -> bool,
) -> Vec<Problem> {
    let Some(map) = code_map_section(architecture) else {
        return vec![Problem::NoCodeMap];
    };
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for (line, token) in map {
        if !token.ends_with(".rs") || token.contains(char::is_whitespace) {
            continue;
        }
        if !is_root_relative(&token) {
            problems.push(Problem::NotRootRelative { entry: token, line });
        } else if !exists(&token) {
            problems.push(Problem::NoSuchFile { entry: token, line });
        } else {
            named.insert(token);
        }
    }
    for file in product_files {
        if is_product_file(file) && !named.contains(file) {
            problems.push(Problem::NotInMap { file: file.clone() });
        }
    }
    problems
}

/// Checks one file against [`NAME_RULES`] (without exceptions; [`check_all`] applies them).
pub fn check_names(file: &SourceFile) -> Vec<Problem> {
    let tokens = lex(&file.text);
    let mut problems = Vec::new();
    for rule in NAME_RULES {
        let in_scope = rule.scope.iter().any(|s| file.path.starts_with(s));
        let allowed = rule.allowed.iter().any(|a| file.path.starts_with(a));
        if !in_scope || allowed {
            continue;
        }
        if let Some(line) = first_match(&tokens, rule.patterns) {
            problems.push(Problem::Named {
                file: file.path.clone(),
                line,
                what: rule.what,
                allowed: rule.allowed,
            });
        }
    }
    problems
}

/// Checks the backend's `crate::` edges in `files` against the directions ARCHITECTURE.md
/// lists (without exceptions; [`check_all`] applies them).
pub fn check_directions(architecture: &str, files: &[SourceFile]) -> Vec<Problem> {
    let Some(listed) = parse_directions(architecture) else {
        return vec![Problem::NoDirections];
    };
    let mut problems = Vec::new();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| backend_module(&f.path))
        .collect();
    let mut used: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for file in files {
        let Some(from) = backend_module(&file.path) else {
            continue;
        };
        if BACKEND_ROOTS.contains(&from.as_str()) {
            continue;
        }
        for (to, line) in crate_imports(&lex(&file.text)) {
            if to != from && modules.contains(&to) {
                used.entry((from.clone(), to))
                    .or_insert_with(|| (file.path.clone(), line));
            }
        }
    }
    for ((from, to), (file, line)) in &used {
        if !listed.allows(from, to) {
            problems.push(Problem::Direction {
                from: from.clone(),
                to: to.clone(),
                file: file.clone(),
                line: *line,
            });
        }
    }
    for (from, to) in &listed.edges {
        if !used.contains_key(&(from.clone(), to.clone())) {
            problems.push(Problem::UnusedDirection {
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    if let Some(modules) = listed.cycle() {
        problems.push(Problem::DirectionCycle { modules });
    }
    problems
}

/// Every check over the text of ARCHITECTURE.md and the product files, with `exceptions`
/// applied (and reported when stale), sorted.
pub fn check_all(
    architecture: &str,
    files: &[SourceFile],
    exists: impl Fn(&str) -> bool,
    exceptions: &[Exception],
) -> Vec<Problem> {
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let product: Vec<SourceFile> = files
        .iter()
        .filter(|f| is_product_file(&f.path))
        .cloned()
        .collect();
    let mut problems = check_code_map(architecture, &paths, exists);
    problems.extend(product.iter().flat_map(check_names));
    problems.extend(check_directions(architecture, &product));
    let mut used = vec![false; exceptions.len()];
    problems.retain(|problem| {
        let excused = exceptions.iter().position(|e| excuses(e, problem));
        if let Some(i) = excused {
            used[i] = true;
        }
        excused.is_none()
    });
    for (exception, used) in exceptions.iter().zip(used) {
        if !used {
            problems.push(Problem::StaleException {
                exception: match exception {
                    Exception::Name { file, what } => format!("{file} may name {what}"),
                    Exception::Direction { from, to } => format!("{from} -> {to}"),
                },
            });
        }
    }
    problems.sort();
    problems
}

/// Why reading the repository failed.
#[derive(Debug, thiserror::Error)]
pub enum TidyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads ARCHITECTURE.md and the product files under `root` and runs [`check_all`] with
/// [`EXCEPTIONS`].
pub fn check_repository(root: &Path) -> Result<Vec<Problem>, TidyError> {
    let architecture = read(&root.join("ARCHITECTURE.md"))?;
    let mut files = Vec::new();
    for product_root in PRODUCT_ROOTS {
        collect_rust_files(root, &root.join(product_root), &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(check_all(
        &architecture,
        &files,
        |path| root.join(path).is_file(),
        EXCEPTIONS,
    ))
}

fn excuses(exception: &Exception, problem: &Problem) -> bool {
    match (exception, problem) {
        (
            Exception::Name { file, what },
            Problem::Named {
                file: f, what: w, ..
            },
        ) => file == f && what == w,
        (Exception::Direction { from, to }, Problem::Direction { from: f, to: t, .. }) => {
            from == f && to == t
        }
        _ => false,
    }
}

/// Whether `path` is a product file the map must name: in a product root, and not a test.
fn is_product_file(path: &str) -> bool {
    PRODUCT_ROOTS.iter().any(|root| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
    }) && path.ends_with(".rs")
        && !path
            .split('/')
            .any(|part| part == "tests" || part == "tests.rs")
}

/// Whether a `.rs` path named in the map starts at the repository root (a crate directory).
fn is_root_relative(path: &str) -> bool {
    ["shared/", "backend/", "frontend/", "xtask/", "e2e/"]
        .iter()
        .any(|crate_dir| path.starts_with(crate_dir))
}

/// The backticked spans of the code map section, each with the line (1-based) it starts on.
/// A span may run over a line break, as in Markdown.
fn code_map_section(architecture: &str) -> Option<Vec<(usize, String)>> {
    let mut lines = architecture.lines().enumerate();
    lines.find(|(_, line)| line.trim_end() == CODE_MAP_HEADING)?;
    let mut spans = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in lines {
        if line.starts_with("## ") {
            break;
        }
        for (k, part) in line.split('`').enumerate() {
            if k > 0 {
                // A backtick between this part and the previous one opens or closes a span.
                match open.take() {
                    Some(span) => spans.push(span),
                    None => open = Some((index + 1, String::new())),
                }
            }
            if let Some((_, text)) = open.as_mut() {
                text.push_str(part);
            }
        }
        if let Some((_, text)) = open.as_mut() {
            text.push(' ');
        }
    }
    Some(spans)
}

/// The directions listed after [`DIRECTIONS_LEAD`].
#[derive(Debug, Default)]
struct Directions {
    edges: BTreeSet<(String, String)>,
    /// Modules every module may import (`everything -> config`).
    to_all: BTreeSet<String>,
}

impl Directions {
    fn allows(&self, from: &str, to: &str) -> bool {
        self.to_all.contains(to) || self.edges.contains(&(from.to_owned(), to.to_owned()))
    }

    /// A circle among the listed edges, if there is one.
    fn cycle(&self) -> Option<Vec<String>> {
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (from, to) in &self.edges {
            next.entry(from).or_default().push(to);
        }
        // Depth-first search from every module, remembering the path walked.
        fn walk<'a>(
            at: &'a str,
            next: &BTreeMap<&'a str, Vec<&'a str>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|m| *m == at) {
                let mut circle: Vec<String> =
                    path[start..].iter().map(|m| (*m).to_owned()).collect();
                circle.push(at.to_owned());
                return Some(circle);
            }
            if !done.insert(at) {
                return None;
            }
            path.push(at);
            for to in next.get(at).into_iter().flatten() {
                if let Some(circle) = walk(to, next, path, done) {
                    return Some(circle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        for from in next.keys() {
            if let Some(circle) = walk(from, &next, &mut Vec::new(), &mut done) {
                return Some(circle);
            }
        }
        None
    }
}

/// Parses the paragraph that starts with [`DIRECTIONS_LEAD`]: each backticked chain
/// `a -> b -> c` allows `a -> b` and `b -> c`; a chain that starts with an arrow (`-> config`)
/// allows every module to import its target.
fn parse_directions(architecture: &str) -> Option<Directions> {
    let start = architecture.find(DIRECTIONS_LEAD)?;
    let rest = &architecture[start + DIRECTIONS_LEAD.len()..];
    let paragraph = rest.split("\n\n").next().unwrap_or_default();
    let mut directions = Directions::default();
    for (i, chain) in paragraph.split('`').enumerate() {
        if i % 2 == 0 || !chain.contains("->") {
            continue;
        }
        let modules: Vec<&str> = chain.split("->").map(str::trim).collect();
        for pair in modules.windows(2) {
            match (pair[0], pair[1]) {
                ("", to) => {
                    directions.to_all.insert(to.to_owned());
                }
                (from, to) => {
                    directions.edges.insert((from.to_owned(), to.to_owned()));
                }
            }
        }
    }
    Some(directions)
}

/// The backend module a file belongs to: the first component below `backend/src/`.
fn backend_module(path: &str) -> Option<String> {
    let rest = path.strip_prefix(BACKEND_SRC)?;
    let first = rest.split('/').next()?;
    Some(first.strip_suffix(".rs").unwrap_or(first).to_owned())
}

fn read(path: &Path) -> Result<String, TidyError> {
    std::fs::read_to_string(path).map_err(|source| TidyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds every `.rs` file under `dir` to `files`, with its path from `root`.
fn collect_rust_files(
    root: &Path,
    dir: &Path,
    files: &mut Vec<SourceFile>,
) -> Result<(), TidyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TidyError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| TidyError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect_rust_files(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push(SourceFile {
                path: relative,
                text: read(&path)?,
            });
        }
    }
    Ok(())
}
