//! Multi-partner relationships: M1 (several RESELLER relationships), M2
//! (ListCustomerRelationships), M3 (EndResellerRelationship).

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::delegated_admin_grant::State as GrantState;
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::api::pb::relationship::{Kind as RelationshipKind, State as RelationshipState};
use partnercenter::api::pb::subscription::Status as SubscriptionStatus;
use partnercenter::domain::principal::Principal;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::*;

type Rows = (Vec<pb::Relationship>, Vec<pb::DelegatedAdminGrant>);

// ---------------------------------------------------------------- helpers

/// One page of ListCustomerRelationships.
async fn page(
    server: &TestServer,
    who: &Principal,
    customer_id: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListCustomerRelationshipsResponse, tonic::Status> {
    server
        .relationships(who)
        .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
            customer_id: customer_id.into(),
            page_size,
            page_token: page_token.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Every relationship and grant the principal lists for the customer.
async fn rows(server: &TestServer, who: &Principal, customer_id: &str) -> Result<Rows, tonic::Status> {
    let reply = page(server, who, customer_id, 1000, "").await?;
    assert!(reply.next_page_token.is_empty());
    Ok((reply.relationships, reply.delegated_admin_grants))
}

async fn all_rows(server: &TestServer, customer_id: &str) -> Rows {
    rows(server, &operator(), customer_id)
        .await
        .expect("operator lists relationships")
}

/// An invitation of `inviting` (naming `reseller` if given), accepted by
/// the customer's admin.
async fn invite_and_accept(
    server: &TestServer,
    customer_id: &str,
    inviting: &str,
    reseller: Option<&str>,
    dap: bool,
) -> pb::AcceptRelationshipRequestResponse {
    let invitation = server
        .invite(
            inviting,
            pb::RelationshipRequest {
                indirect_reseller_id: reseller.unwrap_or_default().into(),
                include_delegated_admin: dap,
                ..Default::default()
            },
        )
        .await
        .expect("invitation created");
    server
        .accept(customer_id, &invitation.code)
        .await
        .expect("invitation accepted")
}

async fn end(
    server: &TestServer,
    who: &Principal,
    customer_id: &str,
    partner_id: &str,
) -> Result<pb::Relationship, tonic::Status> {
    server
        .relationships(who)
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: customer_id.into(),
            partner_id: partner_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn set_subscription_status(
    server: &TestServer,
    who: &Principal,
    id: &str,
    status: SubscriptionStatus,
) -> pb::Subscription {
    server
        .customers(who)
        .update_subscription(pb::UpdateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                id: id.into(),
                status: status as i32,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .expect("subscription updated")
        .into_inner()
}

/// The ids of the customers a principal lists.
async fn listed_customers(server: &TestServer, who: &Principal) -> Vec<String> {
    let reply = server
        .customers(who)
        .list_customers(pb::ListCustomersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("lists customers")
        .into_inner();
    assert!(reply.next_page_token.is_empty());
    reply.customers.into_iter().map(|c| c.id).collect()
}

async fn sells(server: &TestServer, partner_id: &str, customer_id: &str) -> bool {
    server
        .check(partner_id, customer_id, Action::Sell, "", "")
        .await
        .allowed
}

fn relationship_of<'a>(relationships: &'a [pb::Relationship], partner_id: &str) -> &'a pb::Relationship {
    let mine: Vec<&pb::Relationship> = relationships.iter().filter(|r| r.partner_id == partner_id).collect();
    assert_eq!(mine.len(), 1, "one relationship of {partner_id}: {relationships:?}");
    mine[0]
}

fn grants_of<'a>(grants: &'a [pb::DelegatedAdminGrant], partner_id: &str) -> Vec<&'a pb::DelegatedAdminGrant> {
    grants.iter().filter(|g| g.partner_id == partner_id).collect()
}

fn grant_for<'a>(
    grants: &'a [pb::DelegatedAdminGrant],
    partner_id: &str,
    service: &str,
) -> &'a pb::DelegatedAdminGrant {
    grants
        .iter()
        .find(|g| g.partner_id == partner_id && g.service == service)
        .unwrap_or_else(|| panic!("no {service} grant of {partner_id}: {grants:?}"))
}

type RelationshipShapes = BTreeSet<(i32, String, String, i32)>;
type GrantShapes = BTreeSet<(String, String, i32)>;

