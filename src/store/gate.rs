//! The queue of this process's writers before the database's write lock.

use std::sync::Arc;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedMutexGuard;

/// Writers of this process queue here, in arrival order, before they take
/// the database's write lock. SQLite's busy handler would otherwise make
/// them poll with sleeps of up to 100 ms; and a waiting writer holds no pool
/// connection. Writers of other processes still queue in the database
/// (busy timeout on SQLite, the counter row lock on PostgreSQL).
#[derive(Clone, Default)]
pub struct WriteGate(Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    /// Begins a write transaction (IMMEDIATE on SQLite: the write lock is
    /// taken at BEGIN, so writers never fail at COMMIT) once it is this
    /// writer's turn. The turn ends when the returned guard is dropped.
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
}
