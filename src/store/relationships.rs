//! Relationship requests, relationships and delegated admin grants: the
//! queries and writes of RelationshipService (D2 itself is decided in the service).

use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::access::load_facts_batch;
use super::codes::{self, InvitationCodes};
use super::convert::{all, grant_row, relationship_request_row, relationship_row};
use super::entity::{grant, invitation_acceptance, relationship, relationship_request, subscription};
use super::{Store, WriteTx};
use crate::domain::access::{AccessQuery, Action};
use crate::domain::model::*;
use crate::domain::paging::PageRequest;
use crate::domain::{Result, rules};

#[derive(Clone, Debug, Default)]
pub struct InvitationFilter {
    pub inviting_partner_id: Option<String>,
    pub indirect_reseller_id: Option<String>,
    /// Stored state; an ACTIVE one past its expiry is listed as EXPIRED once
    /// the sweep has run.
    pub state: Option<InvitationState>,
    /// I4: only invitations this partner sent or that name it.
    pub party: Option<String>,
}

/// G1: which grants a list holds (None: not filtered).
#[derive(Clone, Debug, Default)]
pub struct GrantFilter {
    pub customer_id: Option<String>,
    /// Some(empty): none at all.
    pub partner_ids: Option<Vec<String>>,
    pub service: Option<Service>,
    pub state: Option<GrantState>,
    /// (now, until): grants in force whose effective end is after now and
    /// at most until.
    pub expiring_by: Option<(Micros, Micros)>,
    /// Only on customers this partner may VIEW (A1).
    pub viewable_by: Option<String>,
}

/// What a grant gives: one service, its roles (R1; its scopes follow from
/// them), and its term (D1, D4).
#[derive(Clone, Debug)]
pub struct GrantTerms {
    pub service: Service,
    pub roles: Vec<Role>,
    pub end_time: Option<Micros>,
    pub auto_extend: bool,
}

/// Who sees which relationships and grants of a customer (M2).
#[derive(Clone, Debug)]
pub enum RelationshipView {
    /// Customer admin, operator, service: everything, ended rows too.
    All,
    /// A partner: its own rows and those of its counterparts in the same
    /// indirect chain, ACTIVE only.
    Partner(ChainView),
}

/// A partner and its counterparts in the indirect chains on one customer.
#[derive(Clone, Debug, Default)]
pub struct ChainView {
    pub partner_id: String,
    /// The providers it resells for on this customer.
    pub providers: Vec<String>,
    /// The resellers working through it on this customer.
    pub resellers: Vec<String>,
}

/// G1 in SQL: ACTIVE grants whose effective end (D4: end_time, or for an
/// auto_extend grant past it, end_time plus the fewest 180-day periods
/// that put it after `now`) is after `now` and at most `until`. For an
/// auto_extend grant past its end_time, some extended end falls in
/// (now, until] exactly when `until` is in a later period than `now`,
/// counted from end_time, which is how `DelegatedAdminGrant::extended_end`
/// counts.
fn expiring(now: Micros, until: Micros) -> Condition {
    use grant::Column;
    use sea_orm::sea_query::{Expr, ExprTrait};
    let period = |at: Micros| Expr::val(at).sub(Expr::col(Column::EndTime)).div(AUTO_EXTEND_PERIOD);
    Condition::all()
        .add(Column::State.eq(GrantState::Active.as_str()))
        .add(Column::EndTime.is_not_null())
        .add(
            Condition::any()
                .add(Column::EndTime.gt(now).and(Column::EndTime.lte(until)))
                .add(
                    Condition::all()
                        .add(Column::AutoExtend.eq(true))
                        .add(Column::EndTime.lte(now))
                        .add(period(until).gt(period(now))),
                ),
        )
}

async fn find_invitation<C: ConnectionTrait>(
    db: &C,
    codes: &InvitationCodes,
    id: &str,
) -> Result<Option<RelationshipRequest>> {
    relationship_request::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(|row| codes.reveal(row))
        .transpose()
}

async fn find_grant<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<DelegatedAdminGrant>> {
    grant::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(DelegatedAdminGrant::try_from)
        .transpose()
}

fn split_ids(text: &str) -> Vec<String> {
    text.split(',').filter(|id| !id.is_empty()).map(str::to_owned).collect()
}

impl Store {
    pub async fn invitation(&self, id: &str) -> Result<Option<RelationshipRequest>> {
        find_invitation(&self.db, &self.codes, id).await
    }

