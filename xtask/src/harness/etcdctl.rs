//! Running the real `etcdctl` against an [`EtcdCluster`]: as `root`, as another user, with
//! stdin, or in the background as a real peer (`lock`, `elect`, `lease keep-alive`), and adding
//! users with prefix roles. The password travels in the environment, never on the command line.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::thread;

use anyhow::{Context, Result, anyhow, bail};

use super::{ETCDCTL_BIN, EtcdCluster, Member, remove_env_with_prefix};

impl EtcdCluster {
    /// Runs `etcdctl ARGS` against the running members, as `root` when auth is enabled, and
    /// returns its stdout. The error carries etcdctl's stderr.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String> {
        self.run_etcdctl(self.root_credentials(), args, None)
    }

    /// Like [`Self::etcdctl`] with `stdin` fed to etcdctl, e.g. a binary value for
    /// `put KEY` (etcdctl reads the value from stdin when no value argument is given).
    pub fn etcdctl_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<String> {
        self.run_etcdctl(self.root_credentials(), args, Some(stdin))
    }

    /// Runs `etcdctl ARGS` as `user` (with `password`), e.g. to check what a restricted user
    /// may do.
    pub fn etcdctl_as(&self, user: &str, password: &str, args: &[&str]) -> Result<String> {
        self.run_etcdctl(Some((user, password)), args, None)
    }

    /// An `etcdctl ARGS` command set up like [`Self::etcdctl`] (endpoints, `ETCDCTL_API=3`,
    /// root credentials in the environment), for callers that need their own stdio.
    pub fn etcdctl_command(&self, args: &[&str]) -> Command {
        self.build_etcdctl(self.root_credentials(), args)
    }

    /// Starts `etcdctl ARGS` in the background as a real peer (`lock NAME`,
    /// `elect NAME PROPOSAL`, `lease keep-alive ID`, `watch ...`). Its stdout is piped (read it,
    /// e.g. to wait for the line saying the lock is held; a long-running child whose pipe is
    /// never read blocks once 64 KiB are buffered); stderr is discarded. The caller owns the
    /// child: kill and wait for it.
    pub fn spawn_etcdctl(&self, args: &[&str]) -> Result<Child> {
        self.etcdctl_command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting etcdctl {}", args.join(" ")))
    }

    /// Adds user `name` with `password` and a role `NAME-role` granting `read` on each of
    /// `read_prefixes` and `readwrite` on each of `readwrite_prefixes` (prefix permissions).
    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        read_prefixes: &[&str],
        readwrite_prefixes: &[&str],
    ) -> Result<()> {
        let line = format!("{password}\n");
        self.etcdctl_with_stdin(
            &["user", "add", name, "--interactive=false"],
            line.as_bytes(),
        )?;
        let role = format!("{name}-role");
        self.etcdctl(&["role", "add", &role])?;
        for (kind, prefixes) in [("read", read_prefixes), ("readwrite", readwrite_prefixes)] {
            for prefix in prefixes {
                self.etcdctl(&[
                    "role",
                    "grant-permission",
                    &role,
                    "--prefix=true",
                    kind,
                    prefix,
                ])?;
            }
        }
        self.etcdctl(&["user", "grant-role", name, &role])?;
        Ok(())
    }

    fn root_credentials(&self) -> Option<(&str, &str)> {
        self.auth.then_some(("root", self.root_password.as_str()))
    }

    fn running_endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(Member::client_url)
            .collect()
    }

    fn build_etcdctl(&self, credentials: Option<(&str, &str)>, args: &[&str]) -> Command {
        let mut cmd = Command::new(ETCDCTL_BIN);
        remove_env_with_prefix(&mut cmd, "ETCDCTL_");
        cmd.env("ETCDCTL_API", "3");
        // The password travels in the environment, not on the command line (visible in `ps`).
        if let Some((user, password)) = credentials {
            cmd.env("ETCDCTL_USER", user)
                .env("ETCDCTL_PASSWORD", password);
        }
        cmd.arg(format!(
            "--endpoints={}",
            self.running_endpoints().join(",")
        ))
        .args(args);
        cmd
    }

    pub(super) fn run_etcdctl(
        &self,
        credentials: Option<(&str, &str)>,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<String> {
        // etcdctl's own 5 s limit is too short for a raft proposal (a user or
        // role change) on a loaded two-core machine; a command that passes
        // `--command-timeout` itself keeps its own. (etcdctl 3.4 reads no
        // environment variable for it.)
        let mut with_timeout = Vec::with_capacity(args.len() + 1);
        if !args.iter().any(|a| a.starts_with("--command-timeout")) {
            with_timeout.push("--command-timeout=30s");
        }
        with_timeout.extend_from_slice(args);
        let mut cmd = self.build_etcdctl(credentials, &with_timeout);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting etcdctl {}", args.join(" ")))?;
        // Feed stdin from a thread so a large input cannot deadlock against a full stdout pipe.
        let writer = match (stdin, child.stdin.take()) {
            (Some(bytes), Some(mut pipe)) => {
                let bytes = bytes.to_vec();
                Some(thread::spawn(move || pipe.write_all(&bytes)))
            }
            _ => None,
        };
        let output = child
            .wait_with_output()
            .with_context(|| format!("running etcdctl {}", args.join(" ")))?;
        if let Some(writer) = writer {
            writer
                .join()
                .map_err(|_| anyhow!("the etcdctl stdin writer panicked"))?
                .context("writing etcdctl's stdin")?;
        }
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!(
                "etcdctl {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(stdout)
    }
}
