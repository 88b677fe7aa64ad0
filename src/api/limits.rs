//! W3: the maximum of every string and repeated field of every request,
//! checked as the request is decoded (by the service's codec), so no
//! handler can forget one and nothing beyond a limit reaches a rule or the
//! store. The limits themselves are `validate`'s constants.

use super::pb;
use crate::domain::Result;
use crate::domain::error::Violations;
use crate::domain::validate::{self, *};

/// A message the service's codec decodes. Requests name every string and
/// repeated field with its maximum; replies (decoded by the generated
/// clients) have nothing to check.
pub trait Bounded {
    fn check_bounds(&self) -> Result<()> {
        Ok(())
    }
}

/// Collects every field beyond its maximum, with its path.
#[derive(Default)]
struct Bounds(Violations);

impl Bounds {
    fn text(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        self.0.check(validate::max_chars(field, value, max));
        self
    }

    fn id(&mut self, field: &str, value: &str) -> &mut Self {
        self.text(field, value, MAX_ID_CHARS)
    }

    fn items(&mut self, field: &str, len: usize, max: usize) -> &mut Self {
        self.0.check(validate::max_items(field, len, max));
        self
    }

    /// R4: a group's fields; each member only while the count is within
    /// its maximum (beyond it the count alone refuses the call).
    fn security_group(&mut self, group: &Option<pb::SecurityGroup>) -> &mut Self {
        use crate::domain::rules::{MAX_GROUP_MEMBERS, MAX_GROUP_NAME_CHARS, MAX_USER_ID_CHARS};
        if let Some(g) = group {
            self.id("security_group.id", &g.id)
                .id("security_group.partner_id", &g.partner_id)
                .text("security_group.display_name", &g.display_name, MAX_GROUP_NAME_CHARS)
                .text("security_group.etag", &g.etag, MAX_ETAG_CHARS)
                .items(
                    "security_group.member_user_ids",
                    g.member_user_ids.len(),
                    MAX_GROUP_MEMBERS,
                );
            if g.member_user_ids.len() <= MAX_GROUP_MEMBERS {
                for (i, id) in g.member_user_ids.iter().enumerate() {
                    self.text(&format!("security_group.member_user_ids[{i}]"), id, MAX_USER_ID_CHARS);
                }
            }
        }
        self
    }

    /// H1, H2: an endpoint's fields; each event type only while the count
    /// is within its maximum.
    fn webhook_endpoint(&mut self, endpoint: &Option<pb::WebhookEndpoint>) -> &mut Self {
        use crate::domain::rules::{MAX_ENDPOINT_DESCRIPTION, MAX_ENDPOINT_URL, MAX_EVENT_TYPE_CHARS, MAX_EVENT_TYPES};
        if let Some(e) = endpoint {
            self.id("webhook_endpoint.id", &e.id)
                .id("webhook_endpoint.partner_id", &e.partner_id)
                .text("webhook_endpoint.url", &e.url, MAX_ENDPOINT_URL)
                .text("webhook_endpoint.description", &e.description, MAX_ENDPOINT_DESCRIPTION)
                .id("webhook_endpoint.customer_id", &e.customer_id)
                .text("webhook_endpoint.etag", &e.etag, MAX_ETAG_CHARS)
                .items("webhook_endpoint.event_types", e.event_types.len(), MAX_EVENT_TYPES);
            if e.event_types.len() <= MAX_EVENT_TYPES {
                for (i, event_type) in e.event_types.iter().enumerate() {
                    self.text(
                        &format!("webhook_endpoint.event_types[{i}]"),
                        event_type,
                        MAX_EVENT_TYPE_CHARS,
                    );
                }
            }
        }
        self
    }

    /// R5: an assignment's fields.
    fn access_assignment(&mut self, assignment: &Option<pb::AccessAssignment>) -> &mut Self {
        use pb::access_assignment::Principal;
        if let Some(a) = assignment {
            self.id("access_assignment.id", &a.id)
                .id("access_assignment.grant_id", &a.grant_id)
                .id("access_assignment.customer_id", &a.customer_id)
                .id("access_assignment.partner_id", &a.partner_id)
                .text("access_assignment.etag", &a.etag, MAX_ETAG_CHARS)
                .items(
                    "access_assignment.roles",
                    a.roles.len(),
                    crate::domain::validate::MAX_ROLES,
                );
            match &a.principal {
                Some(Principal::UserId(user)) => {
                    self.text(
                        "access_assignment.user_id",
                        user,
                        crate::domain::rules::MAX_USER_ID_CHARS,
                    );
                }
                Some(Principal::SecurityGroupId(group)) => {
                    self.id("access_assignment.security_group_id", group);
                }
                None => {}
            }
        }
        self
    }

