//! RelationshipService: invitations, relationships, delegated admin, access
//! checks and events (I1-I7, M1-M3, D1-D5, A1-A3, E1-E3).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{self, optional, required};
use super::pb::relationship_service_server::RelationshipService;
use super::{pb, principal, request_key, validated};
use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::model::*;
use crate::domain::paging::PageRequest;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::domain::principal::Principal;
use crate::domain::{Error, ErrorCode, Reason, Result, rules, validate};
use crate::service::relationships::Relationships;
use crate::store::{
    EventAudience, EventFilter, GrantTerms, InvitationFilter, RelationshipView, Store, WriteTx, new_id,
};

/// A2: the most checks one BatchCheckAccess takes.
pub const MAX_BATCH_CHECKS: usize = 1000;

/// Settings of RelationshipService.
#[derive(Clone, Debug)]
pub struct RelationshipSettings {
    /// The page that accepts invitations; the url adds the query (I3).
    pub invitation_base_url: String,
    /// I3: days until an invitation expires when the request does not say.
    pub invitation_default_days: i32,
    /// E3: events buffered per WatchEvents stream before the consumer is
    /// considered too slow.
    pub watch_buffer: usize,
    /// E3: how often a stream looks for events written by other replicas.
    pub watch_poll: Duration,
    /// E3: how long a full buffer may stay full before the consumer is
    /// closed as too slow.
    pub watch_grace: Duration,
    /// Turns true when the server shuts down: open streams end at once.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Default for RelationshipSettings {
    fn default() -> Self {
        RelationshipSettings {
            invitation_base_url: "https://partner.example/invitations/accept".to_owned(),
            invitation_default_days: rules::DEFAULT_INVITATION_DAYS,
            watch_buffer: 1024,
            watch_poll: Duration::from_millis(500),
            watch_grace: Duration::from_secs(5),
            // No server: a signal that never fires.
            shutdown: tokio::sync::watch::channel(false).1,
        }
    }
}

pub struct RelationshipApi {
    service: Arc<dyn Relationships>,
    store: Store,
    partners: Arc<dyn PartnerDirectory>,
    access: Arc<dyn AccessChecker>,
    settings: RelationshipSettings,
}

impl RelationshipApi {
    pub fn new(
        service: Arc<dyn Relationships>,
        store: Store,
        partners: Arc<dyn PartnerDirectory>,
        access: Arc<dyn AccessChecker>,
        settings: RelationshipSettings,
    ) -> Self {
        RelationshipApi {
            service,
            store,
            partners,
            access,
            settings,
        }
    }

    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        let caller = self.partners.partner(partner_id).await?;
        rules::require_active_caller(caller.as_ref()).cloned()
    }

    /// P4: a partner that is not ACTIVE is refused every call (but
    /// CheckAccess about itself), decided from the caller alone before any
    /// lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        if let Principal::Partner { partner_id } = principal {
            self.active_caller(partner_id).await?;
        }
        Ok(())
    }

    fn invitation(&self, invitation: &RelationshipRequest) -> pb::RelationshipRequest {
        convert::invitation(invitation, &self.settings.invitation_base_url, self.store.now())
    }

    /// C4 for relationship reads: the customer's admin, operator and
    /// service read everything; a partner needs VIEW.
    async fn relationship_view(&self, principal: &Principal, customer_id: &str) -> Result<RelationshipView> {
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => Ok(RelationshipView::All),
            Principal::Customer { customer_id: own } if own == customer_id => Ok(RelationshipView::All),
            Principal::Customer { .. } => Err(tenant_mismatch()),
            Principal::Partner { partner_id } => {
                let decision = self.access.check(&view_query(partner_id, customer_id)).await?;
                rules::require_view(&decision)?;
                Ok(RelationshipView::Partner(
                    self.store.chain_view(customer_id, partner_id).await?,
                ))
            }
        }
    }
}

fn view_query(partner_id: &str, customer_id: &str) -> AccessQuery {
    AccessQuery {
        partner_id: partner_id.to_owned(),
        customer_id: customer_id.to_owned(),
        action: Action::View,
        service: None,
        subscription_id: None,
    }
}

fn tenant_mismatch() -> Error {
    Error::permission_denied(Reason::TenantMismatch, "a customer admin acts only on its own tenant")
}

fn invitation_not_visible() -> Error {
    Error::permission_denied(
        Reason::NotInvitationParty,
        "only the inviting partner and the named indirect reseller read this relationship request",
    )
}