/// The (kind, partner, state) of each relationship, to compare views.
fn shape(rows: &Rows) -> (RelationshipShapes, GrantShapes) {
    (
        rows.0
            .iter()
            .map(|r| (r.kind, r.partner_id.clone(), r.indirect_provider_id.clone(), r.state))
            .collect(),
        rows.1
            .iter()
            .map(|g| (g.partner_id.clone(), g.service.clone(), g.state))
            .collect(),
    )
}

fn row_ids(rows: &Rows) -> BTreeSet<String> {
    rows.0
        .iter()
        .map(|r| r.id.clone())
        .chain(rows.1.iter().map(|g| g.id.clone()))
        .collect()
}

// ---------------------------------------------------------------- M1

#[tokio::test]
async fn m1_adding_reseller_relationships_changes_no_subscription_or_other_relationship() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&first.id), None).await.unwrap();
    let sold = server
        .create_subscription(&partner(&first.id), csp_subscription(&tenant.id, &first.id))
        .await
        .expect("the first partner sells");
    let second = server.create_partner(Kind::DirectReseller).await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;

    let mut before_rows = all_rows(&server, &tenant.id).await;
    let mut before_subscriptions = subscriptions_of(&server, &tenant.id).await;
    for (inviting, named) in [(&second.id, None), (&provider.id, Some(reseller.id.as_str()))] {
        let reply = invite_and_accept(&server, &tenant.id, inviting, named, false).await;
        assert!(reply.superseded_grants.is_empty());
        let after_rows = all_rows(&server, &tenant.id).await;
        for relationship in &before_rows.0 {
            assert!(after_rows.0.contains(relationship), "changed: {relationship:?}");
        }
        for grant in &before_rows.1 {
            assert!(after_rows.1.contains(grant), "changed: {grant:?}");
        }
        assert_eq!(after_rows.0.len(), before_rows.0.len() + reply.relationships.len());
        let after_subscriptions = subscriptions_of(&server, &tenant.id).await;
        assert_eq!(after_subscriptions, before_subscriptions, "no subscription changes");
        before_rows = after_rows;
        before_subscriptions = after_subscriptions;
    }

    // Several RESELLER relationships at once, all transacting.
    let (relationships, grants) = all_rows(&server, &tenant.id).await;
    let resellers: BTreeSet<&str> = relationships
        .iter()
        .filter(|r| r.kind == RelationshipKind::Reseller as i32 && r.state == RelationshipState::Active as i32)
        .map(|r| r.partner_id.as_str())
        .collect();
    assert_eq!(
        resellers,
        BTreeSet::from([first.id.as_str(), second.id.as_str(), provider.id.as_str()])
    );
    assert_eq!(
        relationship_of(&relationships, &reseller.id).indirect_provider_id,
        provider.id
    );
    assert_eq!(grants_of(&grants, &first.id).len(), 3);
    assert!(grants.iter().all(|g| g.state == GrantState::Active as i32));
    for partner_id in [&first.id, &second.id, &provider.id, &reseller.id] {
        assert!(sells(&server, partner_id, &tenant.id).await, "{partner_id} sells");
    }

    // The new partner's sale leaves the first one's subscription alone.
    server
        .create_subscription(&partner(&second.id), csp_subscription(&tenant.id, &second.id))
        .await
        .expect("the second partner sells");
    let subscriptions = subscriptions_of(&server, &tenant.id).await;
    assert_eq!(subscriptions.len(), 2);
    let still = subscriptions.iter().find(|s| s.id == sold.id).unwrap();
    assert_eq!(still, &sold);
    assert_eq!(still.partner_of_record_id, first.id);
}

// ---------------------------------------------------------------- M2