    /// L2: a pair's newest link and the etag read.
    fn named_link(&mut self, provider_id: &str, reseller_id: &str, etag: &str) -> &mut Self {
        self.id("provider_id", provider_id)
            .id("reseller_id", reseller_id)
            .text("etag", etag, MAX_ETAG_CHARS)
    }

    fn page_token(&mut self, value: &str) -> &mut Self {
        self.text("page_token", value, MAX_PAGE_TOKEN_CHARS)
    }

    fn request_id(&mut self, value: &str) -> &mut Self {
        self.text("request_id", value, MAX_REQUEST_ID_CHARS)
    }

    fn mask(&mut self, mask: &Option<prost_types::FieldMask>) -> &mut Self {
        if let Some(mask) = mask {
            self.items("update_mask.paths", mask.paths.len(), MAX_MASK_PATHS);
            for (i, path) in mask.paths.iter().enumerate() {
                self.text(&format!("update_mask.paths[{i}]"), path, MAX_MASK_PATH_CHARS);
            }
        }
        self
    }

    fn service(&mut self, field: &str, value: &str) -> &mut Self {
        self.text(field, value, MAX_SERVICE_CHARS)
    }

    fn partner(&mut self, partner: &Option<pb::Partner>) -> &mut Self {
        if let Some(p) = partner {
            self.id("partner.id", &p.id)
                .text("partner.mpn_id", &p.mpn_id, MAX_MPN_ID_CHARS)
                .text("partner.display_name", &p.display_name, MAX_NAME_CHARS)
                .text("partner.etag", &p.etag, MAX_ETAG_CHARS);
        }
        self
    }

    fn customer(&mut self, customer: &Option<pb::Customer>) -> &mut Self {
        if let Some(c) = customer {
            self.id("customer.id", &c.id)
                .text("customer.domain", &c.domain, MAX_DOMAIN_CHARS)
                .text("customer.company_name", &c.company_name, MAX_NAME_CHARS)
                .text("customer.etag", &c.etag, MAX_ETAG_CHARS);
            if let Some(b) = &c.billing_contact {
                self.text("customer.billing_contact.email", &b.email, MAX_EMAIL_CHARS)
                    .text("customer.billing_contact.first_name", &b.first_name, MAX_NAME_CHARS)
                    .text("customer.billing_contact.last_name", &b.last_name, MAX_NAME_CHARS)
                    .text("customer.billing_contact.culture", &b.culture, MAX_CULTURE_CHARS)
                    .text("customer.billing_contact.language", &b.language, MAX_LANGUAGE_CHARS);
            }
        }
        self
    }

    fn subscription(&mut self, subscription: &Option<pb::Subscription>) -> &mut Self {
        if let Some(s) = subscription {
            self.id("subscription.id", &s.id)
                .id("subscription.customer_id", &s.customer_id)
                .service("subscription.service", &s.service)
                .text("subscription.offer_name", &s.offer_name, MAX_NAME_CHARS)
                .id("subscription.partner_of_record_id", &s.partner_of_record_id)
                .id("subscription.indirect_provider_id", &s.indirect_provider_id)
                .text("subscription.etag", &s.etag, MAX_ETAG_CHARS);
        }
        self
    }

    fn invitation(&mut self, invitation: &Option<pb::RelationshipRequest>) -> &mut Self {
        if let Some(r) = invitation {
            self.id("relationship_request.id", &r.id)
                .id("relationship_request.inviting_partner_id", &r.inviting_partner_id)
                .id("relationship_request.indirect_reseller_id", &r.indirect_reseller_id)
                .items(
                    "relationship_request.delegated_admin_services",
                    r.delegated_admin_services.len(),
                    MAX_SERVICES,
                )
                .items(
                    "relationship_request.delegated_admin_scopes",
                    r.delegated_admin_scopes.len(),
                    MAX_SCOPES,
                )
                .items(
                    "relationship_request.delegated_admin_roles",
                    r.delegated_admin_roles.len(),
                    MAX_ROLES,
                )
                .text(
                    "relationship_request.customer_domain",
                    &r.customer_domain,
                    MAX_DOMAIN_CHARS,
                )
                .text("relationship_request.code", &r.code, MAX_INVITATION_CODE_CHARS)
                .text("relationship_request.url", &r.url, MAX_URL_CHARS);
            // Only the first few are read when the count is already too many.
            for (i, service) in r.delegated_admin_services.iter().take(MAX_SERVICES + 1).enumerate() {
                self.service(&format!("relationship_request.delegated_admin_services[{i}]"), service);
            }
        }
        self
    }

