//! Access decisions: A1 through the CheckAccess RPC for every action, A2
//! BatchCheckAccess, A3 read-your-writes.

use std::sync::Arc;

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::check_access_response::Reason;
use partnercenter::api::pb::delegated_admin_grant::{Scope, State as GrantState};
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::api::pb::relationship::{Kind as RelationshipKind, State as RelationshipState};
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;
use partnercenter::api::pb::subscription::Channel;
use partnercenter::domain::clock::SystemClock;
use partnercenter::domain::principal::Principal;
use tonic::Code;

use crate::support::*;

const BOTH: [Scope; 2] = [Scope::Provisioning, Scope::Support];
const ACTIONS: [Action; 5] = [
    Action::View,
    Action::Sell,
    Action::Provision,
    Action::Support,
    Action::ManageSubscription,
];

// ---------------------------------------------------------------- helpers

fn query(
    partner_id: &str,
    customer_id: &str,
    action: Action,
    service: &str,
    subscription_id: &str,
) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        partner_id: partner_id.into(),
        customer_id: customer_id.into(),
        action: action as i32,
        service: service.into(),
        subscription_id: subscription_id.into(),
        user_id: String::new(),
    }
}

/// A check with the service or subscription its action needs.
fn full_query(partner_id: &str, customer_id: &str, action: Action, subscription_id: &str) -> pb::CheckAccessRequest {
    match action {
        Action::Provision | Action::Support => query(partner_id, customer_id, action, "office365", ""),
        Action::ManageSubscription => query(partner_id, customer_id, action, "", subscription_id),
        _ => query(partner_id, customer_id, action, "", ""),
    }
}

async fn batch_as(
    server: &TestServer,
    who: &Principal,
    checks: Vec<pb::CheckAccessRequest>,
) -> Result<pb::BatchCheckAccessResponse, tonic::Status> {
    server
        .relationships(who)
        .batch_check_access(pb::BatchCheckAccessRequest { checks })
        .await
        .map(|r| r.into_inner())
}

#[track_caller]
fn assert_allowed(decision: &pb::CheckAccessResponse, reason: Reason, relationship_ids: &[&str], grant_ids: &[&str]) {
    assert!(decision.allowed, "expected allowed with {reason:?}: {decision:?}");
    assert_eq!(decision.reason, reason as i32, "{decision:?}");
    let mut got = decision.relationship_ids.clone();
    got.sort();
    let mut expected: Vec<String> = relationship_ids.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(got, expected, "relationship ids: {decision:?}");
    let mut got = decision.grant_ids.clone();
    got.sort();
    let mut expected: Vec<String> = grant_ids.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(got, expected, "grant ids: {decision:?}");
}

#[track_caller]
fn assert_denied(decision: &pb::CheckAccessResponse, reason: Reason) {
    assert!(!decision.allowed, "expected denied with {reason:?}: {decision:?}");
    assert_eq!(decision.reason, reason as i32, "{decision:?}");
    assert!(
        decision.relationship_ids.is_empty() && decision.grant_ids.is_empty(),
        "a denial rests on nothing: {decision:?}"
    );
}

/// The partner's ACTIVE relationship of this kind with the customer.
async fn relationship_id(server: &TestServer, customer_id: &str, partner_id: &str, kind: RelationshipKind) -> String {
    let list = relationships_listing(server, &service(), customer_id).await;
    let found: Vec<&pb::Relationship> = list
        .relationships
        .iter()
        .filter(|r| r.partner_id == partner_id && r.kind == kind as i32 && r.state == RelationshipState::Active as i32)
        .collect();
    assert_eq!(found.len(), 1, "{kind:?} of {partner_id}: {list:?}");
    found[0].id.clone()
}

/// The partner's ACTIVE grant for the service.
async fn grant_id(server: &TestServer, customer_id: &str, partner_id: &str, service: &str) -> String {
    let list = relationships_listing(server, &crate::support::service(), customer_id).await;
    let found: Vec<&pb::DelegatedAdminGrant> = list
        .delegated_admin_grants
        .iter()
        .filter(|g| g.partner_id == partner_id && g.service == service && g.state == GrantState::Active as i32)
        .collect();
    assert_eq!(found.len(), 1, "{service} grant of {partner_id}: {list:?}");
    found[0].id.clone()
}

async fn accept_invitation(server: &TestServer, customer_id: &str, inviting_partner_id: &str, with_dap: bool) {
    let invitation = server
        .invite(
            inviting_partner_id,
            pb::RelationshipRequest {
                include_delegated_admin: with_dap,
                ..Default::default()
            },
        )
        .await
        .expect("invitation");
    server.accept(customer_id, &invitation.code).await.expect("accepted");
}

// ---------------------------------------------------------------- A1: VIEW

#[tokio::test]
async fn a1_view_rests_on_an_active_relationship_or_a_grant_in_force() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let (_, elsewhere) = reseller_with_customer(&server).await;
    let relationship = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::Reseller).await;

    let view = server.check(&reseller.id, &created.id, Action::View, "", "").await;
    assert_allowed(&view, Reason::ActiveRelationship, &[&relationship], &[]);

    // A grant alone is enough.
    let helper = server.create_partner(Kind::DirectReseller).await;
    assert_denied(
        &server.check(&helper.id, &created.id, Action::View, "", "").await,
        Reason::NoRelationship,
    );
    let grant = server
        .grant(&created.id, &helper.id, "azure", &[Scope::Support])
        .await
        .expect("grant")
        .grant
        .expect("grant");
    let view = server.check(&helper.id, &created.id, Action::View, "", "").await;
    assert_allowed(&view, Reason::DelegatedAdmin, &[], &[&grant.id]);

    // Nothing for another customer; nothing once the grant is revoked.
    assert_denied(
        &server.check(&reseller.id, &elsewhere.id, Action::View, "", "").await,
        Reason::NoRelationship,
    );
    assert_denied(
        &server.check(&helper.id, &elsewhere.id, Action::View, "", "").await,
        Reason::NoRelationship,
    );
    revoke_grant_as(&server, &customer(&created.id), &grant.id)
        .await
        .expect("the customer admin revokes");
    assert_denied(
        &server.check(&helper.id, &created.id, Action::View, "", "").await,
        Reason::NoRelationship,
    );
}