#[tokio::test]
async fn m2_customer_admin_operator_and_service_see_every_row_including_ended_and_revoked() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &other.id, None, false).await;
    end(&server, &partner(&other.id), &tenant.id, "")
        .await
        .expect("the other partner ends its relationship");
    let (_, grants) = all_rows(&server, &tenant.id).await;
    let revoked = grant_for(&grants, &reseller.id, "azure").id.clone();
    revoke_grant_as(&server, &customer(&tenant.id), &revoked)
        .await
        .expect("the customer revokes a grant");

    let seen = all_rows(&server, &tenant.id).await;
    for who in [customer(&tenant.id), service()] {
        assert_eq!(rows(&server, &who, &tenant.id).await.unwrap(), seen, "{who:?}");
    }
    let (relationships, grants) = &seen;
    assert_eq!(relationships.len(), 3, "{relationships:?}");
    let ended = relationship_of(relationships, &other.id);
    assert_eq!(ended.state, RelationshipState::Ended as i32);
    assert!(ended.end_time.is_some());
    assert_eq!(
        relationship_of(relationships, &provider.id).kind,
        RelationshipKind::Reseller as i32
    );
    let indirect = relationship_of(relationships, &reseller.id);
    assert_eq!(indirect.kind, RelationshipKind::IndirectReseller as i32);
    assert_eq!(indirect.indirect_provider_id, provider.id);
    assert_eq!(grants.len(), 3, "{grants:?}");
    assert_eq!(
        grant_for(grants, &reseller.id, "azure").state,
        GrantState::Revoked as i32
    );
    for service_name in ["office365", "dynamics365"] {
        assert_eq!(
            grant_for(grants, &reseller.id, service_name).state,
            GrantState::Active as i32
        );
    }
    // In id order.
    let relationship_ids: Vec<&str> = relationships.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = relationship_ids.clone();
    sorted.sort();
    assert_eq!(relationship_ids, sorted);
}

#[tokio::test]
async fn m2_partner_sees_its_own_and_its_chain_counterparts_active_rows_only() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &other.id, None, false).await;
    // The other partner holds azure (the reseller's azure grant gives way,
    // D2); the customer revokes the reseller's dynamics365 grant.
    server
        .grant(
            &tenant.id,
            &other.id,
            "azure",
            &[pb::delegated_admin_grant::Scope::Support],
        )
        .await
        .expect("granted");
    let (_, grants) = all_rows(&server, &tenant.id).await;
    let dynamics = grant_for(&grants, &reseller.id, "dynamics365").id.clone();
    revoke_grant_as(&server, &customer(&tenant.id), &dynamics)
        .await
        .expect("the customer revokes a grant");
    let everything = all_rows(&server, &tenant.id).await;
    assert_eq!(
        grant_for(&everything.1, &reseller.id, "azure").state,
        GrantState::Superseded as i32
    );

    let chain = (
        BTreeSet::from([
            (
                RelationshipKind::Reseller as i32,
                provider.id.clone(),
                String::new(),
                RelationshipState::Active as i32,
            ),
            (
                RelationshipKind::IndirectReseller as i32,
                reseller.id.clone(),
                provider.id.clone(),
                RelationshipState::Active as i32,
            ),
        ]),
        BTreeSet::from([(reseller.id.clone(), "office365".to_string(), GrantState::Active as i32)]),
    );
    for who in [&provider.id, &reseller.id] {
        let seen = rows(&server, &partner(who), &tenant.id).await.expect("a partner lists");
        assert_eq!(shape(&seen), chain, "as seen by {who}");
        assert_eq!(seen.0.len(), 2);
        assert_eq!(seen.1.len(), 1);
        for relationship in &seen.0 {
            assert!(everything.0.contains(relationship));
        }
    }
    let seen = rows(&server, &partner(&other.id), &tenant.id).await.unwrap();
    assert_eq!(
        shape(&seen),
        (
            BTreeSet::from([(
                RelationshipKind::Reseller as i32,
                other.id.clone(),
                String::new(),
                RelationshipState::Active as i32,
            )]),
            BTreeSet::from([(other.id.clone(), "azure".to_string(), GrantState::Active as i32)]),
        )
    );
}

#[tokio::test]
async fn m2_a_provider_does_not_see_another_providers_chain() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let second_provider = server.create_partner(Kind::IndirectProvider).await;
    server.link(&second_provider.id, &reseller.id).await;
    invite_and_accept(&server, &tenant.id, &second_provider.id, Some(&reseller.id), false).await;
    let (relationships, _) = all_rows(&server, &tenant.id).await;
    assert_eq!(relationships.len(), 4, "{relationships:?}");

    // The first provider: its RESELLER row and the reseller's row through it.
    let (seen, _) = rows(&server, &partner(&provider.id), &tenant.id).await.unwrap();
    assert!(
        seen.iter().all(|r| r.partner_id != second_provider.id),
        "another provider's relationship: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|r| r.partner_id != reseller.id || r.indirect_provider_id == provider.id),
        "the reseller's relationship through another provider: {seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");

    // The reseller is in both chains: both providers are its counterparts.
    let (seen, _) = rows(&server, &partner(&reseller.id), &tenant.id).await.unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test]
