//! The queue of this process's writers before the database's write lock,
//! and the transaction a writer gets at its turn.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedMutexGuard;

use super::inline::{InlineTxn, InlineWriter};

/// Writers of this process queue here, in arrival order, before they take
/// the database's write lock. SQLite's busy handler would otherwise make
/// them poll with sleeps of up to 100 ms; and a waiting writer holds no pool
/// connection. Writers of other processes still queue in the database
/// (busy timeout on SQLite, the counter row lock on PostgreSQL).
#[derive(Clone, Default)]
pub struct WriteGate(Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    /// Begins a write transaction on a pool connection (IMMEDIATE on
    /// SQLite: the write lock is taken at BEGIN, so writers never fail at
    /// COMMIT) once it is this writer's turn. The turn ends when the
    /// returned guard is dropped.
    ///
    /// W4: the pool hands out only connections outside any transaction
    /// (see `store::connect`), so this is always a real BEGIN, never a
    /// SAVEPOINT inside a transaction a failed COMMIT left behind.
    pub async fn begin(
        &self,
        db: &DatabaseConnection,
    ) -> std::result::Result<(DatabaseTransaction, OwnedMutexGuard<()>), DbErr> {
        let turn = self.0.clone().lock_owned().await;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = db.begin_with_options(options).await?;
        Ok((txn, turn))
    }

    /// Begins a write transaction at this writer's turn: on the SQLite
    /// file's inline connection when the store has one, else on the pool.
    pub(super) async fn begin_write(
        &self,
        db: &DatabaseConnection,
        inline: Option<&Arc<InlineWriter>>,
    ) -> std::result::Result<(WriteConn, OwnedMutexGuard<()>), DbErr> {
        match inline {
            Some(writer) => {
                let turn = self.0.clone().lock_owned().await;
                Ok((WriteConn::Inline(writer.begin().await?), turn))
            }
            None => {
                let (txn, turn) = self.begin(db).await?;
                Ok((WriteConn::Pool(txn), turn))
            }
        }
    }
}

/// A write transaction: on a pool connection (PostgreSQL, in-memory
/// SQLite), or on a SQLite file's inline connection (`store::inline`).
pub enum WriteConn {
    Pool(DatabaseTransaction),
    Inline(InlineTxn),
}

impl WriteConn {
    pub(super) async fn commit(self) -> std::result::Result<(), DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.commit().await,
            WriteConn::Inline(txn) => txn.commit(),
        }
    }

    pub(super) async fn rollback(self) -> std::result::Result<(), DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.rollback().await,
            WriteConn::Inline(txn) => txn.rollback(),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteConn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            WriteConn::Pool(txn) => txn.get_database_backend(),
            WriteConn::Inline(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, statement: Statement) -> std::result::Result<ExecResult, DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.execute_raw(statement).await,
            WriteConn::Inline(txn) => txn.execute_raw(statement).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.execute_unprepared(sql).await,
            WriteConn::Inline(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, statement: Statement) -> std::result::Result<Option<QueryResult>, DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.query_one_raw(statement).await,
            WriteConn::Inline(txn) => txn.query_one_raw(statement).await,
        }
    }

    async fn query_all_raw(&self, statement: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        match self {
            WriteConn::Pool(txn) => txn.query_all_raw(statement).await,
            WriteConn::Inline(txn) => txn.query_all_raw(statement).await,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            WriteConn::Pool(txn) => txn.support_returning(),
            WriteConn::Inline(txn) => txn.support_returning(),
        }
    }
}