    /// Whether any invitation has this code, read outside any write: codes
    /// are never deleted, so "no" stays true and may refuse early (W1).
    pub async fn invitation_code_exists(&self, code: &str) -> Result<bool> {
        Ok(relationship_request::Entity::find()
            .select_only()
            .column(relationship_request::Column::Id)
            .filter(codes::holding(code))
            .into_tuple::<String>()
            .one(&self.db)
            .await?
            .is_some())
    }

    pub async fn grant(&self, id: &str) -> Result<Option<DelegatedAdminGrant>> {
        find_grant(&self.db, id).await
    }

    /// G1: a page of grants in id order.
    pub async fn list_grants(&self, filter: &GrantFilter, page: &PageRequest) -> Result<Vec<DelegatedAdminGrant>> {
        use grant::Column;
        if filter.partner_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut query = grant::Entity::find();
        if let Some(id) = &filter.customer_id {
            query = query.filter(Column::CustomerId.eq(id.as_str()));
        }
        if let Some(ids) = &filter.partner_ids {
            query = query.filter(Column::PartnerId.is_in(ids.iter().map(String::as_str)));
        }
        if let Some(service) = filter.service {
            query = query.filter(Column::Service.eq(service.as_str()));
        }
        if let Some(state) = filter.state {
            query = query.filter(Column::State.eq(state.as_str()));
        }
        let now = self.now();
        if let Some(partner_id) = &filter.viewable_by {
            query = query.filter(super::customers::customer_viewable_by(
                Column::CustomerId,
                partner_id,
                now,
            ));
        }
        if let Some((now, until)) = filter.expiring_by {
            query = query.filter(expiring(now, until));
        }
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }

    pub async fn list_invitations(
        &self,
        filter: &InvitationFilter,
        page: &PageRequest,
    ) -> Result<Vec<RelationshipRequest>> {
        use relationship_request::Column;
        let mut query = relationship_request::Entity::find();
        if let Some(id) = &filter.inviting_partner_id {
            query = query.filter(Column::InvitingPartnerId.eq(id.as_str()));
        }
        if let Some(id) = &filter.indirect_reseller_id {
            query = query.filter(Column::IndirectResellerId.eq(id.as_str()));
        }
        if let Some(state) = filter.state {
            query = query.filter(Column::State.eq(state.as_str()));
        }
        if let Some(party) = &filter.party {
            query = query.filter(
                Condition::any()
                    .add(Column::InvitingPartnerId.eq(party.as_str()))
                    .add(Column::IndirectResellerId.eq(party.as_str())),
            );
        }
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        rows.into_iter().map(|row| self.codes.reveal(row)).collect()
    }

