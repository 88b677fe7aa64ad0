//! Write transactions on a SQLite file, stepped on the caller's thread.
//!
//! The driver runs every statement on its connection's own thread: a
//! hand-off there and back, two thread wake-ups, per statement. A write
//! transaction is a chain of twenty-odd statements under the write turn,
//! so those wake-ups, not SQLite's work, set how many writes commit per
//! second. Here the whole transaction runs on one connection that the
//! writer steps directly: the statements sea-orm builds, bound and read
//! back as the driver would, with errors carrying SQLite's codes for
//! W4's classification.
//!
//! Only the holder of the write turn uses the connection, one statement
//! at a time. A statement never waits on a lock here (the write lock is
//! taken at BEGIN, which retries without blocking the thread); what it
//! may block on is the disk, as the COMMIT's fsync that W4 needs.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, ExecResult, MockDatabase, MockDatabaseTrait, MockExecResult, QueryResult,
    Statement, Value,
};

use super::fault::from_rusqlite;

/// How long BEGIN waits for another connection's write lock at most: the
/// pool's busy timeout.
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// A statement that finds the store locked after BEGIN (a checkpoint of
/// another process, WAL recovery) waits this long on the thread at most.
const STATEMENT_BUSY: Duration = Duration::from_millis(200);
/// Prepared statements kept (the writes' statements, a few IN-list lengths).
const STATEMENT_CACHE: usize = 128;

/// The write connection of a SQLite file store.
pub(super) struct InlineWriter {
    connection: Mutex<Connection>,
}

