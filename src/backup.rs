//! Online backup, compacted copies and verified restore.
//!
//! - [`Store::backup_to`] copies the live database with SQLite's backup API
//!   while writers go on: the copy is the snapshot of one read transaction,
//!   taken a few pages at a time, with a progress callback.
//! - [`Store::vacuum_into`] writes a compacted copy (`VACUUM INTO`).
//! - [`Store::restore`] turns a backup into a live database only after
//!   `PRAGMA integrity_check` and [`Store::check`] pass on a copy of it.
//!
//! Never copy a live database file with the file system: a copy taken
//! between the database file and its WAL is not a database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};

use crate::error::DbResult;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{open_plain, Options, Store};

/// Pages copied per backup step: small enough that the progress callback
/// is called often, large enough that a backup of a big file is not
/// dominated by per-step overhead.
pub const BACKUP_PAGES_PER_STEP: i32 = 256;

/// How far a backup has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupProgress {
    /// Pages copied so far.
    pub pages_copied: u64,
    /// Pages in the database.
    pub pages_total: u64,
}

/// What a finished backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The file written.
    pub path: PathBuf,
    /// Pages copied.
    pub pages: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

fn refuse_existing(field: &str, path: &Path) -> Result<()> {
    if path.exists() {
        return Err(Error::invalid(
            field,
            format!("{} exists; custdb never overwrites a file", path.display()),
        ));
    }
    Ok(())
}

fn report(path: &Path, pages: u64) -> Result<BackupReport> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| {
            Error::new(ErrorKind::CannotOpen {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        })?
        .len();
    Ok(BackupReport {
        path: path.to_path_buf(),
        pages,
        bytes,
    })
}