    fn check(&mut self, prefix: &str, c: &pb::CheckAccessRequest) -> &mut Self {
        // The hot path of BatchCheckAccess: name the fields only when one
        // is too long (bytes bound characters from above).
        let ids = [&c.partner_id, &c.customer_id, &c.subscription_id];
        let user_max = crate::domain::rules::MAX_USER_ID_CHARS;
        if ids.iter().all(|id| id.len() <= MAX_ID_CHARS)
            && c.service.len() <= MAX_SERVICE_CHARS
            && c.user_id.len() <= user_max
        {
            return self;
        }
        self.id(&format!("{prefix}partner_id"), &c.partner_id)
            .id(&format!("{prefix}customer_id"), &c.customer_id)
            .service(&format!("{prefix}service"), &c.service)
            .id(&format!("{prefix}subscription_id"), &c.subscription_id)
            .text(&format!("{prefix}user_id"), &c.user_id, user_max)
    }

    fn done(&mut self) -> Result<()> {
        std::mem::take(&mut self.0).into_result()
    }
}

/// `impl Bounded` for each request: its fields and their maxima.
macro_rules! bounded {
    ($($message:ident ($m:ident, $b:ident) $body:block)*) => {$(
        impl Bounded for pb::$message {
            fn check_bounds(&self) -> Result<()> {
                let $m = self;
                let $b = &mut Bounds::default();
                $body
                $b.done()
            }
        }
    )*};
}

