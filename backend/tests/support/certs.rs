//! Certificates generated for one test, and a real etcd serving its clients
//! over TLS with client-certificate authentication and auth on.
//!
//! [`Certs::generate`] writes a CA, an etcd server certificate for
//! `127.0.0.1` / `localhost` signed by it, a client certificate signed by it,
//! a second unrelated CA with a client certificate of its own, and a self-signed server certificate into a
//! temporary directory. [`TlsEtcd::start`] runs `etcd` with
//! `--cert-file --key-file --trusted-ca-file --client-cert-auth` on an
//! `https://` client URL, creates `root` with
//! [`xtask::harness::ROOT_PASSWORD`] and enables auth through `etcdctl`
//! over TLS. Dropping it kills etcd.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use xtask::harness::{ETCD_BIN, ETCDCTL_BIN, ROOT_PASSWORD, free_port};

/// The PEM files of one test's certificates.
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    /// A fresh CA with a server and a client certificate, an unrelated CA,
    /// and a self-signed server certificate.
    pub fn generate() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("etcdeck-certs-")
            .tempdir()
            .expect("temporary directory");
        let ca = new_ca("etcdeck test CA");
        let other_ca = new_ca("unrelated CA");
        let write = |name: &str, pem: &str| fs::write(dir.path().join(name), pem).expect("write");
        write("ca.pem", &ca.pem());
        write("other-ca.pem", &other_ca.pem());

        let server_key = KeyPair::generate().expect("key");
        let server = leaf_params(
            "etcd",
            &["127.0.0.1", "localhost"],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                // etcd's own gateway dials the server with this certificate.
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
        .signed_by(&server_key, &ca)
        .expect("server certificate");
        write("server.pem", &server.pem());
        write("server-key.pem", &server_key.serialize_pem());

        let client_key = KeyPair::generate().expect("key");
        let client = leaf_params(
            "etcdeck-client",
            &[],
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )
        .signed_by(&client_key, &ca)
        .expect("client certificate");
        write("client.pem", &client.pem());
        write("client-key.pem", &client_key.serialize_pem());

        let stranger_key = KeyPair::generate().expect("key");
        let stranger = leaf_params(
            "etcdeck-client",
            &[],
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )
        .signed_by(&stranger_key, &other_ca)
        .expect("client certificate of the other CA");
        write("stranger.pem", &stranger.pem());
        write("stranger-key.pem", &stranger_key.serialize_pem());

        let self_key = KeyPair::generate().expect("key");
        let self_signed = leaf_params(
            "etcd",
            &["127.0.0.1", "localhost"],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
        .self_signed(&self_key)
        .expect("self-signed certificate");
        write("self-signed.pem", &self_signed.pem());
        write("self-signed-key.pem", &self_key.serialize_pem());
        Certs { dir }
    }

    /// The path of one of the files written by [`Certs::generate`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The contents of one of the files written by [`Certs::generate`].
    pub fn pem(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).expect("read PEM")
    }
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

fn leaf_params(
    common_name: &str,
    names: &[&str],
    usages: &[ExtendedKeyUsagePurpose],
) -> CertificateParams {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<Vec<String>>(),
    )
    .expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = usages.to_vec();
    params
}

/// One etcd member serving clients over TLS, client certificates required,
/// auth on.
pub struct TlsEtcd {
    child: Option<Child>,
    endpoint: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    data: TempDir,
}

impl TlsEtcd {
    /// etcd with the server certificate `cert_name` (`server` or
    /// `self-signed`), trusting client certificates of the test CA.
    pub fn start(certs: &Certs, cert_name: &str) -> TlsEtcd {
        let data = tempfile::Builder::new()
            .prefix("etcdeck-tls-etcd-")
            .tempdir()
            .expect("temporary directory");
        let client_port = free_port().expect("port");
        let peer_port = free_port().expect("port");
        let endpoint = format!("https://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = File::create(data.path().join("etcd.log")).expect("log file");
        let mut command = Command::new(ETCD_BIN);
        clear_env(&mut command, "ETCD");
        let child = command
            .arg("--name=tls")
            .arg(format!("--data-dir={}", data.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=tls={peer}"))
            .arg(format!(
                "--cert-file={}",
                certs.path(&format!("{cert_name}.pem")).display()
            ))
            .arg(format!(
                "--key-file={}",
                certs.path(&format!("{cert_name}-key.pem")).display()
            ))
            .arg(format!(
                "--trusted-ca-file={}",
                certs.path("ca.pem").display()
            ))
            .arg("--client-cert-auth")
            .arg("--auth-token=simple")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let ca = if cert_name == "server" {
            certs.path("ca.pem")
        } else {
            certs.path(&format!("{cert_name}.pem"))
        };
        let etcd = TlsEtcd {
            child: Some(child),
            endpoint,
            ca,
            cert: certs.path("client.pem"),
            key: certs.path("client-key.pem"),
            data,
        };
        etcd.enable_auth();
        etcd
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Runs `etcdctl` over TLS as `root` and returns its output.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        self.run(Some(("root", ROOT_PASSWORD)), args, None)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Waits until etcd answers, then creates `root` and enables auth.
    fn enable_auth(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.run(None, &["endpoint", "health"], None) {
                Ok(_) => break,
                Err(err) => {
                    assert!(
                        Instant::now() < deadline,
                        "etcd over TLS did not become healthy: {err}\n{}",
                        self.log()
                    );
                    // Polling until etcd answers: the pause only spaces the probes.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        let password = format!("{ROOT_PASSWORD}\n");
        for args in [
            &["user", "add", "root", "--interactive=false"][..],
            &["role", "add", "root"],
            &["user", "grant-role", "root", "root"],
            &["auth", "enable"],
        ] {
            let stdin = (args[1] == "add" && args[0] == "user").then_some(password.as_bytes());
            if let Err(err) = self.run(None, args, stdin) {
                panic!("etcdctl {}: {err}\n{}", args.join(" "), self.log());
            }
        }
    }

    fn run(
        &self,
        user: Option<(&str, &str)>,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<String, String> {
        use std::io::Write as _;
        let mut command = Command::new(ETCDCTL_BIN);
        clear_env(&mut command, "ETCDCTL");
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .arg(format!("--cacert={}", self.ca.display()))
            .arg(format!("--cert={}", self.cert.display()))
            .arg(format!("--key={}", self.key.display()))
            .arg("--dial-timeout=2s");
        if let Some((user, password)) = user {
            command
                .env("ETCDCTL_USER", user)
                .env("ETCDCTL_PASSWORD", password);
        }
        let mut child = command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| err.to_string())?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes).map_err(|err| err.to_string())?;
        }
        let output = child.wait_with_output().map_err(|err| err.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    fn log(&self) -> String {
        let text = fs::read_to_string(self.data.path().join("etcd.log")).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for TlsEtcd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// etcd and etcdctl read `ETCD_*` / `ETCDCTL_*` variables as flags: keep the
/// caller's environment out of the test's etcd.
fn clear_env(command: &mut Command, prefix: &str) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with(prefix) {
            command.env_remove(key);
        }
    }
}
