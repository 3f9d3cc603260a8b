//! Command-line interface and the configuration it yields.
//!
//! The flags follow etcdctl's (`--endpoints`, `--user`, `--cacert`, `--cert`,
//! `--key`) and so do the environment variables (`ETCDCTL_ENDPOINTS`,
//! `ETCDCTL_USER`, `ETCDCTL_PASSWORD`, `ETCDCTL_CACERT`, `ETCDCTL_CERT`,
//! `ETCDCTL_KEY`), so that a shell set up for etcdctl works unchanged. A
//! password never has to appear on a command line: it comes from
//! `--password-file`, `ETCDECK_PASSWORD` or `ETCDCTL_PASSWORD`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;

mod mask;

pub use mask::{BadMask, DEFAULT_MASKS, Masks};

/// A live web dashboard for etcd.
#[derive(Debug, Parser)]
#[command(name = "etcdeck", version, about)]
pub struct Cli {
    /// etcd endpoints, comma-separated; all are used, for failover
    /// (default http://127.0.0.1:2379). The one cluster when no --cluster
    /// or --config names others.
    #[arg(long, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// A cluster by name, `NAME=ENDPOINTS` (endpoints comma-separated);
    /// repeatable. Each uses --user, --cacert, --cert and --key unless the
    /// config file gives it its own. Its pages live under `/c/NAME/`; the
    /// first one's also at `/`.
    #[arg(long = "cluster", env = "ETCDECK_CLUSTERS", value_delimiter = ';')]
    pub clusters: Vec<String>,
    /// A TOML file naming clusters, each with its own endpoints, TLS, user
    /// and audit log (see `assets/etcdeck.example.toml`); its clusters come
    /// before those of --cluster.
    #[arg(long, env = "ETCDECK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// etcd user name (`NAME`, or `NAME:PASSWORD` as in ETCDCTL_USER).
    #[arg(long, env = "ETCDCTL_USER", hide_env_values = true)]
    pub user: Option<String>,
    /// File whose first line is the etcd user's password.
    #[arg(long, env = "ETCDECK_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the etcd server certificates.
    #[arg(long, env = "ETCDCTL_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for etcd.
    #[arg(long, env = "ETCDCTL_CERT")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for etcd.
    #[arg(long, env = "ETCDCTL_KEY")]
    pub key: Option<PathBuf>,
    /// Address to serve the dashboard on.
    #[arg(long, env = "ETCDECK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve the dashboard over HTTPS with this certificate chain (PEM,
    /// server certificate first); needs --tls-key. Reloaded on SIGHUP.
    #[arg(long, env = "ETCDECK_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert. Reloaded on SIGHUP.
    #[arg(long, env = "ETCDECK_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Refuse every write, whoever is logged in.
    #[arg(long, env = "ETCDECK_READ_ONLY")]
    pub read_only: bool,
    /// File whose first line is a read-only access token for wall screens:
    /// open `/login#token=TOKEN` and no one needs to log in. The screen reads
    /// as the `--user` etcdeck itself runs as.
    #[arg(long, env = "ETCDECK_WALL_TOKEN_FILE")]
    pub wall_token_file: Option<PathBuf>,
    /// When etcd has auth disabled, let anyone who reaches etcdeck write
    /// (without it etcdeck is read-only there).
    #[arg(long, env = "ETCDECK_ALLOW_UNAUTHENTICATED_WRITES")]
    pub allow_unauthenticated_writes: bool,
    /// Another origin (`https://host[:port]`) whose pages may use etcdeck's
    /// WebSocket and writes, e.g. a reverse proxy's public address;
    /// repeatable. etcdeck's own host is always allowed.
    #[arg(
        long = "allowed-origin",
        env = "ETCDECK_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// The address of a reverse proxy in front of etcdeck (repeatable):
    /// only requests from it may name the client's address in
    /// `X-Forwarded-For`; everyone else's is the connection's own.
    #[arg(
        long = "trusted-proxy",
        env = "ETCDECK_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Minutes without a request after which a login session ends.
    #[arg(long, env = "ETCDECK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// Hours after its login at which a session ends however much it is
    /// used (an absolute lifetime; wall screens are exempt).
    #[arg(long, env = "ETCDECK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,
    /// What splits keys into tree levels.
    #[arg(long, env = "ETCDECK_SEPARATOR", default_value = "/")]
    pub separator: String,
    /// A JSON-lines file that keeps the audit log across restarts (every
    /// write and login, appended before it is answered); without it the
    /// audit log lives in memory only.
    #[arg(long, env = "ETCDECK_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Size in MiB past which the audit file is rotated (to `PATH.1`, ...,
    /// keeping 3).
    #[arg(long, env = "ETCDECK_AUDIT_LOG_MAX_MB", default_value_t = 64)]
    pub audit_log_max_mb: u64,
    /// etcd's `--quota-backend-bytes`, for the cluster page's database size
    /// against its quota and the forecast of when it is reached.
    #[arg(long, env = "ETCDECK_QUOTA_BACKEND_BYTES")]
    pub quota_backend_bytes: Option<u64>,
    /// Serve the frontend from this directory (the output of `trunk build`)
    /// instead of the one built into the binary; for development.
    #[arg(long, env = "ETCDECK_DIST", value_name = "DIR")]
    pub dist: Option<PathBuf>,
    /// A Mutex name (`etcdctl lock NAME`) to show even when idle and always
    /// as a lock; repeatable. Locks with holders are found without it.
    #[arg(
        long = "lock-prefix",
        env = "ETCDECK_LOCK_PREFIXES",
        value_delimiter = ','
    )]
    pub lock_prefixes: Vec<String>,
    /// An election name (`etcdctl elect NAME`) to show even when idle and
    /// always as an election; repeatable.
    #[arg(
        long = "election-prefix",
        env = "ETCDECK_ELECTION_PREFIXES",
        value_delimiter = ','
    )]
    pub election_prefixes: Vec<String>,
    /// A queue name (`recipes.NewQueue(client, NAME)`, items `NAME/...`) to
    /// track; repeatable.
    #[arg(
        long = "queue-prefix",
        env = "ETCDECK_QUEUE_PREFIXES",
        value_delimiter = ','
    )]
    pub queue_prefixes: Vec<String>,
    /// Where service registrations live (`<prefix><name>/<instance>`);
    /// repeatable.
    #[arg(
        long = "service-prefix",
        env = "ETCDECK_SERVICE_PREFIXES",
        value_delimiter = ',',
        default_value = "services/"
    )]
    pub service_prefixes: Vec<String>,
    /// A glob over keys whose values are shown as hidden to everyone but
    /// etcd's root until revealed (repeatable; case-insensitive, `*`
    /// crosses `/`). Without any: `*password*`, `*passwd*`, `*secret*`,
    /// `*token*`, `*credential*`, `*.key`, `*private*key*`.
    #[arg(long = "mask", env = "ETCDECK_MASK", value_delimiter = ',')]
    pub masks: Vec<String>,
    /// Show every value to everyone etcd lets read it (no masking).
    #[arg(long, env = "ETCDECK_NO_MASK", conflicts_with = "masks")]
    pub no_mask: bool,
}

