//! Unit tests of the tidy checks on deliberately broken maps and offending files, and the
//! check of this repository itself.

use super::*;

/// A small ARCHITECTURE.md in the real one's shape.
const MAP: &str = "\
# Architecture

## Code map

### `backend/`
- `backend/src/lib.rs`: the server.
- `backend/src/etcd/mod.rs`: the session; `backend/src/etcd/source.rs`
  implements `tree::KeySource`.
- `backend/src/tree.rs`: listing a level.
- `backend/src/api/mod.rs`: routes.

Allowed directions inside the backend: `api -> etcd -> tree`, `api -> tree`,
everything `-> config`.

## Invariants

`backend/src/gone.rs` is outside the map, so it is not checked.
";

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_owned(),
        text: text.to_owned(),
    }
}

fn tidy_files() -> Vec<SourceFile> {
    vec![
        file("backend/src/lib.rs", "pub mod api; use axum::Router;"),
        file(
            "backend/src/etcd/mod.rs",
            "use etcd_client::Client; use crate::tree::End;",
        ),
        file("backend/src/etcd/source.rs", "use crate::tree::KeySource;"),
        file(
            "backend/src/tree.rs",
            "//! Uses [`crate::etcd`] through a trait.\n",
        ),
        file(
            "backend/src/api/mod.rs",
            "use axum::Router;\nuse crate::{etcd::EtcdSession, tree};\n",
        ),
    ]
}

fn check(map: &str, files: &[SourceFile]) -> Vec<Problem> {
    let paths: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    check_all(map, files, |p| paths.contains(p), &[])
}

#[test]
fn a_true_map_has_no_problems() {
    assert_eq!(check(MAP, &tidy_files()), vec![]);
}

#[test]
fn a_file_missing_from_the_map_is_named() {
    let mut files = tidy_files();
    files.push(file("backend/src/audit.rs", ""));
    files.push(file("backend/tests/watch.rs", "use etcd_client::Client;"));
    files.push(file("xtask/src/tests.rs", ""));
    assert_eq!(
        check(MAP, &files),
        vec![Problem::NotInMap {
            file: "backend/src/audit.rs".to_owned()
        }]
    );
}

#[test]
fn a_map_entry_without_a_file_is_named_with_its_line() {
    let map = MAP.replace("`backend/src/tree.rs`", "`backend/src/tree/mod.rs`");
    let problems = check(&map, &tidy_files());
    assert_eq!(
        problems,
        vec![
            Problem::NotInMap {
                file: "backend/src/tree.rs".to_owned()
            },
            Problem::NoSuchFile {
                entry: "backend/src/tree/mod.rs".to_owned(),
                line: 9
            },
        ]
    );
    let message = report(&problems);
    assert!(
        message.contains("missing from ARCHITECTURE.md's code map")
            && message.contains("  backend/src/tree.rs\n")
            && message.contains("that name no file")
            && message.contains("`backend/src/tree/mod.rs` (ARCHITECTURE.md line 9)"),
        "{message}"
    );
}

#[test]
fn a_file_named_by_a_short_name_is_not_counted() {
    let map = MAP.replace("`backend/src/tree.rs`", "`tree.rs`");
    assert_eq!(
        check(&map, &tidy_files()),
        vec![
            Problem::NotInMap {
                file: "backend/src/tree.rs".to_owned()
            },
            Problem::NotRootRelative {
                entry: "tree.rs".to_owned(),
                line: 9
            },
        ]
    );
}

#[test]
fn a_document_without_its_sections_says_so() {
    assert_eq!(
        check("# Architecture\n", &[]),
        vec![Problem::NoCodeMap, Problem::NoDirections]
    );
}

#[test]
fn names_outside_their_module_are_found_in_code_only() {
    let offending = file(
        "backend/src/auth/mod.rs",
        "//! Mentions `axum` and etcd_client in a comment.\n\
         const S: &str = \"axum::Router and etcd_client\";\n\
         const R: &str = r#\"axum \"quoted\" \"#;\n\
         fn f<'a>(c: char) -> bool { c == '\"' }\n\
         use axum::extract::FromRequestParts;\n",
    );
    assert_eq!(
        check_names(&offending),
        vec![Problem::Named {
            file: "backend/src/auth/mod.rs".to_owned(),
            line: 5,
            what: "axum",
            allowed: NAME_RULES[1].allowed,
        }]
    );
    let fine = file(
        "backend/src/hub/mod.rs",
        "/* use axum::Router; /* nested */ etcd_client */ let q = '\\''; let axumish = 1;",
    );
    assert_eq!(check_names(&fine), vec![]);
}

