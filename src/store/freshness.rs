//! A3's freshness read on a SQLite file store, made on the calling thread.
//!
//! Every other statement goes through the driver, which runs each one on
//! its connection's own thread: a hand-off there and back, two thread
//! wake-ups, for a read that takes SQLite a few microseconds. Checks wait
//! for this read, so it gets a connection of its own that the caller
//! steps directly (one row of one page, never a write, never a wait).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

/// The counter read, prepared once.
const COUNTER: &str = "SELECT value FROM event_counter WHERE id = 1";

pub(super) struct InlineCounter {
    // One reader at a time: the barrier's turn already orders them, so the
    // lock is never contended for long.
    connection: Mutex<Connection>,
}

impl InlineCounter {
    /// Opens the store's file (already created and migrated) for reads.
    /// None if it cannot: the pool's connection reads the counter instead.
    pub(super) fn open(path: &Path) -> Option<Self> {
        // NO_MUTEX: this connection is only used under `connection`'s lock.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)
            .inspect_err(|error| tracing::debug!(%error, "no inline freshness reads; the pool reads the counter"))
            .ok()?;
        // A busy store (a WAL being recovered) answers at once, and the
        // pool's connection, which waits, takes that read instead.
        connection.busy_timeout(std::time::Duration::ZERO).ok()?;
        // It reads one page; it never writes.
        connection.pragma_update(None, "query_only", true).ok()?;
        connection.pragma_update(None, "cache_size", -64).ok()?;
        // The table must be there, or every read would fall back.
        let counter = InlineCounter {
            connection: Mutex::new(connection),
        };
        counter.read()?;
        Some(counter)
    }

    /// The committed `seq`, or None if SQLite could not answer here and now
    /// (busy, an I/O error): the caller then reads it through the pool,
    /// whose errors say what went wrong.
    pub(super) fn read(&self) -> Option<i64> {
        let connection = self.connection.lock().ok()?;
        let mut statement = connection.prepare_cached(COUNTER).ok()?;
        statement.query_row([], |row| row.get(0)).ok()
    }
}
