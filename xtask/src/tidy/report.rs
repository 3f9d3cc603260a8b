//! The tidy test's failure message: the problems grouped by kind, each group saying what to do,
//! so whoever updates ARCHITECTURE.md sees at once which files to add and which entries to fix.

use std::collections::BTreeMap;
use std::fmt;

use super::Problem;

/// The failure message for `problems`: one group per kind, each saying what to do.
pub fn report(problems: &[Problem]) -> String {
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for problem in problems {
        let (group, item) = describe(problem);
        groups.entry(group).or_default().push(item);
    }
    let mut out = String::new();
    for (group, items) in groups {
        out.push_str(group);
        out.push('\n');
        for item in items {
            out.push_str("  ");
            out.push_str(&item);
            out.push('\n');
        }
    }
    out
}

/// The group heading and the line of one problem in [`report`]. Headings start with a number so
/// that the groups come out in this order.
fn describe(problem: &Problem) -> (&'static str, String) {
    match problem {
        Problem::NoCodeMap => (
            "0. ARCHITECTURE.md has no `## Code map` section:",
            "add it back".to_owned(),
        ),
        Problem::NoDirections => (
            "0. ARCHITECTURE.md has no \"Allowed directions inside the backend:\" paragraph:",
            "add it back".to_owned(),
        ),
        Problem::NotInMap { file } => (
            "1. Files missing from ARCHITECTURE.md's code map (name each by its path from the repository root):",
            file.clone(),
        ),
        Problem::NoSuchFile { entry, line } => (
            "2. Code map entries that name no file (rename or remove them):",
            format!("`{entry}` (ARCHITECTURE.md line {line})"),
        ),
        Problem::NotRootRelative { entry, line } => (
            "3. Code map entries not named by their path from the repository root:",
            format!("`{entry}` (ARCHITECTURE.md line {line})"),
        ),
        Problem::Named {
            file,
            line,
            what,
            allowed,
        } => (
            "4. Names that only some files may use (see ARCHITECTURE.md's invariants):",
            format!(
                "{file}:{line} names {what}, which only {} may",
                allowed.join(", ")
            ),
        ),
        Problem::Direction {
            from,
            to,
            file,
            line,
        } => (
            "5. Backend imports against ARCHITECTURE.md's \"Allowed directions\":",
            format!("{from} -> {to} ({file}:{line})"),
        ),
        Problem::UnusedDirection { from, to } => (
            "6. Allowed directions no code uses (drop them from ARCHITECTURE.md):",
            format!("{from} -> {to}"),
        ),
        Problem::DirectionCycle { modules } => (
            "7. Allowed directions that go round in a circle:",
            modules.join(" -> "),
        ),
        Problem::StaleException { exception } => (
            "8. Known exceptions that no longer happen (remove them from EXCEPTIONS in xtask/src/tidy/mod.rs):",
            exception.clone(),
        ),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (group, item) = describe(self);
        write!(f, "{} {item}", group.trim_end_matches(':'))
    }
}