#[test]
fn the_frontend_requests_and_socket_rules() {
    let page = file(
        "frontend/src/pages/browse.rs",
        "let fetch = move |r| fetch_page(r);\nuse gloo_net::http::Request;\n",
    );
    let problems = check_names(&page);
    assert!(
        matches!(
            &problems[..],
            [Problem::Named {
                line: 2,
                what: "an HTTP request",
                ..
            }]
        ),
        "{problems:?}"
    );
    let grouped = file(
        "frontend/src/app.rs",
        "use web_sys::{Window, Request};\nlet s = web_sys::WebSocket::new(u);\n",
    );
    let whats: Vec<&str> = check_names(&grouped)
        .iter()
        .map(|p| match p {
            Problem::Named { what, .. } => *what,
            _ => "",
        })
        .collect();
    assert_eq!(whats, ["an HTTP request", "the WebSocket"]);
    let window_fetch = file(
        "frontend/src/components/tree_list.rs",
        "window.fetch_with_str(\"/api/v1/level\");",
    );
    assert_eq!(check_names(&window_fetch).len(), 1);
    for allowed in ["frontend/src/api.rs", "frontend/src/api/session.rs"] {
        assert_eq!(
            check_names(&file(allowed, "use gloo_net::http::Request;")),
            vec![]
        );
    }
    assert_eq!(
        check_names(&file("frontend/src/api/live.rs", "use web_sys::WebSocket;")),
        vec![]
    );
    assert_eq!(
        check_names(&file("frontend/src/api/edit.rs", "use web_sys::WebSocket;")).len(),
        1
    );
}

#[test]
fn an_import_against_the_directions_is_named_and_an_unused_direction_too() {
    let mut files = tidy_files();
    files[3] = file(
        "backend/src/tree.rs",
        "fn f() {}\nuse crate::etcd::EtcdSession;\n",
    );
    files[4] = file("backend/src/api/mod.rs", "use crate::etcd::EtcdSession;");
    let problems = check(MAP, &files);
    assert_eq!(
        problems,
        vec![
            Problem::Direction {
                from: "tree".to_owned(),
                to: "etcd".to_owned(),
                file: "backend/src/tree.rs".to_owned(),
                line: 2
            },
            Problem::UnusedDirection {
                from: "api".to_owned(),
                to: "tree".to_owned()
            },
        ]
    );
    let message = report(&problems);
    assert!(
        message.contains("tree -> etcd (backend/src/tree.rs:2)")
            && message.contains("no code uses")
            && message.contains("  api -> tree\n"),
        "{message}"
    );
}

#[test]
fn directions_in_a_circle_are_refused() {
    let map = MAP.replace("`api -> tree`", "`api -> tree`, `tree -> api`");
    let mut files = tidy_files();
    files[3] = file("backend/src/tree.rs", "use crate::api::X;");
    assert_eq!(
        check(&map, &files),
        vec![Problem::DirectionCycle {
            modules: vec![
                "api".to_owned(),
                "etcd".to_owned(),
                "tree".to_owned(),
                "api".to_owned()
            ]
        }]
    );
}

#[test]
fn exceptions_excuse_one_problem_and_go_stale_when_fixed() {
    let mut files = tidy_files();
    files.push(file(
        "backend/src/auth.rs",
        "use axum::http; use crate::api::X;",
    ));
    let map = MAP.replace(
        "- `backend/src/tree.rs`",
        "- `backend/src/auth.rs`: sessions.\n- `backend/src/tree.rs`",
    );
    let paths: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let exceptions = [
        Exception::Name {
            file: "backend/src/auth.rs",
            what: "axum",
        },
        Exception::Direction {
            from: "auth",
            to: "api",
        },
        Exception::Direction {
            from: "hub",
            to: "api",
        },
    ];
    assert_eq!(
        check_all(&map, &files, |p| paths.contains(p), &exceptions),
        vec![Problem::StaleException {
            exception: "hub -> api".to_owned()
        }]
    );
}

#[test]
fn the_repository_is_tidy() {
    let root = crate::process::project_root();
    let problems = match check_repository(&root) {
        Ok(problems) => problems,
        Err(err) => panic!("{err}"),
    };
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md and the code disagree:\n{}",
        report(&problems)
    );
}