/// Everything the backend needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The first (or only) cluster: served at `/` as well as `/c/NAME/`.
    pub etcd: EtcdConfig,
    /// The first cluster's name ([`DEFAULT_CLUSTER`] unless named).
    pub name: String,
    /// Every further cluster, in the order given; empty for one cluster.
    pub others: Vec<ClusterConfig>,
    pub server: ServerConfig,
    pub coord: CoordConfig,
    /// Where the audit log is kept, if on disk.
    pub audit: AuditConfig,
}

/// The first cluster's name when only `--endpoints` names it.
pub const DEFAULT_CLUSTER: &str = "default";

/// One further cluster: how to reach it and where its audit log is kept.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub etcd: EtcdConfig,
    pub audit: AuditConfig,
}

impl Config {
    /// Every cluster, the first one first.
    pub fn clusters(&self) -> Vec<ClusterConfig> {
        std::iter::once(ClusterConfig {
            name: self.name.clone(),
            etcd: self.etcd.clone(),
            audit: self.audit.clone(),
        })
        .chain(self.others.iter().cloned())
        .collect()
    }
}

/// `--audit-log` and its rotation size.
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    pub path: Option<PathBuf>,
    pub max_bytes: u64,
}

/// Prefixes of the coordination views. Lock, election and queue names have
/// no trailing `/` (their keys are `NAME/...`); service prefixes are used as
/// given (`<prefix><name>/<instance>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordConfig {
    pub lock_prefixes: Vec<Vec<u8>>,
    pub election_prefixes: Vec<Vec<u8>>,
    pub queue_prefixes: Vec<Vec<u8>>,
    pub service_prefixes: Vec<Vec<u8>>,
}

