//! The consequences of one service's write that another service's rows
//! carry (docs/rules.md, Deployment): C1's creator relationship and DAP and
//! S1's ADVISOR relationship (written for the CustomerService's writes),
//! and D2 when a provider or a link is restored (for the PartnerService's).
//! All three belong to the RelationshipService, which carries them out:
//! inside the write's own transaction in the embedded deployment, through
//! the outbox in the split one. Plain data, stored as JSON in the outbox.

use serde::{Deserialize, Serialize};

use super::model::Subscription;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Consequence {
    /// C1: the creator of a tenant gets a RESELLER relationship and DAP
    /// (`rules::creator_rights`); a provider naming its reseller gets the
    /// relationship and the reseller an INDIRECT_RESELLER one and the DAP.
    CreatorRights {
        customer_id: String,
        creator_id: String,
        reseller_id: Option<String>,
    },
    /// S1: an ADVISOR subscription gives its partner an ADVISOR
    /// relationship if it has none (`rules::advisor_relationship`).
    AdvisorRelationship { subscription: Subscription },
    /// D2: the resellers' ACTIVE relationships through this provider
    /// transact again (the provider reinstated, or a link made), and where
    /// they hold grants, those win.
    Reinstated {
        provider_id: String,
        reseller_ids: Vec<String>,
    },
}

impl Consequence {
    /// E2: the partners that may VIEW a customer once this is carried out,
    /// so that the events of the write that caused it have the audience
    /// they would have had with the consequence in the same transaction.
    pub fn new_viewers(&self) -> Vec<(&str, &str)> {
        match self {
            Consequence::CreatorRights {
                customer_id,
                creator_id,
                reseller_id,
            } => std::iter::once(creator_id.as_str())
                .chain(reseller_id.as_deref())
                .map(|partner_id| (customer_id.as_str(), partner_id))
                .collect(),
            Consequence::AdvisorRelationship { subscription } => subscription
                .partner_of_record_id
                .as_deref()
                .filter(|_| subscription.channel == super::model::Channel::Advisor)
                .map(|partner_id| (subscription.customer_id.as_str(), partner_id))
                .into_iter()
                .collect(),
            Consequence::Reinstated { .. } => Vec::new(),
        }
    }
}