// ---------------------------------------------------------------- A1: SELL

#[tokio::test]
async fn a1_sell_is_allowed_only_to_a_transacting_reseller() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let relationship = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::Reseller).await;
    assert_allowed(
        &server.check(&reseller.id, &created.id, Action::Sell, "", "").await,
        Reason::Transacting,
        &[&relationship],
        &[],
    );

    // A second reseller by invitation transacts too (multi-partner).
    let second = server.create_partner(Kind::DirectReseller).await;
    accept_invitation(&server, &created.id, &second.id, false).await;
    let second_relationship = relationship_id(&server, &created.id, &second.id, RelationshipKind::Reseller).await;
    assert_allowed(
        &server.check(&second.id, &created.id, Action::Sell, "", "").await,
        Reason::Transacting,
        &[&second_relationship],
        &[],
    );

    // DAP alone does not transact; no business at all is no relationship.
    let helper = server.create_partner(Kind::DirectReseller).await;
    server
        .grant(&created.id, &helper.id, "office365", &BOTH)
        .await
        .expect("grant");
    assert_denied(
        &server.check(&helper.id, &created.id, Action::Sell, "", "").await,
        Reason::NotTransacting,
    );
    let stranger = server.create_partner(Kind::DirectReseller).await;
    assert_denied(
        &server.check(&stranger.id, &created.id, Action::Sell, "", "").await,
        Reason::NoRelationship,
    );

    // M3: once its relationship ends, SELL is denied.
    server
        .relationships(&partner(&second.id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: created.id.clone(),
            partner_id: String::new(),
        })
        .await
        .expect("relationship ended");
    let sell = server.check(&second.id, &created.id, Action::Sell, "", "").await;
    assert!(!sell.allowed, "{sell:?}");
    assert_allowed(
        &server.check(&reseller.id, &created.id, Action::Sell, "", "").await,
        Reason::Transacting,
        &[&relationship],
        &[],
    );
}

#[tokio::test]
async fn a1_sell_for_an_indirect_reseller_needs_an_active_provider_and_an_active_link() {
    let server = TestServer::start().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    let indirect = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::IndirectReseller).await;
    let direct = relationship_id(&server, &created.id, &provider.id, RelationshipKind::Reseller).await;
    let transacting = |decision: &pb::CheckAccessResponse| {
        assert_allowed(decision, Reason::Transacting, &[&indirect], &[]);
    };
    transacting(&server.check(&reseller.id, &created.id, Action::Sell, "", "").await);
    assert_allowed(
        &server.check(&provider.id, &created.id, Action::Sell, "", "").await,
        Reason::Transacting,
        &[&direct],
        &[],
    );
    // The reseller is linked to a second provider too: only the link of the
    // relationship's own provider counts.
    let other_provider = server.create_partner(Kind::IndirectProvider).await;
    server.link(&other_provider.id, &reseller.id).await;

    // Unlinked: the relationship stays ACTIVE but does not transact.
    server.unlink(&provider.id, &reseller.id).await;
    assert_denied(
        &server.check(&reseller.id, &created.id, Action::Sell, "", "").await,
        Reason::NotTransacting,
    );
    assert_allowed(
        &server.check(&reseller.id, &created.id, Action::View, "", "").await,
        Reason::ActiveRelationship,
        &[&indirect],
        &[],
    );
    let list = relationships_listing(&server, &service(), &created.id).await;
    let row = list.relationships.iter().find(|r| r.id == indirect).expect("listed");
    assert_eq!(row.state, RelationshipState::Active as i32);
    // DAP does not depend on transacting.
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Provision, "office365", "")
            .await
            .allowed
    );
    assert_allowed(
        &server.check(&provider.id, &created.id, Action::Sell, "", "").await,
        Reason::Transacting,
        &[&direct],
        &[],
    );

    // Linked again: it transacts again.
    server.link(&provider.id, &reseller.id).await;
    transacting(&server.check(&reseller.id, &created.id, Action::Sell, "", "").await);

    // A suspended provider's reseller stays ACTIVE but does not transact.
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    assert_denied(
        &server.check(&reseller.id, &created.id, Action::Sell, "", "").await,
        Reason::NotTransacting,
    );
    assert_allowed(
        &server.check(&reseller.id, &created.id, Action::View, "", "").await,
        Reason::ActiveRelationship,
        &[&indirect],
        &[],
    );
    assert_denied(
        &server.check(&provider.id, &created.id, Action::Sell, "", "").await,
        Reason::PartnerNotActive,
    );
    server.set_partner_status(&provider.id, PartnerStatus::Active).await;
    transacting(&server.check(&reseller.id, &created.id, Action::Sell, "", "").await);
}

#[tokio::test]
async fn a1_an_advisor_relationship_allows_view_but_never_sell() {
    let server = TestServer::start().await;
    let created = server
        .create_customer(&operator(), None)
        .await
        .expect("customer without partner");
    let advisor = server.create_partner(Kind::Advisor).await;
    let subscription = server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: Channel::Advisor as i32,
                ..csp_subscription(&created.id, &advisor.id)
            },
        )
        .await
        .expect("ADVISOR subscription recorded");
    let relationship = relationship_id(&server, &created.id, &advisor.id, RelationshipKind::Advisor).await;

    assert_allowed(
        &server.check(&advisor.id, &created.id, Action::View, "", "").await,
        Reason::ActiveRelationship,
        &[&relationship],
        &[],
    );
    assert_denied(
        &server.check(&advisor.id, &created.id, Action::Sell, "", "").await,
        Reason::NotTransacting,
    );
    assert!(
        !server
            .check(&advisor.id, &created.id, Action::Provision, "office365", "")
            .await
            .allowed
    );
    assert!(
        !server
            .check(&advisor.id, &created.id, Action::Support, "", &subscription.id)
            .await
            .allowed
    );
    let manage = server
        .check(
            &advisor.id,
            &created.id,
            Action::ManageSubscription,
            "",
            &subscription.id,
        )
        .await;
    assert_denied(&manage, Reason::NotCspSubscription);

    // P3: an Advisor that joins CSP keeps its ADVISOR relationship, which
    // still never transacts.
    server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: advisor.id.clone(),
                kind: Kind::DirectReseller as i32,
                ..Default::default()
            }),
            update_mask: mask(&["kind"]),
        })
        .await
        .expect("kind changed");
    assert_denied(
        &server.check(&advisor.id, &created.id, Action::Sell, "", "").await,
        Reason::NotTransacting,
    );
    assert!(
        server
            .check(&advisor.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );
}