bounded! {
    CreatePartnerRequest(m, b) { b.partner(&m.partner).request_id(&m.request_id); }
    GetPartnerRequest(m, b) { b.id("id", &m.id); }
    ListPartnersRequest(m, b) { b.page_token(&m.page_token); }
    UpdatePartnerRequest(m, b) { b.partner(&m.partner).mask(&m.update_mask); }
    LinkIndirectResellerRequest(m, b) {
        b.id("provider_id", &m.provider_id).id("reseller_id", &m.reseller_id).request_id(&m.request_id);
    }
    UnlinkIndirectResellerRequest(m, b) {
        b.id("provider_id", &m.provider_id)
            .id("reseller_id", &m.reseller_id)
            .text("note", &m.note, MAX_NOTE_CHARS);
    }
    AcceptPartnerLinkRequest(m, b) { b.named_link(&m.provider_id, &m.reseller_id, &m.etag); }
    DeclinePartnerLinkRequest(m, b) { b.named_link(&m.provider_id, &m.reseller_id, &m.etag); }
    SuspendPartnerLinkRequest(m, b) { b.named_link(&m.provider_id, &m.reseller_id, &m.etag); }
    ResumePartnerLinkRequest(m, b) { b.named_link(&m.provider_id, &m.reseller_id, &m.etag); }
    ListPartnerLinksRequest(m, b) { b.page_token(&m.page_token).id("partner_id", &m.partner_id); }

    CreateCustomerRequest(m, b) {
        b.customer(&m.customer)
            .id("indirect_reseller_id", &m.indirect_reseller_id)
            .request_id(&m.request_id);
    }
    GetCustomerRequest(m, b) { b.id("id", &m.id); }
    ListCustomersRequest(m, b) {
        b.page_token(&m.page_token)
            .text("company_name_prefix", &m.company_name_prefix, MAX_NAME_CHARS)
            .text("domain_prefix", &m.domain_prefix, MAX_DOMAIN_CHARS)
            .id("indirect_reseller_id", &m.indirect_reseller_id);
    }
    UpdateCustomerRequest(m, b) { b.customer(&m.customer).mask(&m.update_mask); }
    CreateSubscriptionRequest(m, b) { b.subscription(&m.subscription).request_id(&m.request_id); }
    GetSubscriptionRequest(m, b) { b.id("id", &m.id); }
    ListSubscriptionsRequest(m, b) {
        b.id("customer_id", &m.customer_id).page_token(&m.page_token).service("service", &m.service);
    }
    UpdateSubscriptionRequest(m, b) { b.subscription(&m.subscription).mask(&m.update_mask); }
    CheckDomainAvailabilityRequest(m, b) { b.text("domain", &m.domain, MAX_DOMAIN_CHARS); }
    CreateTransferRequest(m, b) {
        b.id("customer_id", &m.customer_id)
            .id("partner_of_record_id", &m.partner_of_record_id)
            .items(
                "subscription_ids",
                m.subscription_ids.len(),
                super::customers::MAX_TRANSFER_SUBSCRIPTIONS,
            )
            .request_id(&m.request_id);
        if m.subscription_ids.len() <= super::customers::MAX_TRANSFER_SUBSCRIPTIONS {
            for (i, id) in m.subscription_ids.iter().enumerate() {
                b.id(&format!("subscription_ids[{i}]"), id);
            }
        }
    }
    GetTransferRequest(m, b) { b.id("id", &m.id); }
    ListTransfersRequest(m, b) {
        b.page_token(&m.page_token)
            .id("customer_id", &m.customer_id)
            .id("proposing_partner_id", &m.proposing_partner_id);
    }
    AcceptTransferRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    RejectTransferRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    CancelTransferRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }

    CreateRelationshipRequestRequest(m, b) { b.invitation(&m.relationship_request).request_id(&m.request_id); }
    GetRelationshipRequestRequest(m, b) { b.id("id", &m.id); }
    ListRelationshipRequestsRequest(m, b) {
        b.page_token(&m.page_token)
            .id("inviting_partner_id", &m.inviting_partner_id)
            .id("indirect_reseller_id", &m.indirect_reseller_id);
    }
    RevokeRelationshipRequestRequest(m, b) { b.id("id", &m.id); }
    AcceptRelationshipRequestRequest(m, b) { b.text("code", &m.code, MAX_INVITATION_CODE_CHARS); }
    ListCustomerRelationshipsRequest(m, b) { b.id("customer_id", &m.customer_id).page_token(&m.page_token); }
    EndResellerRelationshipRequest(m, b) { b.id("customer_id", &m.customer_id).id("partner_id", &m.partner_id); }
    GrantDelegatedAdminRequest(m, b) {
        b.id("customer_id", &m.customer_id)
            .id("partner_id", &m.partner_id)
            .service("service", &m.service)
            .items("scopes", m.scopes.len(), MAX_SCOPES)
            .items("roles", m.roles.len(), MAX_ROLES)
            .request_id(&m.request_id);
    }
    ListDelegatedAdminGrantsRequest(m, b) {
        b.page_token(&m.page_token)
            .id("customer_id", &m.customer_id)
            .id("partner_id", &m.partner_id)
            .service("service", &m.service);
    }
    UpdateDelegatedAdminRequest(m, b) {
        if let Some(g) = &m.grant {
            b.id("grant.id", &g.id)
                .id("grant.customer_id", &g.customer_id)
                .id("grant.partner_id", &g.partner_id)
                .service("grant.service", &g.service)
                .items("grant.scopes", g.scopes.len(), MAX_SCOPES)
                .items("grant.roles", g.roles.len(), MAX_ROLES)
                .text("grant.end_note", &g.end_note, MAX_NOTE_CHARS)
                .text("grant.etag", &g.etag, MAX_ETAG_CHARS);
        }
        b.mask(&m.update_mask);
    }
    RevokeDelegatedAdminRequest(m, b) { b.id("grant_id", &m.grant_id).text("note", &m.note, MAX_NOTE_CHARS); }
    CheckAccessRequest(m, b) { b.check("", m); }
    BatchCheckAccessRequest(m, b) {
        b.items("checks", m.checks.len(), super::MAX_BATCH_CHECKS);
        // Beyond the maximum the count alone refuses the call.
        if m.checks.len() <= super::MAX_BATCH_CHECKS {
            for (i, check) in m.checks.iter().enumerate() {
                b.check(&format!("checks[{i}]."), check);
            }
        }
    }
    ListEventsRequest(m, b) {
        b.page_token(&m.page_token).id("customer_id", &m.customer_id).id("partner_id", &m.partner_id);
    }
    WatchEventsRequest(m, b) { b.id("customer_id", &m.customer_id).id("partner_id", &m.partner_id); }
    CreateSecurityGroupRequest(m, b) { b.security_group(&m.security_group).request_id(&m.request_id); }
    GetSecurityGroupRequest(m, b) { b.id("id", &m.id); }
    ListSecurityGroupsRequest(m, b) { b.page_token(&m.page_token).id("partner_id", &m.partner_id); }
    UpdateSecurityGroupRequest(m, b) { b.security_group(&m.security_group).mask(&m.update_mask); }
    DeleteSecurityGroupRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    CreateAccessAssignmentRequest(m, b) { b.access_assignment(&m.access_assignment).request_id(&m.request_id); }
    GetAccessAssignmentRequest(m, b) { b.id("id", &m.id); }
    ListAccessAssignmentsRequest(m, b) {
        b.page_token(&m.page_token)
            .id("partner_id", &m.partner_id)
            .id("customer_id", &m.customer_id)
            .id("grant_id", &m.grant_id)
            .text("user_id", &m.user_id, crate::domain::rules::MAX_USER_ID_CHARS)
            .id("security_group_id", &m.security_group_id);
    }
    UpdateAccessAssignmentRequest(m, b) { b.access_assignment(&m.access_assignment).mask(&m.update_mask); }
    DeleteAccessAssignmentRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    CreateWebhookEndpointRequest(m, b) { b.webhook_endpoint(&m.webhook_endpoint).request_id(&m.request_id); }
    GetWebhookEndpointRequest(m, b) { b.id("id", &m.id); }
    ListWebhookEndpointsRequest(m, b) { b.page_token(&m.page_token).id("partner_id", &m.partner_id); }
    UpdateWebhookEndpointRequest(m, b) { b.webhook_endpoint(&m.webhook_endpoint).mask(&m.update_mask); }
    DeleteWebhookEndpointRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    RotateWebhookSecretRequest(m, b) { b.id("id", &m.id).text("etag", &m.etag, MAX_ETAG_CHARS); }
    ReplayWebhookEventsRequest(m, b) { b.id("id", &m.id); }
    ListWebhookDeliveriesRequest(m, b) { b.id("endpoint_id", &m.endpoint_id).page_token(&m.page_token); }
    SendTestWebhookRequest(m, b) { b.id("id", &m.id); }
}

