//! Login throttling: how many failed logins a client address and an etcd
//! user name may have before further attempts must wait. Pure logic, no
//! HTTP: the login handler asks [`Throttle::begin`] before it asks etcd,
//! says how the attempt ended, and words a refusal (429, `Retry-After`).
//!
//! The policy (`config::ThrottlePolicy`, by default 5 failures at once,
//! then one a second up to 10, one every 30 s up to 20, then one every 5
//! minutes) is a stack of governor keyed limiters (GCRA), one per tier;
//! an attempt needs a cell of every tier. A tier of `burst` cells that
//! refills one cell per `every` allows `burst` failures at once and then
//! one per `every`; stacking a slower, larger tier under a faster, smaller
//! one makes the delays grow as failures go on (1 s, then 30 s, then 5
//! minutes), and the quiet that refills the slowest tier is what resets a
//! key nobody logs in with. GCRA cannot count up without bounds, so the
//! delay is capped by the slowest tier, which is the point: an attacker
//! gets about 12 guesses an hour per user name and per address, a person
//! who mistypes gets a few at once and a short wait.
//!
//! Only failures count. A cell is taken *before* etcd is asked (so that 20
//! parallel attempts cannot all reach etcd while the count is still low)
//! and given back when the attempt did not fail: a success, an etcd that
//! did not answer, a request that was dropped. Governor has no way to give
//! a cell back, so each limiter keeps its state in [`Cells`], a store of
//! governor's own per-key "theoretical arrival time" that also subtracts
//! one emission interval, the exact inverse of one allowed check.
//!
//! Two keys are checked, the address first: a refusal by the address
//! takes nothing from the user name, so an attacker whose address is
//! throttled cannot wear down someone else's user name for free.
//! - The **address** (`ClientAddr`; an IPv6 address by its /64, which one
//!   client usually holds whole) limits guessing across many user names.
//!   A success gives back only its own cell and does not clear earlier
//!   failures: otherwise anyone with one valid account could reset their
//!   address between guesses at other accounts.
//! - The **user name** (hashed, so a long name costs no memory) limits
//!   guessing one account from many addresses, and is cleared by a
//!   success. While it is throttled even the right password is refused:
//!   an answer that differed would tell the guesser they had found it.
//!   Wall-token logins have no user name and count by address only.
//!
//! Memory is bounded: a sweeper drops keys whose cells are all back
//! (governor's `retain_recent`), and each key set holds at most
//! `max_keys`; past it new keys share one overflow key, so a flood of
//! addresses or names throttles itself instead of growing the map.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::{ThrottlePolicy, ThrottleTier};

/// How often keys whose cells are all back are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A login refused before etcd was asked, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many failed logins for this user or from this address; try again in {} s",
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

impl Throttled {
    /// The wait in whole seconds, rounded up and at least 1 (the unit of
    /// `Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        secs.max(1)
    }
}

/// The login throttle of one etcdeck. Cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("addresses", &self.inner.addresses.len())
            .field("users", &self.inner.users.len())
            .finish()
    }
}

struct Inner {
    addresses: Dimension<AddressKey>,
    users: Dimension<UserKey>,
}

/// What an address counts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum AddressKey {
    Ip(IpAddr),
    /// The server learned no address (never in `etcdeck::run`).
    Unknown,
    /// Every new address while `max_keys` are remembered.
    Overflow,
}

/// What a user name counts as: its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum UserKey {
    Name([u8; 32]),
    Overflow,
}