// ---------------------------------------------------------------- A1: PROVISION, SUPPORT

#[tokio::test]
async fn a1_provision_needs_a_grant_in_force_with_provisioning_for_that_service() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    for service in ["office365", "azure", "dynamics365"] {
        let grant = grant_id(&server, &created.id, &reseller.id, service).await;
        assert_allowed(
            &server
                .check(&reseller.id, &created.id, Action::Provision, service, "")
                .await,
            Reason::DelegatedAdmin,
            &[],
            &[&grant],
        );
    }

    let helper = server.create_partner(Kind::DirectReseller).await;
    let support_only = server
        .grant(&created.id, &helper.id, "azure", &[Scope::Support])
        .await
        .expect("grant")
        .grant
        .expect("grant");
    assert_denied(
        &server
            .check(&helper.id, &created.id, Action::Provision, "azure", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
    let provisioning = server
        .grant(&created.id, &helper.id, "azure", &[Scope::Provisioning])
        .await
        .expect("grant")
        .grant
        .expect("grant");
    assert_eq!(provisioning.id, support_only.id);
    assert_allowed(
        &server
            .check(&helper.id, &created.id, Action::Provision, "azure", "")
            .await,
        Reason::DelegatedAdmin,
        &[],
        &[&provisioning.id],
    );
    for service in ["office365", "dynamics365"] {
        assert_denied(
            &server
                .check(&helper.id, &created.id, Action::Provision, service, "")
                .await,
            Reason::NoDelegatedAdmin,
        );
    }

    // A transacting reseller without DAP may sell but not provision.
    let second = server.create_partner(Kind::DirectReseller).await;
    accept_invitation(&server, &created.id, &second.id, false).await;
    assert!(
        server
            .check(&second.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    assert_denied(
        &server
            .check(&second.id, &created.id, Action::Provision, "office365", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
}

#[tokio::test]
async fn a1_support_for_a_service_needs_a_grant_in_force_with_support() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::IndirectReseller).await;
    let grant = server
        .grant(&created.id, &helper.id, "office365", &[Scope::Support])
        .await
        .expect("grant")
        .grant
        .expect("grant");
    assert_allowed(
        &server
            .check(&helper.id, &created.id, Action::Support, "office365", "")
            .await,
        Reason::DelegatedAdmin,
        &[],
        &[&grant.id],
    );
    assert_denied(
        &server
            .check(&helper.id, &created.id, Action::Support, "azure", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
    assert_denied(
        &server
            .check(&helper.id, &created.id, Action::Provision, "office365", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
    let provisioning = server.create_partner(Kind::DirectReseller).await;
    server
        .grant(&created.id, &provisioning.id, "office365", &[Scope::Provisioning])
        .await
        .expect("grant");
    assert_denied(
        &server
            .check(&provisioning.id, &created.id, Action::Support, "office365", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
}

#[tokio::test]
async fn a1_support_and_manage_of_a_csp_subscription_rest_on_its_partner_of_record_while_transacting() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let relationship = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::Reseller).await;
    let subscription = server
        .create_subscription(&partner(&reseller.id), csp_subscription(&created.id, &reseller.id))
        .await
        .expect("CSP subscription");
    let office = grant_id(&server, &created.id, &reseller.id, "office365").await;

    // With DAP for the subscription's service, SUPPORT rests on the grant.
    assert_allowed(
        &server
            .check(&reseller.id, &created.id, Action::Support, "", &subscription.id)
            .await,
        Reason::DelegatedAdmin,
        &[],
        &[&office],
    );
    assert_allowed(
        &server
            .check(
                &reseller.id,
                &created.id,
                Action::ManageSubscription,
                "",
                &subscription.id,
            )
            .await,
        Reason::PartnerOfRecord,
        &[&relationship],
        &[],
    );

    // Without it, SUPPORT of the subscription rests on being its partner of
    // record, but not SUPPORT of the service in general.
    revoke_grant_as(&server, &customer(&created.id), &office)
        .await
        .expect("the customer admin revokes");
    assert_allowed(
        &server
            .check(&reseller.id, &created.id, Action::Support, "", &subscription.id)
            .await,
        Reason::PartnerOfRecord,
        &[&relationship],
        &[],
    );
    assert_denied(
        &server
            .check(&reseller.id, &created.id, Action::Support, "office365", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
    assert_allowed(
        &server
            .check(
                &reseller.id,
                &created.id,
                Action::ManageSubscription,
                "",
                &subscription.id,
            )
            .await,
        Reason::PartnerOfRecord,
        &[&relationship],
        &[],
    );

    // Another partner with DAP may support it but not manage it (D5).
    let helper = server.create_partner(Kind::DirectReseller).await;
    let helper_grant = server
        .grant(&created.id, &helper.id, "office365", &BOTH)
        .await
        .expect("grant")
        .grant
        .expect("grant");
    assert_allowed(
        &server
            .check(&helper.id, &created.id, Action::Support, "", &subscription.id)
            .await,
        Reason::DelegatedAdmin,
        &[],
        &[&helper_grant.id],
    );
    assert_denied(
        &server
            .check(
                &helper.id,
                &created.id,
                Action::ManageSubscription,
                "",
                &subscription.id,
            )
            .await,
        Reason::NotPartnerOfRecord,
    );

    // The subscription asked about with another customer is not found there.
    let (other_reseller, other) = reseller_with_customer(&server).await;
    let other_subscription = server
        .create_subscription(
            &partner(&other_reseller.id),
            csp_subscription(&other.id, &other_reseller.id),
        )
        .await
        .expect("CSP subscription");
    assert_denied(
        &server
            .check(
                &reseller.id,
                &created.id,
                Action::ManageSubscription,
                "",
                &other_subscription.id,
            )
            .await,
        Reason::SubscriptionNotFound,
    );
}

#[tokio::test]
async fn a1_support_and_manage_of_an_indirect_subscription_rest_on_reseller_and_provider_while_transacting() {
    let server = TestServer::start().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    let indirect = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::IndirectReseller).await;
    let direct = relationship_id(&server, &created.id, &provider.id, RelationshipKind::Reseller).await;
    let subscription = server
        .create_subscription(&partner(&provider.id), csp_subscription(&created.id, &reseller.id))
        .await
        .expect("CSP subscription with the reseller of record");
    assert_eq!(subscription.partner_of_record_id, reseller.id);
    assert_eq!(subscription.indirect_provider_id, provider.id);
    let sub = subscription.id.as_str();

    // The provider holds no DAP: it rests on being the indirect provider.
    assert_allowed(
        &server.check(&provider.id, &created.id, Action::Support, "", sub).await,
        Reason::IndirectProviderOfRecord,
        &[&direct],
        &[],
    );
    assert_allowed(
        &server
            .check(&provider.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::IndirectProviderOfRecord,
        &[&direct],
        &[],
    );
    assert_denied(
        &server
            .check(&provider.id, &created.id, Action::Provision, "office365", "")
            .await,
        Reason::NoDelegatedAdmin,
    );
    assert_allowed(
        &server
            .check(&reseller.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::PartnerOfRecord,
        &[&indirect],
        &[],
    );
    let reseller_office = grant_id(&server, &created.id, &reseller.id, "office365").await;
    revoke_grant_as(&server, &customer(&created.id), &reseller_office)
        .await
        .expect("the customer admin revokes");
    assert_allowed(
        &server.check(&reseller.id, &created.id, Action::Support, "", sub).await,
        Reason::PartnerOfRecord,
        &[&indirect],
        &[],
    );

    // Unlinked, the reseller is no longer transacting: neither right holds.
    server.unlink(&provider.id, &reseller.id).await;
    assert_denied(
        &server
            .check(&reseller.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::NotTransacting,
    );
    let support = server.check(&reseller.id, &created.id, Action::Support, "", sub).await;
    assert!(!support.allowed, "{support:?}");
    assert_allowed(
        &server
            .check(&provider.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::IndirectProviderOfRecord,
        &[&direct],
        &[],
    );
    server.link(&provider.id, &reseller.id).await;
    assert_allowed(
        &server
            .check(&reseller.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::PartnerOfRecord,
        &[&indirect],
        &[],
    );

    // A suspended provider: denied itself, and its reseller stops transacting.
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    assert_denied(
        &server
            .check(&provider.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::PartnerNotActive,
    );
    assert_denied(
        &server
            .check(&reseller.id, &created.id, Action::ManageSubscription, "", sub)
            .await,
        Reason::NotTransacting,
    );
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::Support, "", sub)
            .await
            .allowed
    );
}

#[tokio::test]
async fn a1_manage_subscription_is_only_for_csp_subscriptions() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let direct = server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: Channel::Direct as i32,
                ..csp_subscription(&created.id, "")
            },
        )
        .await
        .expect("DIRECT subscription recorded");
    assert_denied(
        &server
            .check(&reseller.id, &created.id, Action::ManageSubscription, "", &direct.id)
            .await,
        Reason::NotCspSubscription,
    );
    // Its DAP still lets it support the subscription's service.
    let office = grant_id(&server, &created.id, &reseller.id, "office365").await;
    assert_allowed(
        &server
            .check(&reseller.id, &created.id, Action::Support, "", &direct.id)
            .await,
        Reason::DelegatedAdmin,
        &[],
        &[&office],
    );
    revoke_grant_as(&server, &customer(&created.id), &office)
        .await
        .expect("the customer admin revokes");
    assert_denied(
        &server
            .check(&reseller.id, &created.id, Action::Support, "", &direct.id)
            .await,
        Reason::NoDelegatedAdmin,
    );
}

// ---------------------------------------------------------------- A1: P4, unknown ids

#[tokio::test]
async fn a1_a_suspended_partner_is_denied_every_action_with_partner_not_active() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let subscription = server
        .create_subscription(&partner(&reseller.id), csp_subscription(&created.id, &reseller.id))
        .await
        .expect("CSP subscription");
    let checks: Vec<pb::CheckAccessRequest> = ACTIONS
        .iter()
        .map(|action| full_query(&reseller.id, &created.id, *action, &subscription.id))
        .chain([query(&reseller.id, &created.id, Action::Support, "", &subscription.id)])
        .collect();
    for check in &checks {
        let decision = check_as(&server, &service(), check.clone()).await.expect("check");
        assert!(decision.allowed, "{check:?}: {decision:?}");
    }

    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    for check in &checks {
        let decision = check_as(&server, &service(), check.clone()).await.expect("check");
        assert_denied(&decision, Reason::PartnerNotActive);
        // The partner asking about itself hears the same.
        let own = check_as(&server, &partner(&reseller.id), check.clone())
            .await
            .expect("check");
        assert_denied(&own, Reason::PartnerNotActive);
    }
    // Its relationship and grants are untouched (P3): reinstated, it is
    // allowed again.
    server.set_partner_status(&reseller.id, PartnerStatus::Active).await;
    for check in &checks {
        let decision = check_as(&server, &service(), check.clone()).await.expect("check");
        assert!(decision.allowed, "{check:?}: {decision:?}");
    }
}

#[tokio::test]
async fn a1_an_unknown_customer_partner_or_subscription_is_denied_not_an_error() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let subscription = server
        .create_subscription(&partner(&reseller.id), csp_subscription(&created.id, &reseller.id))
        .await
        .expect("CSP subscription");
    let unknown = || partnercenter::store::new_id();

    for action in ACTIONS {
        // Unknown customer.
        let decision = check_as(
            &server,
            &service(),
            full_query(&reseller.id, &unknown(), action, &subscription.id),
        )
        .await
        .expect("not an error");
        assert!(!decision.allowed, "{action:?}: {decision:?}");
        assert!(decision.relationship_ids.is_empty() && decision.grant_ids.is_empty());
        // Unknown partner.
        let decision = check_as(
            &server,
            &operator(),
            full_query(&unknown(), &created.id, action, &subscription.id),
        )
        .await
        .expect("not an error");
        assert_denied(&decision, Reason::PartnerNotFound);
    }
    // A partner asking about itself and a customer unknown to it.
    let decision = check_as(
        &server,
        &partner(&reseller.id),
        query("", &unknown(), Action::View, "", ""),
    )
    .await
    .expect("not an error");
    assert_denied(&decision, Reason::NoRelationship);
    // Unknown subscription.
    for action in [Action::Support, Action::ManageSubscription] {
        let decision = server.check(&reseller.id, &created.id, action, "", &unknown()).await;
        assert_denied(&decision, Reason::SubscriptionNotFound);
    }
    assert_denied(
        &server
            .check(&reseller.id, &unknown(), Action::ManageSubscription, "", &unknown())
            .await,
        Reason::NoRelationship,
    );
}

// ---------------------------------------------------------------- A1: who may ask

#[tokio::test]
async fn a1_a_partner_asks_only_about_itself_and_may_omit_partner_id() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let relationship = relationship_id(&server, &created.id, &reseller.id, RelationshipKind::Reseller).await;

    let named = check_as(
        &server,
        &partner(&reseller.id),
        query(&reseller.id, &created.id, Action::Sell, "", ""),
    )
    .await
    .expect("about itself");
    assert_allowed(&named, Reason::Transacting, &[&relationship], &[]);
    let omitted = check_as(
        &server,
        &partner(&reseller.id),
        query("", &created.id, Action::Sell, "", ""),
    )
    .await
    .expect("partner_id omitted");
    assert_eq!(omitted, named);
    let omitted = check_as(
        &server,
        &partner(&other.id),
        query("", &created.id, Action::View, "", ""),
    )
    .await
    .expect("partner_id omitted");
    assert_denied(&omitted, Reason::NoRelationship);

    // About another partner, existing or not, allowed or not.
    for (who, about) in [
        (&other.id, reseller.id.clone()),
        (&reseller.id, other.id.clone()),
        (&reseller.id, partnercenter::store::new_id()),
    ] {
        assert_error(
            check_as(&server, &partner(who), query(&about, &created.id, Action::View, "", "")).await,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        );
    }
}

#[tokio::test]
async fn a1_a_customer_admin_may_not_check_access_but_operator_and_service_may() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    for request in [
        query(&reseller.id, &created.id, Action::View, "", ""),
        query(&reseller.id, &created.id, Action::Provision, "office365", ""),
    ] {
        assert_error(
            check_as(&server, &customer(&created.id), request).await,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        );
    }
    for who in [operator(), service()] {
        let decision = check_as(&server, &who, query(&reseller.id, &created.id, Action::View, "", ""))
            .await
            .expect("operator and service ask about anyone");
        assert!(decision.allowed, "{decision:?}");
        // They name the partner.
        let status = check_as(&server, &who, query("", &created.id, Action::View, "", ""))
            .await
            .expect_err("no partner named");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&status), vec!["partner_id".to_string()]);
    }
}

#[tokio::test]
async fn a1_missing_action_service_or_subscription_is_invalid_argument() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let p = reseller.id.as_str();
    let c = created.id.as_str();
    let cases: Vec<(pb::CheckAccessRequest, Vec<&str>)> = vec![
        (query(p, c, Action::Unspecified, "", ""), vec!["action"]),
        (
            pb::CheckAccessRequest {
                action: 99,
                ..query(p, c, Action::View, "", "")
            },
            vec!["action"],
        ),
        (query(p, c, Action::Provision, "", ""), vec!["service"]),
        (query(p, c, Action::Support, "", ""), vec!["service"]),
        (
            query(p, c, Action::ManageSubscription, "office365", ""),
            vec!["subscription_id"],
        ),
        (query(p, c, Action::Provision, "exchange", ""), vec!["service"]),
        (
            query(p, c, Action::ManageSubscription, "", "not-an-id"),
            vec!["subscription_id"],
        ),
        (query(p, "", Action::View, "", ""), vec!["customer_id"]),
        (query("not-an-id", c, Action::View, "", ""), vec!["partner_id"]),
    ];
    for (request, fields) in cases {
        let status = assert_error(
            check_as(&server, &service(), request.clone()).await,
            Code::InvalidArgument,
            "INVALID_FIELD",
        );
        assert_eq!(
            violated_fields(&status),
            fields.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "{request:?}"
        );
    }
}

// ---------------------------------------------------------------- A2

/// A world of reseller, chain, helper and suspended partner, and `count`
/// checks over it in a fixed pseudo-random walk: every action, known and
/// unknown ids, a mix of answers.
async fn varied_checks(server: &TestServer, count: usize) -> Vec<pb::CheckAccessRequest> {
    let (reseller, created) = reseller_with_customer(server).await;
    let (provider, indirect, chained) = indirect_chain(server).await;
    let subscription = server
        .create_subscription(&partner(&reseller.id), csp_subscription(&created.id, &reseller.id))
        .await
        .expect("CSP subscription");
    let indirect_subscription = server
        .create_subscription(&partner(&provider.id), csp_subscription(&chained.id, &indirect.id))
        .await
        .expect("CSP subscription");
    let helper = server.create_partner(Kind::DirectReseller).await;
    server
        .grant(&created.id, &helper.id, "azure", &[Scope::Support])
        .await
        .expect("grant");
    let suspended = server.create_partner(Kind::DirectReseller).await;
    server
        .grant(&created.id, &suspended.id, "office365", &BOTH)
        .await
        .expect("grant");
    server.set_partner_status(&suspended.id, PartnerStatus::Suspended).await;

    let partners = [
        reseller.id.clone(),
        provider.id.clone(),
        indirect.id.clone(),
        helper.id.clone(),
        suspended.id.clone(),
        partnercenter::store::new_id(),
    ];
    let customers = [created.id.clone(), chained.id.clone(), partnercenter::store::new_id()];
    let subscriptions = [
        subscription.id.clone(),
        indirect_subscription.id.clone(),
        partnercenter::store::new_id(),
    ];
    let services = ["office365", "azure", "dynamics365"];
    // A fixed pseudo-random walk over the combinations.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..count)
        .map(|_| {
            let partner_id = &partners[next(partners.len())];
            let customer_id = &customers[next(customers.len())];
            let service = services[next(services.len())];
            let subscription_id = &subscriptions[next(subscriptions.len())];
            match next(6) {
                0 => query(partner_id, customer_id, Action::View, "", ""),
                1 => query(partner_id, customer_id, Action::Sell, "", ""),
                2 => query(partner_id, customer_id, Action::Provision, service, ""),
                3 => query(partner_id, customer_id, Action::Support, service, ""),
                4 => query(partner_id, customer_id, Action::Support, "", subscription_id),
                _ => query(partner_id, customer_id, Action::ManageSubscription, "", subscription_id),
            }
        })
        .collect()
}

#[tokio::test]
async fn a2_a_batch_of_1000_checks_answers_each_in_order_like_check_access() {
    let server = TestServer::start().await;
    let checks = varied_checks(&server, 1000).await;

    let reply = batch_as(&server, &service(), checks.clone())
        .await
        .expect("1000 checks");
    assert_eq!(reply.results.len(), checks.len());
    let mut allowed = 0;
    for (i, (check, result)) in checks.iter().zip(&reply.results).enumerate() {
        let single = check_as(&server, &service(), check.clone())
            .await
            .expect("single check");
        assert_eq!(result, &single, "results[{i}] for {check:?}");
        allowed += usize::from(single.allowed);
    }
    assert!(allowed > 50 && allowed < 950, "a mix of answers: {allowed} allowed");

    // The operator gets the same answers.
    let as_operator = batch_as(&server, &operator(), checks).await.expect("operator batch");
    assert_eq!(as_operator, reply);
}

/// Concurrent CheckAccess calls are decided together, several by one read
/// of the store: each caller still gets the answer to its own question.
#[tokio::test]
async fn a1_concurrent_checks_each_get_their_own_answer() {
    let server = TestServer::start().await;
    let checks = varied_checks(&server, 600).await;
    let expected = batch_as(&server, &service(), checks.clone())
        .await
        .expect("the same checks as one batch")
        .results;
    let mut calls = tokio::task::JoinSet::new();
    for (i, check) in checks.into_iter().enumerate() {
        let mut client = server.relationships(&service());
        calls.spawn(async move { (i, client.check_access(check).await.map(|r| r.into_inner())) });
    }
    let mut answered = 0;
    while let Some(joined) = calls.join_next().await {
        let (i, decision) = joined.expect("the call task finished");
        assert_eq!(decision.expect("check answered"), expected[i], "check {i}");
        answered += 1;
    }
    assert_eq!(answered, expected.len());
}

#[tokio::test]
async fn a2_a_batch_of_1001_checks_is_invalid_argument() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let checks = vec![query(&reseller.id, &created.id, Action::View, "", ""); 1001];
    let status = batch_as(&server, &service(), checks).await.expect_err("too many");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    reason(&status);

    let empty = batch_as(&server, &service(), Vec::new()).await.expect("no checks");
    assert!(empty.results.is_empty());
}

#[tokio::test]
async fn a2_a_partner_batches_checks_about_itself_and_may_omit_partner_id() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let own = batch_as(
        &server,
        &partner(&reseller.id),
        vec![
            query("", &created.id, Action::Sell, "", ""),
            query(&reseller.id, &created.id, Action::Provision, "azure", ""),
        ],
    )
    .await
    .expect("about itself");
    assert_eq!(own.results.len(), 2);
    assert!(own.results.iter().all(|r| r.allowed), "{own:?}");
    assert_eq!(own.results[0].reason, Reason::Transacting as i32);
    assert_eq!(own.results[1].reason, Reason::DelegatedAdmin as i32);
}