    /// M2: one page of a customer's relationships and grants, merged in id
    /// order (both are UUIDv7, so one keyset pages both).
    pub async fn customer_relationships(
        &self,
        customer_id: &str,
        view: &RelationshipView,
        page: &PageRequest,
    ) -> Result<(Vec<Relationship>, Vec<DelegatedAdminGrant>, String)> {
        let mut relationships = relationship::Entity::find().filter(relationship::Column::CustomerId.eq(customer_id));
        let mut grants = grant::Entity::find().filter(grant::Column::CustomerId.eq(customer_id));
        if let RelationshipView::Partner(chain) = view {
            let me = chain.partner_id.as_str();
            relationships = relationships
                .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
                .filter(
                    Condition::any()
                        .add(relationship::Column::PartnerId.eq(me))
                        .add(
                            Condition::all()
                                .add(relationship::Column::Kind.eq(RelationshipKind::IndirectReseller.as_str()))
                                .add(relationship::Column::IndirectProviderId.eq(me)),
                        )
                        .add(
                            Condition::all()
                                .add(relationship::Column::Kind.eq(RelationshipKind::Reseller.as_str()))
                                .add(relationship::Column::PartnerId.is_in(chain.providers.iter().map(String::as_str))),
                        ),
                );
            let holders = std::iter::once(me)
                .chain(chain.providers.iter().map(String::as_str))
                .chain(chain.resellers.iter().map(String::as_str));
            grants = grants
                .filter(grant::Column::PartnerId.is_in(holders))
                .filter(grant::Column::State.eq(GrantState::Active.as_str()));
        }
        if let Some(after) = &page.after {
            relationships = relationships.filter(relationship::Column::Id.gt(after.as_str()));
            grants = grants.filter(grant::Column::Id.gt(after.as_str()));
        }
        let relationships: Vec<Relationship> = all(relationships
            .order_by_asc(relationship::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?)?;
        let grants: Vec<DelegatedAdminGrant> = all(grants
            .order_by_asc(grant::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?)?;
        let mut ids: Vec<&str> = relationships
            .iter()
            .map(|r| r.id.as_str())
            .chain(grants.iter().map(|g| g.id.as_str()))
            .collect();
        ids.sort_unstable();
        let (page_ids, next_page_token) = page.finish(ids, |id| id.to_string());
        let last = page_ids.last().map(|id| id.to_string());
        let within = |id: &str| last.as_deref().is_some_and(|last| id <= last);
        let relationships = relationships.into_iter().filter(|r| within(&r.id)).collect();
        let grants = grants.into_iter().filter(|g| within(&g.id)).collect();
        Ok((relationships, grants, next_page_token))
    }

    /// M2: a partner's counterparts in the ACTIVE indirect chains on this
    /// customer: its providers if it is an indirect reseller, its indirect
    /// resellers if it is a provider.
    pub async fn chain_view(&self, customer_id: &str, partner_id: &str) -> Result<ChainView> {
        let rows = relationship::Entity::find()
            .filter(relationship::Column::CustomerId.eq(customer_id))
            .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
            .filter(relationship::Column::Kind.eq(RelationshipKind::IndirectReseller.as_str()))
            .filter(
                Condition::any()
                    .add(relationship::Column::PartnerId.eq(partner_id))
                    .add(relationship::Column::IndirectProviderId.eq(partner_id)),
            )
            .all(&self.db)
            .await?;
        let mut view = ChainView {
            partner_id: partner_id.to_owned(),
            ..ChainView::default()
        };
        for row in rows {
            if row.partner_id == partner_id {
                view.providers.extend(row.indirect_provider_id);
            } else {
                view.resellers.push(row.partner_id);
            }
        }
        Ok(view)
    }
}

impl WriteTx {
    pub async fn invitation(&self, id: &str) -> Result<Option<RelationshipRequest>> {
        find_invitation(self.conn(), &self.store.codes, id).await
    }

    pub async fn invitation_by_code(&self, code: &str) -> Result<Option<RelationshipRequest>> {
        relationship_request::Entity::find()
            .filter(codes::holding(code))
            .one(self.conn())
            .await?
            .map(|row| self.store.codes.reveal(row))
            .transpose()
    }

    pub async fn insert_invitation(&mut self, invitation: &RelationshipRequest) -> Result<()> {
        let (sealed, hash) = self.store.codes.seal(&invitation.id, &invitation.code)?;
        let row = relationship_request::ActiveModel {
            code: Set(sealed),
            code_hash: Set(Some(hash)),
            ..relationship_request_row(invitation)
        };
        relationship_request::Entity::insert(row).exec(self.conn()).await?;
        self.record(
            "relationship_request.created",
            EventResource::RelationshipRequest(invitation.clone()),
        );
        Ok(())
    }

    pub async fn set_invitation_state(
        &mut self,
        mut invitation: RelationshipRequest,
        state: InvitationState,
    ) -> Result<RelationshipRequest> {
        invitation.state = state;
        relationship_request::Entity::update(relationship_request_row(&invitation))
            .exec(self.conn())
            .await?;
        let event_type = match state {
            InvitationState::Revoked => "relationship_request.revoked",
            InvitationState::Expired => "relationship_request.expired",
            InvitationState::Active => "relationship_request.updated",
        };
        self.record(event_type, EventResource::RelationshipRequest(invitation.clone()));
        Ok(invitation)
    }

    /// I6: what an earlier acceptance by this customer produced, if any.
    pub async fn acceptance(
        &self,
        invitation_id: &str,
        customer_id: &str,
    ) -> Result<Option<(Vec<String>, Vec<String>)>> {
        Ok(
            invitation_acceptance::Entity::find_by_id((invitation_id.to_owned(), customer_id.to_owned()))
                .one(self.conn())
                .await?
                .map(|row| (split_ids(&row.relationship_ids), split_ids(&row.grant_ids))),
        )
    }

    pub async fn insert_acceptance(
        &self,
        invitation_id: &str,
        customer_id: &str,
        relationship_ids: &[String],
        grant_ids: &[String],
    ) -> Result<()> {
        invitation_acceptance::Entity::insert(invitation_acceptance::ActiveModel {
            relationship_request_id: Set(invitation_id.to_owned()),
            customer_id: Set(customer_id.to_owned()),
            accept_time: Set(self.now()),
            relationship_ids: Set(relationship_ids.join(",")),
            grant_ids: Set(grant_ids.join(",")),
        })
        .exec(self.conn())
        .await?;
        Ok(())
    }

    pub async fn relationships_by_ids(&self, ids: &[String]) -> Result<Vec<Relationship>> {
        let rows = relationship::Entity::find()
            .filter(relationship::Column::Id.is_in(ids.iter().map(String::as_str)))
            .order_by_asc(relationship::Column::Id)
            .all(self.conn())
            .await?;
        all(rows)
    }

    pub async fn grants_by_ids(&self, ids: &[String]) -> Result<Vec<DelegatedAdminGrant>> {
        let rows = grant::Entity::find()
            .filter(grant::Column::Id.is_in(ids.iter().map(String::as_str)))
            .order_by_asc(grant::Column::Id)
            .all(self.conn())
            .await?;
        all(rows)
    }

    pub async fn grant(&self, id: &str) -> Result<Option<DelegatedAdminGrant>> {
        find_grant(self.conn(), id).await
    }

    /// The ACTIVE INDIRECT_RESELLER relationships of a customer through a
    /// provider.
    pub async fn indirect_relationships_via(&self, customer_id: &str, provider_id: &str) -> Result<Vec<Relationship>> {
        let rows = relationship::Entity::find()
            .filter(relationship::Column::CustomerId.eq(customer_id))
            .filter(relationship::Column::IndirectProviderId.eq(provider_id))
            .filter(relationship::Column::Kind.eq(RelationshipKind::IndirectReseller.as_str()))
            .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
            .all(self.conn())
            .await?;
        all(rows)
    }

    /// L5: the ACTIVE INDIRECT_RESELLER relationships whose pair has no
    /// ACTIVE or SUSPENDED link and whose last link was revoked at least
    /// 30 days ago: the sweep records them ended.
    pub async fn due_handovers(&self, limit: u64) -> Result<Vec<Relationship>> {
        let backend = self.conn().get_database_backend();
        let sql = "SELECT r.* FROM relationships r WHERE r.state = $1 AND r.kind = $2 \
            AND NOT EXISTS (SELECT 1 FROM partner_links l WHERE l.provider_id = r.indirect_provider_id \
                AND l.reseller_id = r.partner_id AND l.state IN ($3, $4)) \
            AND (SELECT MAX(l.update_time) FROM partner_links l WHERE l.provider_id = r.indirect_provider_id \
                AND l.reseller_id = r.partner_id AND l.state = $5) <= $6 \
            ORDER BY r.id LIMIT $7";
        let values: Vec<sea_orm::Value> = vec![
            RelationshipState::Active.as_str().into(),
            RelationshipKind::IndirectReseller.as_str().into(),
            LinkState::Active.as_str().into(),
            LinkState::Suspended.as_str().into(),
            LinkState::Revoked.as_str().into(),
            (self.now() - rules::LINK_HANDOVER).into(),
            (limit as i64).into(),
        ];
        let rows = relationship::Entity::find()
            .from_raw_sql(sea_orm::Statement::from_sql_and_values(
                backend,
                super::write::placeholders(backend, sql),
                values,
            ))
            .all(self.conn())
            .await?;
        all(rows)
    }

    pub async fn has_active_relationship(&self, customer_id: &str, partner_id: &str) -> Result<bool> {
        let found = relationship::Entity::find()
            .filter(relationship::Column::CustomerId.eq(customer_id))
            .filter(relationship::Column::PartnerId.eq(partner_id))
            .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
            .one(self.conn())
            .await?;
        Ok(found.is_some())
    }

    /// M3, L5: ends a relationship, recording why.
    pub async fn end_relationship(
        &mut self,
        mut relationship: Relationship,
        cause: RelationshipEndCause,
    ) -> Result<Relationship> {
        relationship.state = RelationshipState::Ended;
        relationship.end_time = Some(self.now());
        relationship.end_cause = Some(cause);
        relationship::Entity::update(relationship_row(&relationship))
            .exec(self.conn())
            .await?;
        self.record("relationship.ended", EventResource::Relationship(relationship.clone()));
        Ok(relationship)
    }

    /// A partner's ACTIVE grants on a customer, all services or one.
    pub async fn active_grants(
        &self,
        customer_id: &str,
        partner_id: Option<&str>,
        service: Option<Service>,
    ) -> Result<Vec<DelegatedAdminGrant>> {
        let mut query = grant::Entity::find()
            .filter(grant::Column::CustomerId.eq(customer_id))
            .filter(grant::Column::State.eq(GrantState::Active.as_str()));
        if let Some(partner_id) = partner_id {
            query = query.filter(grant::Column::PartnerId.eq(partner_id));
        }
        if let Some(service) = service {
            query = query.filter(grant::Column::Service.eq(service.as_str()));
        }
        all(query.order_by_asc(grant::Column::Id).all(self.conn()).await?)
    }

    /// Writes a grant's new state under the given event type; its version
    /// and update time move.
    pub async fn update_grant(&mut self, grant: &mut DelegatedAdminGrant, event_type: &'static str) -> Result<()> {
        grant.version += 1;
        grant.update_time = self.now();
        let mut row = grant_row(grant, None);
        // The invitation a grant came from never changes.
        row.relationship_request_id = sea_orm::ActiveValue::NotSet;
        grant::Entity::update(row).exec(self.conn()).await?;
        self.record(event_type, EventResource::DelegatedAdminGrant(grant.clone()));
        Ok(())
    }

    /// G2: records that `grant` passed the notice `mark`, in one conditional
    /// update (only if the grant is as read), with its `grant.expiring`
    /// event. False when the grant changed meanwhile: nothing is recorded.
    pub async fn record_notice(&mut self, mut grant: DelegatedAdminGrant, mark: i32) -> Result<bool> {
        use sea_orm::sea_query::Expr;
        let now = self.now();
        let updated = grant::Entity::update_many()
            .col_expr(grant::Column::NoticeDays, Expr::value(mark))
            .col_expr(grant::Column::Version, Expr::value(grant.version + 1))
            .col_expr(grant::Column::UpdateTime, Expr::value(now))
            .filter(grant::Column::Id.eq(grant.id.as_str()))
            .filter(grant::Column::Version.eq(grant.version))
            .exec(self.conn())
            .await?;
        if updated.rows_affected != 1 {
            return Ok(false);
        }
        grant.notice_days = Some(mark);
        grant.version += 1;
        grant.update_time = now;
        self.record("grant.expiring", EventResource::DelegatedAdminGrant(grant));
        Ok(true)
    }

    /// G4: an ACTIVE grant ends, recording why (and the revoker's note):
    /// the cause asked for, or EXPIRED for one already past its end
    /// (`rules::end_cause`).
    pub async fn end_grant(
        &mut self,
        mut grant: DelegatedAdminGrant,
        cause: EndCause,
        note: Option<String>,
    ) -> Result<DelegatedAdminGrant> {
        let ended = rules::end_cause(&grant, cause, self.now());
        grant.state = ended.state();
        grant.end_cause = Some(ended);
        grant.end_note = note.filter(|_| ended == cause);
        let event_type = match grant.state {
            GrantState::Superseded => "grant.superseded",
            GrantState::Expired => "grant.expired",
            GrantState::Revoked | GrantState::Active => "grant.revoked",
        };
        self.update_grant(&mut grant, event_type).await?;
        // R6: its assignments end with it, in this transaction.
        self.end_assignments_of_grant(&grant.id).await?;
        Ok(grant)
    }

    /// A grant for `partner_id` on `service`: a new one, or its existing
    /// grant in force for the service replaced in place (D1); one past its
    /// end is recorded EXPIRED first (G4).
    pub async fn put_grant(
        &mut self,
        customer_id: &str,
        partner_id: &str,
        terms: GrantTerms,
        relationship_request_id: Option<String>,
    ) -> Result<DelegatedAdminGrant> {
        let mut put = self
            .put_grants(customer_id, partner_id, vec![terms], relationship_request_id)
            .await?;
        put.pop()
            .ok_or_else(|| crate::domain::Error::internal("a grant put returned none"))
    }

    /// `put_grant` for several distinct services at once (I6: an
    /// invitation's DAP, whose services I3 made distinct), in the order
    /// given: the partner's ACTIVE grants are read in one statement and the
    /// new grants written in one, with their events in that order.
    pub async fn put_grants(
        &mut self,
        customer_id: &str,
        partner_id: &str,
        terms: Vec<GrantTerms>,
        relationship_request_id: Option<String>,
    ) -> Result<Vec<DelegatedAdminGrant>> {
        // A service twice would make two ACTIVE grants for it: a caller's bug.
        if (1..terms.len()).any(|i| terms[..i].iter().any(|t| t.service == terms[i].service)) {
            return Err(crate::domain::Error::internal(
                "a service was asked twice in one grant put",
            ));
        }
        let now = self.now();
        let mut active = self.active_grants(customer_id, Some(partner_id), None).await?;
        let mut put = Vec::with_capacity(terms.len());
        let mut new_rows = Vec::new();
        for GrantTerms {
            service,
            roles,
            end_time,
            auto_extend,
        } in terms
        {
            let mut in_place = None;
            for grant in active.extract_if(.., |g| g.service == service) {
                if grant.in_force(now) {
                    in_place = Some(grant);
                } else {
                    // D4 ended it at its end_time: that is recorded, and the
                    // new grant is one of its own, as after the sweep.
                    self.end_grant(grant, EndCause::Expired, None).await?;
                }
            }
            let grant = match in_place {
                Some(mut grant) => {
                    // R6: a replacement in place keeps its assignments;
                    // R3: the roles it drops are stripped from them.
                    let before = grant.roles.clone();
                    crate::domain::roles::assign(&mut grant, roles);
                    if before.iter().any(|role| !grant.roles.contains(role)) {
                        self.strip_assignment_roles(&grant.id, &grant.roles.clone()).await?;
                    }
                    grant.start_time = now;
                    grant.end_time = end_time;
                    grant.auto_extend = auto_extend;
                    grant.notice_days = rules::notice_mark(end_time, auto_extend, now);
                    self.update_grant(&mut grant, "grant.replaced").await?;
                    grant
                }
                None => {
                    let mut grant = DelegatedAdminGrant {
                        id: super::new_id(),
                        customer_id: customer_id.to_owned(),
                        partner_id: partner_id.to_owned(),
                        service,
                        scopes: Vec::new(),
                        roles: Vec::new(),
                        state: GrantState::Active,
                        start_time: now,
                        end_time,
                        auto_extend,
                        end_cause: None,
                        end_note: None,
                        notice_days: rules::notice_mark(end_time, auto_extend, now),
                        version: 1,
                        update_time: now,
                    };
                    crate::domain::roles::assign(&mut grant, roles);
                    new_rows.push(grant_row(&grant, relationship_request_id.clone()));
                    self.record("grant.created", EventResource::DelegatedAdminGrant(grant.clone()));
                    grant
                }
            };
            put.push(grant);
        }
        if !new_rows.is_empty() {
            grant::Entity::insert_many(new_rows)
                .exec_without_returning(self.conn())
                .await?;
        }
        Ok(put)
    }

    /// Which of these partners are transacting with the customer now, as
    /// seen by this transaction (the definition of docs/rules.md, whatever the
    /// partner's own status).
    pub async fn transacting(&self, customer_id: &str, partner_ids: &[String]) -> Result<HashMap<String, bool>> {
        let queries: Vec<AccessQuery> = partner_ids
            .iter()
            .map(|partner_id| AccessQuery {
                partner_id: partner_id.clone(),
                customer_id: customer_id.to_owned(),
                action: Action::Sell,
                service: None,
                subscription_id: None,
                user_id: None,
            })
            .collect();
        let facts = load_facts_batch(self.conn(), &queries).await?;
        Ok(partner_ids
            .iter()
            .cloned()
            .zip(facts.iter().map(|f| f.is_transacting()))
            .collect())
    }

    /// Customers where `reseller_id` has an ACTIVE INDIRECT_RESELLER
    /// relationship through `provider_id`.
    pub async fn customers_served_via(&self, reseller_id: &str, provider_id: &str) -> Result<Vec<String>> {
        let rows = relationship::Entity::find()
            .filter(relationship::Column::PartnerId.eq(reseller_id))
            .filter(relationship::Column::IndirectProviderId.eq(provider_id))
            .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(|r| r.customer_id).collect())
    }

    /// M3: the ACTIVE subscriptions of a customer that name the partner as
    /// partner of record or indirect provider.
    pub async fn subscriptions_naming(&self, customer_id: &str, partner_id: &str) -> Result<Vec<Subscription>> {
        let rows = subscription::Entity::find()
            .filter(subscription::Column::CustomerId.eq(customer_id))
            .filter(
                Condition::any()
                    .add(subscription::Column::PartnerOfRecordId.eq(partner_id))
                    .add(subscription::Column::IndirectProviderId.eq(partner_id)),
            )
            .order_by_asc(subscription::Column::Id)
            .all(self.conn())
            .await?;
        all(rows)
    }
}
