//! A subscriber that stops reading: the others on the same prefix still get
//! everything in time, the backend's memory stays bounded, and the slow one,
//! once it reads again, is told of the gap (`lagged`) and given a snapshot
//! equal to etcd's range, then events.
//!
//! Alone in its test binary: it measures the resident memory of this
//! process, where etcdeck runs, and other tests in the same process would
//! blur the figure.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcdeck_shared::ws::{GapReason, ServerMessage, SubId};
use support::live::{
    LIMIT, LiveClient, PREFIX, Scene, SocketOptions, Sub, Truth, Writer, finish, rss_kib,
};
use tokio::sync::watch;
use xtask::harness::ClusterOptions;

/// Writes (revisions) per writer; two writers write at once.
const WRITES: usize = 1_600;
/// Keys put by each write (one transaction).
const TXN: usize = 8;
/// Value sizes.
const VALUES: (usize, usize) = (1024, 4096);
/// Subscribers that keep reading.
const FAST: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_costs_bounded_memory_and_resyncs() {
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;

    // Recordings keep fingerprints of values, so the test's own memory stays
    // flat while megabytes go by.
    let digest = SocketOptions {
        digest_values: true,
        ..SocketOptions::default()
    };
    let mut slow = LiveClient::connect_with(
        root.live(),
        SocketOptions {
            recv_buffer: Some(4096),
            ..digest
        },
    )
    .await;
    slow.subscribe_all(&[Sub::prefix(1, PREFIX)]).await;
    let mut fast = Vec::new();
    for i in 0..FAST {
        let mut ws = LiveClient::connect_with(root.live(), digest).await;
        let sub = Sub::prefix(1, PREFIX);
        ws.subscribe_all(&[if i == 0 { sub.prev_kv() } else { sub }])
            .await;
        fast.push(ws);
    }
    // Warm up every path once before measuring.
    let warm = writer.write(50).await;
    for ws in fast.iter().chain([&slow]) {
        ws.wait_seen(1, warm, LIMIT).await;
    }
    slow.pause();

    let before = rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let (stop_sampling, mut sampling) = watch::channel(false);
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !*sampling.borrow_and_update() {
                let rss = rss_kib();
                samples.push((Instant::now(), rss));
                peak.fetch_max(rss, Ordering::Relaxed);
                // The sampling rate of the memory curve, not a wait.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = sampling.changed() => {}
                }
            }
            samples
        })
    };

    let started = Instant::now();
    let mut writers = Vec::new();
    for half in ["/w/x/", "/w/y/"] {
        let mut w = Writer::connect(&endpoints, half)
            .await
            .with_values(VALUES.0, VALUES.1)
            .with_keys(64)
            .with_txns_of(TXN);
        writers.push(tokio::spawn(async move {
            w.write(WRITES).await;
            w
        }));
    }
    let mut acks: HashMap<i64, Instant> = HashMap::new();
    let mut bytes = 0;
    let mut last = 0;
    for w in writers {
        let w = w.await.expect("writer");
        bytes += w.bytes;
        for &(revision, at) in &w.acks {
            acks.insert(revision, at);
            last = last.max(revision);
        }
    }
    let wrote_for = started.elapsed();
    for ws in &fast {
        ws.wait_seen(1, last, LIMIT).await;
    }
    let fast_done = started.elapsed();
    stop_sampling.send_replace(true);
    let samples = sampler.await.expect("sampler");
    // Memory against the share of writes acknowledged: it should level off
    // once the bounded buffers are full.
    let mut ack_times: Vec<Instant> = acks.values().copied().collect();
    ack_times.sort();
    let mut curve = Vec::new();
    for quarter in 1..=4 {
        let until = ack_times[ack_times.len() * quarter / 4 - 1];
        let rss = samples
            .iter()
            .filter(|(at, _)| *at <= until)
            .map(|(_, rss)| *rss)
            .max()
            .unwrap_or(before);
        curve.push(rss.saturating_sub(before) / 1024);
    }
    eprintln!("RSS growth after each quarter of the writes (MiB): {curve:?}");
    let peak = peak.load(Ordering::Relaxed);
    let after = rss_kib();

    // How long after etcd acknowledged each write the fast subscribers had it.
    let mut delays = Vec::new();
    for ws in &fast {
        let recording = ws.recording();
        for session in &recording.sessions {
            for received in &session.messages {
                if let ServerMessage::Events { events, .. } = &received.message {
                    for event in events {
                        if let Some(acked) = acks.get(&event.kv.mod_revision.0) {
                            delays.push(received.at.saturating_duration_since(*acked));
                        }
                    }
                }
            }
        }
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
    eprintln!(
        "wrote {} revisions, {} MiB of values in {wrote_for:?}; fast subscribers done after \
         {fast_done:?}; delay after ack p50 {:?} p99 {:?} max {:?}",
        acks.len(),
        bytes / (1024 * 1024),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    // This test's own recordings grow with every event received; take them
    // out (assuming they grew evenly over the writes) to see the server's part.
    let recorded: usize = fast
        .iter()
        .chain([&slow])
        .map(|ws| ws.recording().approx_heap_bytes())
        .sum();
    let recorded = (recorded / (1024 * 1024)) as u64;
    let server: Vec<u64> = curve
        .iter()
        .enumerate()
        .map(|(i, growth)| growth.saturating_sub(recorded * (i as u64 + 1) / 4))
        .collect();
    let growth = peak.saturating_sub(before) / 1024;
    let written = (bytes / (1024 * 1024)) as u64;
    eprintln!(
        "RSS: {} MiB before, {} MiB peak while the slow subscriber was not reading, {} MiB \
         after; growth {growth} MiB for {written} MiB written, of which about {recorded} MiB \
         are this test's recordings; the server's part after each quarter (MiB): {server:?}",
        before / 1024,
        peak / 1024,
        after / 1024,
    );
    assert!(
        at(1.0) < Duration::from_secs(10),
        "a fast subscriber waited {:?} for an event",
        at(1.0)
    );
    // The hub keeps a few bounded buffers: its replay history and the slow
    // subscriber's queue, 8 MiB of events each, with their JSON: some 40 MiB.
    // Holding everything the slow one missed would cost about twice what was
    // written, and keep growing. So: the server's part stays under 56 MiB,
    // and in the second half of the writes, once the bounded buffers are
    // full, it grows by less than a quarter of what that half wrote.
    assert!(
        server[3] < 56,
        "the server grew by {} MiB while {written} MiB were written",
        server[3]
    );
    let second_half = server[3].saturating_sub(server[1]);
    assert!(
        second_half * 4 < written / 2,
        "the server grew by {second_half} MiB in the second half of the writes ({} MiB): \
         it does not level off",
        written / 2
    );

    slow.resume();
    let subs: Vec<(&str, &LiveClient, u32)> = fast
        .iter()
        .map(|ws| ("fast", ws, 1))
        .chain([("slow", &slow, 1)])
        .collect();
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    eprintln!("slow: {}", slow.recording().summary());
    for verdict in &verdicts[..FAST] {
        assert!(
            verdict.gaps.is_empty(),
            "a fast subscriber lagged: {verdict:?}"
        );
    }
    assert_eq!(
        verdicts[FAST].gaps,
        [GapReason::Lagged],
        "{:?}",
        verdicts[FAST]
    );
    let slow_session = slow.recording();
    let session = slow_session.last(SubId(1)).expect("session");
    assert!(session.events().count() > 0);
    root.stop().await;
}