#[tokio::test]
async fn a2_a_partner_batch_with_a_check_about_another_partner_is_permission_denied() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    assert_error(
        batch_as(
            &server,
            &partner(&reseller.id),
            vec![
                query("", &created.id, Action::Sell, "", ""),
                query(&other.id, &created.id, Action::View, "", ""),
            ],
        )
        .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn a2_a_customer_admin_may_not_batch_check_access() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    assert_error(
        batch_as(
            &server,
            &customer(&created.id),
            vec![query(&reseller.id, &created.id, Action::View, "", "")],
        )
        .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn a2_an_invalid_check_in_a_batch_is_invalid_argument_named_by_its_index() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let status = assert_error(
        batch_as(
            &server,
            &service(),
            vec![
                query(&reseller.id, &created.id, Action::View, "", ""),
                query(&reseller.id, &created.id, Action::Unspecified, "", ""),
                query(&reseller.id, &created.id, Action::Provision, "", ""),
            ],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["checks[1].action".to_string(), "checks[2].service".to_string()]
    );
}

// ---------------------------------------------------------------- A3

#[tokio::test]
async fn a3_every_acknowledged_write_is_reflected_by_the_next_check() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let created = server.create_customer(&operator(), None).await.expect("customer");

    // accept
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );
    let invitation = server
        .invite(
            &provider.id,
            pb::RelationshipRequest {
                indirect_reseller_id: reseller.id.clone(),
                include_delegated_admin: true,
                delegated_admin_services: vec!["azure".into()],
                ..Default::default()
            },
        )
        .await
        .expect("invitation");
    server.accept(&created.id, &invitation.code).await.expect("accepted");
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Provision, "azure", "")
            .await
            .allowed
    );
    assert!(
        server
            .check(&provider.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );

    // grant
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::Provision, "office365", "")
            .await
            .allowed
    );
    let grant = server
        .grant(&created.id, &reseller.id, "office365", &[Scope::Provisioning])
        .await
        .expect("grant")
        .grant
        .expect("grant");
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Provision, "office365", "")
            .await
            .allowed
    );

    // revoke
    revoke_grant_as(&server, &customer(&created.id), &grant.id)
        .await
        .expect("the customer admin revokes");
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::Provision, "office365", "")
            .await
            .allowed
    );

    // unlink, link
    server.unlink(&provider.id, &reseller.id).await;
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    server.link(&provider.id, &reseller.id).await;
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );

    // suspend, reinstate
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    assert_denied(
        &server.check(&reseller.id, &created.id, Action::View, "", "").await,
        Reason::PartnerNotActive,
    );
    server.set_partner_status(&reseller.id, PartnerStatus::Active).await;
    assert!(
        server
            .check(&reseller.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );

    // A burst of writes, each checked right after its acknowledgement.
    for round in 0..20 {
        let status = if round % 2 == 0 {
            PartnerStatus::Suspended
        } else {
            PartnerStatus::Active
        };
        server.set_partner_status(&provider.id, status).await;
        let decision = server.check(&reseller.id, &created.id, Action::Sell, "", "").await;
        assert_eq!(
            decision.allowed,
            status == PartnerStatus::Active,
            "round {round}: {decision:?}"
        );
    }
}