impl Store {
    /// Backs the database up to a new file while other threads keep
    /// writing. The copy is one consistent snapshot (the state when the
    /// backup started); `progress` is called after every step of
    /// [`BACKUP_PAGES_PER_STEP`] pages.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `path` when the file exists;
    /// [`ErrorKind::CannotOpen`] when it cannot be created (a missing or
    /// read-only directory); a database error.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{CustomerFilter, NewCustomer, Store};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path().join("shop.db"))?;
    /// store.customers().create(NewCustomer::new("Ann"))?;
    /// let backup = store.backup_to(dir.path().join("backup.db"), |_| {})?;
    /// let restored = Store::restore(&backup.path, dir.path().join("restored.db"), Default::default())?;
    /// let customers = restored.customers().list(&CustomerFilter::default(), None, 10)?;
    /// assert_eq!(customers.items.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn backup_to(
        &self,
        path: impl AsRef<Path>,
        mut progress: impl FnMut(BackupProgress),
    ) -> Result<BackupReport> {
        self.sqlite_only("backup")?;
        let path = path.as_ref();
        refuse_existing("path", path)?;
        let mut dest = open_plain(path, true, self.options().key())?;
        let result = self.with_read_connection(|src| {
            // One read transaction over every step: the backup copies one
            // snapshot and never restarts, however much is written meanwhile
            // (in WAL mode the writers do not wait for it).
            src.execute_batch("BEGIN").db()?;
            src.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                .db()?;
            let copied = (|| -> Result<u64> {
                let backup = Backup::new(src, &mut dest).db()?;
                loop {
                    let step = backup.step(BACKUP_PAGES_PER_STEP).db()?;
                    let p = backup.progress();
                    let total = p.pagecount.max(0) as u64;
                    let copied = total.saturating_sub(p.remaining.max(0) as u64);
                    progress(BackupProgress {
                        pages_copied: copied,
                        pages_total: total,
                    });
                    match step {
                        StepResult::Done => return Ok(total),
                        StepResult::More => {}
                        StepResult::Busy | StepResult::Locked => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        _ => {}
                    }
                }
            })();
            src.execute_batch("COMMIT").db()?;
            copied
        });
        drop(dest);
        match result {
            Ok(pages) => report(path, pages),
            Err(e) => {
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// Writes a compacted copy of the database (`VACUUM INTO`): smaller
    /// than a page-by-page backup when much was deleted, and as consistent.
    ///
    /// # Errors
    ///
    /// As [`backup_to`](Store::backup_to).
    pub fn vacuum_into(&self, path: impl AsRef<Path>) -> Result<BackupReport> {
        self.sqlite_only("vacuum_into")?;
        let path = path.as_ref();
        refuse_existing("path", path)?;
        let text = path
            .to_str()
            .ok_or_else(|| Error::invalid("path", "must be valid UTF-8 for VACUUM INTO"))?;
        // Create (and so check) the file first, for the same typed error as
        // a backup when the directory is not writable.
        drop(open_plain(path, true, self.options().key())?);
        std::fs::remove_file(path).map_err(|e| {
            Error::new(ErrorKind::CannotOpen {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        })?;
        self.with_read_connection(|conn| {
            conn.execute("VACUUM INTO ?1", [text]).db()?;
            Ok(())
        })?;
        let pages: i64 = open_plain(path, false, self.options().key())?
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .db()?;
        report(path, pages as u64)
    }

    /// Restores a backup into a new database file and opens it. The backup
    /// is copied next to `target` first; the copy must pass
    /// `PRAGMA integrity_check`, open as a custdb database (older schemas
    /// are migrated) and pass [`check`](Store::check) before it takes the
    /// name `target`. Otherwise nothing is left behind.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] on `target` when it exists;
    /// [`ErrorKind::CannotOpen`] or [`ErrorKind::NotADatabase`] for a backup
    /// that cannot be read; [`ErrorKind::RestoreRefused`] with the problems
    /// found when a check fails; any error of [`Store::open_with`].
    pub fn restore(
        backup: impl AsRef<Path>,
        target: impl AsRef<Path>,
        options: Options,
    ) -> Result<Store> {
        let backup = backup.as_ref();
        let target = target.as_ref();
        refuse_existing("target", target)?;
        if !backup.is_file() {
            return Err(Error::new(ErrorKind::CannotOpen {
                path: backup.to_path_buf(),
                reason: "no such file".into(),
            }));
        }
        let mut staging = target.as_os_str().to_owned();
        staging.push(".restoring");
        let staging = PathBuf::from(staging);
        refuse_existing("target", &staging)?;
        std::fs::copy(backup, &staging).map_err(|e| {
            Error::new(ErrorKind::CannotOpen {
                path: staging.clone(),
                reason: e.to_string(),
            })
        })?;
        let result = verify_copy(&staging, &options);
        let cleanup = |p: &Path| {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = p.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        };
        if let Err(e) = result {
            cleanup(&staging);
            return Err(e);
        }
        std::fs::rename(&staging, target).map_err(|e| {
            cleanup(&staging);
            Error::new(ErrorKind::CannotOpen {
                path: target.to_path_buf(),
                reason: e.to_string(),
            })
        })?;
        Store::open_with(target, options)
    }
}

/// The checks a copy must pass before it is restored.
fn verify_copy(path: &Path, options: &Options) -> Result<()> {
    {
        let conn = open_plain(path, false, options.key()).map_err(|e| match e.kind() {
            ErrorKind::NotADatabase { .. } => crate::store::not_a_database(path, options.key()),
            _ => e,
        })?;
        let lines: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| {
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
                    crate::store::not_a_database(path, options.key())
                } else {
                    refused(vec![format!("integrity_check could not run: {e}")])
                }
            })?;
        if lines != ["ok"] {
            return Err(refused(lines));
        }
    }
    let store = Store::open_with(path, options.clone())?;
    let report = store.check()?;
    if !report.is_ok() {
        return Err(refused(report.problems));
    }
    Ok(())
}

fn refused(problems: Vec<String>) -> Error {
    Error::new(ErrorKind::RestoreRefused { problems })
}
