//! One-row write transactions on a scratch table, for `bench`: what the
//! store can commit with the service's durability, before any of the
//! service's own work.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::{StoreOptions, WriteGate, connect};

pub struct CommitProbe {
    db: DatabaseConnection,
    gate: WriteGate,
}

impl CommitProbe {
    /// Opens its own pool and creates the scratch table if missing.
    pub async fn open(options: &StoreOptions) -> Result<Self, DbErr> {
        let db = connect(options).await?;
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)",
        )
        .await?;
        Ok(CommitProbe {
            db,
            gate: WriteGate::default(),
        })
    }

    /// One commit, begun as the service's writes are: in turn, IMMEDIATE.
    pub async fn commit_one(&self) -> Result<(), DbErr> {
        let (txn, _turn) = self.gate.begin(&self.db).await?;
        txn.execute_unprepared("INSERT INTO bench_commit (payload) VALUES ('bench')")
            .await?;
        txn.commit().await
    }
}