/// I3: an unguessable code: 256 bits from the operating system's CSPRNG.
fn new_code() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| Error::internal(format!("no randomness for a code: {error}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Decodes one check of CheckAccess or BatchCheckAccess: its form alone
/// (who may ask is the service's to decide). A partner's empty
/// `partner_id` is the partner itself.
fn access_query(field: &str, check: &pb::CheckAccessRequest, principal: &Principal) -> Result<AccessQuery> {
    let partner_id = match principal {
        Principal::Partner { partner_id } if check.partner_id.is_empty() => Ok(partner_id.clone()),
        _ => validate::id(&format!("{field}partner_id"), &check.partner_id),
    };
    validated! {
        partner_id = partner_id;
        customer_id = validate::id(&format!("{field}customer_id"), &check.customer_id);
        action = required_action(&format!("{field}action"), check.action);
        service = if check.service.is_empty() {
            Ok(None)
        } else {
            validate::service(&format!("{field}service"), &check.service).map(Some)
        };
        subscription_id = validate::optional_id(&format!("{field}subscription_id"), &check.subscription_id);
    }
    match (action, &service, &subscription_id) {
        (Action::Provision, None, _) => {
            return Err(Error::invalid(
                format!("{field}service"),
                "PROVISION is asked for a service",
            ));
        }
        (Action::Support, None, None) => {
            return Err(Error::invalid(
                format!("{field}service"),
                "SUPPORT is asked for a service or a subscription",
            ));
        }
        (Action::ManageSubscription, _, None) => {
            return Err(Error::invalid(
                format!("{field}subscription_id"),
                "MANAGE_SUBSCRIPTION is asked for a subscription",
            ));
        }
        _ => {}
    }
    Ok(AccessQuery {
        partner_id,
        customer_id,
        action,
        service,
        subscription_id,
    })
}

fn required_action(field: &str, value: i32) -> Result<Action> {
    use pb::check_access_request::Action as Proto;
    match Proto::try_from(value) {
        Ok(Proto::View) => Ok(Action::View),
        Ok(Proto::Sell) => Ok(Action::Sell),
        Ok(Proto::Provision) => Ok(Action::Provision),
        Ok(Proto::Support) => Ok(Action::Support),
        Ok(Proto::ManageSubscription) => Ok(Action::ManageSubscription),
        Ok(Proto::Unspecified) => Err(Error::invalid(field, "is required")),
        Err(_) => Err(Error::invalid(field, format!("{value} is not a known action"))),
    }
}

/// A2: every check's form, every violation reported at once.
fn batch_queries(request: &pb::BatchCheckAccessRequest, principal: &Principal) -> Result<Vec<AccessQuery>> {
    let checks = &request.checks;
    if checks.len() > MAX_BATCH_CHECKS {
        return Err(Error::invalid(
            "checks",
            format!("at most {MAX_BATCH_CHECKS} items (A2)"),
        ));
    }
    let mut violations = Vec::new();
    let mut queries = Vec::with_capacity(checks.len());
    for (i, check) in checks.iter().enumerate() {
        match access_query(&format!("checks[{i}]."), check, principal) {
            Ok(query) => queries.push(query),
            Err(error) if error.code == ErrorCode::InvalidArgument => violations.extend(error.violations),
            Err(error) => return Err(error),
        }
    }
    if !violations.is_empty() {
        return Err(Error::invalid_fields(violations));
    }
    Ok(queries)
}

fn action_reply(action: Action) -> pb::check_access_request::Action {
    use pb::check_access_request::Action as Proto;
    match action {
        Action::View => Proto::View,
        Action::Sell => Proto::Sell,
        Action::Provision => Proto::Provision,
        Action::Support => Proto::Support,
        Action::ManageSubscription => Proto::ManageSubscription,
    }
}

/// For the remote client: the check a query is.
impl From<AccessQuery> for pb::CheckAccessRequest {
    fn from(query: AccessQuery) -> Self {
        pb::CheckAccessRequest {
            partner_id: query.partner_id,
            customer_id: query.customer_id,
            action: action_reply(query.action) as i32,
            service: query.service.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            subscription_id: query.subscription_id.unwrap_or_default(),
        }
    }
}

impl From<Decision> for pb::CheckAccessResponse {
    fn from(decision: Decision) -> Self {
        let reason = pb::check_access_response::Reason::from_str_name(decision.reason.as_str()).map_or(0, |r| r as i32);
        pb::CheckAccessResponse {
            allowed: decision.allowed,
            reason,
            relationship_ids: decision.relationship_ids,
            grant_ids: decision.grant_ids,
        }
    }
}

/// Every reason A1 gives, to read a reply's reason back.
const ACCESS_REASONS: [AccessReason; 13] = [
    AccessReason::ActiveRelationship,
    AccessReason::DelegatedAdmin,
    AccessReason::Transacting,
    AccessReason::PartnerOfRecord,
    AccessReason::IndirectProviderOfRecord,
    AccessReason::PartnerNotFound,
    AccessReason::PartnerNotActive,
    AccessReason::NoRelationship,
    AccessReason::NotTransacting,
    AccessReason::NoDelegatedAdmin,
    AccessReason::NotPartnerOfRecord,
    AccessReason::SubscriptionNotFound,
    AccessReason::NotCspSubscription,
];

/// For the remote client: a decision as the serving process made it.
impl TryFrom<pb::CheckAccessResponse> for Decision {
    type Error = Error;

    fn try_from(reply: pb::CheckAccessResponse) -> Result<Self> {
        let name = pb::check_access_response::Reason::try_from(reply.reason)
            .map(|reason| reason.as_str_name())
            .unwrap_or_default();
        let reason = ACCESS_REASONS
            .into_iter()
            .find(|reason| reason.as_str() == name)
            .ok_or_else(|| Error::internal(format!("an access decision came back with reason {}", reply.reason)))?;
        Ok(Decision {
            allowed: reply.allowed,
            reason,
            relationship_ids: reply.relationship_ids,
            grant_ids: reply.grant_ids,
        })
    }
}

/// E2, E3: whose events the caller reads, with its filters.
fn event_filter(principal: &Principal, customer_id: &str, partner_id: &str) -> Result<EventFilter> {
    validated! {
        customer_id = validate::optional_id("customer_id", customer_id);
        partner_id = validate::optional_id("partner_id", partner_id);
    }
    let audience = match principal {
        Principal::Operator { .. } | Principal::Service { .. } => EventAudience::All,
        Principal::Customer { customer_id } => EventAudience::Customer(customer_id.clone()),
        Principal::Partner { partner_id } => EventAudience::Partner(partner_id.clone()),
    };
    Ok(EventFilter {
        audience,
        customer_id,
        partner_id,
    })
}

/// An existing ACTIVE relationship of this kind (and chain), or a new one.
async fn ensure_relationship(
    tx: &mut WriteTx,
    customer_id: &str,
    partner_id: &str,
    kind: RelationshipKind,
    indirect_provider_id: Option<&str>,
    invitation_id: &str,
) -> Result<Relationship> {
    let existing = tx
        .active_relationships(customer_id, partner_id, kind)
        .await?
        .into_iter()
        .find(|r| r.indirect_provider_id.as_deref() == indirect_provider_id);
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let relationship = Relationship {
        id: new_id(),
        customer_id: customer_id.to_owned(),
        partner_id: partner_id.to_owned(),
        kind,
        indirect_provider_id: indirect_provider_id.map(str::to_owned),
        state: RelationshipState::Active,
        source: RelationshipSource::Invitation,
        relationship_request_id: Some(invitation_id.to_owned()),
        start_time: tx.now(),
        end_time: None,
    };
    tx.insert_relationship(&relationship).await?;
    Ok(relationship)
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl RelationshipService for RelationshipApi {
    type WatchEventsStream = EventStream;

    /// I1, I2, I3.
    async fn create_relationship_request(
        &self,
        request: Request<pb::CreateRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let principal = principal(&request)?;
        let Principal::Partner { partner_id } = &principal else {
            return Err(Error::role_not_allowed("create relationship requests (partners do)").into());
        };
        let body = request.into_inner();
        let key = request_key(&principal, "CreateRelationshipRequest", &body.request_id, &body)?;
        let input = body.relationship_request.unwrap_or_default();
        validated! {
            reseller_id = validate::optional_id("relationship_request.indirect_reseller_id", &input.indirect_reseller_id);
            inviting_id = validate::optional_id("relationship_request.inviting_partner_id", &input.inviting_partner_id);
            services = input
                .delegated_admin_services
                .iter()
                .enumerate()
                .map(|(i, s)| validate::service(&format!("relationship_request.delegated_admin_services[{i}]"), s))
                .collect::<Result<Vec<_>>>();
            scopes = input
                .delegated_admin_scopes
                .iter()
                .enumerate()
                .map(|(i, s)| required::<Scope>(&format!("relationship_request.delegated_admin_scopes[{i}]"), *s))
                .collect::<Result<Vec<_>>>();
            customer_domain = if input.customer_domain.is_empty() {
                Ok(None)
            } else {
                validate::domain("relationship_request.customer_domain", &input.customer_domain).map(Some)
            };
            days = rules::invitation_days(body.expire_after_days, self.settings.invitation_default_days);
        }
        if inviting_id.as_ref().is_some_and(|id| id != partner_id) {
            return Err(Error::invalid(
                "relationship_request.inviting_partner_id",
                "is always the calling partner; leave it empty",
            )
            .into());
        }
        let (services, scopes) = rules::requested_dap(input.include_delegated_admin, services, scopes)?;
        // Fails sooner on the caller alone; decided again inside (W1).
        let inviter = self.active_caller(partner_id).await?;
        rules::check_inviter(&inviter, reseller_id.is_some())?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let inviter = tx.active_caller(partner_id).await?;
        rules::check_inviter(&inviter, reseller_id.is_some())?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let invitation = tx
                .invitation(&id)
                .await?
                .ok_or_else(|| Error::internal("the invitation of a replayed request is missing"))?;
            return Ok(Response::new(self.invitation(&invitation)));
        }
        // I2 on the links as this write sees them.
        if let Some(reseller_id) = &reseller_id {
            let reseller = tx.partner(reseller_id).await?;
            let linked = tx.active_link(partner_id, reseller_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }
        let now = tx.now();
        let invitation = RelationshipRequest {
            id: new_id(),
            inviting_partner_id: partner_id.clone(),
            indirect_reseller_id: reseller_id,
            include_delegated_admin: input.include_delegated_admin,
            delegated_admin_services: services,
            delegated_admin_scopes: scopes,
            customer_domain,
            code: new_code()?,
            state: InvitationState::Active,
            expire_time: now + i64::from(days) * MICROS_PER_DAY,
            create_time: now,
        };
        tx.insert_invitation(&invitation).await?;
        tx.remember(key.as_ref(), &invitation.id).await?;
        tx.commit().await?;
        // Never the code: it is the acceptance secret.
        tracing::info!(
            relationship_request_id = %invitation.id,
            inviting_partner_id = %invitation.inviting_partner_id,
            indirect_reseller_id = invitation.indirect_reseller_id.as_deref().unwrap_or(""),
            include_delegated_admin = invitation.include_delegated_admin,
            "relationship request created"
        );
        Ok(Response::new(self.invitation(&invitation)))
    }

    /// I4.
    async fn get_relationship_request(
        &self,
        request: Request<pb::GetRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let principal = principal(&request)?;
        let id = validate::id("id", &request.get_ref().id)?;
        self.gate(&principal).await?;
        match self.store.invitation(&id).await? {
            Some(invitation) if rules::can_read_invitation(&principal, &invitation) => {
                Ok(Response::new(self.invitation(&invitation)))
            }
            None if principal.reads_everything() => {
                Err(Error::not_found(Reason::InvitationNotFound, "no relationship request has this id").into())
            }
            _ => Err(invitation_not_visible().into()),
        }
    }

    /// I4: a partner lists what it sent and what names it.
    async fn list_relationship_requests(
        &self,
        request: Request<pb::ListRelationshipRequestsRequest>,
    ) -> Result<Response<pb::ListRelationshipRequestsResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            inviting_partner_id = validate::optional_id("inviting_partner_id", &body.inviting_partner_id);
            indirect_reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
            state = optional::<InvitationState>("state", body.state);
        }
        self.gate(&principal).await?;
        let party = match &principal {
            Principal::Operator { .. } | Principal::Service { .. } => None,
            Principal::Partner { partner_id } => Some(partner_id.clone()),
            Principal::Customer { .. } => return Err(Error::role_not_allowed("list relationship requests").into()),
        };
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("invitations|{inviting_partner_id:?}|{indirect_reseller_id:?}|{state:?}"),
        )?;
        let filter = InvitationFilter {
            inviting_partner_id,
            indirect_reseller_id,
            state,
            party,
        };
        let rows = self.store.list_invitations(&filter, &page).await?;
        // W3: cut by bytes too, measured on the reply's own items.
        let rows: Vec<pb::RelationshipRequest> = rows.iter().map(|r| self.invitation(r)).collect();
        let (relationship_requests, next_page_token) =
            page.finish_within(rows, |r| r.id.clone(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListRelationshipRequestsResponse {
            relationship_requests,
            next_page_token,
        }))
    }

    /// I5: the inviting partner (or the operator) revokes.
    async fn revoke_relationship_request(
        &self,
        request: Request<pb::RevokeRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let principal = principal(&request)?;
        let id = validate::id("id", &request.get_ref().id)?;
        match &principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } => {
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("revoke relationship requests").into()),
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = &principal {
            tx.active_caller(partner_id).await?;
        }
        let invitation = match (tx.invitation(&id).await?, &principal) {
            // W2: a partner that may not read it is refused as for an
            // unknown id; the named reseller, which reads it (I4), is told
            // that only the inviting partner revokes.
            (Some(invitation), Principal::Partner { partner_id }) if &invitation.inviting_partner_id != partner_id => {
                if !rules::can_read_invitation(&principal, &invitation) {
                    return Err(invitation_not_visible().into());
                }
                return Err(Error::permission_denied(
                    Reason::NotInvitationParty,
                    "only the inviting partner revokes a relationship request",
                )
                .into());
            }
            (Some(invitation), _) => invitation,
            (None, Principal::Operator { .. }) => {
                return Err(Error::not_found(Reason::InvitationNotFound, "no relationship request has this id").into());
            }
            (None, _) => return Err(invitation_not_visible().into()),
        };
        if invitation.effective_state(tx.now()) != InvitationState::Active {
            return Ok(Response::new(self.invitation(&invitation)));
        }
        let revoked = tx.set_invitation_state(invitation, InvitationState::Revoked).await?;
        tx.commit().await?;
        tracing::info!(relationship_request_id = %revoked.id, "relationship request revoked");
        Ok(Response::new(self.invitation(&revoked)))
    }

    /// I6, I7, and D2 for the grants it makes.
    async fn accept_relationship_request(
        &self,
        request: Request<pb::AcceptRelationshipRequestRequest>,
    ) -> Result<Response<pb::AcceptRelationshipRequestResponse>, Status> {
        let principal = principal(&request)?;
        self.gate(&principal).await?;
        let Principal::Customer { customer_id } = &principal else {
            return Err(Error::role_not_allowed("accept relationship requests (a customer's admin does)").into());
        };
        let code = &request.get_ref().code;
        if code.is_empty() || code.len() > 128 {
            return Err(Error::invalid("code", "is the code of a relationship request").into());
        }
        let not_found = || Error::not_found(Reason::InvitationNotFound, "no relationship request has this code");
        // An unknown code is refused before taking the write order, so junk
        // codes never queue behind or ahead of real writes. Codes are never
        // deleted: this read may only refuse (W1); the transaction decides.
        if !self.store.invitation_code_exists(code).await? {
            return Err(not_found().into());
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let invitation = tx.invitation_by_code(code).await?.ok_or_else(not_found)?;
        let customer = tx
            .customer(customer_id)
            .await?
            .ok_or_else(|| Error::not_found(Reason::CustomerNotFound, "the token's customer does not exist"))?;
        let mut reply_invitation = convert::invitation(&invitation, "", tx.now());
        reply_invitation.code.clear();
        reply_invitation.url.clear();

        // Accepting again changes nothing and returns the rows as they are.
        if let Some((relationship_ids, grant_ids)) = tx.acceptance(&invitation.id, customer_id).await? {
            let relationships = tx.relationships_by_ids(&relationship_ids).await?;
            let grants = tx.grants_by_ids(&grant_ids).await?;
            return Ok(Response::new(pb::AcceptRelationshipRequestResponse {
                relationship_request: Some(reply_invitation),
                relationships: relationships.iter().map(Into::into).collect(),
                grants: grants.iter().map(Into::into).collect(),
                superseded_grants: Vec::new(),
            }));
        }
        rules::check_acceptable(&invitation, &customer.domain, tx.now())?;
        // I7: the partners and the link, as they are now.
        let inviter = tx.partner(&invitation.inviting_partner_id).await?;
        rules::require_active_party(inviter.as_ref(), "inviting partner")?;
        if let Some(reseller_id) = &invitation.indirect_reseller_id {
            let reseller = tx.partner(reseller_id).await?;
            rules::require_active_party(reseller.as_ref(), "indirect reseller")?;
            let linked = tx
                .active_link(&invitation.inviting_partner_id, reseller_id)
                .await?
                .is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }

        // (a) the RESELLER relationship, owned by the inviting partner.
        let mut relationships = vec![
            ensure_relationship(
                &mut tx,
                customer_id,
                &invitation.inviting_partner_id,
                RelationshipKind::Reseller,
                None,
                &invitation.id,
            )
            .await?,
        ];
        // (b) the INDIRECT_RESELLER relationship through the provider.
        if let Some(reseller_id) = &invitation.indirect_reseller_id {
            relationships.push(
                ensure_relationship(
                    &mut tx,
                    customer_id,
                    reseller_id,
                    RelationshipKind::IndirectReseller,
                    Some(&invitation.inviting_partner_id),
                    &invitation.id,
                )
                .await?,
            );
        }
        // (c) DAP to the partner that will do the work.
        let grantee = invitation
            .indirect_reseller_id
            .clone()
            .unwrap_or_else(|| invitation.inviting_partner_id.clone());
        let mut grants = Vec::new();
        if invitation.include_delegated_admin {
            for service in &invitation.delegated_admin_services {
                let grant = tx
                    .put_grant(
                        customer_id,
                        &grantee,
                        GrantTerms {
                            service: *service,
                            scopes: invitation.delegated_admin_scopes.clone(),
                            end_time: None,
                            auto_extend: false,
                        },
                        Some(invitation.id.clone()),
                    )
                    .await?;
                grants.push(grant);
            }
        }
        // (d) D2: the partners that now transact hold the single transacting
        // grant per service; the grantee last, so its new grants win.
        let mut superseded = Vec::new();
        let mut parties: Vec<&str> = relationships.iter().map(|r| r.partner_id.as_str()).collect();
        parties.retain(|p| *p != grantee);
        parties.push(&grantee);
        for party in parties {
            let services: Vec<Service> = tx
                .active_grants(customer_id, Some(party), None)
                .await?
                .into_iter()
                .map(|g| g.service)
                .collect();
            superseded.extend(
                tx.enforce_single_transacting_holder(customer_id, party, &services)
                    .await?,
            );
        }
        let relationship_ids: Vec<String> = relationships.iter().map(|r| r.id.clone()).collect();
        let grant_ids: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
        tx.insert_acceptance(&invitation.id, customer_id, &relationship_ids, &grant_ids)
            .await?;
        // (e) the acceptance itself is a change with its event too.
        tx.record(
            "relationship_request.accepted",
            EventResource::RelationshipRequest(invitation.clone()),
        );
        tx.commit().await?;
        tracing::info!(
            relationship_request_id = %invitation.id,
            customer_id = %customer_id,
            grants = grants.len(),
            superseded = superseded.len(),
            "relationship request accepted"
        );
        Ok(Response::new(pb::AcceptRelationshipRequestResponse {
            relationship_request: Some(reply_invitation),
            relationships: relationships.iter().map(Into::into).collect(),
            grants: grants.iter().map(Into::into).collect(),
            superseded_grants: superseded.iter().map(Into::into).collect(),
        }))
    }

    /// M2.
    async fn list_customer_relationships(
        &self,
        request: Request<pb::ListCustomerRelationshipsRequest>,
    ) -> Result<Response<pb::ListCustomerRelationshipsResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        let customer_id = validate::id("customer_id", &body.customer_id)?;
        self.gate(&principal).await?;
        let view = self.relationship_view(&principal, &customer_id).await?;
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("customer_relationships|{customer_id}|{view:?}"),
        )?;
        let (relationships, grants, next_page_token) =
            self.store.customer_relationships(&customer_id, &view, &page).await?;
        Ok(Response::new(pb::ListCustomerRelationshipsResponse {
            relationships: relationships.iter().map(Into::into).collect(),
            delegated_admin_grants: grants.iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    /// M3.
    async fn end_reseller_relationship(
        &self,
        request: Request<pb::EndResellerRelationshipRequest>,
    ) -> Result<Response<pb::Relationship>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            customer_id = validate::id("customer_id", &body.customer_id);
            named = validate::optional_id("partner_id", &body.partner_id);
        }
        self.gate(&principal).await?;
        let partner_id = match (&principal, named) {
            (Principal::Operator { .. }, Some(named)) => named,
            (Principal::Operator { .. }, None) => {
                return Err(Error::invalid("partner_id", "the operator names the partner").into());
            }
            (Principal::Partner { partner_id }, named) => {
                if named.as_ref().is_some_and(|named| named != partner_id) {
                    return Err(Error::permission_denied(
                        Reason::RoleNotAllowed,
                        "a partner ends only its own relationship",
                    )
                    .into());
                }
                // Fails sooner on the caller alone; decided again inside.
                self.active_caller(partner_id).await?;
                partner_id.clone()
            }
            _ => return Err(Error::role_not_allowed("end reseller relationships").into()),
        };

        let mut tx = self.store.begin_write(principal.actor()).await?;
        // W1: P4 and C4 on the state this write commits against.
        if principal.partner_id().is_some() {
            tx.active_caller(&partner_id).await?;
            rules::require_view(&tx.decide(&view_query(&partner_id, &customer_id)).await?)?;
        }
        let relationships = tx
            .active_relationships(&customer_id, &partner_id, RelationshipKind::Reseller)
            .await?;
        if relationships.is_empty() {
            return Err(Error::not_found(
                Reason::RelationshipNotFound,
                "the partner has no ACTIVE RESELLER relationship with this customer",
            )
            .into());
        }
        let subscriptions = tx.subscriptions_naming(&customer_id, &partner_id).await?;
        let blocking = rules::blocking_subscriptions(&subscriptions, &partner_id);
        if !blocking.is_empty() {
            let ids: Vec<&str> = blocking.iter().map(|s| s.id.as_str()).collect();
            return Err(Error::failed_precondition(
                Reason::ActiveSubscriptions,
                format!(
                    "ACTIVE subscriptions still name this partner: {}; cancel or suspend them first",
                    crate::domain::error::listed(&ids)
                ),
            )
            .with_ids("subscription_ids", &ids)
            .into());
        }
        let mut ended = Vec::new();
        for relationship in relationships {
            ended.push(tx.end_relationship(relationship).await?);
        }
        for grant in tx.active_grants(&customer_id, Some(&partner_id), None).await? {
            tx.set_grant_state(grant, GrantState::Revoked).await?;
        }
        for indirect in tx.indirect_relationships_via(&customer_id, &partner_id).await? {
            let reseller_id = indirect.partner_id.clone();
            tx.end_relationship(indirect).await?;
            // Its DAP ends with the chain, unless another relationship of its
            // own (another provider's chain) still stands on this customer.
            if !tx.has_active_relationship(&customer_id, &reseller_id).await? {
                for grant in tx.active_grants(&customer_id, Some(&reseller_id), None).await? {
                    tx.set_grant_state(grant, GrantState::Revoked).await?;
                }
            }
        }
        tx.commit().await?;
        tracing::info!(customer_id = %customer_id, partner_id = %partner_id, "reseller relationship ended");
        let first = ended
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no relationship ended"))?;
        Ok(Response::new((&first).into()))
    }

    /// D1, D2.
    async fn grant_delegated_admin(
        &self,
        request: Request<pb::GrantDelegatedAdminRequest>,
    ) -> Result<Response<pb::GrantDelegatedAdminResponse>, Status> {
        let principal = principal(&request)?;
        self.gate(&principal).await?;
        let Principal::Customer { customer_id: own } = &principal else {
            return Err(Error::role_not_allowed("grant delegated admin privileges (a customer's admin does)").into());
        };
        let body = request.into_inner();
        let key = request_key(&principal, "GrantDelegatedAdmin", &body.request_id, &body)?;
        validated! {
            customer_id = validate::optional_id("customer_id", &body.customer_id);
            partner_id = validate::id("partner_id", &body.partner_id);
            service = validate::service("service", &body.service);
            scopes = if body.scopes.is_empty() {
                Err(Error::invalid("scopes", "name PROVISIONING, SUPPORT or both"))
            } else {
                body.scopes
                    .iter()
                    .enumerate()
                    .map(|(i, s)| required::<Scope>(&format!("scopes[{i}]"), *s))
                    .collect::<Result<Vec<_>>>()
            };
            _end = rules::grant_end(self.store.now(), body.duration_days, body.auto_extend);
        }
        if customer_id.as_ref().is_some_and(|id| id != own) {
            return Err(tenant_mismatch().into());
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let grant = tx
                .grant(&id)
                .await?
                .ok_or_else(|| Error::internal("the grant of a replayed request is missing"))?;
            return Ok(Response::new(pb::GrantDelegatedAdminResponse {
                grant: Some((&grant).into()),
                superseded_grants: Vec::new(),
            }));
        }
        if tx.customer(own).await?.is_none() {
            return Err(Error::not_found(Reason::CustomerNotFound, "the token's customer does not exist").into());
        }
        rules::check_grantee(tx.partner(&partner_id).await?.as_ref())?;
        let end_time = rules::grant_end(tx.now(), body.duration_days, body.auto_extend)?;
        let grant = tx
            .put_grant(
                own,
                &partner_id,
                GrantTerms {
                    service,
                    scopes: rules::dedup(scopes),
                    end_time,
                    auto_extend: body.auto_extend,
                },
                None,
            )
            .await?;
        let superseded = tx
            .enforce_single_transacting_holder(own, &partner_id, &[service])
            .await?;
        tx.remember(key.as_ref(), &grant.id).await?;
        tx.commit().await?;
        tracing::info!(grant_id = %grant.id, customer_id = %own, partner_id = %partner_id, service = %service, superseded = superseded.len(), "delegated admin granted");
        Ok(Response::new(pb::GrantDelegatedAdminResponse {
            grant: Some((&grant).into()),
            superseded_grants: superseded.iter().map(Into::into).collect(),
        }))
    }

    /// D3.
    async fn revoke_delegated_admin(
        &self,
        request: Request<pb::RevokeDelegatedAdminRequest>,
    ) -> Result<Response<pb::DelegatedAdminGrant>, Status> {
        let principal = principal(&request)?;
        let grant_id = validate::id("grant_id", &request.get_ref().grant_id)?;
        match &principal {
            Principal::Customer { .. } => {}
            Principal::Partner { partner_id } => {
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("revoke delegated admin privileges").into()),
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = &principal {
            tx.active_caller(partner_id).await?;
        }
        let Some(grant) = tx.grant(&grant_id).await? else {
            // Unknown ids are refused like another tenant's: nothing leaks.
            return Err(Error::permission_denied(
                Reason::NotGrantParty,
                "only the customer's admin or the holder itself may revoke this grant",
            )
            .into());
        };
        rules::check_grant_revoker(&principal, &grant)?;
        if grant.state != GrantState::Active {
            return Ok(Response::new((&grant).into()));
        }
        let revoked = tx.set_grant_state(grant, GrantState::Revoked).await?;
        tx.commit().await?;
        tracing::info!(grant_id = %revoked.id, "delegated admin revoked");
        Ok(Response::new((&revoked).into()))
    }

    /// A1.
    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        let principal = principal(&request)?;
        let query = access_query("", request.get_ref(), &principal)?;
        let decision = self.service.check_access(&principal, query).await?;
        Ok(Response::new(decision.into()))
    }

    /// A2: up to 1000 checks, decided with one read of the store.
    async fn batch_check_access(
        &self,
        request: Request<pb::BatchCheckAccessRequest>,
    ) -> Result<Response<pb::BatchCheckAccessResponse>, Status> {
        let principal = principal(&request)?;
        let queries = batch_queries(request.get_ref(), &principal)?;
        let decisions = self.service.batch_check_access(&principal, queries).await?;
        Ok(Response::new(pb::BatchCheckAccessResponse {
            results: decisions.into_iter().map(Into::into).collect(),
        }))
    }

    /// E2.
    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        if body.after_seq < 0 {
            return Err(Error::invalid("after_seq", "must not be negative").into());
        }
        let filter = event_filter(&principal, &body.customer_id, &body.partner_id)?;
        self.gate(&principal).await?;
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!(
                "events|{}|{:?}|{:?}",
                body.after_seq, filter.customer_id, filter.partner_id
            ),
        )?;
        let after = match &page.after {
            Some(seq) => seq
                .parse::<i64>()
                .map_err(|_| Error::invalid("page_token", "is not a token this list issued"))?,
            None => body.after_seq,
        };
        let rows = self.store.list_events(&filter, after, page.fetch_limit()).await?;
        // W3: cut by bytes too (a few large events once made a page pass
        // the maximum message size), measured on the reply's own items.
        let rows: Vec<pb::Event> = rows.iter().map(convert::event).collect();
        let (events, next_page_token) = page.finish_within(rows, |e| e.seq.to_string(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListEventsResponse {
            events,
            next_page_token,
        }))
    }

    /// E3: the backlog after `after_seq`, then live events, read from the
    /// events table so every replica's writes appear, in seq order.
    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        if body.after_seq < 0 {
            return Err(Error::invalid("after_seq", "must not be negative").into());
        }
        let filter = event_filter(&principal, &body.customer_id, &body.partner_id)?;
        self.gate(&principal).await?;
        let (sender, receiver) = mpsc::channel(self.settings.watch_buffer.max(2));
        tokio::spawn(stream_events(
            self.store.clone(),
            filter,
            body.after_seq,
            self.settings.clone(),
            sender,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

const WATCH_PAGE: u64 = 500;

/// Feeds one WatchEvents stream until the client goes away or falls behind.
async fn stream_events(
    store: Store,
    filter: EventFilter,
    mut last_seq: i64,
    settings: RelationshipSettings,
    sender: mpsc::Sender<Result<pb::Event, Status>>,
) {
    let _open = crate::metrics::WatchStreamGuard::open();
    let mut commits = store.subscribe_commits();
    let mut shutdown = settings.shutdown.clone();
    loop {
        loop {
            if *shutdown.borrow() {
                close_for_shutdown(&sender, last_seq);
                return;
            }
            let events = match store.list_events(&filter, last_seq, WATCH_PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    let _ = sender.send(Err(error.into())).await;
                    return;
                }
            };
            if events.is_empty() {
                break;
            }
            for event in &events {
                // Two free slots: one for this event, and one always kept for
                // the error that closes a consumer too slow to keep up.
                let permits = match tokio::time::timeout(settings.watch_grace, sender.reserve_many(2)).await {
                    Ok(Ok(permits)) => permits,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        let error = Error::new(
                            ErrorCode::ResourceExhausted,
                            Reason::SlowConsumer,
                            format!("the consumer fell behind; resume with after_seq = {last_seq}"),
                        )
                        .with_metadata("resume_after_seq", last_seq.to_string());
                        let _ = sender.try_send(Err(error.into()));
                        tracing::warn!(last_seq, "closed a WatchEvents stream whose consumer fell behind");
                        return;
                    }
                };
                if let Some(permit) = permits.into_iter().next() {
                    permit.send(Ok(convert::event(event)));
                }
                last_seq = event.seq;
            }
        }
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(settings.watch_poll) => {}
            () = sender.closed() => return,
            Ok(_) = shutdown.wait_for(|stopping| *stopping) => {
                close_for_shutdown(&sender, last_seq);
                return;
            }
        }
    }
}

/// Ends a stream on shutdown with UNAVAILABLE and where to resume, rather
/// than holding the drain; a slot is always free for it (see above).
fn close_for_shutdown(sender: &mpsc::Sender<Result<pb::Event, Status>>, last_seq: i64) {
    let error = Error::new(
        ErrorCode::Unavailable,
        Reason::ShuttingDown,
        format!("the server is shutting down; resume with after_seq = {last_seq}"),
    )
    .with_metadata("resume_after_seq", last_seq.to_string());
    let _ = sender.try_send(Err(error.into()));
}
