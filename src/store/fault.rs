//! W4: store errors classified by their codes (SQLite's extended result
//! codes, PostgreSQL's SQLSTATEs, the driver's own kinds), never by their
//! message text. Only a fault of the service is INTERNAL. Every INTERNAL,
//! UNAVAILABLE and RESOURCE_EXHAUSTED reply carries an error id that is also
//! in the log line of that failure.

use sea_orm::sqlx::postgres::PgDatabaseError;
use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::sqlx::{self, error::DatabaseError as _};
use sea_orm::{DbErr, RuntimeErr};

use crate::domain::error::new_error_id;
use crate::domain::{Error, ErrorCode, Reason};

/// What a store error means to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The disk is full: RESOURCE_EXHAUSTED.
    Full,
    /// Busy, locked, unreachable, restarting: UNAVAILABLE, retryable.
    Unavailable,
    /// A serialization failure or deadlock: ABORTED, retry the call.
    Conflict,
    /// Anything else is the service's own fault: INTERNAL.
    Internal,
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        let fault = classify(&error);
        if fault == Fault::Conflict {
            tracing::debug!(%error, "store conflict");
            return Error::new(
                ErrorCode::Aborted,
                Reason::StoreConflict,
                "the call conflicted with a concurrent one; retry it",
            );
        }
        let error_id = new_error_id();
        let (code, reason, message) = match fault {
            Fault::Full => {
                tracing::warn!(%error_id, %error, "store disk full");
                (
                    ErrorCode::ResourceExhausted,
                    Reason::StoreFull,
                    "the store's disk is full; retry after space is freed",
                )
            }
            Fault::Unavailable => {
                tracing::warn!(%error_id, %error, "store unavailable");
                (
                    ErrorCode::Unavailable,
                    Reason::StoreUnavailable,
                    "the store is unavailable; retry with backoff",
                )
            }
            _ => {
                tracing::error!(%error_id, %error, "store error");
                (
                    ErrorCode::Internal,
                    Reason::Internal,
                    "the store failed; see the server log",
                )
            }
        };
        Error::new(code, reason, message).with_error_id(&error_id)
    }
}

pub(crate) fn classify(error: &DbErr) -> Fault {
    match error {
        DbErr::ConnectionAcquire(_) => Fault::Unavailable,
        // Failing to reach the store is never the service's fault; a full
        // disk met while connecting is still a full disk.
        DbErr::Conn(RuntimeErr::SqlxError(error)) => match classify_sqlx(error) {
            Fault::Full => Fault::Full,
            _ => Fault::Unavailable,
        },
        DbErr::Conn(_) => Fault::Unavailable,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => classify_sqlx(error),
        _ => Fault::Internal,
    }
}

fn classify_sqlx(error: &sqlx::Error) -> Fault {
    match error {
        sqlx::Error::Database(database) => {
            if let Some(sqlite) = database.try_downcast_ref::<SqliteError>() {
                classify_sqlite(sqlite.code().and_then(|code| code.parse().ok()).unwrap_or_default())
            } else if let Some(inline) = database.try_downcast_ref::<InlineSqliteError>() {
                classify_sqlite(inline.extended)
            } else if let Some(postgres) = database.try_downcast_ref::<PgDatabaseError>() {
                classify_sqlstate(postgres.code())
            } else {
                Fault::Internal
            }
        }
        // The connection broke ("connection reset", "expected to read 5
        // bytes" at EOF when the server went away), or none could be had.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Fault::Unavailable,
        _ => Fault::Internal,
    }
}

/// Whether SQLite refused for a lock another connection holds.
pub(crate) fn is_sqlite_busy(error: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(error))
    | DbErr::Exec(RuntimeErr::SqlxError(error))
    | DbErr::Query(RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    let sqlx::Error::Database(database) = error.as_ref() else {
        return false;
    };
    database
        .try_downcast_ref::<SqliteError>()
        .and_then(|sqlite| sqlite.code())
        .and_then(|code| code.parse::<i32>().ok())
        .or_else(|| {
            database
                .try_downcast_ref::<InlineSqliteError>()
                .map(|inline| inline.extended)
        })
        .is_some_and(|code| code & 0xff == libsqlite3_sys::SQLITE_BUSY)
}

/// A SQLite error of a connection stepped on the caller's thread (the
/// inline writer, `store::inline`), carried as the driver carries its own:
/// a database error with SQLite's extended result code, so that it is
/// classified, and logged, the same way.
#[derive(Debug)]
pub(crate) struct InlineSqliteError {
    extended: i32,
    message: String,
}

impl std::fmt::Display for InlineSqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.extended, self.message)
    }
}

impl std::error::Error for InlineSqliteError {}

impl sqlx::error::DatabaseError for InlineSqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.extended.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use libsqlite3_sys as ffi;
        use sqlx::error::ErrorKind;
        match self.extended {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A rusqlite error as a store error: SQLite's own failures keep their
/// codes; anything else (a value of the wrong type) is the service's fault.
pub(crate) fn from_rusqlite(error: rusqlite::Error) -> DbErr {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let extended = failure.extended_code;
            let message = message.unwrap_or_else(|| failure.to_string());
            let error = sqlx::Error::Database(Box::new(InlineSqliteError { extended, message }));
            DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(error)))
        }
        other => DbErr::Query(RuntimeErr::Internal(other.to_string())),
    }
}

/// By SQLite's primary result code (the low byte of the extended one).
fn classify_sqlite(extended: i32) -> Fault {
    use libsqlite3_sys as ffi;
    match extended & 0xff {
        ffi::SQLITE_FULL => Fault::Full,
        ffi::SQLITE_BUSY
        | ffi::SQLITE_LOCKED
        | ffi::SQLITE_IOERR
        | ffi::SQLITE_CANTOPEN
        | ffi::SQLITE_READONLY
        | ffi::SQLITE_NOMEM
        | ffi::SQLITE_INTERRUPT
        | ffi::SQLITE_PROTOCOL
        | ffi::SQLITE_NOLFS
        | ffi::SQLITE_AUTH => Fault::Unavailable,
        _ => Fault::Internal,
    }
}