#[tokio::test]
async fn a3_a_check_on_another_replica_reflects_every_write_acknowledged_before_it() {
    let primary = TestServer::start().await;
    let mut config = partnercenter::config::Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    config.store.database_url = primary.database_url.clone();
    config.store.max_connections = 4;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.telemetry.metrics_listen = None;
    let replica = partnercenter::api::server::spawn(&config, Arc::new(SystemClock))
        .await
        .expect("a second replica on the same store");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", replica.addr()))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let on_replica =
        |who: &Principal| RelationshipServiceClient::with_interceptor(channel.clone(), primary.bearer(who));
    let replica_check = |partner_id: String, customer_id: String, action: Action, for_service: &'static str| {
        let mut client = on_replica(&service());
        async move {
            client
                .check_access(query(&partner_id, &customer_id, action, for_service, ""))
                .await
                .expect("replica answers")
                .into_inner()
        }
    };

    let (reseller, created) = reseller_with_customer(&primary).await;
    assert!(
        replica_check(reseller.id.clone(), created.id.clone(), Action::Sell, "")
            .await
            .allowed
    );
    let second = primary.create_partner(Kind::DirectReseller).await;
    assert!(
        !replica_check(second.id.clone(), created.id.clone(), Action::View, "")
            .await
            .allowed
    );
    accept_invitation(&primary, &created.id, &second.id, false).await;
    assert!(
        replica_check(second.id.clone(), created.id.clone(), Action::Sell, "")
            .await
            .allowed
    );

    // A grant made on the replica, checked on the primary, and back.
    let grant = on_replica(&customer(&created.id))
        .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
            partner_id: second.id.clone(),
            service: "azure".into(),
            scopes: vec![Scope::Provisioning as i32],
            ..Default::default()
        })
        .await
        .expect("grant on the replica")
        .into_inner();
    assert_eq!(grant.superseded_grants.len(), 1, "{grant:?}");
    assert!(
        primary
            .check(&second.id, &created.id, Action::Provision, "azure", "")
            .await
            .allowed
    );
    assert!(
        !primary
            .check(&reseller.id, &created.id, Action::Provision, "azure", "")
            .await
            .allowed
    );
    revoke_grant_as(&primary, &customer(&created.id), &grant.grant.expect("grant").id)
        .await
        .expect("the customer admin revokes");
    assert!(
        !replica_check(second.id.clone(), created.id.clone(), Action::Provision, "azure")
            .await
            .allowed
    );
    primary.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    let decision = replica_check(reseller.id.clone(), created.id.clone(), Action::View, "").await;
    assert_denied(&decision, Reason::PartnerNotActive);

    // The two replicas answer a batch alike.
    let checks: Vec<pb::CheckAccessRequest> = [&reseller.id, &second.id]
        .iter()
        .flat_map(|p| ACTIONS.iter().map(|a| query(p, &created.id, *a, "office365", "")))
        .filter(|q| q.action != Action::ManageSubscription as i32)
        .collect();
    let here = batch_as(&primary, &service(), checks.clone())
        .await
        .expect("primary batch");
    let there = on_replica(&service())
        .batch_check_access(pb::BatchCheckAccessRequest { checks })
        .await
        .expect("replica batch")
        .into_inner();
    assert_eq!(here, there);
    replica.shutdown().await;
}