impl Throttle {
    /// The throttle, with a sweeper that runs until `shutdown`.
    pub fn start(policy: &ThrottlePolicy, mut shutdown: watch::Receiver<bool>) -> Self {
        let throttle = Throttle::new(policy);
        let sweeper = throttle.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SWEEP_EVERY) => sweeper.sweep(),
                    _ = shutdown.changed() => return,
                }
            }
        });
        throttle
    }

    /// The throttle without a sweeper.
    pub fn new(policy: &ThrottlePolicy) -> Self {
        Throttle {
            inner: Arc::new(Inner {
                addresses: Dimension::new(policy, AddressKey::Overflow),
                users: Dimension::new(policy, UserKey::Overflow),
            }),
        }
    }

    /// Reserves a login attempt from `address`, as etcd user `user` (none
    /// for a wall token), or refuses it without asking etcd. The reserved
    /// cells count as a failure unless the [`Attempt`] says otherwise.
    pub fn begin(&self, address: Option<IpAddr>, user: Option<&str>) -> Result<Attempt, Throttled> {
        let inner = &self.inner;
        let address = inner.addresses.tracked(address_key(address));
        inner
            .addresses
            .reserve(&address)
            .map_err(|retry_after| Throttled { retry_after })?;
        let user = match user {
            Some(name) => {
                let user = inner.users.tracked(user_key(name));
                if let Err(retry_after) = inner.users.reserve(&user) {
                    inner.addresses.give_back(&address);
                    return Err(Throttled { retry_after });
                }
                Some(user)
            }
            None => None,
        };
        Ok(Attempt {
            throttle: self.clone(),
            address,
            user,
            settled: false,
        })
    }

    /// Drops keys whose cells are all back.
    pub fn sweep(&self) {
        self.inner.addresses.sweep();
        self.inner.users.sweep();
    }

    /// How many addresses and user names are remembered now.
    pub fn tracked_keys(&self) -> (usize, usize) {
        (self.inner.addresses.len(), self.inner.users.len())
    }
}

/// A reserved login attempt. Dropped without a verdict (etcd did not
/// answer, the request was cancelled) it gives its cells back.
#[derive(Debug)]
#[must_use = "an attempt that is dropped counts as not made"]
pub struct Attempt {
    throttle: Throttle,
    address: AddressKey,
    user: Option<UserKey>,
    settled: bool,
}

impl Attempt {
    /// etcd rejected the password (or the token was wrong): the cells stay
    /// taken.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The login worked: the address gets its cell back and the user
    /// name's failures are forgotten.
    pub fn succeeded(mut self) {
        self.settled = true;
        let inner = &self.throttle.inner;
        inner.addresses.give_back(&self.address);
        if let Some(user) = &self.user {
            inner.users.forget(user);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let inner = &self.throttle.inner;
        inner.addresses.give_back(&self.address);
        if let Some(user) = &self.user {
            inner.users.give_back(user);
        }
    }
}

fn address_key(address: Option<IpAddr>) -> AddressKey {
    match address {
        None => AddressKey::Unknown,
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => AddressKey::Ip(IpAddr::V4(v4)),
            // One client usually holds a whole /64.
            None => AddressKey::Ip(IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into())),
        },
        Some(v4) => AddressKey::Ip(v4),
    }
}

fn user_key(name: &str) -> UserKey {
    UserKey::Name(Sha256::digest(name.as_bytes()).into())
}

/// One key set (addresses, or user names) with every tier's limiter.
struct Dimension<K: Hash + Eq + Clone> {
    tiers: Vec<Tier<K>>,
    max_keys: usize,
    overflow: K,
}

type Limiter<K> =
    RateLimiter<K, Cells<K>, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>;

struct Tier<K: Hash + Eq + Clone> {
    limiter: Limiter<K>,
    /// The limiter's own state, shared to give cells back.
    cells: Cells<K>,
    /// How long one cell takes to come back (governor's emission interval).
    interval: Nanos,
}

impl<K: Hash + Eq + Clone> Dimension<K> {
    fn new(policy: &ThrottlePolicy, overflow: K) -> Self {
        Dimension {
            tiers: policy.tiers.iter().map(|&tier| Tier::new(tier)).collect(),
            max_keys: policy.max_keys,
            overflow,
        }
    }

    /// The key to count `key` under: itself, unless `max_keys` others are
    /// remembered already.
    fn tracked(&self, key: K) -> K {
        let known = self.tiers.iter().any(|tier| tier.cells.contains(&key));
        if known || self.len() < self.max_keys {
            key
        } else {
            self.overflow.clone()
        }
    }

    /// Takes one cell of every tier for `key`, or none and the longest wait
    /// any tier asks for.
    fn reserve(&self, key: &K) -> Result<(), Duration> {
        let mut taken = Vec::with_capacity(self.tiers.len());
        let mut wait = None::<Duration>;
        for tier in &self.tiers {
            match tier.limiter.check_key(key) {
                Ok(()) => taken.push(tier),
                Err(not_until) => {
                    let this = not_until.wait_time_from(tier.limiter.clock().now());
                    wait = Some(wait.map_or(this, |w| w.max(this)));
                }
            }
        }
        match wait {
            None => Ok(()),
            Some(wait) => {
                for tier in taken {
                    tier.cells.give_back(key, tier.interval);
                }
                Err(wait)
            }
        }
    }