/// Replies: decoded by the generated clients, bounded by the server.
macro_rules! unbounded {
    ($($message:ident),* $(,)?) => {$( impl Bounded for pb::$message {} )*};
}

unbounded! {
    Partner, PartnerLink, ListPartnersResponse, ListPartnerLinksResponse,
    Customer, Subscription, ListCustomersResponse, ListSubscriptionsResponse, CheckDomainAvailabilityResponse,
    Transfer, ListTransfersResponse, AcceptTransferResponse,
    RelationshipRequest, Relationship, DelegatedAdminGrant, ListRelationshipRequestsResponse,
    AcceptRelationshipRequestResponse, ListCustomerRelationshipsResponse, GrantDelegatedAdminResponse,
    ListDelegatedAdminGrantsResponse,
    CheckAccessResponse, BatchCheckAccessResponse, Event, ListEventsResponse,
    SecurityGroup, ListSecurityGroupsResponse, AccessAssignment, ListAccessAssignmentsResponse,
    WebhookEndpoint, CreateWebhookEndpointResponse, ListWebhookEndpointsResponse, RotateWebhookSecretResponse,
    ReplayWebhookEventsResponse, WebhookDelivery, ListWebhookDeliveriesResponse, SendTestWebhookResponse,
}

/// The internal API (split deployment): at most a relay batch of ids.
impl Bounded for super::pb_internal::ApplyConsequencesRequest {
    fn check_bounds(&self) -> Result<()> {
        let mut bounds = Bounds::default();
        bounds.items("ids", self.ids.len(), MAX_CONSEQUENCE_IDS);
        for (i, id) in self.ids.iter().enumerate().take(MAX_CONSEQUENCE_IDS) {
            bounds.id(&format!("ids[{i}]"), id);
        }
        bounds.0.into_result()
    }
}

impl Bounded for super::pb_internal::ApplyConsequencesResponse {}

/// The most outbox records one ApplyConsequences names.
pub const MAX_CONSEQUENCE_IDS: usize = 100;