async fn m2_a_partner_without_access_is_permission_denied() {
    let server = TestServer::start().await;
    let (provider, _reseller, tenant) = indirect_chain(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let ended = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &ended.id, None, true).await;
    end(&server, &partner(&ended.id), &tenant.id, "").await.expect("ended");
    let other_tenant = server.create_customer(&operator(), None).await.unwrap();

    for who in [&stranger.id, &ended.id] {
        let status = rows(&server, &partner(who), &tenant.id).await.expect_err("no access");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // Existence never leaks: an unknown customer is the same answer.
    let known = rows(&server, &partner(&stranger.id), &tenant.id).await.unwrap_err();
    let unknown = rows(&server, &partner(&stranger.id), &partnercenter::store::new_id())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::PermissionDenied);
    assert_eq!(reason(&unknown), reason(&known));
    // Another tenant's admin.
    let status = rows(&server, &customer(&other_tenant.id), &tenant.id)
        .await
        .expect_err("another tenant");
    assert_eq!(status.code(), Code::PermissionDenied);
    // P4: a suspended partner reads nothing.
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    assert_error(
        rows(&server, &partner(&provider.id), &tenant.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
}

#[tokio::test]
async fn m2_paging_with_page_size_one_walks_every_relationship_and_grant_once() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &other.id, None, false).await;
    let third = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &third.id, None, false).await;
    end(&server, &partner(&third.id), &tenant.id, "").await.expect("ended");
    let (_, grants) = all_rows(&server, &tenant.id).await;
    revoke_grant_as(
        &server,
        &customer(&tenant.id),
        &grant_for(&grants, &reseller.id, "azure").id,
    )
    .await
    .expect("the customer revokes a grant");

    for who in [
        operator(),
        customer(&tenant.id),
        partner(&provider.id),
        partner(&other.id),
    ] {
        let full = rows(&server, &who, &tenant.id).await.unwrap();
        let mut walked: Vec<String> = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let reply = page(&server, &who, &tenant.id, 1, &token).await.expect("a page");
            pages += 1;
            assert_eq!(
                reply.relationships.len() + reply.delegated_admin_grants.len(),
                1,
                "one item per page: {reply:?}"
            );
            walked.extend(reply.relationships.iter().map(|r| r.id.clone()));
            walked.extend(reply.delegated_admin_grants.iter().map(|g| g.id.clone()));
            for relationship in &reply.relationships {
                assert!(full.0.contains(relationship));
            }
            for grant in &reply.delegated_admin_grants {
                assert!(full.1.contains(grant));
            }
            if reply.next_page_token.is_empty() {
                break;
            }
            token = reply.next_page_token;
            assert!(pages <= 100, "paging does not end");
        }
        let unique: BTreeSet<String> = walked.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            walked.len(),
            "an item served twice for {who:?}: {walked:?}"
        );
        assert_eq!(unique, row_ids(&full), "{who:?}");
        let mut in_order = walked.clone();
        in_order.sort();
        assert_eq!(walked, in_order, "in id order");
    }
    // Operator: 4 relationships (one ENDED) and 3 grants (one REVOKED).
    assert_eq!(row_ids(&all_rows(&server, &tenant.id).await).len(), 7);

    // A token is bound to its customer; a negative size is refused.
    let first = page(&server, &operator(), &tenant.id, 1, "").await.unwrap();
    let elsewhere = server.create_customer(&operator(), None).await.unwrap();
    assert_error(
        page(&server, &operator(), &elsewhere.id, 1, &first.next_page_token).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_error(
        page(&server, &operator(), &tenant.id, -1, "").await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
}

// ---------------------------------------------------------------- M3

#[tokio::test]
async fn m3_ending_is_refused_while_active_subscriptions_name_the_partner() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&direct.id), None).await.unwrap();
    let office = server
        .create_subscription(&partner(&direct.id), csp_subscription(&tenant.id, &direct.id))
        .await
        .unwrap();
    let azure = server
        .create_subscription(
            &partner(&direct.id),
            pb::Subscription {
                service: "azure".into(),
                offer_name: "Azure plan".into(),
                ..csp_subscription(&tenant.id, &direct.id)
            },
        )
        .await
        .unwrap();
    let before_rows = all_rows(&server, &tenant.id).await;
    let status = refused_without_change(
        &server,
        end(&server, &partner(&direct.id), &tenant.id, ""),
        Code::FailedPrecondition,
        "ACTIVE_SUBSCRIPTIONS",
    )
    .await;
    let info = status.get_details_error_info().expect("ErrorInfo");
    let named: BTreeSet<&str> = info
        .metadata
        .get("subscription_ids")
        .expect("subscription_ids")
        .split(',')
        .collect();
    assert_eq!(named, BTreeSet::from([office.id.as_str(), azure.id.as_str()]));
    assert_eq!(all_rows(&server, &tenant.id).await, before_rows);

    // One cancelled: the other still blocks, and is the only one named.
    set_subscription_status(&server, &partner(&direct.id), &office.id, SubscriptionStatus::Cancelled).await;
    let status = refused_without_change(
        &server,
        end(&server, &partner(&direct.id), &tenant.id, ""),
        Code::FailedPrecondition,
        "ACTIVE_SUBSCRIPTIONS",
    )
    .await;
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata.get("subscription_ids").map(String::as_str),
        Some(azure.id.as_str())
    );
    // The operator is held to the same rule.
    refused_without_change(
        &server,
        end(&server, &operator(), &tenant.id, &direct.id),
        Code::FailedPrecondition,
        "ACTIVE_SUBSCRIPTIONS",
    )
    .await;
    assert_eq!(all_rows(&server, &tenant.id).await, before_rows);
}

