//! The coordination views as grids of cards, one per lease, lock, election,
//! queue or service, sized to be read from across a room on a wall screen
//! (big numbers, high contrast, no scrolling tables) and still fit a laptop.
//! Each view takes a [`ReadState`](crate::live_view::ReadState) and the
//! ticking clock and shows the
//! loading, empty (saying what such keys look like) and error states; TTLs
//! count down from the answer's figure between answers.
//!
//! DOM contract for tests: `coord-page` (`data-kind`), `coord-loading`,
//! `coord-empty`, `coord-error`, `coord-stale`, `stale-notice`; cards `lease-card`
//! (`data-lease`), `lock-card` / `election-card` / `queue-card`
//! (`data-prefix`), `service-card` (`data-name`); inside them
//! `lease-remaining`, `lock-holder` / `lock-waiter` / `election-leader` /
//! `election-candidate` (`data-key`, leaders also `data-value`),
//! `queue-depth`, `sparkline`, `service-instance` (`data-name`,
//! `data-state`). Lease actions (for sessions that may write):
//! `lease-ttl`, `lease-grant`, `lease-ttl-error`, `lease-done`,
//! `lease-action-error`, `lease-actions-off`, and on cards
//! `lease-keep-alive`, `lease-revoke`, `revoke-confirmation`,
//! `confirm-revoke`, `cancel-revoke`.
//!
//! One module per view; `frame` holds what they share and
//! `contenders` the holder and waiter pieces of locks and elections.

mod contenders;
mod elections;
mod frame;
mod leases;
mod locks;
mod queues;
mod services;

pub use elections::ElectionsView;
pub use leases::LeasesView;
pub use locks::LocksView;
pub use queues::{QueuesView, SPARK_H, SPARK_W, Sparkline};
pub use services::ServicesView;