// ------------------------------------------------ the trait, local and remote

/// A1, A2 through `Relationships`: the generated client behind the trait
/// gives the decisions and the refusals of the local service, and the
/// refusals the gRPC client receives.
#[tokio::test]
async fn a1_remote_relationships_decide_and_refuse_as_the_local_service() {
    use partnercenter::domain::access::{AccessQuery, Action as DomainAction};
    use partnercenter::domain::model::Service;
    use partnercenter::service::contract::relationships::Relationships;

    let server = TestServer::start().await;
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let created = server
        .customers(&partner(&reseller.id))
        .create_customer(customer_request(&unique_domain("remote"), None))
        .await
        .expect("customer")
        .into_inner();
    let local = local_relationships(&server);
    let remote = remote_relationships(&server);
    let ask = |partner_id: &str, action, service| AccessQuery {
        partner_id: partner_id.to_owned(),
        customer_id: created.id.clone(),
        action,
        service,
        subscription_id: None,
        user_id: None,
    };

    let queries = vec![
        ask(&reseller.id, DomainAction::View, None),
        ask(&reseller.id, DomainAction::Sell, None),
        ask(&reseller.id, DomainAction::Provision, Some(Service::Azure)),
        ask(&other.id, DomainAction::View, None),
    ];
    for query in &queries {
        let here = local.check_access(&service(), query.clone()).await.expect("local");
        let there = remote.check_access(&service(), query.clone()).await.expect("remote");
        assert_eq!(here, there, "{query:?}");
    }
    assert!(
        remote
            .check_access(&service(), queries[0].clone())
            .await
            .expect("remote")
            .allowed
    );
    let here = local
        .batch_check_access(&operator(), queries.clone())
        .await
        .expect("local");
    let there = remote
        .batch_check_access(&operator(), queries.clone())
        .await
        .expect("remote");
    assert_eq!(here, there);
    assert_eq!(there.len(), queries.len());

    // Refusals: a partner about another, a customer's admin, a suspended
    // partner about another (P4 first).
    server.set_partner_status(&other.id, PartnerStatus::Suspended).await;
    let refusals = [
        (partner(&reseller.id), queries[3].clone()),
        (customer(&created.id), queries[0].clone()),
        (partner(&other.id), queries[0].clone()),
    ];
    for (who, query) in refusals {
        let here = local
            .check_access(&who, query.clone())
            .await
            .expect_err("local refuses");
        let there = remote
            .check_access(&who, query.clone())
            .await
            .expect_err("remote refuses");
        let wire = check_as(&server, &who, pb::CheckAccessRequest::from(query.clone()))
            .await
            .expect_err("gRPC refuses");
        let here = assert_same_refusal(here, there, wire);
        let batch = remote
            .batch_check_access(&who, vec![queries[1].clone(), query])
            .await
            .expect_err("remote batch refuses");
        assert_eq!((batch.code, batch.reason), (here.code, here.reason), "{who:?}");
    }
}

