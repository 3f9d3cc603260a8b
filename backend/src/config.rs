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

/// A live web dashboard for etcd.
#[derive(Debug, Parser)]
#[command(name = "etcdeck", version, about)]
pub struct Cli {
    /// etcd endpoints, comma-separated; all are used, for failover.
    #[arg(
        long,
        env = "ETCDCTL_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    pub endpoints: Vec<String>,
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
    /// What splits keys into tree levels.
    #[arg(long, env = "ETCDECK_SEPARATOR", default_value = "/")]
    pub separator: String,
    /// Directory of the built frontend.
    #[arg(long, env = "ETCDECK_DIST", default_value = "dist")]
    pub dist: PathBuf,
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
}

/// Everything the backend needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub etcd: EtcdConfig,
    pub server: ServerConfig,
    pub coord: CoordConfig,
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
    pub separator: Vec<u8>,
    pub dist: PathBuf,
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
            separator: b"/".to_vec(),
            dist: PathBuf::from("dist"),
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
}

impl Cli {
    /// Validates the flags and reads the files they name. `env` looks up
    /// environment variables (a parameter so tests need not touch the
    /// process environment).
    pub fn into_config(self, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let endpoints: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        if endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        if self.separator.is_empty() {
            return Err(ConfigError::EmptySeparator);
        }
        let credentials = match self.user.filter(|u| !u.is_empty()) {
            None => None,
            Some(user) => {
                let (user, inline) = match user.split_once(':') {
                    Some((name, password)) => (name.to_owned(), Some(password.to_owned())),
                    None => (user, None),
                };
                let password = match &self.password_file {
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
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some((
                read_pem("client certificate", cert)?,
                read_pem("client key", key)?,
            )),
            (None, None) => None,
            _ => return Err(ConfigError::HalfIdentity),
        };
        let ca = self
            .cacert
            .as_deref()
            .map(|p| read_pem("CA certificate", p))
            .transpose()?;
        let tls = (ca.is_some() || identity.is_some()).then_some(TlsConfig { ca, identity });
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
        Ok(Config {
            coord,
            etcd: EtcdConfig {
                endpoints,
                credentials,
                tls,
            },
            server: ServerConfig {
                tls: serve_tls,
                read_only: self.read_only,
                wall_token,
                allow_unauthenticated_writes: self.allow_unauthenticated_writes,
                allowed_origins,
                trusted_proxies: self.trusted_proxies,
                session_idle: std::time::Duration::from_secs(self.session_idle_minutes * 60),
                separator: self.separator.into_bytes(),
                dist: self.dist,
            },
        })
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
}