impl Default for CoordConfig {
    fn default() -> Self {
        CoordConfig {
            lock_prefixes: Vec::new(),
            election_prefixes: Vec::new(),
            queue_prefixes: Vec::new(),
            service_prefixes: vec![b"services/".to_vec()],
        }
    }
}

/// A recipe's name as `NewMutex`/`NewElection`/`NewQueue` take it: the keys
/// are `name + "/" + ...`, so a trailing `/` given by habit is dropped.
fn recipe_names(flag: &'static str, names: &[String]) -> Result<Vec<Vec<u8>>, ConfigError> {
    names
        .iter()
        .map(|name| {
            let trimmed = name.strip_suffix('/').unwrap_or(name);
            if trimmed.is_empty() {
                Err(ConfigError::EmptyPrefix(flag))
            } else {
                Ok(trimmed.as_bytes().to_vec())
            }
        })
        .collect()
}

/// How to reach and authenticate to etcd.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    pub endpoints: Vec<String>,
    pub credentials: Option<Credentials>,
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

/// A password that never shows in logs or debug output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// PEM contents, read at start-up so a bad path fails at once.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    pub ca: Option<Vec<u8>>,
    /// Client certificate and key.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where the dashboard's own HTTPS certificate chain and key live. They
/// are files, not contents, so that SIGHUP can read them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What the HTTP side needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Serve HTTPS with this certificate and key; plain HTTP without.
    pub tls: Option<ServeTls>,
    pub read_only: bool,
    /// The wall screens' read-only access token.
    pub wall_token: Option<Password>,
    /// With etcd auth disabled, writes are allowed.
    pub allow_unauthenticated_writes: bool,
    /// Origins besides etcdeck's own host, as `scheme://host[:port]` in
    /// lower case.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A session unused this long ends.
    pub session_idle: std::time::Duration,
    /// etcd's backend quota, when given.
    pub quota_backend_bytes: Option<u64>,
    /// A login or open session this old ends, used or not.
    pub session_max: std::time::Duration,
    pub separator: Vec<u8>,
    /// `--dist`: a frontend on disk to serve instead of the embedded one.
    pub dist: Option<PathBuf>,
    /// How failed logins are slowed down (not a flag: tests shorten it).
    pub login_throttle: ThrottlePolicy,
    /// Keys whose values are masked (`--mask`, `--no-mask`).
    pub masks: Masks,
}

/// How failed logins are throttled, per client address and per etcd user
/// name (`auth::throttle` explains the policy). Every tier must let an
/// attempt through; together they make the delays grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub tiers: Vec<ThrottleTier>,
    /// Most addresses (and, apart, user names) remembered at once; past it
    /// new ones share one limit.
    pub max_keys: usize,
}

/// One tier: `burst` failures at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleTier {
    pub burst: u32,
    pub every: std::time::Duration,
}

impl Default for ThrottlePolicy {
    /// 5 failures at once, then one a second up to 10, one every 30 s up
    /// to 20, then one every 5 minutes.
    fn default() -> Self {
        let tier = |burst, secs| ThrottleTier {
            burst,
            every: std::time::Duration::from_secs(secs),
        };
        ThrottlePolicy {
            tiers: vec![tier(5, 1), tier(10, 30), tier(20, 300)],
            max_keys: 50_000,
        }
    }
}

impl Default for ServerConfig {
    /// What the flags give when none is passed.
    fn default() -> Self {
        ServerConfig {
            tls: None,
            read_only: false,
            wall_token: None,
            allow_unauthenticated_writes: false,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            session_idle: std::time::Duration::from_secs(30 * 60),
            quota_backend_bytes: None,
            session_max: std::time::Duration::from_secs(12 * 3600),
            separator: b"/".to_vec(),
            dist: None,
            login_throttle: ThrottlePolicy::default(),
            masks: Masks::default(),
        }
    }
}