impl InlineWriter {
    /// Opens the store's file (created and migrated already) with the
    /// pool's settings: WAL, synchronous=FULL, foreign keys.
    pub(super) fn open(path: &Path, cache_mib: u32) -> Result<Self, DbErr> {
        // NO_MUTEX: only used under `connection`'s lock.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(from_rusqlite)?;
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -{};",
                u64::from(cache_mib.max(1)) * 1024
            ))
            .map_err(from_rusqlite)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(InlineWriter {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, DbErr> {
        // A panic while stepping leaves SQLite consistent; the transaction
        // it was in is rolled back by the next BEGIN.
        Ok(self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// BEGIN IMMEDIATE: the write lock at once, or, while another
    /// connection (a replica, a delivery write on the pool) holds it,
    /// retried with sleeps that leave the thread to other tasks.
    pub(super) async fn begin(self: &Arc<Self>) -> Result<InlineTxn, DbErr> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            match self.try_begin() {
                Ok(()) => {
                    return Ok(InlineTxn {
                        writer: self.clone(),
                        open: true,
                    });
                }
                Err(error) if super::fault::is_sqlite_busy(&error) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn try_begin(&self) -> Result<(), DbErr> {
        let connection = self.lock()?;
        if !connection.is_autocommit() {
            // A transaction a failed COMMIT left open (W4): never build on it.
            connection.execute_batch("ROLLBACK").map_err(from_rusqlite)?;
        }
        connection.busy_timeout(Duration::ZERO).map_err(from_rusqlite)?;
        connection.execute_batch("BEGIN IMMEDIATE").map_err(from_rusqlite)?;
        connection.busy_timeout(STATEMENT_BUSY).map_err(from_rusqlite)
    }
}

/// One write transaction on the inline connection. Dropped without a
/// commit, it rolls back.
pub struct InlineTxn {
    writer: Arc<InlineWriter>,
    /// Until COMMIT or ROLLBACK was attempted.
    open: bool,
}

impl InlineTxn {
    pub(super) fn commit(mut self) -> Result<(), DbErr> {
        self.open = false;
        let connection = self.writer.lock()?;
        let result = connection.execute_batch("COMMIT").map_err(from_rusqlite);
        if result.is_err() && !connection.is_autocommit() {
            // SQLite keeps the transaction after some failed COMMITs (a full
            // disk): end it, so nothing of it can be committed later.
            let _ = connection.execute_batch("ROLLBACK");
        }
        result
    }

    pub(super) fn rollback(mut self) -> Result<(), DbErr> {
        self.open = false;
        let connection = self.writer.lock()?;
        if connection.is_autocommit() {
            // SQLite ended it already (an I/O error rolls back by itself).
            return Ok(());
        }
        connection.execute_batch("ROLLBACK").map_err(from_rusqlite)
    }

    fn execute(&self, statement: &Statement) -> Result<ExecResult, DbErr> {
        let connection = self.writer.lock()?;
        let mut prepared = match connection.prepare_cached(&statement.sql) {
            Ok(prepared) => prepared,
            // Several statements in one string (unprepared SQL only).
            Err(rusqlite::Error::MultipleStatement) if statement.values.is_none() => {
                connection.execute_batch(&statement.sql).map_err(from_rusqlite)?;
                return exec_result(&connection);
            }
            Err(error) => return Err(from_rusqlite(error)),
        };
        bind(&mut prepared, statement)?;
        prepared.raw_execute().map_err(from_rusqlite)?;
        exec_result(&connection)
    }

    fn query(&self, statement: &Statement, first_only: bool) -> Result<Vec<QueryResult>, DbErr> {
        let connection = self.writer.lock()?;
        let mut prepared = connection.prepare_cached(&statement.sql).map_err(from_rusqlite)?;
        bind(&mut prepared, statement)?;
        let columns: Vec<(String, Kind)> = prepared
            .columns()
            .iter()
            .map(|column| (column.name().to_owned(), Kind::of(column.name(), column.decl_type())))
            .collect();
        let mut rows = prepared.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(from_rusqlite)? {
            let mut values = BTreeMap::new();
            for (index, (name, kind)) in columns.iter().enumerate() {
                let value = row.get_ref(index).map_err(from_rusqlite)?;
                values.insert(name.clone(), kind.value(value)?);
            }
            out.push(values);
            if first_only {
                break;
            }
        }
        query_results(out)
    }
}

impl Drop for InlineTxn {
    fn drop(&mut self) {
        if self.open
            && let Ok(connection) = self.writer.lock()
            && !connection.is_autocommit()
            && let Err(error) = connection.execute_batch("ROLLBACK")
        {
            // The next BEGIN rolls it back first.
            tracing::warn!(%error, "rolling back an abandoned write failed");
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for InlineTxn {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.execute(&statement)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.execute(&Statement::from_string(DbBackend::Sqlite, sql))
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        Ok(self.query(&statement, true)?.into_iter().next())
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.query(&statement, false)
    }
}

// sea-orm 2.0.4 makes its `QueryResult` and `ExecResult` only of its own
// drivers' results or of those its `MockDatabase` hands out (the proxy
// rows meant for other drivers do not compile beside sqlx-sqlite in this
// release). The rows read here are handed over through the latter: a
// database of one prepared answer, taken at once, with the values SQLite
// returned. Nothing else of it is used.

fn query_results(rows: Vec<BTreeMap<String, Value>>) -> Result<Vec<QueryResult>, DbErr> {
    let mut answer = MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]);
    answer.query(0, Statement::from_string(DbBackend::Sqlite, String::new()))
}

fn exec_result(connection: &Connection) -> Result<ExecResult, DbErr> {
    let result = MockExecResult {
        last_insert_id: connection.last_insert_rowid().max(0) as u64,
        rows_affected: connection.changes(),
    };
    let mut answer = MockDatabase::new(DbBackend::Sqlite).append_exec_results([result]);
    answer.execute(0, Statement::from_string(DbBackend::Sqlite, String::new()))
}

/// Binds the statement's values by position: sea-orm's `?` and the raw
/// statements' `?n` both number them from 1 in the order of `values`.
fn bind(prepared: &mut rusqlite::Statement<'_>, statement: &Statement) -> Result<(), DbErr> {
    let Some(values) = &statement.values else {
        return Ok(());
    };
    for (index, value) in values.0.iter().enumerate() {
        prepared
            .raw_bind_parameter(index + 1, Bound(value))
            .map_err(from_rusqlite)?;
    }
    Ok(())
}

/// A sea-query value as SQLite stores it (as the driver binds it).
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        let integer = |value: Option<i64>| ToSqlOutput::Owned(value.map_or(Owned::Null, Owned::Integer));
        Ok(match self.0 {
            Value::Bool(value) => integer(value.map(i64::from)),
            Value::TinyInt(value) => integer(value.map(i64::from)),
            Value::SmallInt(value) => integer(value.map(i64::from)),
            Value::Int(value) => integer(value.map(i64::from)),
            Value::BigInt(value) => integer(*value),
            Value::TinyUnsigned(value) => integer(value.map(i64::from)),
            Value::SmallUnsigned(value) => integer(value.map(i64::from)),
            Value::Unsigned(value) => integer(value.map(i64::from)),
            Value::BigUnsigned(value) => match value {
                Some(value) => {
                    integer(Some(i64::try_from(*value).map_err(|error| {
                        rusqlite::Error::ToSqlConversionFailure(Box::new(error))
                    })?))
                }
                None => integer(None),
            },
            Value::Float(value) => ToSqlOutput::Owned(value.map_or(Owned::Null, |v| Owned::Real(f64::from(v)))),
            Value::Double(value) => ToSqlOutput::Owned(value.map_or(Owned::Null, Owned::Real)),
            Value::String(value) => match value {
                Some(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
                None => ToSqlOutput::Owned(Owned::Null),
            },
            Value::Char(value) => ToSqlOutput::Owned(value.map_or(Owned::Null, |c| Owned::Text(c.to_string()))),
            Value::Bytes(value) => match value {
                Some(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
                None => ToSqlOutput::Owned(Owned::Null),
            },
            #[allow(unreachable_patterns)]
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("no SQLite binding for {other:?}").into(),
                ));
            }
        })
    }
}

/// What a result column holds, as sea-orm reads it back: the variant of
/// `Value` the model's field type takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Int32,
    Int64,
    Text,
    Real,
    Blob,
    /// An expression (a count, a CAST): by what SQLite returns.
    Dynamic,
}

