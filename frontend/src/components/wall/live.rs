//! The tile of live watch events per second: the events of one
//! whole-keyspace subscription over the tab's WebSocket, counted by the
//! page ([`super::model::EventRate`]).
//!
//! DOM contract: `wall-events`.

use leptos::prelude::*;

use super::model::TileState;
use super::{BIG, MUTED, TEXT, Tile};
use crate::coord::format_rate;

#[component]
pub fn EventsTile(
    /// Events per second, `None` until there is enough to say.
    #[prop(into)]
    rate: Signal<Option<f64>>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="events" title="Watch events" state=tile>
            <p data-testid="wall-events" class=BIG>{move || format_rate(rate.get())}</p>
            <p class=format!("{TEXT} {MUTED}")>"per second, every key, last 10 s"</p>
        </Tile>
    }
}
