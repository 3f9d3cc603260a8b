//! The live model of the keyspace: one backend-side copy of every key's
//! metadata (and values within a memory budget), built with etcdeck's own
//! user at one revision and kept current through the watch hub. Search,
//! sizes, warm tree levels and the coordination views read it instead of
//! asking etcd per request. What it holds is etcdeck's own user's view:
//! everything shown to a person from it is confirmed as that person (see
//! "The keyspace model" in ARCHITECTURE.md).
//!
//! `store.rs` is the data; `search.rs` the search over it (pure); the builder, the state and the readers live
//! beside it.

pub mod access;
pub mod level;
pub mod search;
pub mod sizes;
pub mod store;

pub use store::{Entry, Store, Totals};

use std::sync::{Arc, RwLock};

use etcdeck_shared::model::ModelState;

/// The model, shared by every handler of one cluster. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Model {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: RwLock<Store>,
    state: RwLock<ModelState>,
}

impl Model {
    /// A model that is off (`--no-model`): [`Model::read`] always answers
    /// `None`, so every reader falls back to etcd.
    pub fn disabled() -> Model {
        Model::with(Store::new(), ModelState::Off)
    }

    /// A ready model over `store` (for tests of the readers, which are pure).
    pub fn ready_with(store: Store) -> Model {
        let state = ModelState::Ready {
            revision: store.revision(),
            keys: store.len() as u64,
            lag: 0,
        };
        Model::with(store, state)
    }

    fn with(store: Store, state: ModelState) -> Model {
        Model {
            inner: Arc::new(Inner {
                store: RwLock::new(store),
                state: RwLock::new(state),
            }),
        }
    }

    /// What the model is doing now.
    pub fn state(&self) -> ModelState {
        match self.inner.state.read() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs `f` over the store when the model is ready; `None` while it is
    /// off, building or rebuilding (the caller then reads etcd). Keep `f`
    /// short: live events wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> Option<R> {
        if !matches!(self.state(), ModelState::Ready { .. }) {
            return None;
        }
        let store = match self.inner.store.read() {
            Ok(store) => store,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(f(&store))
    }
}