/// By PostgreSQL's SQLSTATE (Appendix A of its manual).
fn classify_sqlstate(state: &str) -> Fault {
    match state {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => Fault::Conflict,
        // disk_full
        "53100" => Fault::Full,
        // admin_shutdown, crash_shutdown, cannot_connect_now,
        // query_canceled (statement timeout: the store is overloaded),
        // lock_not_available, read_only_sql_transaction (a standby after a
        // failover), idle_in_transaction_session_timeout
        "57P01" | "57P02" | "57P03" | "57014" | "55P03" | "25006" | "25P03" => Fault::Unavailable,
        // connection_exception, insufficient_resources (too many
        // connections, out of memory), system_error (I/O)
        _ if state.starts_with("08") || state.starts_with("53") || state.starts_with("58") => Fault::Unavailable,
        _ => Fault::Internal,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::*;

    fn query_error(error: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
    }

    #[test]
    fn w4_sqlite_codes() {
        use libsqlite3_sys as ffi;
        assert_eq!(classify_sqlite(ffi::SQLITE_FULL), Fault::Full);
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_BUSY_SNAPSHOT,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_READONLY,
        ] {
            assert_eq!(classify_sqlite(code), Fault::Unavailable, "{code}");
        }
        for code in [
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            ffi::SQLITE_ERROR,
            ffi::SQLITE_MISMATCH,
            ffi::SQLITE_CORRUPT,
        ] {
            assert_eq!(classify_sqlite(code), Fault::Internal, "{code}");
        }
    }

    /// A real SQLite refusal: a second writer that may not wait for the
    /// write lock gets SQLITE_BUSY, which is UNAVAILABLE.
    #[tokio::test]
    async fn w4_sqlite_busy_is_unavailable() {
        use sea_orm::{ConnectionTrait, Database};
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("busy.db").display());
        let holder = Database::connect(&url).await.expect("first connection");
        holder
            .execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .expect("table");
        let mut options = sea_orm::ConnectOptions::new(&url);
        options.map_sqlx_sqlite_opts(|sqlite| sqlite.busy_timeout(std::time::Duration::ZERO));
        let waiter = Database::connect(options).await.expect("second connection");
        let txn = sea_orm::TransactionTrait::begin(&holder).await.expect("begin");
        txn.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .expect("insert");
        let error = waiter
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .expect_err("the write lock is held");
        assert!(is_sqlite_busy(&error), "{error}");
        assert_eq!(classify(&error), Fault::Unavailable, "{error}");
        txn.rollback().await.expect("rollback");
    }

    #[test]
    fn w4_postgres_sqlstates() {
        assert_eq!(classify_sqlstate("40001"), Fault::Conflict);
        assert_eq!(classify_sqlstate("40P01"), Fault::Conflict);
        assert_eq!(classify_sqlstate("53100"), Fault::Full);
        for state in [
            "08006", "08001", "57P01", "57P02", "57P03", "53300", "53200", "57014", "58030",
        ] {
            assert_eq!(classify_sqlstate(state), Fault::Unavailable, "{state}");
        }
        for state in ["23505", "42P01", "22001", "XX000"] {
            assert_eq!(classify_sqlstate(state), Fault::Internal, "{state}");
        }
    }

    #[test]
    fn w4_driver_errors() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "expected to read 5 bytes");
        assert_eq!(classify(&query_error(sqlx::Error::Io(reset))), Fault::Unavailable);
        assert_eq!(classify(&query_error(sqlx::Error::Io(eof))), Fault::Unavailable);
        assert_eq!(
            classify(&query_error(sqlx::Error::Protocol("unexpected message".into()))),
            Fault::Unavailable
        );
        assert_eq!(classify(&query_error(sqlx::Error::PoolTimedOut)), Fault::Unavailable);
        assert_eq!(classify(&query_error(sqlx::Error::PoolClosed)), Fault::Unavailable);
        assert_eq!(
            classify(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            Fault::Unavailable
        );
        assert_eq!(classify(&query_error(sqlx::Error::RowNotFound)), Fault::Internal);
        assert_eq!(classify(&DbErr::Type("bad".into())), Fault::Internal);
    }

    /// Log lines written while `f` runs.
    fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let buffer = buffer.clone();
            move || LogWriter(buffer.clone())
        };
        let subscriber = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).finish();
        let value = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.lock().expect("log buffer").clone()).expect("utf-8 log");
        (value, text)
    }

    struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for LogWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn w4_replies_carry_the_logged_error_id() {
        for (error, code) in [
            (query_error(sqlx::Error::PoolTimedOut), ErrorCode::Unavailable),
            (query_error(sqlx::Error::RowNotFound), ErrorCode::Internal),
        ] {
            let (error, log) = logged(|| Error::from(error));
            assert_eq!(error.code, code);
            let id = error
                .metadata
                .iter()
                .find(|(key, _)| key == "error_id")
                .map(|(_, id)| id.clone())
                .expect("an error id");
            assert!(error.message.contains(&id), "{}", error.message);
            assert!(log.contains(&id), "{log}");
        }
        let (error, log) = logged(|| Error::internal("a broken invariant"));
        let id = &error
            .metadata
            .iter()
            .find(|(key, _)| key == "error_id")
            .expect("an error id")
            .1;
        assert!(
            error.message.contains(id.as_str()) && log.contains(id.as_str()),
            "{log}"
        );
    }
}