impl Kind {
    /// By the declared type of the table's column, as SQLite's affinity
    /// rules read it; integer columns of `i32` fields by their names.
    fn of(name: &str, declared: Option<&str>) -> Kind {
        let Some(declared) = declared else {
            return Kind::Dynamic;
        };
        let declared = declared.to_ascii_lowercase();
        if declared.contains("bool") {
            Kind::Bool
        } else if declared.contains("int") {
            if int32_columns().contains(name) {
                Kind::Int32
            } else {
                Kind::Int64
            }
        } else if declared.contains("char") || declared.contains("text") || declared.contains("clob") {
            Kind::Text
        } else if declared.contains("real") || declared.contains("floa") || declared.contains("doub") {
            Kind::Real
        } else if declared.contains("blob") {
            Kind::Blob
        } else {
            Kind::Dynamic
        }
    }

    fn value(self, value: ValueRef<'_>) -> Result<Value, DbErr> {
        Ok(match (self, value) {
            (Kind::Bool, ValueRef::Null) => Value::Bool(None),
            (Kind::Int32, ValueRef::Null) => Value::Int(None),
            (Kind::Int64 | Kind::Dynamic, ValueRef::Null) => Value::BigInt(None),
            (Kind::Text, ValueRef::Null) => Value::String(None),
            (Kind::Real, ValueRef::Null) => Value::Double(None),
            (Kind::Blob, ValueRef::Null) => Value::Bytes(None),
            (Kind::Bool, ValueRef::Integer(i)) => Value::Bool(Some(i != 0)),
            (Kind::Int32, ValueRef::Integer(i)) => Value::Int(Some(
                i32::try_from(i).map_err(|_| DbErr::Type(format!("{i} does not fit a 32-bit column")))?,
            )),
            (Kind::Text, ValueRef::Integer(i)) => Value::String(Some(i.to_string())),
            (_, ValueRef::Integer(i)) => Value::BigInt(Some(i)),
            (_, ValueRef::Real(r)) => Value::Double(Some(r)),
            (_, ValueRef::Text(text)) => Value::String(Some(
                std::str::from_utf8(text)
                    .map_err(|error| DbErr::Type(format!("a text column is not UTF-8: {error}")))?
                    .to_owned(),
            )),
            (_, ValueRef::Blob(bytes)) => Value::Bytes(Some(bytes.to_vec())),
        })
    }
}

/// The names of the entities' 32-bit integer columns (SQLite declares
/// them `integer` as it does the 64-bit ones; the model's field needs
/// `Value::Int`). Each name is 32-bit in every table that has it (tested).
fn int32_columns() -> &'static HashSet<&'static str> {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        integer_columns()
            .into_iter()
            .filter(|(_, wide)| !wide)
            .map(|(name, _)| name)
            .collect()
    })
}

/// Every integer column of the entities: (name, whether 64-bit).
fn integer_columns() -> Vec<(&'static str, bool)> {
    use sea_orm::{ColumnTrait, ColumnType, IdenStatic, Iterable};

    use super::entity::*;
    let mut columns = Vec::new();
    macro_rules! of {
        ($($entity:ident),* $(,)?) => {$(
            for column in $entity::Column::iter() {
                match column.def().get_column_type() {
                    ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => {
                        columns.push((column.as_str(), false))
                    }
                    ColumnType::BigInteger => columns.push((column.as_str(), true)),
                    _ => {}
                }
            }
        )*};
    }
    of!(
        partner,
        partner_link,
        customer,
        subscription,
        relationship_request,
        invitation_acceptance,
        relationship,
        grant,
        transfer,
        security_group,
        access_assignment,
        webhook_endpoint,
        webhook_delivery,
        event,
        event_audience,
        request_record,
        outbox,
    );
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn w4_integer_column_names_are_one_width_everywhere() {
        let columns = integer_columns();
        let narrow = int32_columns();
        assert!(narrow.contains("quantity"), "{narrow:?}");
        for (name, wide) in &columns {
            assert!(
                !(*wide && narrow.contains(name)),
                "{name} is 64-bit in one table and 32-bit in another: the inline writer reads it by name"
            );
        }
    }

    #[test]
    fn w4_values_read_back_as_the_models_take_them() {
        assert_eq!(Kind::of("quantity", Some("integer")), Kind::Int32);
        assert_eq!(Kind::of("create_time", Some("integer")), Kind::Int64);
        assert_eq!(Kind::of("auto_extend", Some("boolean")), Kind::Bool);
        assert_eq!(Kind::of("id", Some("varchar")), Kind::Text);
        assert_eq!(Kind::of("num_items", None), Kind::Dynamic);
        assert_eq!(Kind::Bool.value(ValueRef::Integer(1)).unwrap(), Value::Bool(Some(true)));
        assert_eq!(Kind::Int32.value(ValueRef::Integer(7)).unwrap(), Value::Int(Some(7)));
        assert!(Kind::Int32.value(ValueRef::Integer(i64::MAX)).is_err());
        assert_eq!(
            Kind::Dynamic.value(ValueRef::Integer(3)).unwrap(),
            Value::BigInt(Some(3))
        );
        assert_eq!(Kind::Text.value(ValueRef::Null).unwrap(), Value::String(None));
    }
}
