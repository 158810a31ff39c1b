//! The units of work every repository works through: [`WriteTx`] (one
//! write transaction, its savepoints and its audit rows), [`ReadTx`] (one
//! consistent snapshot), the [`Actor`] a write is recorded under, and the
//! [`CheckReport`] of `Store::check`. They sit below the repositories and
//! name none of them: each domain adds its own accessors
//! (`tx.customers()`, `r.orders()`) in its own module. Only the store
//! (`crate::store`) makes them, around the connections it owns.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::audit::{AuditReader, Change};
use crate::db::sql;
use crate::error::{Error, Result};

/// Longest accepted actor id, in characters.
pub const MAX_ACTOR_ID_LEN: usize = 128;
/// Longest accepted actor display name, in characters.
pub const MAX_ACTOR_NAME_LEN: usize = 200;

/// Who performs a write: recorded in the audit trail of every mutation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Actor {
    id: String,
    name: String,
}

impl Actor {
    /// An actor with a stable id (a user id, a service name) and a display
    /// name.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Invalid`] when the id or the name is empty after
    /// trimming, longer than [`MAX_ACTOR_ID_LEN`] / [`MAX_ACTOR_NAME_LEN`]
    /// characters, or contains control characters.
    ///
    /// # Example
    ///
    /// ```
    /// let clerk = custdb::Actor::new("user-17", "Dana at the front desk")?;
    /// assert_eq!(clerk.id(), "user-17");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Result<Actor> {
        let id = crate::validate::required_text("actor.id", &id.into(), MAX_ACTOR_ID_LEN)?;
        let name = crate::validate::required_text("actor.name", &name.into(), MAX_ACTOR_NAME_LEN)?;
        Ok(Actor { id, name })
    }

    /// The actor used when none is named: id `system`, name `custdb`.
    pub fn system() -> Actor {
        Actor {
            id: "system".to_owned(),
            name: "custdb".to_owned(),
        }
    }

    /// The actor's stable id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The actor's display name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Default for Actor {
    fn default() -> Self {
        Actor::system()
    }
}

/// What [`Store::check`] found. Empty when every invariant holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// One line per difference or violation found.
    pub problems: Vec<String>,
    /// Checks that could not run on this store, and why.
    pub skipped: Vec<String>,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn push(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    pub(crate) fn push_skipped(&mut self, check: impl Into<String>) {
        self.skipped.push(check.into());
    }
}

/// What [`WriteTx::unguarded`] did.
pub(crate) enum Unguarded<T> {
    /// `f` succeeded.
    Done(T),
    /// `f` failed and wrote nothing: the unit of work can go on.
    Refused(Error),
    /// `f` failed after writing: the unit of work must roll back.
    Written(Error),
}

/// A write unit of work: one `BEGIN IMMEDIATE` transaction, given to the
/// closure of [`Store::write`]. Repositories reached from it
/// ([`customers`](WriteTx::customers), ...) write inside the transaction,
/// and every mutation appends its audit row here.
#[derive(Debug)]
pub struct WriteTx<'a> {
    pub(crate) session: crate::db::WriteSession<'a>,
    pub(crate) actor: &'a Actor,
    pub(crate) now: DateTime<Utc>,
    pub(crate) audit_rows: Cell<u32>,
    pub(crate) undone_changes: Cell<u64>,
    /// True inside [`atomic_whole`](WriteTx::atomic_whole): the operations
    /// it runs need no savepoint of their own.
    pub(crate) covered: Cell<bool>,
    /// On PostgreSQL, the audit entries of this unit of work, appended to
    /// the chain at commit (docs/SCALING.md); empty on SQLite, which
    /// appends each at once.
    pub(crate) pending_audit: std::cell::RefCell<crate::audit::PendingAudit>,
}