    fn give_back(&self, key: &K) {
        for tier in &self.tiers {
            tier.cells.give_back(key, tier.interval);
        }
    }

    fn forget(&self, key: &K) {
        for tier in &self.tiers {
            tier.cells.remove(key);
        }
    }

    fn sweep(&self) {
        for tier in &self.tiers {
            tier.limiter.retain_recent();
            tier.limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.tiers
            .iter()
            .map(|tier| tier.limiter.len())
            .max()
            .unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Tier<K> {
    fn new(tier: ThrottleTier) -> Self {
        let burst = NonZeroU32::new(tier.burst).unwrap_or(NonZeroU32::MIN);
        // Governor refuses a zero period; a nanosecond is no throttling.
        let every = tier.every.max(Duration::from_nanos(1));
        let quota = Quota::with_period(every)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        let cells = Cells::default();
        Tier {
            interval: Nanos::from(quota.replenish_interval()),
            limiter: RateLimiter::new(quota, cells.clone(), DefaultClock::default()),
            cells,
        }
    }
}

/// A governor state store: per key, GCRA's theoretical arrival time (when
/// the key's cells are all back, on the limiter's clock), in a map the
/// throttle shares with the limiter so that it can give cells back.
struct Cells<K>(Arc<Mutex<HashMap<K, Nanos>>>);

impl<K> Default for Cells<K> {
    fn default() -> Self {
        Cells(Arc::new(Mutex::new(HashMap::new())))
    }
}

impl<K> Clone for Cells<K> {
    fn clone(&self) -> Self {
        Cells(self.0.clone())
    }
}

impl<K: Hash + Eq> Cells<K> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Nanos>> {
        // Every change is one insert or remove: a panic elsewhere while
        // holding the lock cannot leave the map half-changed.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn contains(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    /// Undoes one allowed check of `key`: GCRA moved its arrival time one
    /// `interval` later, this moves it back. An arrival time that ends up
    /// in the past reads as a fresh key, as it should.
    fn give_back(&self, key: &K, interval: Nanos) {
        if let Some(at) = self.lock().get_mut(key) {
            *at = at.saturating_sub(interval);
        }
    }

    fn remove(&self, key: &K) {
        self.lock().remove(key);
    }
}

impl<K: Hash + Eq + Clone> StateStore for Cells<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = self.lock();
        // A refused check changes nothing and adds no key.
        let (answer, at) = f(map.get(key).copied())?;
        map.insert(key.clone(), at);
        Ok(answer)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for Cells<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        self.lock().retain(|_, at| *at > drop_below);
    }

    fn shrink_to_fit(&self) {
        self.lock().shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tiers: &[(u32, u64)]) -> ThrottlePolicy {
        ThrottlePolicy {
            tiers: tiers
                .iter()
                .map(|&(burst, ms)| ThrottleTier {
                    burst,
                    every: Duration::from_millis(ms),
                })
                .collect(),
            max_keys: 100,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn fail(throttle: &Throttle, address: &str, user: Option<&str>) -> Result<(), Throttled> {
        throttle.begin(ip(address), user).map(Attempt::failed)
    }

    #[test]
    fn five_failures_then_a_wait() {
        let throttle = Throttle::new(&policy(&[(5, 60_000)]));
        for _ in 0..5 {
            fail(&throttle, "192.0.2.1", Some("root")).unwrap();
        }
        let refused = fail(&throttle, "192.0.2.1", Some("root")).unwrap_err();
        assert!(
            refused.retry_after <= Duration::from_secs(60),
            "{refused:?}"
        );
        assert!(refused.retry_after > Duration::from_secs(50), "{refused:?}");
        assert_eq!(refused.retry_after_secs(), 60);
        assert_eq!(
            refused.to_string(),
            "too many failed logins for this user or from this address; try again in 60 s"
        );
        // The same user from elsewhere is refused too, even with the right
        // password: the attempt is refused before anyone checks it.
        assert!(throttle.begin(ip("198.51.100.9"), Some("root")).is_err());
        // Another user from another address is not.
        throttle
            .begin(ip("198.51.100.9"), Some("app"))
            .unwrap()
            .succeeded();
        // Any user from the throttled address is.
        assert!(throttle.begin(ip("192.0.2.1"), Some("app")).is_err());
    }

    #[test]
    fn only_failures_count() {
        let throttle = Throttle::new(&policy(&[(2, 60_000)]));
        // Successes and attempts etcd never judged give their cells back.
        for _ in 0..10 {
            throttle
                .begin(ip("192.0.2.1"), Some("app"))
                .unwrap()
                .succeeded();
            drop(throttle.begin(ip("192.0.2.1"), Some("app")).unwrap());
            throttle.begin(ip("192.0.2.1"), None).unwrap().succeeded();
        }
        fail(&throttle, "192.0.2.1", Some("app")).unwrap();
        fail(&throttle, "192.0.2.2", Some("app")).unwrap();
        // The user name has had its 2 failures.
        assert!(throttle.begin(ip("192.0.2.3"), Some("app")).is_err());
        // A refused attempt took nothing from the address.
        fail(&throttle, "192.0.2.3", Some("other")).unwrap();
    }

    #[test]
    fn a_success_clears_the_user_name_but_not_the_address() {
        let throttle = Throttle::new(&policy(&[(3, 60_000)]));
        fail(&throttle, "192.0.2.1", Some("alice")).unwrap();
        fail(&throttle, "192.0.2.1", Some("bob")).unwrap();
        throttle
            .begin(ip("192.0.2.9"), Some("alice"))
            .unwrap()
            .succeeded();
        // alice's earlier failure is forgotten: three more are free.
        for _ in 0..3 {
            fail(&throttle, "192.0.2.9", Some("alice")).unwrap();
        }
        assert!(throttle.begin(ip("192.0.2.8"), Some("alice")).is_err());
        // The address of a success keeps its earlier failures.
        fail(&throttle, "192.0.2.1", Some("carol")).unwrap();
        assert!(throttle.begin(ip("192.0.2.1"), Some("dave")).is_err());
    }

    #[test]
    fn parallel_attempts_cannot_pass_together() {
        let throttle = Throttle::new(&policy(&[(5, 60_000)]));
        let held: Vec<_> = (0..20)
            .filter_map(|_| throttle.begin(ip("192.0.2.1"), Some("root")).ok())
            .collect();
        assert_eq!(held.len(), 5, "only the burst may be in flight at once");
        held.into_iter().for_each(Attempt::failed);
        assert!(throttle.begin(ip("192.0.2.1"), Some("root")).is_err());
    }

    #[test]
    fn delays_grow_with_the_tiers() {
        // 2 at once, then one per 100 ms, but at most 4 per second.
        let throttle = Throttle::new(&policy(&[(2, 100), (4, 1_000)]));
        fail(&throttle, "192.0.2.1", Some("root")).unwrap();
        fail(&throttle, "192.0.2.1", Some("root")).unwrap();
        let first = fail(&throttle, "192.0.2.1", Some("root")).unwrap_err();
        assert!(first.retry_after <= Duration::from_millis(100), "{first:?}");
        for _ in 0..2 {
            std::thread::sleep(first.retry_after.max(Duration::from_millis(100)));
            fail(&throttle, "192.0.2.1", Some("root")).unwrap();
        }
        let later = fail(&throttle, "192.0.2.1", Some("root")).unwrap_err();
        assert!(later.retry_after > Duration::from_millis(300), "{later:?}");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let throttle = Throttle::new(&policy(&[(1, 60_000)]));
        fail(&throttle, "2001:db8:1:2::1", None).unwrap();
        assert!(throttle.begin(ip("2001:db8:1:2:ffff::7"), None).is_err());
        fail(&throttle, "2001:db8:1:3::1", None).unwrap();
        fail(&throttle, "::ffff:192.0.2.1", None).unwrap();
        assert!(throttle.begin(ip("192.0.2.1"), None).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let mut bounded = policy(&[(2, 200)]);
        bounded.max_keys = 3;
        let throttle = Throttle::new(&bounded);
        for n in 0..10 {
            fail(
                &throttle,
                &format!("192.0.2.{n}"),
                Some(&format!("user{n}")),
            )
            .ok();
        }
        let (addresses, users) = throttle.tracked_keys();
        assert!(addresses <= 4 && users <= 4, "{addresses} {users}");
        // Past the cap, new keys share one limit.
        assert!(throttle.begin(ip("192.0.2.200"), Some("new")).is_err());
        // Once their cells are back, the sweeper forgets them.
        std::thread::sleep(Duration::from_millis(800));
        throttle.sweep();
        assert_eq!(throttle.tracked_keys(), (0, 0));
        fail(&throttle, "192.0.2.200", Some("new")).unwrap();
    }
}
