//! The breadcrumb trail of the current level (`data-testid="crumb"` each),
//! always starting with the root. Crumbs are links, so they open in new
//! tabs too; the router turns plain clicks into history pushes. While the
//! page shows an earlier revision, the crumbs stay at that revision.

use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;

use crate::crumbs::crumbs;
use crate::route::{BrowseLocation, href_at};

#[component]
pub fn Breadcrumbs(
    #[prop(into)] prefix: Signal<Bytes>,
    #[prop(into)] separator: Signal<Bytes>,
    /// Kept in the crumbs' links so walking up keeps the key view.
    #[prop(into)]
    selected: Signal<Option<Bytes>>,
    /// The revision the page is viewed at (`None`: live).
    #[prop(into, optional)]
    at: Signal<Option<Revision>>,
) -> impl IntoView {
    let trail = move || prefix.with(|p| separator.with(|s| crumbs(p, s)));
    view! {
        <nav aria-label="Key prefix" class="min-w-0">
            <ol class="flex flex-wrap items-center gap-x-1 font-mono text-sm">
                {move || {
                    let trail = trail();
                    let last = trail.len() - 1;
                    trail
                        .into_iter()
                        .enumerate()
                        .map(|(i, crumb)| {
                            let href = href_at(
                                BrowseLocation {
                                    prefix: crumb.prefix.clone(),
                                    key: selected.get(),
                                }
                                    .href(),
                                at.get(),
                            );
                            let (label, muted) = if crumb.is_root {
                                ("root".to_owned(), false)
                            } else if crumb.name.is_empty() {
                                ("/".to_owned(), true)
                            } else {
                                (crumb.name.display(), false)
                            };
                            let current = i == last;
                            let class = match (current, muted) {
                                (true, _) => "rounded px-1 font-semibold",
                                (false, true) => "rounded px-1 text-slate-500 hover:underline dark:text-slate-400",
                                (false, false) => "rounded px-1 text-sky-700 hover:underline dark:text-sky-300",
                            };
                            view! {
                                <li class="flex items-center gap-x-1">
                                    {(i > 0)
                                        .then(|| {
                                            view! {
                                                <span aria-hidden="true" class="text-slate-400">
                                                    "›"
                                                </span>
                                            }
                                        })}
                                    <a
                                        data-testid="crumb"
                                        data-prefix=crumb.prefix.display()
                                        href=href
                                        class=class
                                        aria-current=current.then_some("location")
                                        title=crumb.prefix.display()
                                    >
                                        {label}
                                    </a>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ol>
        </nav>
    }
}