#[tokio::test]
async fn m3_ending_revokes_the_dap_and_removes_the_customer_from_the_partner() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&direct.id), None).await.unwrap();
    let kept_tenant = server.create_customer(&partner(&direct.id), None).await.unwrap();
    let sold = server
        .create_subscription(&partner(&direct.id), csp_subscription(&tenant.id, &direct.id))
        .await
        .unwrap();
    assert!(
        listed_customers(&server, &partner(&direct.id))
            .await
            .contains(&tenant.id)
    );
    let cancelled =
        set_subscription_status(&server, &partner(&direct.id), &sold.id, SubscriptionStatus::Cancelled).await;
    let other_rows = all_rows(&server, &kept_tenant.id).await;

    let ended = end(&server, &partner(&direct.id), &tenant.id, "")
        .await
        .expect("ends once no ACTIVE subscription names it");
    assert_eq!(ended.partner_id, direct.id);
    assert_eq!(ended.customer_id, tenant.id);
    assert_eq!(ended.kind, RelationshipKind::Reseller as i32);
    assert_eq!(ended.state, RelationshipState::Ended as i32);
    assert!(ended.end_time.is_some());

    let (relationships, grants) = all_rows(&server, &tenant.id).await;
    assert_eq!(relationships, vec![ended.clone()]);
    assert_eq!(grants.len(), 3);
    assert!(
        grants.iter().all(|g| g.state == GrantState::Revoked as i32),
        "{grants:?}"
    );
    let events = server.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.event_type == "relationship.ended" && e.resource.subject_id() == ended.id)
    );
    for grant in &grants {
        assert!(
            events
                .iter()
                .any(|e| e.event_type == "grant.revoked" && e.resource.subject_id() == grant.id)
        );
    }

    assert!(
        !listed_customers(&server, &partner(&direct.id))
            .await
            .contains(&tenant.id)
    );
    assert!(
        listed_customers(&server, &partner(&direct.id))
            .await
            .contains(&kept_tenant.id)
    );
    assert!(!sells(&server, &direct.id, &tenant.id).await);
    let view = server.check(&direct.id, &tenant.id, Action::View, "", "").await;
    assert!(!view.allowed, "{view:?}");
    assert_eq!(
        server
            .customers(&partner(&direct.id))
            .get_customer(pb::GetCustomerRequest { id: tenant.id.clone() })
            .await
            .expect_err("no longer readable")
            .code(),
        Code::PermissionDenied
    );
    // Nothing else: the subscription and the partner's other customer.
    assert_eq!(subscriptions_of(&server, &tenant.id).await, vec![cancelled]);
    assert_eq!(all_rows(&server, &kept_tenant.id).await, other_rows);
    assert!(sells(&server, &direct.id, &kept_tenant.id).await);
}

