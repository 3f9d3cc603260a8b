//! The audit log: every write attempted through etcdeck (who, what, the
//! revision the user saw, the revision written, the result), every login
//! attempt (the user name tried, the client's address, the result) and
//! every other audited action goes to the backend log under the
//! `etcdeck::audit` target, into bounded in-memory lists that the audit
//! view reads and, with `--audit-log PATH`, to a JSON-lines file that
//! survives restarts.
//!
//! Logins are kept apart from everything else, each up to
//! [`AUDIT_CAPACITY`]: refused logins cost an attacker nothing once they
//! are throttled, and a flood of them must not push the writes out of the
//! audit view.
//!
//! The file:
//! - one [`AuditEntry`] per line, as the audit API serves it (keys in
//!   base64), appended and flushed to disk (`fdatasync`) before the action
//!   is answered, so an answered write is on disk even if etcdeck is killed
//!   right after;
//! - rotated by size: past `max_bytes` the file becomes `PATH.1` (the older
//!   ones `PATH.2` ... `PATH.`[`ROTATED_KEPT`], the oldest dropped);
//! - read back at start-up (`PATH.1`, then `PATH`) to fill the audit view;
//!   lines that do not parse are skipped and counted in the log.
//!
//! Writes check [`Audit::check_writable`] first: once a line could not be
//! written, every write is refused with a sentence naming the file until a
//! line can be written again (tried at each write attempt, by appending an
//! `audit_log_resumed` entry), so at most the one write whose line failed
//! is missing from the file (it is still in the backend log and the view,
//! and its answer says the line failed). The appends are small and rare (people's writes),
//! so they are done in place under a lock rather than on a separate thread.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use etcdeck_shared::edit::{ACTION_LOGIN, ACTION_LOGIN_TOKEN, AuditEntry, AuditResult};

/// How many login entries, and apart how many other entries, the audit
/// view can show; older ones stay in the log (and the file).
pub const AUDIT_CAPACITY: usize = 1_000;
/// How many rotated files (`PATH.1` ... `PATH.N`) are kept.
pub const ROTATED_KEPT: usize = 3;

/// Why the audit file cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log {path} cannot be written ({source}); writes are stopped until it can")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the audit log {path} cannot be opened: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The audit log. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    kept: Kept,
    file: Option<LogFile>,
}

/// The entries kept for the audit view, each list newest first.
#[derive(Debug, Default)]
struct Kept {
    logins: VecDeque<AuditEntry>,
    others: VecDeque<AuditEntry>,
}

impl Kept {
    /// Keeps `entry` as the newest of its list, dropping that list's oldest
    /// past [`AUDIT_CAPACITY`].
    fn push(&mut self, entry: AuditEntry) {
        let entries = if entry.action == ACTION_LOGIN || entry.action == ACTION_LOGIN_TOKEN {
            &mut self.logins
        } else {
            &mut self.others
        };
        if entries.len() == AUDIT_CAPACITY {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// Both lists merged, newest first.
    fn recent(&self) -> Vec<AuditEntry> {
        let mut logins = self.logins.iter().peekable();
        let mut others = self.others.iter().peekable();
        let mut recent = Vec::with_capacity(self.logins.len() + self.others.len());
        loop {
            let next = match (logins.peek(), others.peek()) {
                (Some(login), Some(other)) if login.at_ms > other.at_ms => logins.next(),
                (_, Some(_)) => others.next(),
                (Some(_), None) => logins.next(),
                (None, None) => break,
            };
            recent.extend(next.cloned());
        }
        recent
    }
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    /// The open file, `None` after a failure until it reopens.
    file: Option<File>,
    /// Its size, for rotation.
    size: u64,
    /// Whether it is a regular file (only those are rotated).
    regular: bool,
    /// Whether the last attempt to write a line failed.
    failing: bool,
}

impl Audit {
    /// An audit log kept in memory only (no `--audit-log`).
    pub fn in_memory() -> Self {
        Audit::default()
    }

    /// An audit log appended to `path` (created if missing, with its
    /// directory), rotated past `max_bytes`, with the view filled from the
    /// file and its last rotation.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, AuditError> {
        let open_error = |source| AuditError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(open_error)?;
        }
        let mut kept = Kept::default();
        let mut skipped = 0;
        for file in [rotated(path, 1), path.to_owned()] {
            skipped += read_back(&file, &mut kept).map_err(open_error)?;
        }
        if skipped > 0 {
            tracing::warn!(path = %path.display(), lines = skipped, "skipped audit log lines that do not parse");
        }
        let mut file = append(path).map_err(open_error)?;
        let mut metadata = file.metadata().map_err(open_error)?;
        // A line cut short by a crash must not swallow the next one.
        if metadata.is_file() && !ends_with_newline(path).map_err(open_error)? {
            file.write_all(b"\n").map_err(open_error)?;
            metadata = file.metadata().map_err(open_error)?;
        }
        tracing::info!(
            path = %path.display(),
            entries = kept.logins.len() + kept.others.len(),
            "audit log opened"
        );
        Ok(Audit {
            inner: Arc::new(Mutex::new(Inner {
                kept,
                file: Some(LogFile {
                    path: path.to_owned(),
                    max_bytes: max_bytes.max(1),
                    file: Some(file),
                    size: metadata.len(),
                    regular: metadata.is_file(),
                    failing: false,
                }),
            })),
        })
    }