/// A configuration that cannot work, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no etcd endpoints given")]
    NoEndpoints,
    #[error("the separator must not be empty")]
    EmptySeparator,
    #[error(
        "no password for etcd user '{0}': use --password-file, ETCDECK_PASSWORD or ETCDCTL_PASSWORD"
    )]
    NoPassword(String),
    #[error("cannot read {what} {path}: {reason}")]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{what} {path} is not PEM (no '-----BEGIN' line)")]
    NotPem { what: &'static str, path: PathBuf },
    #[error("--cert and --key go together: give both or neither")]
    HalfIdentity,
    #[error("--tls-cert and --tls-key go together: give both or neither")]
    HalfServeTls,
    #[error("{0} needs a non-empty name")]
    EmptyPrefix(&'static str),
    #[error("the wall token in {0} is shorter than 16 characters; use a long random one")]
    ShortToken(PathBuf),
    #[error("--allowed-origin '{0}' is not an origin like https://etcdeck.example.com")]
    BadOrigin(String),
    #[error("--session-idle-minutes must be at least 1")]
    NoIdle,
    #[error("--audit-log-max-mb must be at least 1")]
    NoAuditSize,
    #[error("--session-max-hours must be at least 1")]
    NoMaxLifetime,
    #[error(transparent)]
    BadMask(#[from] BadMask),
    #[error(
        "--cluster '{0}' is not NAME=ENDPOINTS with a NAME of lower-case letters, digits and '-'"
    )]
    BadCluster(String),
    #[error("two clusters are named '{0}'")]
    DuplicateCluster(String),
    #[error("give the endpoints with --endpoints or with --cluster/--config, not both")]
    EndpointsAndClusters,
    #[error("cannot use the config file {path}: {reason}")]
    BadConfigFile { path: PathBuf, reason: String },
}

/// The config file (`--config`): clusters, each with what it does not
/// share with the command line's defaults.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, rename = "cluster")]
    pub clusters: Vec<ClusterEntry>,
}

/// One `[[cluster]]` of the config file. What it leaves out comes from the
/// flags (`--user`, `--password-file`, `--cacert`, `--cert`, `--key`);
/// `audit_log` defaults to `--audit-log` with the cluster's name added.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterEntry {
    pub name: String,
    pub endpoints: Vec<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
}

impl ConfigFile {
    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
        toml::from_str(text)
    }

    fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let bad = |reason: String| ConfigError::BadConfigFile {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|err| bad(err.to_string()))?;
        ConfigFile::parse(&text).map_err(|err| bad(err.to_string()))
    }
}

/// A cluster name is part of URLs (`/c/NAME/`) and of cookie and file
/// names, so it is kept to what needs no escaping in any of them.
fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `--audit-log PATH` for one of several clusters: `NAME` joins the file
/// name before its extension (`audit.jsonl` becomes `audit-prod.jsonl`), so
/// each cluster's writes are apart and rotation (`PATH.1`) stays per file.
pub fn audit_path_for(path: &Path, name: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = match path.extension() {
        Some(ext) => format!("{stem}-{name}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{name}"),
    };
    path.with_file_name(file)
}

/// The `--user`, `--password-file`, `--cacert`, `--cert` and `--key` of one
/// cluster, before their files are read.
struct Access<'a> {
    user: Option<&'a str>,
    password_file: Option<&'a Path>,
    cacert: Option<&'a Path>,
    cert: Option<&'a Path>,
    key: Option<&'a Path>,
}

impl Access<'_> {
    fn read(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Option<Credentials>, Option<TlsConfig>), ConfigError> {
        let credentials = match self.user.filter(|u| !u.is_empty()) {
            None => None,
            Some(user) => {
                let (user, inline) = match user.split_once(':') {
                    Some((name, password)) => (name.to_owned(), Some(password.to_owned())),
                    None => (user.to_owned(), None),
                };
                let password = match self.password_file {
                    Some(path) => Some(read_password(path)?),
                    None => env("ETCDECK_PASSWORD")
                        .or_else(|| env("ETCDCTL_PASSWORD"))
                        .or(inline),
                };
                let password = password.ok_or_else(|| ConfigError::NoPassword(user.clone()))?;
                Some(Credentials {
                    user,
                    password: Password(password),
                })
            }
        };
        let identity = match (self.cert, self.key) {
            (Some(cert), Some(key)) => Some((
                read_pem("client certificate", cert)?,
                read_pem("client key", key)?,
            )),
            (None, None) => None,
            _ => return Err(ConfigError::HalfIdentity),
        };
        let ca = self
            .cacert
            .map(|p| read_pem("CA certificate", p))
            .transpose()?;
        let tls = (ca.is_some() || identity.is_some()).then_some(TlsConfig { ca, identity });
        Ok((credentials, tls))
    }
}

fn clean_endpoints<'a>(given: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    given
        .into_iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