#[tokio::test]
async fn m3_a_suspended_subscription_does_not_keep_the_relationship() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&direct.id), None).await.unwrap();
    let sold = server
        .create_subscription(&partner(&direct.id), csp_subscription(&tenant.id, &direct.id))
        .await
        .unwrap();
    set_subscription_status(&server, &partner(&direct.id), &sold.id, SubscriptionStatus::Suspended).await;
    let ended = end(&server, &partner(&direct.id), &tenant.id, "")
        .await
        .expect("only ACTIVE subscriptions block");
    assert_eq!(ended.state, RelationshipState::Ended as i32);
}

#[tokio::test]
async fn m3_indirect_provider_of_record_blocks_and_ending_ends_the_chain() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &other.id, None, false).await;
    server
        .grant(
            &tenant.id,
            &other.id,
            "azure",
            &[pb::delegated_admin_grant::Scope::Support],
        )
        .await
        .expect("granted");
    let other_sale = server
        .create_subscription(&partner(&other.id), csp_subscription(&tenant.id, &other.id))
        .await
        .unwrap();
    let through_provider = server
        .create_subscription(&partner(&provider.id), csp_subscription(&tenant.id, &reseller.id))
        .await
        .expect("the provider sells for its reseller");
    assert_eq!(through_provider.partner_of_record_id, reseller.id);
    assert_eq!(through_provider.indirect_provider_id, provider.id);

    let status = refused_without_change(
        &server,
        end(&server, &partner(&provider.id), &tenant.id, ""),
        Code::FailedPrecondition,
        "ACTIVE_SUBSCRIPTIONS",
    )
    .await;
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata.get("subscription_ids").map(String::as_str),
        Some(through_provider.id.as_str()),
        "only the subscription naming the provider"
    );

    let cancelled = set_subscription_status(
        &server,
        &partner(&provider.id),
        &through_provider.id,
        SubscriptionStatus::Cancelled,
    )
    .await;
    let before = all_rows(&server, &tenant.id).await;
    end(&server, &partner(&provider.id), &tenant.id, "")
        .await
        .expect("ended");
    let (relationships, grants) = all_rows(&server, &tenant.id).await;

    assert_eq!(
        relationship_of(&relationships, &provider.id).state,
        RelationshipState::Ended as i32
    );
    let indirect = relationship_of(&relationships, &reseller.id);
    assert_eq!(indirect.state, RelationshipState::Ended as i32);
    assert!(indirect.end_time.is_some());
    for service_name in ["office365", "dynamics365"] {
        assert_eq!(
            grant_for(&grants, &reseller.id, service_name).state,
            GrantState::Revoked as i32
        );
    }
    // Already superseded by the other partner's grant: left as it was.
    assert_eq!(
        grant_for(&grants, &reseller.id, "azure"),
        grant_for(&before.1, &reseller.id, "azure")
    );
    // The other partner: untouched.
    assert_eq!(
        relationship_of(&relationships, &other.id),
        relationship_of(&before.0, &other.id)
    );
    assert_eq!(grants_of(&grants, &other.id), grants_of(&before.1, &other.id));
    assert_eq!(grant_for(&grants, &other.id, "azure").state, GrantState::Active as i32);
    let mut subscriptions = subscriptions_of(&server, &tenant.id).await;
    subscriptions.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![other_sale, cancelled];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(subscriptions, expected);

    for gone in [&provider.id, &reseller.id] {
        assert!(!sells(&server, gone, &tenant.id).await, "{gone} still sells");
        assert!(!listed_customers(&server, &partner(gone)).await.contains(&tenant.id));
    }
    assert!(sells(&server, &other.id, &tenant.id).await);
    assert!(
        listed_customers(&server, &partner(&other.id))
            .await
            .contains(&tenant.id)
    );
}

#[tokio::test]
async fn m3_a_partner_cannot_end_another_partners_relationship() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&first.id), None).await.unwrap();
    let second = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &second.id, None, false).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let before_rows = all_rows(&server, &tenant.id).await;
    let status = without_change(&server, end(&server, &partner(&first.id), &tenant.id, &second.id))
        .await
        .expect_err("not its own");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = without_change(&server, end(&server, &partner(&stranger.id), &tenant.id, &second.id))
        .await
        .expect_err("not its own");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    for who in [customer(&tenant.id), service()] {
        let status = without_change(&server, end(&server, &who, &tenant.id, &second.id))
            .await
            .expect_err("not a partner or the operator");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?}: {status:?}");
    }
    assert_eq!(all_rows(&server, &tenant.id).await, before_rows);
    assert!(sells(&server, &second.id, &tenant.id).await);
}

