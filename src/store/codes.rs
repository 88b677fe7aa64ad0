//! I3: invitation codes at rest. A code is the secret that accepts an
//! invitation, so the store never keeps it in the clear: its SHA-256 is
//! what a presented code is looked up by, and the code itself is kept only
//! sealed under the server's key, for the inviter and the named reseller
//! who read it back to forward the link (I4). A copy of the database alone
//! neither accepts an invitation nor shows its link.
//!
//! Rows written before m0011 hold the code in the clear with no hash; a
//! lookup still finds them, and a serving process seals them at start-up
//! (`Store::seal_legacy_codes`).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use sha2::{Digest, Sha256};

use super::Store;
use super::entity::relationship_request;
use crate::domain::model::RelationshipRequest;
use crate::domain::ports::SecretBox;
use crate::domain::{Error, Result};

/// The hash's format, so that a later one can be told apart.
const HASH_PREFIX: &str = "sha256:";
/// What a sealed code is bound to besides its invitation's id: no webhook
/// endpoint's secret (bound to the endpoint's id alone) opens as a code.
const CONTEXT_PREFIX: &str = "relationship_request/";
/// Rows sealed per read at start-up.
const LEGACY_BATCH: u64 = 500;

/// I3: the hash a code is stored and looked up by. Codes carry 256 random
/// bits, so a fast unsalted hash is as strong as the code itself.
pub(super) fn code_hash(code: &str) -> String {
    format!(
        "{HASH_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(code.as_bytes()))
    )
}

/// I3: the rows holding `code`: by its hash, or in the clear where the row
/// is not sealed yet.
pub(super) fn holding(code: &str) -> Condition {
    use relationship_request::Column;
    Condition::any().add(Column::CodeHash.eq(code_hash(code))).add(
        Condition::all()
            .add(Column::CodeHash.is_null())
            .add(Column::Code.eq(code)),
    )
}

fn context(invitation_id: &str) -> String {
    format!("{CONTEXT_PREFIX}{invitation_id}")
}

/// The server's sealer, once the serving process hands it over.
#[derive(Clone, Default)]
pub(super) struct InvitationCodes {
    sealer: Option<Arc<dyn SecretBox>>,
}

impl InvitationCodes {
    pub(super) fn new(sealer: Arc<dyn SecretBox>) -> Self {
        Self { sealer: Some(sealer) }
    }

    /// The columns of a new invitation's code: (sealed code, hash).
    pub(super) fn seal(&self, invitation_id: &str, code: &str) -> Result<(String, String)> {
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            Error::internal("this store was opened without the sealing key, so it cannot keep an invitation's code")
        })?;
        let sealed = sealer.seal(code, &context(invitation_id)).map_err(Error::internal)?;
        Ok((sealed, code_hash(code)))
    }

    /// The invitation of `row` with its code: opened if sealed, as stored
    /// if not. A code this server's key does not open leaves the
    /// invitation without one (no link): it can still be accepted with
    /// the code its inviter holds, and reads go on.
    pub(super) fn reveal(&self, row: relationship_request::Model) -> Result<RelationshipRequest> {
        let sealed = row.code_hash.is_some().then(|| row.code.clone());
        let mut invitation = RelationshipRequest::try_from(row)?;
        if let Some(sealed) = sealed {
            invitation.code = match &self.sealer {
                Some(sealer) => sealer.open(&sealed, &context(&invitation.id)).unwrap_or_else(|why| {
                    tracing::warn!(
                        invitation = %invitation.id,
                        "an invitation's code does not open ({why}): this server's sealing key (webhook_secret_key, or else the token secret) is not the one that sealed it; the invitation is shown without its code"
                    );
                    String::new()
                }),
                None => String::new(),
            };
        }
        Ok(invitation)
    }
}

impl Store {
    /// I3: seals the codes of rows written before m0011, each in an update
    /// conditional on its row still being unsealed, so that replicas
    /// starting together seal each once. How many this process sealed.
    pub async fn seal_legacy_codes(&self) -> Result<u64> {
        use relationship_request::Column;
        let mut sealed = 0;
        loop {
            let rows: Vec<(String, String)> = relationship_request::Entity::find()
                .select_only()
                .column(Column::Id)
                .column(Column::Code)
                .filter(Column::CodeHash.is_null())
                .limit(LEGACY_BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            if rows.is_empty() {
                return Ok(sealed);
            }
            for (id, code) in rows {
                let (sealed_code, hash) = self.codes.seal(&id, &code)?;
                let done = relationship_request::Entity::update_many()
                    .col_expr(Column::Code, Expr::value(sealed_code))
                    .col_expr(Column::CodeHash, Expr::value(hash))
                    .filter(Column::Id.eq(id.as_str()))
                    .filter(Column::CodeHash.is_null())
                    .exec(&self.db)
                    .await?;
                sealed += done.rows_affected;
            }
        }
    }
}