impl<'a> WriteTx<'a> {
    /// [`atomic`](WriteTx::atomic) for a closure that lets every error of the
    /// operations it runs go out unhandled (`?` only, no error caught and
    /// carried on from): its one savepoint undoes all of them, so they open
    /// none of their own. A bulk import row (create, address, key) saves two
    /// savepoints a row this way; a closure that catches an operation's
    /// error and continues must use `atomic`.
    pub(crate) fn atomic_whole<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.atomic(|| {
            let was = self.covered.replace(true);
            let result = f();
            self.covered.set(was);
            result
        })
    }

    /// Runs `f` as everything this unit of work does, so that an error
    /// from it rolls the whole unit back (see [`crate::Store::write_one`]):
    /// the operations inside open no savepoint of their own.
    pub(crate) fn as_whole_unit<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let was = self.covered.replace(true);
        let result = f();
        self.covered.set(was);
        result
    }

    /// Runs `f` as one operation without a savepoint, for bulk paths where
    /// a savepoint per row costs more than the row (each one copies every
    /// page the row touches into SQLite's statement journal). When `f`
    /// fails before writing anything there is nothing to undo and the unit
    /// of work goes on ([`Unguarded::Refused`]); when it fails after
    /// writing, only the whole unit of work can undo it, so the caller must
    /// return the error and roll back ([`Unguarded::Written`]).
    pub(crate) fn unguarded<T>(&self, f: impl FnOnce() -> Result<T>) -> Unguarded<T> {
        let audit_rows = self.audit_rows.get();
        let db = self.db();
        let changes_at_start = db.total_changes();
        let was = self.covered.replace(true);
        let result = f();
        self.covered.set(was);
        match result {
            Ok(value) => Unguarded::Done(value),
            Err(err)
                if db.in_transaction()
                    && db.total_changes() == changes_at_start
                    && self.audit_rows.get() == audit_rows =>
            {
                Unguarded::Refused(err)
            }
            Err(err) => Unguarded::Written(err),
        }
    }

    /// Runs `f` inside a savepoint: when it fails, everything it wrote is
    /// undone while the rest of the unit of work stays. Every public
    /// operation that writes more than one row runs in one, so a caller that
    /// catches an error and carries on never keeps half an operation.
    pub(crate) fn atomic<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.covered.get() {
            // An enclosing atomic_whole undoes everything on any error.
            return f();
        }
        let audit_rows = self.audit_rows.get();
        let pending_mark = self.pending_audit.borrow().mark();
        let undone = self.undone_changes.get();
        let db = self.db();
        let changes_at_start = db.total_changes();
        db.execute(sql!("SAVEPOINT custdb_op"), &[])?;
        match f() {
            Ok(value) => {
                db.execute(sql!("RELEASE custdb_op"), &[])?;
                Ok(value)
            }
            // SQLite already rolled the whole transaction back (after an
            // I/O or disk-full error): there is no savepoint left to undo
            // to, and the error itself is what the caller must see.
            Err(err) if db.transaction_lost() => Err(err),
            Err(err) => {
                db.execute(sql!("ROLLBACK TO custdb_op"), &[])?;
                db.execute(sql!("RELEASE custdb_op"), &[])?;
                self.audit_rows.set(audit_rows);
                self.pending_audit.borrow_mut().roll_back_to(pending_mark);
                // total_changes() counts what the rollback undid; remember it
                // so the commit's audit check sees only what remains. An
                // outer rollback covers an inner one, hence the reset.
                self.undone_changes
                    .set(undone + (db.total_changes() - changes_at_start));
                Err(err)
            }
        }
    }

    /// A read view of this unit of work: every reader that [`ReadTx`]
    /// offers, seeing what this unit has written so far. For code written
    /// once for both sides (a report or a lookup run inside or outside a
    /// unit of work), and for the C API's units of work across calls. On
    /// PostgreSQL its audit reader does not show this unit's own entries,
    /// which are inserted at commit; [`audit`](WriteTx::audit) does.
    ///
    /// # Example
    ///
    /// ```
    /// use custdb::{NewCustomer, Store};
    ///
    /// let store = Store::open_in_memory()?;
    /// store.write(|tx| {
    ///     let ann = tx.customers().create(NewCustomer::new("Ann"))?;
    ///     assert_eq!(tx.reads().customers().get(ann.id)?.display_name, "Ann");
    ///     Ok::<_, custdb::Error>(())
    /// })?;
    /// # Ok::<(), custdb::Error>(())
    /// ```
    pub fn reads(&self) -> ReadTx<'_> {
        ReadTx { conn: self.db() }
    }

    /// Whether the transaction is still open. SQLite rolls a whole
    /// transaction back by itself after some I/O and disk-full errors;
    /// from then on this is `false`, nothing of the unit of work remains,
    /// and a closure that caught such an error must return an error too
    /// ([`Store::write`] reports one in any case).
    pub fn is_open(&self) -> bool {
        self.db().in_transaction()
    }

    /// The audit trail, as written so far inside this transaction. On
    /// PostgreSQL, where a unit of work's entries are inserted at commit
    /// (unchained, holding the chain's lock shared) and chained a moment
    /// after it, the first read through this reader inserts them at once
    /// instead, so it sees them; the unit of work then holds the chain's
    /// lock shared until it ends, and the chainer waits for it
    /// (docs/SCALING.md, "The audit chain").
    pub fn audit(&self) -> AuditReader<'_> {
        AuditReader::with_pending(self.db(), &self.pending_audit, self.actor, self.now)
    }

    /// The actor this unit of work is recorded under.
    pub fn actor(&self) -> &Actor {
        self.actor
    }

    /// The transaction time: every row this unit of work stamps carries it.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The SQLite connection, for the domains not yet written against the
    /// engine seam.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) on
    /// another engine.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> Result<&Connection> {
        self.db().as_sqlite("this operation")
    }

    /// The transaction as the repositories see it (the engine seam).
    pub(crate) fn db(&self) -> crate::db::Conn<'_> {
        self.session.conn()
    }

    /// Appends one audit row for a mutation. Every repository method that
    /// changes a row calls this in the same transaction.
    pub(crate) fn audit_change(&self, change: Change<'_>) -> Result<()> {
        self.audit_change_facts(change, None)
    }

    /// [`audit_change`](WriteTx::audit_change) whose change-feed event
    /// carries `facts` (the changed field names are added when `facts`
    /// has none).
    pub(crate) fn audit_change_with(
        &self,
        change: Change<'_>,
        facts: crate::changes::ChangeFacts,
    ) -> Result<()> {
        self.audit_change_facts(change, Some(facts))
    }

    fn audit_change_facts(
        &self,
        change: Change<'_>,
        facts: Option<crate::changes::ChangeFacts>,
    ) -> Result<()> {
        // Every audited change is an event of the change feed, written in
        // the same transaction (docs/CHANGES.md).
        crate::changes::emit_for_audit(self, &change, facts)?;
        if self.db().is_postgres() {
            self.pending_audit
                .borrow_mut()
                .push(crate::audit::PendingEntry::from(change));
        } else {
            crate::audit::append(self.db(), self.actor, self.now, change)?;
        }
        self.audit_rows.set(self.audit_rows.get() + 1);
        Ok(())
    }
}

impl WriteTx<'_> {
    /// Declares `changes` rows written by the change feed's bookkeeping
    /// (a consumer's acknowledgement, pruning): not changes to the store's
    /// records, so they need no audit entry of their own.
    pub(crate) fn bookkeeping(&self, changes: u64) {
        self.undone_changes.set(self.undone_changes.get() + changes);
    }
}

/// A read unit of work: a consistent snapshot, given to the closure of
/// [`Store::read`].
#[derive(Debug)]
pub struct ReadTx<'a> {
    pub(crate) conn: crate::db::Conn<'a>,
}

impl<'a> ReadTx<'a> {
    /// The connection, for the domains' readers.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) on
    /// another engine, for the domains not yet written against the seam.
    pub(crate) fn conn(&self) -> Result<&'a Connection> {
        self.conn.as_sqlite("this operation")
    }

    /// The snapshot as the repositories see it (the engine seam).
    pub(crate) fn db(&self) -> crate::db::Conn<'a> {
        self.conn
    }

    /// The audit trail, read-only.
    pub fn audit(&self) -> AuditReader<'a> {
        AuditReader::new(self.db())
    }
}