impl Cli {
    /// Validates the flags and reads the files they name. `env` looks up
    /// environment variables (a parameter so tests need not touch the
    /// process environment).
    pub fn into_config(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        if self.separator.is_empty() {
            return Err(ConfigError::EmptySeparator);
        }
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let global = Access {
            user: self.user.as_deref(),
            password_file: self.password_file.as_deref(),
            cacert: self.cacert.as_deref(),
            cert: self.cert.as_deref(),
            key: self.key.as_deref(),
        };
        let max_bytes = self.audit_log_max_mb * 1024 * 1024;
        let mut clusters: Vec<ClusterConfig> = Vec::new();
        // The config file's clusters: what an entry leaves out is the flags'.
        for entry in &file.clusters {
            let access = Access {
                user: entry.user.as_deref().or(global.user),
                password_file: entry.password_file.as_deref().or(global.password_file),
                cacert: entry.cacert.as_deref().or(global.cacert),
                cert: entry.cert.as_deref().or(global.cert),
                key: entry.key.as_deref().or(global.key),
            };
            clusters.push(self.named_cluster(
                &entry.name,
                clean_endpoints(&entry.endpoints),
                &access,
                entry.audit_log.clone(),
                max_bytes,
                &env,
            )?);
        }
        for flag in &self.clusters {
            let (name, endpoints) = flag
                .split_once('=')
                .ok_or_else(|| ConfigError::BadCluster(flag.clone()))?;
            let endpoints =
                clean_endpoints(&endpoints.split(',').map(str::to_owned).collect::<Vec<_>>());
            clusters.push(self.named_cluster(
                name.trim(),
                endpoints,
                &global,
                None,
                max_bytes,
                &env,
            )?);
        }
        let (first, others) = if clusters.is_empty() {
            // Today's one cluster, named by --endpoints alone.
            let endpoints = if self.endpoints.is_empty() {
                vec!["http://127.0.0.1:2379".to_owned()]
            } else {
                clean_endpoints(&self.endpoints)
            };
            if endpoints.is_empty() {
                return Err(ConfigError::NoEndpoints);
            }
            let (credentials, tls) = global.read(&env)?;
            let first = ClusterConfig {
                name: DEFAULT_CLUSTER.to_owned(),
                etcd: EtcdConfig {
                    endpoints,
                    credentials,
                    tls,
                },
                audit: AuditConfig {
                    path: self.audit_log.clone(),
                    max_bytes,
                },
            };
            (first, Vec::new())
        } else {
            if !self.endpoints.is_empty() {
                return Err(ConfigError::EndpointsAndClusters);
            }
            for (i, cluster) in clusters.iter().enumerate() {
                if clusters[..i].iter().any(|c| c.name == cluster.name) {
                    return Err(ConfigError::DuplicateCluster(cluster.name.clone()));
                }
            }
            let mut rest = clusters.into_iter();
            let first = rest.next().ok_or(ConfigError::NoEndpoints)?;
            (first, rest.collect())
        };
        // The dashboard's own certificate is read here only to fail at once
        // on a bad path; the server parses it (and checks the key matches).
        let serve_tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => {
                read_pem("HTTPS certificate", &cert)?;
                read_pem("HTTPS key", &key)?;
                Some(ServeTls { cert, key })
            }
            (None, None) => None,
            _ => return Err(ConfigError::HalfServeTls),
        };
        let coord = CoordConfig {
            lock_prefixes: recipe_names("--lock-prefix", &self.lock_prefixes)?,
            election_prefixes: recipe_names("--election-prefix", &self.election_prefixes)?,
            queue_prefixes: recipe_names("--queue-prefix", &self.queue_prefixes)?,
            service_prefixes: self
                .service_prefixes
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| p.as_bytes().to_vec())
                .collect(),
        };
        let wall_token = match &self.wall_token_file {
            None => None,
            Some(path) => {
                let token = read_password(path)?.trim().to_owned();
                if token.chars().count() < 16 {
                    return Err(ConfigError::ShortToken(path.clone()));
                }
                Some(Password(token))
            }
        };
        let allowed_origins = self
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| {
                let origin = o.trim_end_matches('/').to_ascii_lowercase();
                let valid = origin.split_once("://").is_some_and(|(scheme, host)| {
                    matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
                });
                if valid {
                    Ok(origin)
                } else {
                    Err(ConfigError::BadOrigin(o.to_owned()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.session_idle_minutes == 0 {
            return Err(ConfigError::NoIdle);
        }
        if self.audit_log_max_mb == 0 {
            return Err(ConfigError::NoAuditSize);
        }
        if self.session_max_hours == 0 {
            return Err(ConfigError::NoMaxLifetime);
        }
        let masks = mask_patterns(self.no_mask, &self.masks)?;
        Ok(Config {
            coord,
            audit: first.audit,
            etcd: first.etcd,
            name: first.name,
            others,
            server: ServerConfig {
                tls: serve_tls,
                read_only: self.read_only,
                wall_token,
                allow_unauthenticated_writes: self.allow_unauthenticated_writes,
                allowed_origins,
                trusted_proxies: self.trusted_proxies,
                session_idle: std::time::Duration::from_secs(self.session_idle_minutes * 60),
                quota_backend_bytes: self.quota_backend_bytes,
                session_max: std::time::Duration::from_secs(self.session_max_hours * 3600),
                separator: self.separator.into_bytes(),
                dist: self.dist,
                login_throttle: ThrottlePolicy::default(),
                masks,
            },
        })
    }
}

impl Cli {
    /// One named cluster: its name checked (and not taken), its endpoints
    /// present, its files read, its audit log apart from the others'.
    fn named_cluster(
        &self,
        name: &str,
        endpoints: Vec<String>,
        access: &Access<'_>,
        audit_log: Option<PathBuf>,
        max_bytes: u64,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClusterConfig, ConfigError> {
        if !valid_cluster_name(name) {
            return Err(ConfigError::BadCluster(name.to_owned()));
        }
        if endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        let (credentials, tls) = access.read(env)?;
        let path = audit_log.or_else(|| {
            self.audit_log
                .as_deref()
                .map(|path| audit_path_for(path, name))
        });
        Ok(ClusterConfig {
            name: name.to_owned(),
            etcd: EtcdConfig {
                endpoints,
                credentials,
                tls,
            },
            audit: AuditConfig { path, max_bytes },
        })
    }
}

/// The mask patterns the flags ask for: none with `--no-mask`, the given
/// ones (blank ones left out), or the defaults.
fn mask_patterns(off: bool, given: &[String]) -> Result<Masks, BadMask> {
    if off {
        return Ok(Masks::off());
    }
    let given: Vec<String> = given
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if given.is_empty() {
        Ok(Masks::default())
    } else {
        Masks::new(given)
    }
}

fn read_password(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Unreadable {
        what: "password file",
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bytes = std::fs::read(path).map_err(|err| ConfigError::Unreadable {
        what,
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Err(ConfigError::NotPem {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("etcdeck").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn password_sources_in_order() {
        let no_env = |_: &str| None;
        let cli = parse(&["--user", "root:inline"]);
        assert_eq!(
            cli.into_config(no_env)
                .unwrap()
                .etcd
                .credentials
                .unwrap()
                .password
                .expose(),
            "inline"
        );

        let env = |name: &str| (name == "ETCDCTL_PASSWORD").then(|| "from-env".to_owned());
        let cfg = parse(&["--user", "root"]).into_config(env).unwrap();
        let creds = cfg.etcd.credentials.unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.expose()),
            ("root", "from-env")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let cfg = parse(&["--user", "root", "--password-file", file.to_str().unwrap()])
            .into_config(env)
            .unwrap();
        assert_eq!(cfg.etcd.credentials.unwrap().password.expose(), "from-file");
    }

    #[test]
    fn clear_errors() {
        let err = parse(&["--user", "viewer"])
            .into_config(|_| None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no password for etcd user 'viewer': use --password-file, ETCDECK_PASSWORD or ETCDCTL_PASSWORD"
        );
        let err = parse(&["--cert", "/nonexistent.pem"])
            .into_config(|_| None)
            .unwrap_err();
        assert!(matches!(err, ConfigError::HalfIdentity));
        let err = parse(&["--cacert", "/nonexistent.pem"])
            .into_config(|_| None)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read CA certificate /nonexistent.pem")
        );
    }

    #[test]
    fn endpoints_split_on_commas_and_password_is_not_printed() {
        let cfg = parse(&[
            "--endpoints",
            "http://a:1, http://b:2",
            "--user",
            "u:secret",
        ])
        .into_config(|_| None)
        .unwrap();
        assert_eq!(cfg.etcd.endpoints, ["http://a:1", "http://b:2"]);
        assert!(!format!("{cfg:?}").contains("secret"));
    }

    #[test]
    fn access_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "short\n").unwrap();
        let err = parse(&["--wall-token-file", file.to_str().unwrap()])
            .into_config(|_| None)
            .unwrap_err();
        assert!(matches!(err, ConfigError::ShortToken(_)));
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        let cfg = parse(&[
            "--wall-token-file",
            file.to_str().unwrap(),
            "--allowed-origin",
            "https://Deck.Example.com/",
        ])
        .into_config(|_| None)
        .unwrap();
        assert_eq!(
            cfg.server.wall_token.unwrap().expose(),
            "0123456789abcdef0123"
        );
        assert_eq!(cfg.server.allowed_origins, ["https://deck.example.com"]);
        assert_eq!(cfg.server.session_idle.as_secs(), 30 * 60);
        assert_eq!(cfg.server.session_max.as_secs(), 12 * 3600);
        let err = parse(&["--allowed-origin", "deck.example.com"])
            .into_config(|_| None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--allowed-origin 'deck.example.com' is not an origin like https://etcdeck.example.com"
        );
    }

    #[test]
    fn https_needs_a_readable_certificate_and_key() {
        let err = parse(&["--tls-cert", "/nonexistent.pem"])
            .into_config(|_| None)
            .unwrap_err();
        assert!(matches!(err, ConfigError::HalfServeTls));
        let err = parse(&["--tls-key", "/nonexistent.pem"])
            .into_config(|_| None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--tls-cert and --tls-key go together: give both or neither"
        );
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let args = |key: &Path| {
            [
                "--tls-cert".to_owned(),
                cert.display().to_string(),
                "--tls-key".to_owned(),
                key.display().to_string(),
            ]
        };
        let err = Cli::try_parse_from(std::iter::once("etcdeck".to_owned()).chain(args(&key)))
            .unwrap()
            .into_config(|_| None)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read HTTPS key "),
            "{err}"
        );
        std::fs::write(&key, "not a key\n").unwrap();
        let err = Cli::try_parse_from(std::iter::once("etcdeck".to_owned()).chain(args(&key)))
            .unwrap()
            .into_config(|_| None)
            .unwrap_err();
        assert!(matches!(err, ConfigError::NotPem { .. }), "{err}");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        let cfg = Cli::try_parse_from(std::iter::once("etcdeck".to_owned()).chain(args(&key)))
            .unwrap()
            .into_config(|_| None)
            .unwrap();
        assert_eq!(cfg.server.tls, Some(ServeTls { cert, key }));
        assert_eq!(parse(&[]).into_config(|_| None).unwrap().server.tls, None);
    }

    #[test]
    fn coordination_prefixes() {
        let cfg = parse(&[]).into_config(|_| None).unwrap();
        assert_eq!(cfg.coord, CoordConfig::default());
        let cfg = parse(&[
            "--lock-prefix",
            "jobs/",
            "--lock-prefix",
            "/a/b",
            "--election-prefix",
            "leader",
            "--queue-prefix",
            "q",
            "--service-prefix",
            "/svc/",
        ])
        .into_config(|_| None)
        .unwrap();
        assert_eq!(
            cfg.coord.lock_prefixes,
            [b"jobs".to_vec(), b"/a/b".to_vec()]
        );
        assert_eq!(cfg.coord.election_prefixes, [b"leader".to_vec()]);
        assert_eq!(cfg.coord.queue_prefixes, [b"q".to_vec()]);
        assert_eq!(cfg.coord.service_prefixes, [b"/svc/".to_vec()]);
        let err = parse(&["--queue-prefix", "/"])
            .into_config(|_| None)
            .unwrap_err();
        assert_eq!(err.to_string(), "--queue-prefix needs a non-empty name");
    }

    #[test]
    fn masks_default_repeat_and_turn_off() {
        let cfg = parse(&[]).into_config(|_| None).unwrap();
        assert_eq!(cfg.server.masks.patterns(), DEFAULT_MASKS);
        let cfg = parse(&["--mask", "*pin*", "--mask", "/vault/*,  "])
            .into_config(|_| None)
            .unwrap();
        assert_eq!(cfg.server.masks.patterns(), ["*pin*", "/vault/*"]);
        assert_eq!(cfg.server.masks.matching(b"/app/PIN"), Some("*pin*"));
        assert_eq!(cfg.server.masks.matching(b"/app/password"), None);
        let cfg = parse(&["--no-mask"]).into_config(|_| None).unwrap();
        assert!(cfg.server.masks.patterns().is_empty());
        assert!(Cli::try_parse_from(["etcdeck", "--no-mask", "--mask", "*x*"]).is_err());
        let err = parse(&["--mask", "a[b"]).into_config(|_| None).unwrap_err();
        assert!(
            err.to_string().starts_with("--mask 'a[b' is not a glob"),
            "{err}"
        );
    }

    #[test]
    fn one_cluster_by_endpoints_as_before() {
        let cfg = parse(&[]).into_config(|_| None).unwrap();
        assert_eq!(cfg.etcd.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(cfg.name, DEFAULT_CLUSTER);
        assert!(cfg.others.is_empty());
        let err = parse(&["--endpoints", " , "])
            .into_config(|_| None)
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoEndpoints), "{err}");
    }

    #[test]
    fn clusters_on_the_command_line_share_the_access_flags() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.jsonl");
        let cfg = parse(&[
            "--cluster",
            "prod=http://a:1, http://b:2",
            "--cluster",
            "staging=http://c:3",
            "--user",
            "deck:pw",
            "--audit-log",
            audit.to_str().unwrap(),
        ])
        .into_config(|_| None)
        .unwrap();
        let all = cfg.clusters();
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        assert_eq!(all[0].etcd.endpoints, ["http://a:1", "http://b:2"]);
        assert_eq!(all[1].etcd.endpoints, ["http://c:3"]);
        for cluster in &all {
            assert_eq!(cluster.etcd.credentials.as_ref().unwrap().user, "deck");
        }
        assert_eq!(
            all[1].audit.path.as_deref(),
            Some(dir.path().join("audit-staging.jsonl").as_path())
        );
        for (args, expected) in [
            (
                &["--cluster", "Prod=http://a:1"][..],
                "is not NAME=ENDPOINTS",
            ),
            (&["--cluster", "prod"][..], "is not NAME=ENDPOINTS"),
            (
                &["--cluster", "a=http://x:1", "--cluster", "a=http://y:1"][..],
                "two clusters are named 'a'",
            ),
            (
                &["--cluster", "a=http://x:1", "--endpoints", "http://y:1"][..],
                "not both",
            ),
        ] {
            let err = parse(args).into_config(|_| None).unwrap_err();
            assert!(err.to_string().contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn the_example_config_file_parses() {
        let file = ConfigFile::parse(include_str!("../../assets/etcdeck.example.toml")).unwrap();
        let names: Vec<&str> = file.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        assert_eq!(file.clusters[0].user.as_deref(), Some("etcdeck"));
        assert!(file.clusters[1].cacert.is_none());
        assert!(ConfigFile::parse("[[cluster]]\nname = \"x\"\nendpoint = []\n").is_err());
    }

    #[test]
    fn a_config_file_cluster_overrides_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("pw");
        std::fs::write(&password, "from-file\n").unwrap();
        let file = dir.path().join("etcdeck.toml");
        std::fs::write(
            &file,
            format!(
                "[[cluster]]\nname = \"one\"\nendpoints = [\"http://a:1\"]\n\
                 user = \"alice\"\npassword_file = \"{}\"\n\n\
                 [[cluster]]\nname = \"two\"\nendpoints = [\"http://b:1\"]\n",
                password.display()
            ),
        )
        .unwrap();
        let cfg = parse(&[
            "--config",
            file.to_str().unwrap(),
            "--user",
            "deck:pw",
            "--cluster",
            "three=http://c:1",
        ])
        .into_config(|_| None)
        .unwrap();
        let all = cfg.clusters();
        let users: Vec<(&str, &str)> = all
            .iter()
            .map(|c| {
                let creds = c.etcd.credentials.as_ref().unwrap();
                (c.name.as_str(), creds.user.as_str())
            })
            .collect();
        assert_eq!(
            users,
            [("one", "alice"), ("two", "deck"), ("three", "deck")]
        );
        assert_eq!(
            all[0].etcd.credentials.as_ref().unwrap().password.expose(),
            "from-file"
        );
    }

    /// The README's flag table is what `--help` lists: every flag and its
    /// environment variable, and no flag that does not exist.
    #[test]
    fn the_readme_flag_table_matches_help() {
        use clap::CommandFactory;
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme
            .split("## Running etcdeck")
            .nth(1)
            .unwrap()
            .lines()
            .skip_while(|l| !l.starts_with("| Flag"))
            .take_while(|l| l.starts_with('|'))
            .collect();
        let table_text = table.join("\n");
        let command = Cli::command();
        let mut known = Vec::new();
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            known.push(long.to_owned());
            assert!(
                table_text.contains(&format!("`--{long}")),
                "README's flag table lacks --{long}"
            );
            if let Some(env) = arg.get_env() {
                let env = env.to_string_lossy();
                assert!(
                    table_text.contains(&*env),
                    "README's flag table lacks {env} (of --{long})"
                );
            }
        }
        for row in &table {
            for flag in row.split("`--").skip(1) {
                let name: String = flag
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                assert!(
                    known.contains(&name),
                    "README's flag table names --{name}, which etcdeck does not have"
                );
            }
        }
    }
}
