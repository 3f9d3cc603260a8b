//! The demo's static key tree: configuration of a few services in three environments (JSON,
//! YAML and plain values), feature flags, and one wide level that needs paging.

use serde_json::json;

use crate::gateway::Put;

const SERVICES: &[&str] = &[
    "billing",
    "checkout",
    "inventory",
    "search",
    "auth",
    "notifications",
    "gateway",
    "analytics",
];
const ENVS: &[&str] = &["dev", "staging", "prod"];
const FLAGS: &[&str] = &[
    "new-ui",
    "fast-path",
    "beta-pricing",
    "audit-log",
    "dark-launch",
];
/// Children of the wide level `/app/catalog/items/`, enough to need paging.
pub(super) const WIDE_LEVEL_SIZE: usize = 2000;

/// The static demo tree. The last key doubles as the "already seeded" sentinel.
pub(super) fn static_tree() -> Vec<Put> {
    let mut puts = Vec::new();
    for (s, service) in SERVICES.iter().enumerate() {
        for (e, env) in ENVS.iter().enumerate() {
            let base = format!("/app/{service}/{env}");
            let replicas = [1, 2, 3][e] * (1 + s % 3);
            let log_level = ["debug", "info", "warn"][e];
            let db_host = format!("{service}-db.{env}.internal");
            let config = json!({
                "service": service,
                "environment": env,
                "replicas": replicas,
                "database": { "host": db_host, "port": 5432, "pool_size": 5 * replicas },
                "http": { "port": 8080, "timeouts_ms": { "read": 1500, "write": 3000 } },
                "features": { "new_ui": e == 0, "audit_log": e == 2 },
            });
            let yaml = format!(
                "service: {service}\nenvironment: {env}\nreplicas: {replicas}\nresources:\n  \
                 requests:\n    cpu: {cpu}m\n    memory: {mem}Mi\n  limits:\n    cpu: {cpu2}m\n    \
                 memory: {mem2}Mi\nprobes:\n  liveness: /healthz\n  readiness: /ready\n",
                cpu = 100 * (e + 1),
                mem = 128 * (e + 1),
                cpu2 = 200 * (e + 1),
                mem2 = 256 * (e + 1),
            );
            puts.push(Put::new(
                format!("{base}/config.json"),
                serde_json::to_string_pretty(&config).unwrap_or_default(),
            ));
            puts.push(Put::new(format!("{base}/deployment.yaml"), yaml));
            puts.push(Put::new(format!("{base}/replicas"), replicas.to_string()));
            puts.push(Put::new(format!("{base}/log-level"), log_level));
            puts.push(Put::new(format!("{base}/db/host"), db_host));
            puts.push(Put::new(format!("{base}/db/port"), "5432"));
            puts.push(Put::new(
                format!("{base}/db/pool-size"),
                (5 * replicas).to_string(),
            ));
            puts.push(Put::new(
                format!("{base}/limits/cpu"),
                format!("{}m", 200 * (e + 1)),
            ));
            puts.push(Put::new(
                format!("{base}/limits/memory"),
                format!("{}Mi", 256 * (e + 1)),
            ));
            for (f, flag) in FLAGS.iter().enumerate() {
                let on = (s + e + f) % 2 == 0;
                puts.push(Put::new(
                    format!("{base}/feature-flags/{flag}"),
                    on.to_string(),
                ));
            }
        }
    }
    // Binary values: a DER certificate header and a gzip header with NUL and 0xff bytes.
    puts.push(Put::new(
        "/app/billing/prod/certs/ca.der",
        vec![
            0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00, 0xc3, 0xff, 0x00, 0x7f, 0x80,
        ],
    ));
    puts.push(Put::new(
        "/app/inventory/prod/snapshot.bin",
        vec![
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xfe, 0x00,
        ],
    ));
    // A key whose name is Latin-1, not UTF-8 ("café" with é = 0xe9).
    puts.push(Put::new(
        b"/app/legacy/caf\xe9-menu".to_vec(),
        "this key's name is not valid UTF-8",
    ));
    // Keys that look secret: etcdeck shows their values as hidden (the
    // default `--mask` patterns `*password*` and `*token*`) until etcd's root
    // reveals one.
    puts.push(Put::new("/app/db/password", "correct-horse-battery-staple"));
    puts.push(Put::new(
        "/app/billing/prod/api-token",
        "tok_live_4f9a1c2e7b",
    ));
    // Top-level keys without a leading slash.
    puts.push(Put::new(
        "schedules/nightly-report",
        json!({ "cron": "0 3 * * *", "owner": "analytics" }).to_string(),
    ));
    for (n, to) in ["alice@example.com", "bob@example.com", "carol@example.com"]
        .iter()
        .enumerate()
    {
        // Queue recipe layout: PREFIX/<unix nanoseconds>.
        puts.push(Put::new(
            format!("queue/emails/{}", 1_763_700_000_000_000_000u64 + n as u64),
            json!({ "to": to, "template": "weekly-digest" }).to_string(),
        ));
    }
    // A wide level: enough children that the UI has to page.
    for i in 0..WIDE_LEVEL_SIZE {
        puts.push(Put::new(
            format!("/app/catalog/items/item-{i:05}"),
            json!({ "sku": format!("SKU-{i:05}"), "price_cents": 199 + (i * 37) % 9000, "stock": (i * 13) % 250 })
                .to_string(),
        ));
    }
    puts
}