#[tokio::test]
async fn m3_operator_ends_the_relationship_of_a_named_partner() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&first.id), None).await.unwrap();
    server
        .create_subscription(&partner(&first.id), csp_subscription(&tenant.id, &first.id))
        .await
        .unwrap();
    let second = server.create_partner(Kind::DirectReseller).await;
    invite_and_accept(&server, &tenant.id, &second.id, None, true).await;

    refused_without_change(
        &server,
        end(&server, &operator(), &tenant.id, ""),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let before = all_rows(&server, &tenant.id).await;
    // The first partner's ACTIVE subscription does not hold the second's.
    let ended = end(&server, &operator(), &tenant.id, &second.id)
        .await
        .expect("the operator ends it");
    assert_eq!(ended.partner_id, second.id);
    assert_eq!(ended.state, RelationshipState::Ended as i32);

    let (relationships, grants) = all_rows(&server, &tenant.id).await;
    assert!(
        grants_of(&grants, &second.id)
            .iter()
            .all(|g| g.state == GrantState::Revoked as i32)
    );
    assert_eq!(grants_of(&grants, &second.id).len(), 3);
    assert_eq!(
        relationship_of(&relationships, &first.id),
        relationship_of(&before.0, &first.id)
    );
    assert_eq!(grants_of(&grants, &first.id), grants_of(&before.1, &first.id));
    assert!(!sells(&server, &second.id, &tenant.id).await);
    assert!(sells(&server, &first.id, &tenant.id).await);
}

// ------------------------------------------------ the trait, local and remote

/// M3 through `Relationships`: the generated client behind the trait is
/// refused with the same error and metadata (the blocking subscriptions)
/// as the local service and the gRPC client, then ends the relationship as
/// the local service would.
#[tokio::test]
async fn m3_remote_relationships_end_and_refuse_as_the_local_service() {
    use partnercenter::domain::model::RelationshipState as DomainRelationshipState;
    use partnercenter::service::contract::relationships::{EndResellerRelationship, Relationships};

    let server = TestServer::start().await;
    let local = local_relationships(&server);
    let remote = remote_relationships(&server);
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&direct.id), None).await.unwrap();
    let sold = server
        .create_subscription(&partner(&direct.id), csp_subscription(&tenant.id, &direct.id))
        .await
        .unwrap();
    let seller = partner(&direct.id);
    let command = EndResellerRelationship {
        customer_id: tenant.id.clone(),
        partner_id: None,
    };

    let refused = assert_same_refusal(
        local
            .end_reseller_relationship(&seller, command.clone())
            .await
            .expect_err("local refuses"),
        remote
            .end_reseller_relationship(&seller, command.clone())
            .await
            .expect_err("remote refuses"),
        end(&server, &seller, &tenant.id, "").await.expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "ACTIVE_SUBSCRIPTIONS");
    assert!(
        refused
            .metadata
            .contains(&("subscription_ids".to_owned(), sold.id.clone())),
        "{refused:?}"
    );

    set_subscription_status(&server, &seller, &sold.id, SubscriptionStatus::Cancelled).await;
    let ended = remote
        .end_reseller_relationship(&seller, command.clone())
        .await
        .expect("ended");
    assert_eq!(ended.state, DomainRelationshipState::Ended);
    assert_eq!(ended.partner_id, direct.id);
    // Nothing is left to end, wherever it is asked.
    assert_same_refusal(
        local
            .end_reseller_relationship(
                &operator(),
                EndResellerRelationship {
                    partner_id: Some(direct.id.clone()),
                    ..command.clone()
                },
            )
            .await
            .expect_err("local refuses"),
        remote
            .end_reseller_relationship(
                &operator(),
                EndResellerRelationship {
                    partner_id: Some(direct.id.clone()),
                    ..command
                },
            )
            .await
            .expect_err("remote refuses"),
        end(&server, &operator(), &tenant.id, &direct.id)
            .await
            .expect_err("gRPC refuses"),
    );
}
