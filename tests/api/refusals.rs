//! W2 and P4: for every RPC and every kind of caller, the answer about
//! another tenant's existing id is the answer about an id that does not
//! exist, byte for byte (code, message, encoded details), and a refusal
//! changes nothing. A suspended partner is refused every call but GetPartner
//! on itself and CheckAccess about itself.

use partnercenter::api::pb;
use partnercenter::domain::principal::Principal;
use prost::Message;
use tonic::{Code, Status};

use crate::support::*;

/// The RPCs, each called with one id (or code) that varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rpc {
    CreatePartner,
    GetPartner,
    ListPartners,
    UpdatePartner,
    LinkIndirectReseller,
    UnlinkIndirectReseller,
    ListPartnerLinks,
    AcceptPartnerLink,
    DeclinePartnerLink,
    SuspendPartnerLink,
    ResumePartnerLink,
    CreateCustomer,
    GetCustomer,
    ListCustomers,
    UpdateCustomer,
    CreateSubscription,
    GetSubscription,
    ListSubscriptions,
    UpdateSubscription,
    CheckDomainAvailability,
    CreateTransfer,
    GetTransfer,
    ListTransfers,
    AcceptTransfer,
    RejectTransfer,
    CancelTransfer,
    CreateRelationshipRequest,
    GetRelationshipRequest,
    ListRelationshipRequests,
    RevokeRelationshipRequest,
    AcceptRelationshipRequest,
    ListCustomerRelationships,
    EndResellerRelationship,
    GrantDelegatedAdmin,
    ListDelegatedAdminGrants,
    UpdateDelegatedAdmin,
    RevokeDelegatedAdmin,
    CheckAccess,
    BatchCheckAccess,
    ListEvents,
    WatchEvents,
    CreateSecurityGroup,
    GetSecurityGroup,
    ListSecurityGroups,
    UpdateSecurityGroup,
    DeleteSecurityGroup,
    CreateAccessAssignment,
    GetAccessAssignment,
    ListAccessAssignments,
    UpdateAccessAssignment,
    DeleteAccessAssignment,
    CreateWebhookEndpoint,
    GetWebhookEndpoint,
    ListWebhookEndpoints,
    UpdateWebhookEndpoint,
    DeleteWebhookEndpoint,
    RotateWebhookSecret,
    ReplayWebhookEvents,
    ListWebhookDeliveries,
    SendTestWebhook,
}

const RPCS: [Rpc; 60] = [
    Rpc::CreatePartner,
    Rpc::GetPartner,
    Rpc::ListPartners,
    Rpc::UpdatePartner,
    Rpc::LinkIndirectReseller,
    Rpc::UnlinkIndirectReseller,
    Rpc::ListPartnerLinks,
    Rpc::AcceptPartnerLink,
    Rpc::DeclinePartnerLink,
    Rpc::SuspendPartnerLink,
    Rpc::ResumePartnerLink,
    Rpc::CreateCustomer,
    Rpc::GetCustomer,
    Rpc::ListCustomers,
    Rpc::UpdateCustomer,
    Rpc::CreateSubscription,
    Rpc::GetSubscription,
    Rpc::ListSubscriptions,
    Rpc::UpdateSubscription,
    Rpc::CheckDomainAvailability,
    Rpc::CreateTransfer,
    Rpc::GetTransfer,
    Rpc::ListTransfers,
    Rpc::AcceptTransfer,
    Rpc::RejectTransfer,
    Rpc::CancelTransfer,
    Rpc::CreateRelationshipRequest,
    Rpc::GetRelationshipRequest,
    Rpc::ListRelationshipRequests,
    Rpc::RevokeRelationshipRequest,
    Rpc::AcceptRelationshipRequest,
    Rpc::ListCustomerRelationships,
    Rpc::EndResellerRelationship,
    Rpc::GrantDelegatedAdmin,
    Rpc::ListDelegatedAdminGrants,
    Rpc::UpdateDelegatedAdmin,
    Rpc::RevokeDelegatedAdmin,
    Rpc::CheckAccess,
    Rpc::BatchCheckAccess,
    Rpc::ListEvents,
    Rpc::WatchEvents,
    Rpc::CreateSecurityGroup,
    Rpc::GetSecurityGroup,
    Rpc::ListSecurityGroups,
    Rpc::UpdateSecurityGroup,
    Rpc::DeleteSecurityGroup,
    Rpc::CreateAccessAssignment,
    Rpc::GetAccessAssignment,
    Rpc::ListAccessAssignments,
    Rpc::UpdateAccessAssignment,
    Rpc::DeleteAccessAssignment,
    Rpc::CreateWebhookEndpoint,
    Rpc::GetWebhookEndpoint,
    Rpc::ListWebhookEndpoints,
    Rpc::UpdateWebhookEndpoint,
    Rpc::DeleteWebhookEndpoint,
    Rpc::RotateWebhookSecret,
    Rpc::ReplayWebhookEvents,
    Rpc::ListWebhookDeliveries,
    Rpc::SendTestWebhook,
];

