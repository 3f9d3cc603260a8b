//! `/search?q=..&prefix=..&in=..&mode=..&case=..`: the search results page.
//! The options (keys, values or both; regex; case) live in the URL, so a
//! search is a deep link. Hits come in key order, each with its snippet,
//! the match highlighted, and a link to the key on the browse page that
//! carries the match (`hl=`) so the value view highlights it too. "more"
//! follows the answer's cursor. While the backend scans etcd (source etcd,
//! the model not ready) the page follows the cursor by itself until a page
//! of hits is found, showing how many keys it has looked at of about how
//! many, with a Cancel button that stops following.
//!
//! DOM contract: `search-page`, `search-form`, `search-query`,
//! `search-prefix`, `search-in` (a select), `search-regex`, `search-case`,
//! `search-submit`, `search-loading`, `search-progress`, `search-cancel`,
//! `search-empty`, `search-error`, `search-more`, `search-summary`, rows
//! `search-hit` (`data-key`, `data-in`) with `search-hit-link`,
//! `search-snippet` and `search-match` in them.

use etcdeck_shared::search::{
    DEFAULT_SEARCH_PAGE, MatchIn, SearchHit, SearchIn, SearchMode, SearchRequest, SearchSource,
};
use etcdeck_shared::{Bytes, ErrorCode};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api::{self, ApiFailure};
use crate::route::{self, bytes_from_display};

const MUTED: &str = "text-slate-600 dark:text-slate-300";
const BUTTON: &str = "rounded border-2 border-slate-400 px-3 py-0.5 font-medium hover:bg-slate-100 disabled:opacity-60 dark:border-slate-500 dark:hover:bg-slate-800";
const INPUT: &str = "rounded border border-slate-400 bg-white px-2 py-1 font-mono dark:border-slate-600 dark:bg-slate-900";

/// Where the reading of results stands.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// No query typed yet.
    Idle,
    /// Reading a page (following the cursor on its own while scanning etcd).
    Reading,
    /// Stopped: `next` says whether there is more.
    Stopped,
    Failed(ApiFailure),
}

/// Everything read so far for one search.
#[derive(Clone, Debug, PartialEq)]
struct Results {
    hits: Vec<SearchHit>,
    next: Option<Bytes>,
    revision: Option<i64>,
    source: Option<SearchSource>,
    scanned: u64,
    total: Option<u64>,
    phase: Phase,
}