/// A3 across a restart: an index saved at some seq and resumed later (as a
/// process would that kept it) replays the events after that seq and then
/// holds what one read afresh from the store holds, deciding as the store
/// does. Meanwhile every kind of fact A1 reads changed: a partner was
/// suspended, a link revoked, a grant revoked, a relationship ended, and a
/// customer, a subscription and a grant were made.
#[tokio::test]
async fn a3_an_index_resumed_from_a_saved_seq_replays_the_events_after_it() {
    use partnercenter::domain::access::{AccessQuery, Action as Decided};
    use partnercenter::domain::ports::AccessChecker;
    use partnercenter::store::IndexedChecker;

    let server = TestServer::start().await;
    let Some(index) = server.server.access_index() else {
        panic!("the access index is on by default");
    };
    let (provider, reseller, chained) = indirect_chain(&server).await;
    let (direct, owned) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let granted = server
        .grant(&owned.id, &helper.id, "azure", &[Scope::Support])
        .await
        .expect("granted")
        .grant
        .expect("a grant");
    let partners = [&provider.id, &reseller.id, &direct.id, &helper.id];
    let mut customers = vec![chained.id.clone(), owned.id.clone()];
    // Checks about both customers make the index hold them; then it is saved.
    for customer_id in &customers {
        server.check(&direct.id, customer_id, Action::View, "", "").await;
    }
    index.barrier().await.expect("caught up");
    let (saved, saved_seq) = (index.snapshot(), index.applied_seq());
    assert_eq!(saved.customers_held(), 2, "the two customers checked are held");

    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    server.unlink(&provider.id, &reseller.id).await;
    revoke_grant_as(&server, &customer(&owned.id), &granted.id)
        .await
        .expect("revoked");
    server
        .relationships(&partner(&direct.id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: owned.id.clone(),
            partner_id: direct.id.clone(),
        })
        .await
        .expect("ended");
    let fresh = server
        .create_customer(&partner(&helper.id), None)
        .await
        .expect("created");
    customers.push(fresh.id.clone());
    server
        .grant(&chained.id, &helper.id, "office365", &BOTH)
        .await
        .expect("granted");

    let resumed = IndexedChecker::resume(server.server.store().clone(), saved, saved_seq, false, 100);
    let queries: Vec<AccessQuery> = partners
        .iter()
        .flat_map(|partner_id| {
            customers.iter().flat_map(move |customer_id| {
                [Decided::View, Decided::Sell, Decided::Provision, Decided::Support].map(|action| AccessQuery {
                    partner_id: (*partner_id).clone(),
                    customer_id: customer_id.clone(),
                    action,
                    service: Some(partnercenter::domain::model::Service::Office365),
                    subscription_id: None,
                    user_id: None,
                })
            })
        })
        .collect();
    let from_resumed = resumed.check_batch(&queries).await.expect("decided");
    let (rebuilt, seq) = server.server.store().load_access_index().await.expect("rebuilt");
    assert!(saved_seq < seq, "the writes came after the saved seq");
    assert_eq!(resumed.applied_seq(), seq, "the resumed index replayed every event");
    assert_eq!(resumed.snapshot().differs_from(&rebuilt), None);
    assert_eq!(
        resumed.snapshot().customers_held(),
        3,
        "the new customer was read when checked"
    );
    let from_store = server.server.store().check_batch(&queries).await.expect("decided");
    assert_eq!(from_resumed, from_store);
    // The changes are really in the decisions: the ended relationship no
    // longer lets the direct reseller view, the suspended provider is denied.
    let view = |partner_id: &str, customer_id: &str| {
        let at = queries
            .iter()
            .position(|q| q.partner_id == partner_id && q.customer_id == customer_id && q.action == Decided::View)
            .expect("asked");
        from_resumed[at].allowed
    };
    assert!(!view(&direct.id, &owned.id));
    assert!(!view(&provider.id, &chained.id));
    assert!(view(&helper.id, &chained.id));
    assert!(view(&helper.id, &fresh.id));
}