/// Tenant A's resources: what the other callers may not read.
struct TenantA {
    provider: String,
    reseller: String,
    customer: String,
    subscription: String,
    invitation: String,
    code: String,
    grant: String,
    /// A PENDING transfer of a DIRECT subscription to the provider (T1).
    transfer: String,
    domain: String,
    /// A suspended partner: no customer admin or unrelated partner reads it.
    hidden_partner: String,
    /// The grant holder's security group (R4).
    group: String,
    /// The holder's assignment of the grant's first role to the group (R5).
    assignment: String,
    /// The provider's webhook endpoint (H1).
    webhook: String,
}

impl TenantA {
    async fn build(server: &TestServer) -> Self {
        let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await.id;
        let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await.id;
        server.link(&provider, &reseller).await;
        let customer = server
            .create_customer(&partner(&provider), Some(&reseller))
            .await
            .unwrap()
            .id;
        let subscription = server
            .create_subscription(&partner(&provider), csp_subscription(&customer, &reseller))
            .await
            .unwrap()
            .id;
        let invitation = server
            .invite(
                &provider,
                pb::RelationshipRequest {
                    indirect_reseller_id: reseller.clone(),
                    customer_domain: unique_domain("bound"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let grant = server
            .relationships(&operator())
            .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
                customer_id: customer.clone(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .delegated_admin_grants
            .remove(0);
        let direct = server
            .create_subscription(
                &operator(),
                pb::Subscription {
                    channel: pb::subscription::Channel::Direct as i32,
                    ..csp_subscription(&customer, "")
                },
            )
            .await
            .unwrap()
            .id;
        let transfer = server
            .customers(&partner(&provider))
            .create_transfer(pb::CreateTransferRequest {
                customer_id: customer.clone(),
                subscription_ids: vec![direct],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .id;
        let domain = server
            .customers(&operator())
            .get_customer(pb::GetCustomerRequest { id: customer.clone() })
            .await
            .unwrap()
            .into_inner()
            .domain;
        let hidden_partner = server.create_partner(pb::partner::Kind::DirectReseller).await.id;
        server
            .set_partner_status(&hidden_partner, pb::partner::Status::Suspended)
            .await;
        // The grant's holder keeps the group and assigns its role.
        let mut relationships = server.relationships(&partner(&grant.partner_id));
        let group = relationships
            .create_security_group(pb::CreateSecurityGroupRequest {
                security_group: Some(pb::SecurityGroup {
                    display_name: "Technicians".into(),
                    member_user_ids: vec!["tech-1".into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the holder makes a group")
            .into_inner()
            .id;
        let assignment = relationships
            .create_access_assignment(pb::CreateAccessAssignmentRequest {
                access_assignment: Some(pb::AccessAssignment {
                    grant_id: grant.id.clone(),
                    principal: Some(pb::access_assignment::Principal::SecurityGroupId(group.clone())),
                    roles: grant.roles[..1].to_vec(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("the holder assigns its grant's role")
            .into_inner()
            .id;
        let webhook = server
            .webhooks(&partner(&provider))
            .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                webhook_endpoint: Some(pb::WebhookEndpoint {
                    url: "http://127.0.0.1:9/hook".into(),
                    delivery_mode: pb::webhook_endpoint::DeliveryMode::Ordered as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
                start_after_seq: None,
            })
            .await
            .expect("the provider registers an endpoint")
            .into_inner()
            .webhook_endpoint
            .expect("endpoint")
            .id;
        TenantA {
            webhook,
            provider,
            reseller,
            customer,
            subscription,
            invitation: invitation.id,
            code: invitation.code,
            grant: grant.id,
            transfer,
            domain,
            hidden_partner,
            group,
            assignment,
        }
    }

    /// The existing id an RPC is asked about.
    fn id_for(&self, rpc: Rpc) -> &str {
        match rpc {
            Rpc::GetPartner | Rpc::UpdatePartner | Rpc::GrantDelegatedAdmin => &self.hidden_partner,
            Rpc::LinkIndirectReseller
            | Rpc::UnlinkIndirectReseller
            | Rpc::AcceptPartnerLink
            | Rpc::DeclinePartnerLink
            | Rpc::SuspendPartnerLink
            | Rpc::ResumePartnerLink
            | Rpc::CreateCustomer
            | Rpc::ListCustomers
            | Rpc::CreateRelationshipRequest => &self.reseller,
            Rpc::ListPartnerLinks
            | Rpc::ListRelationshipRequests
            | Rpc::CreatePartner
            | Rpc::ListPartners
            | Rpc::CreateSecurityGroup
            | Rpc::ListSecurityGroups
            | Rpc::ListWebhookEndpoints => &self.provider,
            Rpc::GetWebhookEndpoint
            | Rpc::UpdateWebhookEndpoint
            | Rpc::DeleteWebhookEndpoint
            | Rpc::RotateWebhookSecret
            | Rpc::ReplayWebhookEvents
            | Rpc::ListWebhookDeliveries
            | Rpc::SendTestWebhook => &self.webhook,
            Rpc::GetSecurityGroup | Rpc::UpdateSecurityGroup | Rpc::DeleteSecurityGroup => &self.group,
            Rpc::GetAccessAssignment | Rpc::UpdateAccessAssignment | Rpc::DeleteAccessAssignment => &self.assignment,
            Rpc::GetSubscription | Rpc::UpdateSubscription => &self.subscription,
            Rpc::GetRelationshipRequest | Rpc::RevokeRelationshipRequest => &self.invitation,
            Rpc::AcceptRelationshipRequest => &self.code,
            Rpc::RevokeDelegatedAdmin | Rpc::UpdateDelegatedAdmin | Rpc::CreateAccessAssignment => &self.grant,
            Rpc::GetTransfer | Rpc::AcceptTransfer | Rpc::RejectTransfer | Rpc::CancelTransfer => &self.transfer,
            Rpc::CheckDomainAvailability => &self.domain,
            _ => &self.customer,
        }
    }
}

/// What a call answered: the encoded reply, or the refusal's code, message
/// and encoded details.
#[derive(Debug, PartialEq)]
enum Answer {
    Reply(Vec<u8>),
    Refused(Code, String, Vec<u8>),
}

fn answer<T: Message>(result: Result<tonic::Response<T>, Status>) -> Answer {
    match result {
        Ok(reply) => Answer::Reply(reply.into_inner().encode_to_vec()),
        Err(status) => Answer::Refused(status.code(), status.message().to_owned(), status.details().to_vec()),
    }
}

/// Calls one RPC as `who` about `id`. `provider` is tenant A's provider,
/// which the link calls name together with the varying reseller id.
async fn call(server: &TestServer, who: &Principal, rpc: Rpc, id: &str, provider: &str) -> Answer {
    let mut partners = server.partners(who);
    let mut customers = server.customers(who);
    let mut relationships = server.relationships(who);
    let mut webhooks = server.webhooks(who);
    let id = id.to_owned();
    let own_partner = who.partner_id().unwrap_or_default().to_owned();
    match rpc {
        Rpc::CreatePartner => answer(
            partners
                .create_partner(pb::CreatePartnerRequest {
                    // A duplicate mpn_id whatever the id: nothing is created.
                    partner: Some(pb::Partner {
                        mpn_id: "1234567".into(),
                        display_name: "Probe".into(),
                        kind: pb::partner::Kind::Advisor as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await,
        ),
        Rpc::GetPartner => answer(partners.get_partner(pb::GetPartnerRequest { id }).await),
        Rpc::ListPartners => answer(partners.list_partners(pb::ListPartnersRequest::default()).await),
        Rpc::UpdatePartner => answer(
            partners
                .update_partner(pb::UpdatePartnerRequest {
                    partner: Some(pb::Partner {
                        id,
                        display_name: "Renamed".into(),
                        etag: "\"stale\"".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                })
                .await,
        ),
        Rpc::LinkIndirectReseller => answer(
            partners
                .link_indirect_reseller(pb::LinkIndirectResellerRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    request_id: String::new(),
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UnlinkIndirectReseller => answer(
            partners
                .unlink_indirect_reseller(pb::UnlinkIndirectResellerRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::AcceptPartnerLink => answer(
            partners
                .accept_partner_link(pb::AcceptPartnerLinkRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::DeclinePartnerLink => answer(
            partners
                .decline_partner_link(pb::DeclinePartnerLinkRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::SuspendPartnerLink => answer(
            partners
                .suspend_partner_link(pb::SuspendPartnerLinkRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::ResumePartnerLink => answer(
            partners
                .resume_partner_link(pb::ResumePartnerLinkRequest {
                    provider_id: provider.into(),
                    reseller_id: id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::ListPartnerLinks => answer(
            partners
                .list_partner_links(pb::ListPartnerLinksRequest {
                    partner_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::CreateCustomer => answer(
            customers
                .create_customer(customer_request("probe-never-created.cn", Some(&id)))
                .await,
        ),
        Rpc::GetCustomer => answer(customers.get_customer(pb::GetCustomerRequest { id }).await),
        Rpc::ListCustomers => answer(
            customers
                .list_customers(pb::ListCustomersRequest {
                    indirect_reseller_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateCustomer => answer(
            customers
                .update_customer(pb::UpdateCustomerRequest {
                    customer: Some(pb::Customer {
                        id,
                        company_name: "Renamed".into(),
                        etag: "\"stale\"".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["company_name"]),
                })
                .await,
        ),
        Rpc::CreateSubscription => answer(
            customers
                .create_subscription(pb::CreateSubscriptionRequest {
                    // A partner of record that transacts nowhere: nothing
                    // is created for any caller.
                    subscription: Some(csp_subscription(&id, "00000000-0000-7000-8000-000000000000")),
                    request_id: String::new(),
                })
                .await,
        ),
        Rpc::GetSubscription => answer(customers.get_subscription(pb::GetSubscriptionRequest { id }).await),
        Rpc::ListSubscriptions => answer(
            customers
                .list_subscriptions(pb::ListSubscriptionsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateSubscription => answer(
            customers
                .update_subscription(pb::UpdateSubscriptionRequest {
                    subscription: Some(pb::Subscription {
                        id,
                        quantity: 7,
                        etag: "\"stale\"".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["quantity"]),
                })
                .await,
        ),
        Rpc::CheckDomainAvailability => answer(
            customers
                .check_domain_availability(pb::CheckDomainAvailabilityRequest { domain: id })
                .await,
        ),
        Rpc::CreateTransfer => answer(
            customers
                .create_transfer(pb::CreateTransferRequest {
                    customer_id: id,
                    // No such subscription: nothing is proposed for anyone.
                    subscription_ids: vec!["00000000-0000-7000-8000-000000000000".into()],
                    ..Default::default()
                })
                .await,
        ),
        Rpc::GetTransfer => answer(customers.get_transfer(pb::GetTransferRequest { id }).await),
        Rpc::ListTransfers => answer(
            customers
                .list_transfers(pb::ListTransfersRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::AcceptTransfer => answer(
            customers
                .accept_transfer(pb::AcceptTransferRequest {
                    id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::RejectTransfer => answer(
            customers
                .reject_transfer(pb::RejectTransferRequest {
                    id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::CancelTransfer => answer(
            customers
                .cancel_transfer(pb::CancelTransferRequest {
                    id,
                    etag: String::new(),
                })
                .await,
        ),
        Rpc::CreateRelationshipRequest => answer(
            relationships
                .create_relationship_request(pb::CreateRelationshipRequestRequest {
                    relationship_request: Some(pb::RelationshipRequest {
                        indirect_reseller_id: id,
                        ..Default::default()
                    }),
                    expire_after_days: 0,
                    request_id: String::new(),
                })
                .await,
        ),
        Rpc::GetRelationshipRequest => answer(
            relationships
                .get_relationship_request(pb::GetRelationshipRequestRequest { id })
                .await,
        ),
        Rpc::ListRelationshipRequests => answer(
            relationships
                .list_relationship_requests(pb::ListRelationshipRequestsRequest {
                    inviting_partner_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::RevokeRelationshipRequest => answer(
            relationships
                .revoke_relationship_request(pb::RevokeRelationshipRequestRequest { id })
                .await,
        ),
        Rpc::AcceptRelationshipRequest => answer(
            relationships
                .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code: id })
                .await,
        ),
        Rpc::ListCustomerRelationships => answer(
            relationships
                .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::EndResellerRelationship => answer(
            relationships
                .end_reseller_relationship(pb::EndResellerRelationshipRequest {
                    customer_id: id,
                    partner_id: if who.is_operator() {
                        provider.into()
                    } else {
                        String::new()
                    },
                })
                .await,
        ),
        Rpc::GrantDelegatedAdmin => answer(
            relationships
                .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
                    partner_id: id,
                    service: "office365".into(),
                    scopes: vec![pb::delegated_admin_grant::Scope::Support as i32],
                    ..Default::default()
                })
                .await,
        ),
        Rpc::ListDelegatedAdminGrants => answer(
            relationships
                .list_delegated_admin_grants(pb::ListDelegatedAdminGrantsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateDelegatedAdmin => answer(
            relationships
                .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
                    grant: Some(pb::DelegatedAdminGrant {
                        id,
                        etag: "\"stale\"".into(),
                        auto_extend: false,
                        ..Default::default()
                    }),
                    update_mask: mask(&["auto_extend"]),
                })
                .await,
        ),
        Rpc::RevokeDelegatedAdmin => answer(
            relationships
                .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
                    grant_id: id,
                    note: String::new(),
                })
                .await,
        ),
        Rpc::CheckAccess | Rpc::BatchCheckAccess => {
            // A partner asks about itself; the others about tenant A's
            // provider.
            let check = pb::CheckAccessRequest {
                partner_id: if own_partner.is_empty() {
                    provider.into()
                } else {
                    own_partner
                },
                customer_id: id,
                action: pb::check_access_request::Action::View as i32,
                ..Default::default()
            };
            if rpc == Rpc::CheckAccess {
                answer(relationships.check_access(check).await)
            } else {
                answer(
                    relationships
                        .batch_check_access(pb::BatchCheckAccessRequest { checks: vec![check] })
                        .await,
                )
            }
        }
        Rpc::ListEvents => answer(
            relationships
                .list_events(pb::ListEventsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::CreateSecurityGroup => answer(
            relationships
                .create_security_group(pb::CreateSecurityGroupRequest {
                    security_group: Some(pb::SecurityGroup {
                        partner_id: id,
                        display_name: "Probe".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await,
        ),
        Rpc::GetSecurityGroup => answer(
            relationships
                .get_security_group(pb::GetSecurityGroupRequest { id })
                .await,
        ),
        Rpc::ListSecurityGroups => answer(
            relationships
                .list_security_groups(pb::ListSecurityGroupsRequest {
                    partner_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateSecurityGroup => answer(
            relationships
                .update_security_group(pb::UpdateSecurityGroupRequest {
                    security_group: Some(pb::SecurityGroup {
                        id,
                        display_name: "Renamed".into(),
                        etag: "\"stale\"".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                })
                .await,
        ),
        Rpc::DeleteSecurityGroup => answer(
            relationships
                .delete_security_group(pb::DeleteSecurityGroupRequest {
                    id,
                    etag: "\"stale\"".into(),
                })
                .await,
        ),
        Rpc::CreateAccessAssignment => answer(
            relationships
                .create_access_assignment(pb::CreateAccessAssignmentRequest {
                    access_assignment: Some(pb::AccessAssignment {
                        grant_id: id,
                        // A role no grant of tenant A holds: nothing is
                        // assigned for any caller.
                        principal: Some(pb::access_assignment::Principal::UserId("probe".into())),
                        roles: vec![pb::delegated_admin_grant::Role::GlobalAdmin as i32],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await,
        ),
        Rpc::GetAccessAssignment => answer(
            relationships
                .get_access_assignment(pb::GetAccessAssignmentRequest { id })
                .await,
        ),
        Rpc::ListAccessAssignments => answer(
            relationships
                .list_access_assignments(pb::ListAccessAssignmentsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateAccessAssignment => answer(
            relationships
                .update_access_assignment(pb::UpdateAccessAssignmentRequest {
                    access_assignment: Some(pb::AccessAssignment {
                        id,
                        etag: "\"stale\"".into(),
                        roles: vec![pb::delegated_admin_grant::Role::GlobalAdmin as i32],
                        ..Default::default()
                    }),
                    update_mask: mask(&["roles"]),
                })
                .await,
        ),
        Rpc::DeleteAccessAssignment => answer(
            relationships
                .delete_access_assignment(pb::DeleteAccessAssignmentRequest {
                    id,
                    etag: "\"stale\"".into(),
                })
                .await,
        ),
        Rpc::CreateWebhookEndpoint => answer(
            webhooks
                .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                    // The varying id is the customer filter (H1, as C4).
                    webhook_endpoint: Some(pb::WebhookEndpoint {
                        url: "http://127.0.0.1:9/probe".into(),
                        customer_id: id,
                        delivery_mode: pb::webhook_endpoint::DeliveryMode::Unordered as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                    start_after_seq: None,
                })
                .await,
        ),
        Rpc::GetWebhookEndpoint => answer(
            webhooks
                .get_webhook_endpoint(pb::GetWebhookEndpointRequest { id })
                .await,
        ),
        Rpc::ListWebhookEndpoints => answer(
            webhooks
                .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
                    partner_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::UpdateWebhookEndpoint => answer(
            webhooks
                .update_webhook_endpoint(pb::UpdateWebhookEndpointRequest {
                    webhook_endpoint: Some(pb::WebhookEndpoint {
                        id,
                        etag: "\"stale\"".into(),
                        description: "probe".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["description"]),
                })
                .await,
        ),
        Rpc::DeleteWebhookEndpoint => answer(
            webhooks
                .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
                    id,
                    etag: "\"stale\"".into(),
                })
                .await,
        ),
        Rpc::RotateWebhookSecret => answer(
            webhooks
                .rotate_webhook_secret(pb::RotateWebhookSecretRequest {
                    id,
                    etag: "\"stale\"".into(),
                    overlap: None,
                })
                .await,
        ),
        Rpc::ReplayWebhookEvents => answer(
            webhooks
                .replay_webhook_events(pb::ReplayWebhookEventsRequest {
                    id,
                    // Above any cursor: nothing is replayed for any caller.
                    after_seq: i64::MAX,
                    only_failed: false,
                })
                .await,
        ),
        Rpc::ListWebhookDeliveries => answer(
            webhooks
                .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
                    endpoint_id: id,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::SendTestWebhook => answer(webhooks.send_test_webhook(pb::SendTestWebhookRequest { id }).await),
        Rpc::WatchEvents => {
            let opened = relationships
                .watch_events(pb::WatchEventsRequest {
                    customer_id: id,
                    ..Default::default()
                })
                .await;
            match opened {
                // An opened stream answers by being open; dropping it closes it.
                Ok(_stream) => Answer::Reply(Vec::new()),
                Err(status) => answer::<pb::Event>(Err(status)),
            }
        }
    }
}

/// What an RPC is asked about that does not exist: an id, a code, a domain
/// nobody has.
fn unknown(rpc: Rpc) -> String {
    match rpc {
        Rpc::AcceptRelationshipRequest => "an-unknown-code".to_owned(),
        Rpc::CheckDomainAvailability => unique_domain("untaken"),
        _ => uuid::Uuid::now_v7().to_string(),
    }
}

/// Nothing appended after `seq`, as the operator lists the events.
async fn unchanged_since(server: &TestServer, seq: i64) -> bool {
    server
        .relationships(&operator())
        .list_events(pb::ListEventsRequest {
            after_seq: seq,
            ..Default::default()
        })
        .await
        .expect("the operator lists events")
        .into_inner()
        .events
        .is_empty()
}

impl Answer {
    fn describe(&self) -> String {
        match self {
            Answer::Reply(bytes) => format!("reply of {} bytes", bytes.len()),
            Answer::Refused(code, message, details) => {
                format!("{code:?} {message:?} details {:?}", String::from_utf8_lossy(details))
            }
        }
    }
}

/// The callers outside tenant A, by kind.
struct Outsiders {
    callers: Vec<(&'static str, Principal)>,
    suspended: String,
}

async fn outsiders(server: &TestServer) -> Outsiders {
    // Tenant B: its own provider and customer.
    let other = server.create_partner(pb::partner::Kind::IndirectProvider).await.id;
    let other_customer = server.create_customer(&partner(&other), None).await.unwrap().id;
    let suspended = server.create_partner(pb::partner::Kind::DirectReseller).await.id;
    server.create_customer(&partner(&suspended), None).await.unwrap();
    server
        .set_partner_status(&suspended, pb::partner::Status::Suspended)
        .await;
    Outsiders {
        callers: vec![
            ("customer admin of another tenant", customer(&other_customer)),
            ("unrelated partner", partner(&other)),
            ("suspended partner", partner(&suspended)),
            ("service", service()),
            ("operator", operator()),
        ],
        suspended,
    }
}

#[tokio::test]
async fn w2_every_refusal_is_the_same_for_an_existing_and_an_unknown_id() {
    let server = TestServer::start().await;
    let tenant = TenantA::build(&server).await;
    let Outsiders { callers, .. } = outsiders(&server).await;
    let mut differing = Vec::new();
    let mut compared = 0;
    for rpc in RPCS {
        for (kind, who) in &callers {
            // A code is the invitation's secret, not an id: a customer admin
            // holding one may accept it (I6), and DOMAIN_MISMATCH is I6's.
            if rpc == Rpc::AcceptRelationshipRequest && matches!(who, Principal::Customer { .. }) {
                continue;
            }
            // C7 tells whoever may ask whether a domain is taken: that is
            // its answer, not a leak (W2 names it).
            if rpc == Rpc::CheckDomainAvailability {
                continue;
            }
            let before = last_seq(&server).await;
            let existing = call(&server, who, rpc, tenant.id_for(rpc), &tenant.provider).await;
            let unknown = call(&server, who, rpc, &unknown(rpc), &tenant.provider).await;
            // Operator and service read every tenant: only their refusals
            // by role are compared.
            let reads_everything = who.reads_everything();
            let refused_by_role = matches!(&existing, Answer::Refused(Code::PermissionDenied, ..));
            if reads_everything && !refused_by_role {
                continue;
            }
            compared += 1;
            if existing != unknown {
                differing.push(format!(
                    "{rpc:?} as {kind}:\n  existing {}\n  unknown  {}",
                    existing.describe(),
                    unknown.describe()
                ));
            }
            if matches!(existing, Answer::Refused(..)) {
                assert!(
                    unchanged_since(&server, before).await,
                    "{rpc:?} as {kind} refused, yet changed something"
                );
            }
        }
    }
    assert!(differing.is_empty(), "{}", differing.join("\n"));
    assert!(compared >= RPCS.len() * 3, "{compared} pairs compared");
}

#[tokio::test]
async fn p4_a_suspended_partner_is_refused_every_call_but_reading_itself() {
    let server = TestServer::start().await;
    let tenant = TenantA::build(&server).await;
    let Outsiders { suspended, .. } = outsiders(&server).await;
    let who = partner(&suspended);
    // The one refusal every call gets: P4's, from the caller alone.
    let status = server
        .customers(&who)
        .get_customer(pb::GetCustomerRequest {
            id: tenant.customer.clone(),
        })
        .await;
    let status = assert_error(status, Code::PermissionDenied, "PARTNER_NOT_ACTIVE");
    let refused = Answer::Refused(status.code(), status.message().to_owned(), status.details().to_vec());
    let before = last_seq(&server).await;
    for rpc in RPCS {
        for id in [tenant.id_for(rpc).to_owned(), unknown(rpc)] {
            let answer = call(&server, &who, rpc, &id, &tenant.provider).await;
            // CheckAccess about itself answers (denied, PARTNER_NOT_ACTIVE).
            if matches!(rpc, Rpc::CheckAccess | Rpc::BatchCheckAccess) {
                assert!(matches!(answer, Answer::Reply(_)), "{rpc:?}: {answer:?}");
                continue;
            }
            assert_eq!(answer, refused, "{rpc:?} about {id}");
        }
    }
    // GetPartner on itself still answers.
    server
        .partners(&who)
        .get_partner(pb::GetPartnerRequest { id: suspended.clone() })
        .await
        .expect("a suspended partner reads itself");
    let decision = server
        .relationships(&who)
        .check_access(pb::CheckAccessRequest {
            customer_id: tenant.customer.clone(),
            action: pb::check_access_request::Action::View as i32,
            ..Default::default()
        })
        .await
        .expect("a suspended partner checks its own access")
        .into_inner();
    assert!(!decision.allowed);
    assert!(unchanged_since(&server, before).await, "refusals change nothing");
}