impl Results {
    fn new(phase: Phase) -> Self {
        Results {
            hits: Vec::new(),
            next: None,
            revision: None,
            source: None,
            scanned: 0,
            total: None,
            phase,
        }
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let location = use_location();
    let request = Memo::new(move |_| route::search_request(&location.search.get()));
    let results = RwSignal::new(Results::new(Phase::Idle));
    // Each search (and each Cancel) gets a new number, so answers to an
    // older one are dropped and a cancelled scan stops following.
    let generation = StoredValue::new(0u64);

    let read_on = move |generation_now: u64| {
        spawn_local(async move {
            let mut found_this_round = 0usize;
            loop {
                let Some(base) = request.try_get_untracked() else {
                    return;
                };
                let Some(now) = results.try_get_untracked() else {
                    return;
                };
                let page = SearchRequest {
                    after: now.next.clone(),
                    revision: now.revision,
                    ..base
                };
                let answer = api::search::search(&page).await;
                if generation.try_get_value() != Some(generation_now) {
                    return;
                }
                let mut again = false;
                results.update(|r| match answer {
                    Ok(answer) => {
                        found_this_round += answer.hits.len();
                        r.hits.extend(answer.hits);
                        r.next = answer.next;
                        r.revision = Some(answer.revision);
                        r.source = Some(answer.source);
                        r.scanned += answer.scanned;
                        if answer.total.is_some() {
                            r.total = answer.total;
                        }
                        // An etcd scan answers bounded pages that may hold
                        // few hits: keep going until a page's worth is found.
                        again = answer.source == SearchSource::Etcd
                            && r.next.is_some()
                            && found_this_round < DEFAULT_SEARCH_PAGE;
                        if !again {
                            r.phase = Phase::Stopped;
                        }
                    }
                    Err(failure) => r.phase = Phase::Failed(failure),
                });
                if !again {
                    return;
                }
            }
        });
    };

    Effect::new(move |_| {
        let request = request.get();
        let now = generation.get_value() + 1;
        generation.set_value(now);
        if request.q.is_empty() {
            results.set(Results::new(Phase::Idle));
            return;
        }
        results.set(Results::new(Phase::Reading));
        read_on(now);
    });

    let on_more = move |_| {
        let now = generation.get_value() + 1;
        generation.set_value(now);
        results.update(|r| r.phase = Phase::Reading);
        read_on(now);
    };
    let on_cancel = move |_| {
        generation.update_value(|g| *g += 1);
        results.update(|r| r.phase = Phase::Stopped);
    };

    view! {
        <section data-testid="search-page" class="flex flex-col gap-4 overflow-auto p-4 lg:p-6">
            <h1 class="text-2xl font-semibold">"Search"</h1>
            <SearchForm request=request />
            {move || {
                let r = results.get();
                let reading = r.phase == Phase::Reading;
                let scanning = reading && r.source == Some(SearchSource::Etcd);
                let progress = scanning
                    .then(|| {
                        let of = r
                            .total
                            .map(|t| format!(" of about {t}"))
                            .unwrap_or_default();
                        view! {
                            <div data-testid="search-progress" role="status" class="flex items-center gap-3">
                                <span>{format!("scanning etcd: {} keys looked at{of}", r.scanned)}</span>
                                <button type="button" data-testid="search-cancel" class=BUTTON on:click=on_cancel>
                                    "Cancel"
                                </button>
                            </div>
                        }
                    });
                let loading = (reading && !scanning)
                    .then(|| {
                        view! {
                            <p data-testid="search-loading" role="status" class=MUTED>
                                "searching…"
                            </p>
                        }
                    });
                let failure = match &r.phase {
                    Phase::Failed(failure) => Some(failure_view(failure)),
                    _ => None,
                };
                let empty = (r.phase == Phase::Stopped && r.hits.is_empty())
                    .then(|| {
                        let words = if r.next.is_some() {
                            "no match in the keys looked at so far"
                        } else {
                            "no match"
                        };
                        view! {
                            <p data-testid="search-empty" class="text-lg">{words}</p>
                        }
                    });
                let summary = (!r.hits.is_empty() || r.phase == Phase::Stopped)
                    .then(|| summary_text(&r))
                    .flatten()
                    .map(|text| {
                        view! {
                            <p data-testid="search-summary" class=MUTED>{text}</p>
                        }
                    });
                let more = (r.phase == Phase::Stopped && r.next.is_some())
                    .then(|| {
                        view! {
                            <button type="button" data-testid="search-more" class=BUTTON on:click=on_more>
                                "more"
                            </button>
                        }
                    });
                view! {
                    {summary}
                    <ul class="flex flex-col divide-y divide-slate-200 dark:divide-slate-800">
                        {r.hits.iter().map(|hit| view! { <HitRow hit=hit.clone() /> }).collect_view()}
                    </ul>
                    {loading}
                    {progress}
                    {empty}
                    {failure}
                    {more}
                }
            }}
        </section>
    }
}

/// "N hits · at revision R · from the model" (nothing before an answer).
fn summary_text(r: &Results) -> Option<String> {
    let revision = r.revision?;
    let source = match r.source {
        Some(SearchSource::Model) => "from etcdeck's model, each hit read back as you",
        _ => "scanning etcd as you",
    };
    let hits = match r.hits.len() {
        1 => "1 hit".to_owned(),
        n => format!("{n} hits"),
    };
    let more = if r.next.is_some() { " so far" } else { "" };
    Some(format!(
        "{hits}{more} · {} keys looked at · revision {revision} · {source}",
        r.scanned
    ))
}

/// A failed search; a refusal says to choose a prefix the user may read.
fn failure_view(failure: &ApiFailure) -> impl IntoView + use<> {
    let advice = (failure.code() == Some(ErrorCode::PermissionDenied)).then_some(
        "etcd does not let you read everything under this prefix: choose a prefix you may read.",
    );
    view! {
        <div data-testid="search-error" role="alert" class="max-w-4xl rounded-xl border-2 border-red-400 bg-red-50 p-4 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100">
            <p class="text-lg font-semibold">"the search failed"</p>
            <p class="mt-1">{failure.to_string()}</p>
            {advice.map(|text| view! { <p class="mt-1 font-medium">{text}</p> })}
        </div>
    }
}

/// One hit: the key as a link (to the browse page, with the match), where
/// it matched, and the snippet with the match marked.
#[component]
fn HitRow(hit: SearchHit) -> impl IntoView {
    let href = route::hit_href(&hit);
    let key = hit.key.display();
    let key_attr = key.clone();
    let (before, matched, after) = split_snippet(&hit);
    let place = match hit.matched_in {
        MatchIn::Key => "key",
        MatchIn::Value => "value",
    };
    view! {
        <li data-testid="search-hit" data-key=key_attr data-in=place class="flex flex-col gap-1 py-2">
            <div class="flex flex-wrap items-baseline gap-2">
                <a data-testid="search-hit-link" href=href class="font-mono font-medium text-sky-800 underline dark:text-sky-300">
                    {key}
                </a>
                <span class=format!("text-xs {MUTED}")>
                    {format!("in the {place} · {} bytes · mod revision {}", hit.value_size, hit.mod_revision)}
                </span>
            </div>
            <pre data-testid="search-snippet" class="overflow-hidden whitespace-pre-wrap break-all font-mono text-sm">
                {before}
                <mark data-testid="search-match" class="rounded bg-amber-200 px-0.5 text-slate-900 dark:bg-amber-500">
                    {matched}
                </mark>
                {after}
            </pre>
        </li>
    }
}

/// The snippet's bytes before, in and after the match, each shown as
/// [`Bytes::display`] does (binary stays readable).
fn split_snippet(hit: &SearchHit) -> (String, String, String) {
    let bytes = hit.snippet.as_slice();
    let end = (hit.match_end as usize).min(bytes.len());
    let start = (hit.match_start as usize).min(end);
    let part = |range: &[u8]| Bytes::new(range.to_vec()).display();
    (
        part(&bytes[..start]),
        part(&bytes[start..end]),
        part(&bytes[end..]),
    )
}

/// The search's options, read from and written to the URL.
#[component]
fn SearchForm(request: Memo<SearchRequest>) -> impl IntoView {
    let navigate = use_navigate();
    let q = RwSignal::new(String::new());
    let prefix = RwSignal::new(String::new());
    let within = RwSignal::new(SearchIn::default());
    let regex = RwSignal::new(false);
    let case = RwSignal::new(false);
    Effect::new(move |_| {
        let r = request.get();
        q.set(r.q.display());
        prefix.set(r.prefix.display());
        within.set(r.within);
        regex.set(r.mode == SearchMode::Regex);
        case.set(r.case_sensitive);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let wanted = SearchRequest {
            q: bytes_from_display(&q.get_untracked()),
            prefix: bytes_from_display(&prefix.get_untracked()),
            within: within.get_untracked(),
            mode: if regex.get_untracked() {
                SearchMode::Regex
            } else {
                SearchMode::Substring
            },
            case_sensitive: case.get_untracked(),
            ..SearchRequest::default()
        };
        navigate(&route::search_href(&wanted), Default::default());
    };
    view! {
        <form data-testid="search-form" class="flex flex-wrap items-end gap-3" on:submit=submit>
            <label class="flex flex-col text-sm">
                "search for"
                <input data-testid="search-query" type="search" class=INPUT bind:value=q />
            </label>
            <label class="flex flex-col text-sm">
                "under the prefix"
                <input data-testid="search-prefix" type="text" placeholder="every key" class=INPUT bind:value=prefix />
            </label>
            <label class="flex flex-col text-sm">
                "in"
                <select
                    data-testid="search-in"
                    class=INPUT
                    prop:value=move || within.get().as_str()
                    on:change=move |ev| {
                        within.set(SearchIn::parse(&event_target_value(&ev)).unwrap_or_default())
                    }
                >
                    <option value="both">"keys and values"</option>
                    <option value="keys">"keys"</option>
                    <option value="values">"values"</option>
                </select>
            </label>
            <label class="flex items-center gap-1 text-sm">
                <input data-testid="search-regex" type="checkbox" bind:checked=regex />
                "regex"
            </label>
            <label class="flex items-center gap-1 text-sm">
                <input data-testid="search-case" type="checkbox" bind:checked=case />
                "match case"
            </label>
            <button type="submit" data-testid="search-submit" class=BUTTON>"Search"</button>
        </form>
    }
}