    /// `Ok` when an action may go ahead: the audit file (if any) took its
    /// last line, or takes one now. After a failure the file must take a
    /// line saying the log resumed (reopening alone proves nothing: a full
    /// disk opens fine) before writes go on.
    pub fn check_writable(&self) -> Result<(), AuditError> {
        let mut inner = self.lock();
        let Some(log) = inner.file.as_mut() else {
            return Ok(());
        };
        if !log.failing {
            return Ok(());
        }
        let resumed = AuditEntry {
            at_ms: now_ms(),
            user: None,
            action: "audit_log_resumed".to_owned(),
            key: etcdeck_shared::Bytes::default(),
            to: None,
            old_revision: None,
            new_revision: None,
            result: AuditResult::Ok,
            detail: Some(
                "the audit file could not be written before this line; etcdeck's own log has what happened meanwhile"
                    .to_owned(),
            ),
            address: None,
        };
        log.append(&resumed)?;
        tracing::info!(path = %log.path.display(), "the audit log can be written again");
        inner.kept.push(resumed);
        Ok(())
    }

    /// Records `entry`: logs it, keeps it for the audit view and, with a
    /// file, appends it there before returning. A failed append is logged
    /// and stops writes ([`Audit::check_writable`]) until the file works.
    pub fn record(&self, entry: AuditEntry) {
        if let Err(err) = self.record_checked(entry) {
            tracing::error!(error = %err, "an audit line could not be written");
        }
    }

    /// [`Audit::record`], saying whether the line reached the file.
    pub fn record_checked(&self, entry: AuditEntry) -> Result<(), AuditError> {
        log(&entry);
        let mut inner = self.lock();
        let written = match inner.file.as_mut() {
            Some(file) => file.append(&entry),
            None => Ok(()),
        };
        inner.kept.push(entry);
        written
    }

    /// The kept entries, newest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        self.lock().kept.recent()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the list inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl LogFile {
    fn append(&mut self, entry: &AuditEntry) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(entry).expect("an audit entry serializes");
        line.push(b'\n');
        let written = self.try_append(&line);
        self.failing = written.is_err();
        written.map_err(|source| {
            // Reopen at the next attempt: the file may have been removed
            // or its disk remounted.
            self.file = None;
            AuditError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }

    fn try_append(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.regular && self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        let file = self.file.as_mut().expect("just opened");
        file.write_all(line)?;
        file.sync_data()?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// `PATH.N-1` → `PATH.N` ... `PATH` → `PATH.1`, then a new `PATH`.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        for n in (1..ROTATED_KEPT).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.reopen()
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        let file = append(&self.path)?;
        let metadata = file.metadata()?;
        // A pipe or a device (`/dev/stdout`) is never renamed away.
        self.regular = metadata.is_file();
        self.size = metadata.len();
        self.file = Some(file);
        Ok(())
    }
}

/// `PATH.n`.
fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Keeps the entries of `path` (oldest first in the file) as the newest so
/// far, at most [`AUDIT_CAPACITY`] of each list; a missing file adds
/// nothing. Returns how many lines did not parse.
fn read_back(path: &Path, kept: &mut Kept) -> std::io::Result<usize> {
    // Only regular files are read back (never a device or a pipe).
    if !path.is_file() {
        return Ok(0);
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut skipped = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<AuditEntry>(&line) {
            Ok(entry) => kept.push(entry),
            Err(_) => skipped += 1,
        }
    }
    Ok(skipped)
}

/// The entry in the backend log.
fn log(entry: &AuditEntry) {
    let key = entry.key.display();
    let to = entry.to.as_ref().map(|t| t.display());
    match entry.result {
        AuditResult::Ok => tracing::info!(
            target: "etcdeck::audit",
            user = entry.user.as_deref().unwrap_or("-"),
            action = %entry.action,
            key = %key,
            to = to.as_deref().unwrap_or("-"),
            old_revision = entry.old_revision.map(|r| r.0),
            new_revision = entry.new_revision.map(|r| r.0),
            address = entry.address.as_deref().unwrap_or("-"),
            result = "ok",
        ),
        result => tracing::warn!(
            target: "etcdeck::audit",
            user = entry.user.as_deref().unwrap_or("-"),
            action = %entry.action,
            key = %key,
            to = to.as_deref().unwrap_or("-"),
            old_revision = entry.old_revision.map(|r| r.0),
            address = entry.address.as_deref().unwrap_or("-"),
            result = ?result,
            detail = entry.detail.as_deref().unwrap_or("-"),
        ),
    }
}

/// Milliseconds since the Unix epoch, for [`AuditEntry::at_ms`].
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
