//! CustomerService subscriptions: S1-S3, D5, P4 for sellers, C4/C5 for
//! subscription reads, ListSubscriptions filters and paging.

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::api::pb::subscription::{Channel, Status as SubscriptionStatus};
use partnercenter::domain::access::{AccessReason, Action};
use partnercenter::domain::model::{
    DelegatedAdminGrant, EventResource, GrantState, RelationshipKind, RelationshipSource, RelationshipState, Role,
    Scope, Service,
};
use partnercenter::domain::principal::Principal;
use tonic::Code;

use crate::support::*;

/// A subscription of any channel for the operator to record.
fn subscription(customer_id: &str, channel: Channel, partner_of_record_id: &str) -> pb::Subscription {
    pb::Subscription {
        channel: channel as i32,
        ..csp_subscription(customer_id, partner_of_record_id)
    }
}

async fn list_subscriptions(
    server: &TestServer,
    who: &Principal,
    request: pb::ListSubscriptionsRequest,
) -> Result<pb::ListSubscriptionsResponse, tonic::Status> {
    server
        .customers(who)
        .list_subscriptions(request)
        .await
        .map(|r| r.into_inner())
}

/// The same subscription with a new quantity and no etag.
fn with_quantity(subscription: &pb::Subscription, quantity: i32) -> pb::Subscription {
    pb::Subscription {
        quantity,
        etag: String::new(),
        ..subscription.clone()
    }
}

/// D1 is not this file's to test: a DAP grant (and nothing else) written
/// straight into the store, as an acceptance or a customer grant would.
async fn insert_dap(server: &TestServer, customer_id: &str, partner_id: &str) {
    let store = server.server.store();
    let mut tx = store.begin_write("test".into()).await.expect("write");
    for service in Service::ALL {
        let grant = DelegatedAdminGrant {
            id: random_id(),
            customer_id: customer_id.into(),
            partner_id: partner_id.into(),
            service: *service,
            scopes: vec![Scope::Provisioning, Scope::Support],
            roles: vec![Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin],
            state: GrantState::Active,
            start_time: store.now(),
            end_time: None,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: store.now(),
        };
        tx.insert_grant(&grant, None).await.expect("grant");
    }
    tx.commit().await.expect("commit");
}

// ---------------------------------------------------------------- S1

#[tokio::test]
async fn s1_operator_records_a_direct_subscription_without_partner_of_record() {
    let server = TestServer::start().await;
    let customer = server.create_customer(&operator(), None).await.expect("created");
    let events_before = server.events().await.len();

    let created = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Direct, ""))
        .await
        .expect("direct subscription recorded");
    assert!(uuid::Uuid::parse_str(&created.id).is_ok());
    assert_eq!(created.customer_id, customer.id);
    assert_eq!(created.channel, Channel::Direct as i32);
    assert_eq!(created.status, SubscriptionStatus::Active as i32, "ACTIVE by default");
    assert_eq!(created.service, "office365");
    assert_eq!(created.offer_name, "Office 365 E3");
    assert_eq!(created.quantity, 10);
    assert_eq!(created.billing, pb::subscription::Billing::License as i32);
    assert!(created.partner_of_record_id.is_empty());
    assert!(created.indirect_provider_id.is_empty());
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some());

    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
    assert_eq!(subscriptions_of(&server, &customer.id).await, vec![created.clone()]);
    let events = server.events().await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last().expect("event").event_type, "subscription.created");

    // The operator may also record a non-default status.
    let suspended = server
        .create_subscription(
            &operator(),
            pb::Subscription {
                status: SubscriptionStatus::Suspended as i32,
                ..subscription(&customer.id, Channel::Direct, "")
            },
        )
        .await
        .expect("recorded");
    assert_eq!(suspended.status, SubscriptionStatus::Suspended as i32);
}

#[tokio::test]
async fn s1_channel_and_partner_of_record_must_agree() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let events_before = server.events().await.len();

    // DIRECT has no partner of record; ADVISOR and CSP need one.
    for (channel, partner_id) in [
        (Channel::Direct, reseller.id.as_str()),
        (Channel::Direct, advisor.id.as_str()),
        (Channel::Advisor, ""),
        (Channel::Csp, ""),
    ] {
        let status = refused_without_change(
            &server,
            server.create_subscription(&operator(), subscription(&customer.id, channel, partner_id)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(
            violated_fields(&status),
            vec!["subscription.partner_of_record_id".to_string()],
            "{channel:?}"
        );
    }
    // The channel is required.
    let status = refused_without_change(
        &server,
        server.create_subscription(
            &operator(),
            subscription(&customer.id, Channel::Unspecified, &reseller.id),
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert!(violated_fields(&status).contains(&"subscription.channel".to_string()));
    // Only CSP has an indirect provider.
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let status = refused_without_change(
        &server,
        server.create_subscription(
            &operator(),
            pb::Subscription {
                indirect_provider_id: provider.id.clone(),
                ..subscription(&customer.id, Channel::Advisor, &advisor.id)
            },
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(
        violated_fields(&status),
        vec!["subscription.indirect_provider_id".to_string()]
    );

    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
    assert_eq!(
        server.events().await.len(),
        events_before + 1,
        "only the provider was created"
    );
}

#[tokio::test]
async fn s1_create_subscription_validation_names_every_invalid_field() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let bad = pb::Subscription {
        customer_id: customer.id.clone(),
        service: "exchange".into(),
        offer_name: " ".into(),
        quantity: 0,
        billing: 0,
        status: 99,
        channel: Channel::Csp as i32,
        partner_of_record_id: reseller.id.clone(),
        ..Default::default()
    };
    let expected: BTreeSet<String> = [
        "subscription.service",
        "subscription.offer_name",
        "subscription.quantity",
        "subscription.billing",
        "subscription.status",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for who in [operator(), partner(&reseller.id)] {
        let status = refused_without_change(
            &server,
            server.create_subscription(&who, bad.clone()),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
        assert_eq!(fields, expected, "{who:?}");
    }
    for quantity in [-1, 1_000_001] {
        let status = refused_without_change(
            &server,
            server.create_subscription(
                &operator(),
                pb::Subscription {
                    quantity,
                    ..csp_subscription(&customer.id, &reseller.id)
                },
            ),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&status), vec!["subscription.quantity".to_string()]);
    }
    let status = refused_without_change(
        &server,
        server.create_subscription(&operator(), csp_subscription("not-a-uuid", &reseller.id)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), vec!["subscription.customer_id".to_string()]);
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
}

#[tokio::test]
async fn s1_operator_recording_for_an_unknown_customer_is_not_found() {
    let server = TestServer::start().await;
    refused_without_change(
        &server,
        server.create_subscription(&operator(), subscription(&random_id(), Channel::Direct, "")),
        Code::NotFound,
        "CUSTOMER_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn s1_advisor_subscription_gives_the_partner_an_advisor_relationship_view_only() {
    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let customer = server.create_customer(&operator(), None).await.expect("created");
    let before = decide(&server, &advisor.id, &customer.id, Action::View, None, None).await;
    assert!(!before.allowed);
    assert_eq!(before.reason, AccessReason::NoRelationship);

    let created = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("advisor subscription recorded");
    assert_eq!(created.channel, Channel::Advisor as i32);
    assert_eq!(created.partner_of_record_id, advisor.id);
    assert!(created.indirect_provider_id.is_empty());

    let relationships: Vec<_> = server
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.resource {
            EventResource::Relationship(r) if r.customer_id == customer.id => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(relationships.len(), 1, "{relationships:?}");
    assert_eq!(relationships[0].partner_id, advisor.id);
    assert_eq!(relationships[0].kind, RelationshipKind::Advisor);
    assert_eq!(relationships[0].state, RelationshipState::Active);
    assert_eq!(relationships[0].source, RelationshipSource::AdvisorSubscription);

    // VIEW allowed, SELL (and everything else) denied.
    let view = decide(&server, &advisor.id, &customer.id, Action::View, None, None).await;
    assert!(view.allowed, "{view:?}");
    assert_eq!(view.reason, AccessReason::ActiveRelationship);
    assert_eq!(view.relationship_ids, vec![relationships[0].id.clone()]);
    let sell = decide(&server, &advisor.id, &customer.id, Action::Sell, None, None).await;
    assert!(!sell.allowed);
    assert_eq!(sell.reason, AccessReason::NotTransacting);
    let provision = decide(
        &server,
        &advisor.id,
        &customer.id,
        Action::Provision,
        Some(Service::Office365),
        None,
    )
    .await;
    assert!(!provision.allowed);
    let manage = decide(
        &server,
        &advisor.id,
        &customer.id,
        Action::ManageSubscription,
        None,
        Some(&created.id),
    )
    .await;
    assert!(!manage.allowed);

    // C4: the advisor reads the customer and its subscriptions.
    server
        .customers(&partner(&advisor.id))
        .get_customer(pb::GetCustomerRequest {
            id: customer.id.clone(),
        })
        .await
        .expect("advisor reads the customer");
    assert_eq!(
        get_subscription(&server, &partner(&advisor.id), &created.id)
            .await
            .expect("reads"),
        created
    );

    // A second ADVISOR subscription adds no second relationship.
    let events_before = server.events().await.len();
    server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("second advisor subscription");
    let events = server.events().await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last().expect("event").event_type, "subscription.created");
}

#[tokio::test]
async fn s1_advisor_subscription_for_an_unknown_partner_is_refused_without_change() {
    let server = TestServer::start().await;
    let customer = server.create_customer(&operator(), None).await.expect("created");
    let status = without_change(
        &server,
        server.create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &random_id())),
    )
    .await
    .expect_err("an unknown partner of record is refused");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
}

#[tokio::test]
async fn s1_operator_csp_subscription_needs_a_transacting_partner_of_record() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("advisor relationship");
    let (_, cut_off_reseller, indirect) = indirect_chain(&server).await;
    let provider_id = server
        .events()
        .await
        .into_iter()
        .find_map(|e| match e.resource {
            EventResource::Relationship(r) if r.partner_id == cut_off_reseller.id => r.indirect_provider_id,
            _ => None,
        })
        .expect("provider");
    server.unlink(&provider_id, &cut_off_reseller.id).await;

    for (customer_id, partner_id) in [
        (&customer.id, &stranger.id),
        (&customer.id, &advisor.id),
        (&indirect.id, &cut_off_reseller.id),
        (&customer.id, &random_id()),
    ] {
        refused_without_change(
            &server,
            server.create_subscription(&operator(), csp_subscription(customer_id, partner_id)),
            Code::FailedPrecondition,
            "NOT_TRANSACTING",
        )
        .await;
    }
    assert_eq!(subscriptions_of(&server, &customer.id).await.len(), 1);
    assert!(subscriptions_of(&server, &indirect.id).await.is_empty());

    let created = server
        .create_subscription(&operator(), csp_subscription(&customer.id, &owner.id))
        .await
        .expect("a transacting partner of record");
    assert_eq!(created.channel, Channel::Csp as i32);
    assert_eq!(created.partner_of_record_id, owner.id);

    // A suspended partner is not transacting (P4).
    server.set_partner_status(&owner.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        server.create_subscription(&operator(), csp_subscription(&customer.id, &owner.id)),
        Code::FailedPrecondition,
        "NOT_TRANSACTING",
    )
    .await;
    assert_eq!(subscriptions_of(&server, &customer.id).await.len(), 2);
}

#[tokio::test]
async fn s1_operator_records_csp_through_an_indirect_provider_only_when_linked() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let stranger_provider = server.create_partner(Kind::IndirectProvider).await;

    let created = server
        .create_subscription(
            &operator(),
            pb::Subscription {
                indirect_provider_id: provider.id.clone(),
                ..csp_subscription(&customer.id, &reseller.id)
            },
        )
        .await
        .expect("recorded");
    assert_eq!(created.partner_of_record_id, reseller.id);
    assert_eq!(created.indirect_provider_id, provider.id);
    let manage = decide(
        &server,
        &provider.id,
        &customer.id,
        Action::ManageSubscription,
        None,
        Some(&created.id),
    )
    .await;
    assert!(manage.allowed);
    assert_eq!(manage.reason, AccessReason::IndirectProviderOfRecord);

    refused_without_change(
        &server,
        server.create_subscription(
            &operator(),
            pb::Subscription {
                indirect_provider_id: stranger_provider.id.clone(),
                ..csp_subscription(&customer.id, &reseller.id)
            },
        ),
        Code::FailedPrecondition,
        "RESELLER_NOT_LINKED",
    )
    .await;
    assert_eq!(subscriptions_of(&server, &customer.id).await, vec![created]);
}

// ---------------------------------------------------------------- S2

#[tokio::test]
async fn s2_transacting_direct_reseller_creates_csp_as_partner_of_record() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;

    for named in ["", reseller.id.as_str()] {
        let created = server
            .create_subscription(&partner(&reseller.id), csp_subscription(&customer.id, named))
            .await
            .expect("a transacting direct reseller sells");
        assert_eq!(created.channel, Channel::Csp as i32);
        assert_eq!(created.partner_of_record_id, reseller.id);
        assert!(created.indirect_provider_id.is_empty());
        assert_eq!(created.status, SubscriptionStatus::Active as i32);
        let manage = decide(
            &server,
            &reseller.id,
            &customer.id,
            Action::ManageSubscription,
            None,
            Some(&created.id),
        )
        .await;
        assert!(manage.allowed, "{manage:?}");
        assert_eq!(manage.reason, AccessReason::PartnerOfRecord);
        assert_eq!(
            get_subscription(&server, &partner(&reseller.id), &created.id)
                .await
                .expect("reads"),
            created
        );
    }
    assert_eq!(subscriptions_of(&server, &customer.id).await.len(), 2);
}

#[tokio::test]
async fn s2_indirect_provider_creates_csp_for_itself() {
    let server = TestServer::start().await;
    let (provider, _reseller, customer) = indirect_chain(&server).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, ""))
        .await
        .expect("the provider sells");
    assert_eq!(created.partner_of_record_id, provider.id);
    assert!(created.indirect_provider_id.is_empty());

    let own = server
        .create_customer(&partner(&provider.id), None)
        .await
        .expect("created");
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&own.id, &provider.id))
        .await
        .expect("the provider sells to its own customer");
    assert_eq!(created.partner_of_record_id, provider.id);
    assert!(created.indirect_provider_id.is_empty());
}

#[tokio::test]
async fn s2_provider_names_its_linked_transacting_reseller_as_partner_of_record() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;

    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, &reseller.id))
        .await
        .expect("the provider sells for its reseller");
    assert_eq!(created.partner_of_record_id, reseller.id);
    assert_eq!(created.indirect_provider_id, provider.id);
    assert_eq!(created.channel, Channel::Csp as i32);

    let by_reseller = decide(
        &server,
        &reseller.id,
        &customer.id,
        Action::ManageSubscription,
        None,
        Some(&created.id),
    )
    .await;
    assert!(by_reseller.allowed);
    assert_eq!(by_reseller.reason, AccessReason::PartnerOfRecord);
    let by_provider = decide(
        &server,
        &provider.id,
        &customer.id,
        Action::ManageSubscription,
        None,
        Some(&created.id),
    )
    .await;
    assert!(by_provider.allowed);
    assert_eq!(by_provider.reason, AccessReason::IndirectProviderOfRecord);
    assert_eq!(subscriptions_of(&server, &customer.id).await, vec![created]);
}

#[tokio::test]
async fn s2_provider_naming_a_reseller_not_linked_or_not_transacting_is_refused() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    // Linked, but with no relationship to this customer.
    let idle = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &idle.id).await;
    // Not linked to this provider at all.
    let foreign = server.create_partner(Kind::IndirectReseller).await;

    let events_before = server.events().await.len();
    let by_provider = partner(&provider.id);
    refused_without_change(
        &server,
        server.create_subscription(&by_provider, csp_subscription(&customer.id, &idle.id)),
        Code::FailedPrecondition,
        "NOT_TRANSACTING",
    )
    .await;
    for reseller_id in [foreign.id.clone(), random_id()] {
        refused_without_change(
            &server,
            server.create_subscription(&by_provider, csp_subscription(&customer.id, &reseller_id)),
            Code::FailedPrecondition,
            "RESELLER_NOT_LINKED",
        )
        .await;
    }
    // Once the link is revoked, the reseller cannot be named either.
    server.unlink(&provider.id, &reseller.id).await;
    let events_before = events_before + 1;
    refused_without_change(
        &server,
        server.create_subscription(&by_provider, csp_subscription(&customer.id, &reseller.id)),
        Code::FailedPrecondition,
        "RESELLER_NOT_LINKED",
    )
    .await;
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
    assert_eq!(server.events().await.len(), events_before);

    // The provider itself still transacts through its RESELLER relationship.
    let created = server
        .create_subscription(&by_provider, csp_subscription(&customer.id, ""))
        .await
        .expect("the provider still sells");
    assert_eq!(created.partner_of_record_id, provider.id);
}

#[tokio::test]
async fn s2_direct_reseller_may_not_name_another_partner_of_record() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let events_before = server.events().await.len();
    let status = refused_without_change(
        &server,
        server.create_subscription(&partner(&reseller.id), csp_subscription(&customer.id, &other.id)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(
        violated_fields(&status),
        vec!["subscription.partner_of_record_id".to_string()]
    );
    // Nor set the indirect provider, which the service sets.
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let status = refused_without_change(
        &server,
        server.create_subscription(
            &partner(&reseller.id),
            pb::Subscription {
                indirect_provider_id: provider.id.clone(),
                ..csp_subscription(&customer.id, "")
            },
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(
        violated_fields(&status),
        vec!["subscription.indirect_provider_id".to_string()]
    );
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
    assert_eq!(
        server.events().await.len(),
        events_before + 1,
        "only the provider was created"
    );
}

#[tokio::test]
async fn s2_partner_with_no_access_is_permission_denied() {
    let server = TestServer::start().await;
    let (_owner, customer) = reseller_with_customer(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let direct = server.create_customer(&operator(), None).await.expect("created");

    for who in [&stranger, &provider] {
        for customer_id in [&customer.id, &direct.id, &random_id()] {
            refused_without_change(
                &server,
                server.create_subscription(&partner(&who.id), csp_subscription(customer_id, "")),
                Code::PermissionDenied,
                "NO_RELATIONSHIP",
            )
            .await;
        }
    }
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
    assert!(subscriptions_of(&server, &direct.id).await.is_empty());
}

#[tokio::test]
async fn s2_advisor_and_indirect_reseller_are_partner_kind_not_allowed() {
    let server = TestServer::start().await;
    let (_provider, reseller, customer) = indirect_chain(&server).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("advisor relationship");

    let subscriptions_before = subscriptions_of(&server, &customer.id).await;
    for who in [&reseller, &advisor] {
        for named in ["", who.id.as_str()] {
            refused_without_change(
                &server,
                server.create_subscription(&partner(&who.id), csp_subscription(&customer.id, named)),
                Code::PermissionDenied,
                "PARTNER_KIND_NOT_ALLOWED",
            )
            .await;
        }
    }
    assert_eq!(subscriptions_of(&server, &customer.id).await, subscriptions_before);
}

#[tokio::test]
async fn s2_partners_sell_only_csp_and_customers_and_services_sell_nothing() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    for (channel, named) in [(Channel::Direct, ""), (Channel::Advisor, advisor.id.as_str())] {
        let status = without_change(
            &server,
            server.create_subscription(&partner(&reseller.id), subscription(&customer.id, channel, named)),
        )
        .await
        .expect_err("partners sell CSP only");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    for who in [customer_principal(&customer.id), service()] {
        let status = without_change(
            &server,
            server.create_subscription(&who, csp_subscription(&customer.id, &reseller.id)),
        )
        .await
        .expect_err("only the operator and partners create subscriptions");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
}

fn customer_principal(id: &str) -> Principal {
    crate::support::customer(id)
}

#[tokio::test]
async fn s2_p4_suspended_partner_may_not_sell() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        server.create_subscription(&partner(&reseller.id), csp_subscription(&customer.id, "")),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    assert!(subscriptions_of(&server, &customer.id).await.is_empty());
}

#[tokio::test]
async fn s2_create_subscription_retry_with_request_id_creates_one() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let request = pb::CreateSubscriptionRequest {
        subscription: Some(csp_subscription(&customer.id, "")),
        request_id: "sub-retry-1".into(),
    };
    let client = server.customers(&partner(&reseller.id));
    let first = client
        .clone()
        .create_subscription(request.clone())
        .await
        .expect("first")
        .into_inner();
    let events_after_first = server.events().await.len();
    let second = client
        .clone()
        .create_subscription(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(second, first);
    assert_eq!(server.events().await.len(), events_after_first);

    let mut other = request.clone();
    other.subscription.as_mut().expect("subscription").quantity = 99;
    refused_without_change(
        &server,
        client.clone().create_subscription(other),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    )
    .await;
    assert_eq!(subscriptions_of(&server, &customer.id).await, vec![first]);
    assert_eq!(server.events().await.len(), events_after_first);
}

// ---------------------------------------------------------------- S3

#[tokio::test]
async fn s3_partner_of_record_updates_quantity_and_status() {
    let server = TestServer::start().await;
    let (reseller, customer) = reseller_with_customer(&server).await;
    let who = partner(&reseller.id);
    let created = server
        .create_subscription(&who, csp_subscription(&customer.id, ""))
        .await
        .expect("created");

    let events_before = server.events().await.len();
    let resized = update_subscription(
        &server,
        &who,
        pb::Subscription {
            quantity: 25,
            status: SubscriptionStatus::Cancelled as i32,
            ..created.clone()
        },
        &["quantity"],
    )
    .await
    .expect("the partner of record changes the quantity");
    assert_eq!(resized.quantity, 25);
    assert_eq!(
        resized.status,
        SubscriptionStatus::Active as i32,
        "status was not in the mask"
    );
    assert_ne!(resized.etag, created.etag);
    assert_eq!(resized.partner_of_record_id, created.partner_of_record_id);
    assert_eq!(resized.create_time, created.create_time);

    let suspended = update_subscription(
        &server,
        &who,
        pb::Subscription {
            status: SubscriptionStatus::Suspended as i32,
            ..resized.clone()
        },
        &["status"],
    )
    .await
    .expect("the partner of record changes the status");
    assert_eq!(suspended.status, SubscriptionStatus::Suspended as i32);
    assert_eq!(suspended.quantity, 25);

    let both = update_subscription(
        &server,
        &who,
        pb::Subscription {
            quantity: 3,
            status: SubscriptionStatus::Active as i32,
            ..suspended.clone()
        },
        &["quantity", "status"],
    )
    .await
    .expect("both at once");
    assert_eq!((both.quantity, both.status), (3, SubscriptionStatus::Active as i32));
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        both
    );
    let events = server.events().await;
    assert_eq!(events.len(), events_before + 3);
    assert!(
        events[events_before..]
            .iter()
            .all(|e| e.event_type == "subscription.updated")
    );
}

#[tokio::test]
async fn s3_reseller_of_record_and_its_indirect_provider_both_update() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, &reseller.id))
        .await
        .expect("created");

    let by_reseller = update_subscription(
        &server,
        &partner(&reseller.id),
        with_quantity(&created, 11),
        &["quantity"],
    )
    .await
    .expect("the reseller of record updates");
    assert_eq!(by_reseller.quantity, 11);
    let by_provider = update_subscription(
        &server,
        &partner(&provider.id),
        with_quantity(&created, 12),
        &["quantity"],
    )
    .await
    .expect("the indirect provider updates");
    assert_eq!(by_provider.quantity, 12);
    assert_eq!(by_provider.partner_of_record_id, reseller.id);
    assert_eq!(by_provider.indirect_provider_id, provider.id);
}

#[tokio::test]
async fn s3_other_partners_are_permission_denied_not_partner_of_record() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("advisor relationship");
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");

    for who in [&stranger, &advisor] {
        for paths in [&["quantity"][..], &["status"][..]] {
            refused_without_change(
                &server,
                update_subscription(
                    &server,
                    &partner(&who.id),
                    pb::Subscription {
                        quantity: 1,
                        status: SubscriptionStatus::Cancelled as i32,
                        ..created.clone()
                    },
                    paths,
                ),
                Code::PermissionDenied,
                "NOT_PARTNER_OF_RECORD",
            )
            .await;
        }
    }
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

#[tokio::test]
async fn s3_d5_delegated_admin_never_allows_changing_a_subscription() {
    let server = TestServer::start().await;
    // The reseller named at creation holds the DAP for every service (C1);
    // the provider sells a subscription with itself as partner of record.
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    assert_eq!(created.partner_of_record_id, provider.id);
    // A partner that holds only DAP, with no relationship at all.
    let helper = server.create_partner(Kind::DirectReseller).await;
    insert_dap(&server, &customer.id, &helper.id).await;

    for holder in [&reseller, &helper] {
        let provision = decide(
            &server,
            &holder.id,
            &customer.id,
            Action::Provision,
            Some(Service::Office365),
            None,
        )
        .await;
        assert!(provision.allowed, "{provision:?}");
        assert_eq!(provision.reason, AccessReason::DelegatedAdmin);
        let support = decide(
            &server,
            &holder.id,
            &customer.id,
            Action::Support,
            None,
            Some(&created.id),
        )
        .await;
        assert!(support.allowed, "{support:?}");
        let manage = decide(
            &server,
            &holder.id,
            &customer.id,
            Action::ManageSubscription,
            None,
            Some(&created.id),
        )
        .await;
        assert!(!manage.allowed);
        assert_eq!(manage.reason, AccessReason::NotPartnerOfRecord);
    }
    // The DAP-only holder may read (C4) but not change.
    assert_eq!(
        get_subscription(&server, &partner(&helper.id), &created.id)
            .await
            .expect("reads"),
        created
    );

    for holder in [&reseller, &helper] {
        for paths in [&["quantity"][..], &["status"][..]] {
            refused_without_change(
                &server,
                update_subscription(
                    &server,
                    &partner(&holder.id),
                    pb::Subscription {
                        quantity: 500,
                        status: SubscriptionStatus::Suspended as i32,
                        ..created.clone()
                    },
                    paths,
                ),
                Code::PermissionDenied,
                "NOT_PARTNER_OF_RECORD",
            )
            .await;
        }
    }
    // Nor does DAP let a partner sell: the indirect reseller is of the wrong
    // kind, and the DAP-only direct reseller may view the customer (so it is
    // told it does not transact, not that it cannot see).
    refused_without_change(
        &server,
        server.create_subscription(&partner(&reseller.id), csp_subscription(&customer.id, "")),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;
    refused_without_change(
        &server,
        server.create_subscription(&partner(&helper.id), csp_subscription(&customer.id, "")),
        Code::FailedPrecondition,
        "NOT_TRANSACTING",
    )
    .await;
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
    assert_eq!(subscriptions_of(&server, &customer.id).await.len(), 1);
}

#[tokio::test]
async fn s3_unknown_subscription_id_is_the_same_permission_denied_for_a_partner() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");

    let unknown = pb::Subscription {
        id: random_id(),
        ..with_quantity(&created, 2)
    };
    let existing = refused_without_change(
        &server,
        update_subscription(
            &server,
            &partner(&stranger.id),
            with_quantity(&created, 2),
            &["quantity"],
        ),
        Code::PermissionDenied,
        "NOT_PARTNER_OF_RECORD",
    )
    .await;
    for who in [&stranger, &owner] {
        let missing = refused_without_change(
            &server,
            update_subscription(&server, &partner(&who.id), unknown.clone(), &["quantity"]),
            Code::PermissionDenied,
            "NOT_PARTNER_OF_RECORD",
        )
        .await;
        assert_eq!(missing.message(), existing.message());
    }
    // The operator is told the truth.
    refused_without_change(
        &server,
        update_subscription(&server, &operator(), unknown, &["quantity"]),
        Code::NotFound,
        "SUBSCRIPTION_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn s3_operator_always_may_update_any_subscription() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let csp = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    let direct = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Direct, ""))
        .await
        .expect("created");
    let advisory = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("created");
    // Even when the partner of record is suspended.
    server.set_partner_status(&owner.id, PartnerStatus::Suspended).await;

    for (i, current) in [csp, direct, advisory].into_iter().enumerate() {
        let updated = update_subscription(
            &server,
            &operator(),
            pb::Subscription {
                quantity: 40 + i as i32,
                status: SubscriptionStatus::Cancelled as i32,
                ..current.clone()
            },
            &["quantity", "status"],
        )
        .await
        .expect("the operator updates");
        assert_eq!(updated.quantity, 40 + i as i32);
        assert_eq!(updated.status, SubscriptionStatus::Cancelled as i32);
        assert_eq!(updated.channel, current.channel);
        assert_eq!(updated.partner_of_record_id, current.partner_of_record_id);
        assert_eq!(
            get_subscription(&server, &operator(), &current.id).await.expect("read"),
            updated
        );
    }
}

#[tokio::test]
async fn s3_no_one_changes_partner_of_record_channel_or_customer() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let other_customer = server
        .create_customer(&partner(&other.id), None)
        .await
        .expect("created");
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    let hijack = pb::Subscription {
        partner_of_record_id: other.id.clone(),
        indirect_provider_id: other.id.clone(),
        channel: Channel::Direct as i32,
        customer_id: other_customer.id.clone(),
        quantity: 7,
        ..created.clone()
    };

    for who in [partner(&owner.id), operator()] {
        for paths in [
            &["partner_of_record_id"][..],
            &["channel"][..],
            &["customer_id"][..],
            &["indirect_provider_id"][..],
            &["quantity", "partner_of_record_id"][..],
            &[][..],
        ] {
            let status = refused_without_change(
                &server,
                update_subscription(&server, &who, hijack.clone(), paths),
                Code::InvalidArgument,
                "INVALID_FIELD",
            )
            .await;
            assert_eq!(violated_fields(&status), vec!["update_mask".to_string()], "{paths:?}");
        }
    }
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );

    // Fields outside the mask are ignored, whatever the body says.
    let updated = update_subscription(&server, &partner(&owner.id), hijack, &["quantity"])
        .await
        .expect("quantity only");
    assert_eq!(updated.quantity, 7);
    assert_eq!(updated.partner_of_record_id, owner.id);
    assert!(updated.indirect_provider_id.is_empty());
    assert_eq!(updated.channel, Channel::Csp as i32);
    assert_eq!(updated.customer_id, customer.id);
    assert!(subscriptions_of(&server, &other_customer.id).await.is_empty());
}

#[tokio::test]
async fn s3_update_subscription_validates_quantity_and_status() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    for (quantity, status, paths, field) in [
        (0, 1, &["quantity"][..], "subscription.quantity"),
        (-5, 1, &["quantity"][..], "subscription.quantity"),
        (1_000_001, 1, &["quantity"][..], "subscription.quantity"),
        (5, 0, &["status"][..], "subscription.status"),
        (5, 42, &["status"][..], "subscription.status"),
    ] {
        let error = refused_without_change(
            &server,
            update_subscription(
                &server,
                &partner(&owner.id),
                pb::Subscription {
                    quantity,
                    status,
                    ..created.clone()
                },
                paths,
            ),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&error), vec![field.to_string()]);
    }
    let status = refused_without_change(
        &server,
        update_subscription(
            &server,
            &operator(),
            pb::Subscription {
                id: "nope".into(),
                ..created.clone()
            },
            &["quantity"],
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), vec!["subscription.id".to_string()]);
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

#[tokio::test]
async fn s3_stale_etag_is_aborted_etag_mismatch() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let who = partner(&owner.id);
    let created = server
        .create_subscription(&who, csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    let first = update_subscription(
        &server,
        &who,
        pb::Subscription {
            quantity: 20,
            ..created.clone()
        },
        &["quantity"],
    )
    .await
    .expect("with the current etag");

    for caller in [who.clone(), operator()] {
        refused_without_change(
            &server,
            update_subscription(
                &server,
                &caller,
                pb::Subscription {
                    quantity: 30,
                    ..created.clone()
                },
                &["quantity"],
            ),
            Code::Aborted,
            "ETAG_MISMATCH",
        )
        .await;
    }
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        first
    );

    // With the current etag it goes through.
    let second = update_subscription(
        &server,
        &who,
        pb::Subscription {
            quantity: 30,
            ..first.clone()
        },
        &["quantity"],
    )
    .await
    .expect("current etag");
    assert_eq!(second.quantity, 30);
}

#[tokio::test]
async fn s3_reseller_whose_link_was_revoked_can_no_longer_manage() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, &reseller.id))
        .await
        .expect("created");
    update_subscription(
        &server,
        &partner(&reseller.id),
        with_quantity(&created, 11),
        &["quantity"],
    )
    .await
    .expect("allowed while linked");

    server.unlink(&provider.id, &reseller.id).await;
    let manage = decide(
        &server,
        &reseller.id,
        &customer.id,
        Action::ManageSubscription,
        None,
        Some(&created.id),
    )
    .await;
    assert!(!manage.allowed);
    assert_eq!(manage.reason, AccessReason::NotTransacting);
    let current = get_subscription(&server, &operator(), &created.id).await.expect("read");
    refused_without_change(
        &server,
        update_subscription(
            &server,
            &partner(&reseller.id),
            with_quantity(&created, 12),
            &["quantity"],
        ),
        Code::PermissionDenied,
        "NOT_PARTNER_OF_RECORD",
    )
    .await;
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        current
    );

    // The provider keeps its own RESELLER relationship and still manages.
    let by_provider = update_subscription(
        &server,
        &partner(&provider.id),
        with_quantity(&created, 13),
        &["quantity"],
    )
    .await
    .expect("the provider still manages");
    assert_eq!(by_provider.quantity, 13);

    // Restoring the link restores the right: the relationship stayed ACTIVE.
    server.link(&provider.id, &reseller.id).await;
    let again = update_subscription(
        &server,
        &partner(&reseller.id),
        with_quantity(&created, 14),
        &["quantity"],
    )
    .await
    .expect("allowed again once relinked");
    assert_eq!(again.quantity, 14);
}

#[tokio::test]
async fn s3_reseller_whose_provider_is_suspended_can_no_longer_manage() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, &reseller.id))
        .await
        .expect("created");
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        update_subscription(
            &server,
            &partner(&reseller.id),
            with_quantity(&created, 12),
            &["quantity"],
        ),
        Code::PermissionDenied,
        "NOT_PARTNER_OF_RECORD",
    )
    .await;
    refused_without_change(
        &server,
        update_subscription(
            &server,
            &partner(&provider.id),
            with_quantity(&created, 12),
            &["quantity"],
        ),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

#[tokio::test]
async fn s3_p4_suspended_partner_of_record_may_not_update() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    server.set_partner_status(&owner.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        update_subscription(&server, &partner(&owner.id), with_quantity(&created, 2), &["quantity"]),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

#[tokio::test]
async fn s3_partner_of_record_of_a_non_csp_subscription_may_not_manage_it() {
    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let customer = server.create_customer(&operator(), None).await.expect("created");
    let advisory = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Advisor, &advisor.id))
        .await
        .expect("created");
    refused_without_change(
        &server,
        update_subscription(
            &server,
            &partner(&advisor.id),
            with_quantity(&advisory, 2),
            &["quantity"],
        ),
        Code::PermissionDenied,
        "NOT_PARTNER_OF_RECORD",
    )
    .await;
}

#[tokio::test]
async fn s3_customer_admin_and_service_may_not_update_subscriptions() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let created = server
        .create_subscription(&partner(&owner.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    for who in [customer_principal(&customer.id), service()] {
        let status = without_change(
            &server,
            update_subscription(&server, &who, with_quantity(&created, 2), &["quantity"]),
        )
        .await
        .expect_err("refused");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?} {status:?}");
    }
    assert_eq!(
        get_subscription(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

// ---------------------------------------------------------------- C4, C5 for subscriptions

#[tokio::test]
async fn c4_subscriptions_are_read_exactly_when_the_customer_is() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let created = server
        .create_subscription(&partner(&provider.id), csp_subscription(&customer.id, ""))
        .await
        .expect("created");
    let direct = server
        .create_subscription(&operator(), subscription(&customer.id, Channel::Direct, ""))
        .await
        .expect("created");

    // Both partners with a relationship read every subscription of the customer.
    for who in [&provider, &reseller] {
        for s in [&created, &direct] {
            assert_eq!(
                &get_subscription(&server, &partner(&who.id), &s.id)
                    .await
                    .expect("reads"),
                s
            );
        }
        let listed = list_subscriptions(
            &server,
            &partner(&who.id),
            pb::ListSubscriptionsRequest {
                customer_id: customer.id.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("lists");
        assert_eq!(listed.subscriptions.len(), 2);
    }
    // Others: PERMISSION_DENIED, whether the subscription exists or not.
    let existing = assert_error(
        get_subscription(&server, &partner(&stranger.id), &created.id).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    let missing = assert_error(
        get_subscription(&server, &partner(&stranger.id), &random_id()).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    assert_eq!(existing.message(), missing.message());
    assert_error(
        get_subscription(&server, &partner(&provider.id), &random_id()).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    for customer_id in [customer.id.clone(), random_id()] {
        assert_error(
            list_subscriptions(
                &server,
                &partner(&stranger.id),
                pb::ListSubscriptionsRequest {
                    customer_id,
                    ..Default::default()
                },
            )
            .await,
            Code::PermissionDenied,
            "NO_RELATIONSHIP",
        );
    }
    // Operator and service read all; an unknown id is NOT_FOUND for them.
    for who in [operator(), service()] {
        assert_eq!(
            get_subscription(&server, &who, &created.id).await.expect("reads"),
            created
        );
        assert_error(
            get_subscription(&server, &who, &random_id()).await,
            Code::NotFound,
            "SUBSCRIPTION_NOT_FOUND",
        );
    }
    // P4: a suspended partner reads nothing.
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    assert_error(
        get_subscription(&server, &partner(&provider.id), &created.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
    assert_error(
        list_subscriptions(
            &server,
            &partner(&provider.id),
            pb::ListSubscriptionsRequest {
                customer_id: customer.id.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
}

#[tokio::test]
async fn c5_customer_admin_reads_only_its_own_subscriptions() {
    let server = TestServer::start().await;
    let (owner, mine) = reseller_with_customer(&server).await;
    let other = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    let own_subscription = server
        .create_subscription(&partner(&owner.id), csp_subscription(&mine.id, ""))
        .await
        .expect("created");
    let other_subscription = server
        .create_subscription(&partner(&owner.id), csp_subscription(&other.id, ""))
        .await
        .expect("created");

    let admin = customer_principal(&mine.id);
    assert_eq!(
        get_subscription(&server, &admin, &own_subscription.id)
            .await
            .expect("own"),
        own_subscription
    );
    let listed = list_subscriptions(
        &server,
        &admin,
        pb::ListSubscriptionsRequest {
            customer_id: mine.id.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("own list");
    assert_eq!(listed.subscriptions, vec![own_subscription]);

    for id in [other_subscription.id.clone(), random_id()] {
        let status = get_subscription(&server, &admin, &id).await.expect_err("not its own");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    for customer_id in [other.id.clone(), random_id()] {
        let status = list_subscriptions(
            &server,
            &admin,
            pb::ListSubscriptionsRequest {
                customer_id,
                ..Default::default()
            },
        )
        .await
        .expect_err("not its own");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
}

// ---------------------------------------------------------------- ListSubscriptions

#[tokio::test]
async fn list_subscriptions_filters_by_service_and_status_within_one_customer() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let other = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    let who = partner(&owner.id);
    let mut ids = std::collections::HashMap::new();
    for (name, service, status) in [
        ("o365-active", "office365", SubscriptionStatus::Active),
        ("o365-suspended", "office365", SubscriptionStatus::Suspended),
        ("azure-active", "azure", SubscriptionStatus::Active),
        ("azure-cancelled", "azure", SubscriptionStatus::Cancelled),
        ("d365-suspended", "dynamics365", SubscriptionStatus::Suspended),
    ] {
        let created = server
            .create_subscription(
                &who,
                pb::Subscription {
                    service: service.into(),
                    ..csp_subscription(&customer.id, "")
                },
            )
            .await
            .expect("created");
        if status != SubscriptionStatus::Active {
            update_subscription(
                &server,
                &who,
                pb::Subscription {
                    status: status as i32,
                    etag: String::new(),
                    ..created.clone()
                },
                &["status"],
            )
            .await
            .expect("status set");
        }
        ids.insert(name, created.id);
    }
    // Another customer's subscriptions never appear.
    server
        .create_subscription(&who, csp_subscription(&other.id, ""))
        .await
        .expect("created");

    let set = |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| ids[n].clone()).collect() };
    let list = |service: &str, status: SubscriptionStatus| {
        let request = pb::ListSubscriptionsRequest {
            customer_id: customer.id.clone(),
            service: service.into(),
            status: status as i32,
            ..Default::default()
        };
        let server = &server;
        let who = who.clone();
        async move {
            let reply = list_subscriptions(server, &who, request).await.expect("list");
            assert!(reply.next_page_token.is_empty());
            reply.subscriptions.into_iter().map(|s| s.id).collect::<BTreeSet<_>>()
        }
    };

    assert_eq!(
        list("", SubscriptionStatus::Unspecified).await,
        set(&[
            "o365-active",
            "o365-suspended",
            "azure-active",
            "azure-cancelled",
            "d365-suspended"
        ])
    );
    assert_eq!(
        list("azure", SubscriptionStatus::Unspecified).await,
        set(&["azure-active", "azure-cancelled"])
    );
    assert_eq!(
        list("", SubscriptionStatus::Suspended).await,
        set(&["o365-suspended", "d365-suspended"])
    );
    assert_eq!(
        list("office365", SubscriptionStatus::Active).await,
        set(&["o365-active"])
    );
    assert_eq!(list("dynamics365", SubscriptionStatus::Active).await, set(&[]));
    assert_eq!(
        list("azure", SubscriptionStatus::Cancelled).await,
        set(&["azure-cancelled"])
    );

    for (service, status, field) in [("exchange", 0, "service"), ("", 42, "status")] {
        let result = list_subscriptions(
            &server,
            &who,
            pb::ListSubscriptionsRequest {
                customer_id: customer.id.clone(),
                service: service.into(),
                status,
                ..Default::default()
            },
        )
        .await;
        let error = assert_error(result, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&error), vec![field.to_string()]);
    }
    let error = assert_error(
        list_subscriptions(&server, &who, pb::ListSubscriptionsRequest::default()).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(violated_fields(&error), vec!["customer_id".to_string()]);
}

#[tokio::test]
async fn list_subscriptions_pages_every_subscription_once_in_ascending_id_order() {
    let server = TestServer::start().await;
    let (owner, customer) = reseller_with_customer(&server).await;
    let who = partner(&owner.id);
    let mut created = Vec::new();
    for i in 0..5 {
        let s = server
            .create_subscription(
                &who,
                pb::Subscription {
                    service: if i % 2 == 0 { "azure" } else { "office365" }.into(),
                    ..csp_subscription(&customer.id, "")
                },
            )
            .await
            .expect("created");
        created.push(s.id);
    }
    created.sort();

    for caller in [who.clone(), operator(), customer_principal(&customer.id)] {
        let mut ids = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let reply = list_subscriptions(
                &server,
                &caller,
                pb::ListSubscriptionsRequest {
                    customer_id: customer.id.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            )
            .await
            .expect("page");
            pages += 1;
            assert!(reply.subscriptions.len() <= 2);
            ids.extend(reply.subscriptions.into_iter().map(|s| s.id));
            if reply.next_page_token.is_empty() {
                break;
            }
            token = reply.next_page_token;
            assert!(pages < 100, "paging does not end");
        }
        assert_eq!(pages, 3, "{caller:?}");
        assert_eq!(ids, created, "every subscription once, ascending: {caller:?}");
    }

    // A token is bound to its filters: service, status and customer.
    let first = list_subscriptions(
        &server,
        &who,
        pb::ListSubscriptionsRequest {
            customer_id: customer.id.clone(),
            page_size: 1,
            service: "azure".into(),
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    let token = first.next_page_token;
    assert!(!token.is_empty());
    let other_customer = server.create_customer(&who, None).await.expect("created");
    for (customer_id, service, status) in [
        (customer.id.clone(), "office365", 0),
        (customer.id.clone(), "", 0),
        (customer.id.clone(), "azure", SubscriptionStatus::Active as i32),
        (other_customer.id.clone(), "azure", 0),
    ] {
        let result = list_subscriptions(
            &server,
            &who,
            pb::ListSubscriptionsRequest {
                customer_id,
                page_size: 1,
                page_token: token.clone(),
                service: service.into(),
                status,
            },
        )
        .await;
        let error = assert_error(result, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&error), vec!["page_token".to_string()]);
    }
    // Following the token with the same filters yields the other azure ones.
    let mut azure = first.subscriptions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let mut token = token;
    while !token.is_empty() {
        let reply = list_subscriptions(
            &server,
            &who,
            pb::ListSubscriptionsRequest {
                customer_id: customer.id.clone(),
                page_size: 1,
                page_token: token,
                service: "azure".into(),
                ..Default::default()
            },
        )
        .await
        .expect("next page");
        azure.extend(reply.subscriptions.into_iter().map(|s| s.id));
        token = reply.next_page_token;
    }
    assert_eq!(azure.len(), 3);
    assert!(azure.windows(2).all(|w| w[0] < w[1]));

    // Negative page sizes are invalid.
    let error = assert_error(
        list_subscriptions(
            &server,
            &who,
            pb::ListSubscriptionsRequest {
                customer_id: customer.id.clone(),
                page_size: -2,
                ..Default::default()
            },
        )
        .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(violated_fields(&error), vec!["page_size".to_string()]);
}

// ------------------------------------------------ the trait, local and remote

/// S1, S3, C4 through `Customers`: the generated client behind the trait
/// records, reads, lists and updates subscriptions as the local service
/// does, and refuses with the local service's errors, which are the ones
/// the gRPC client receives.
#[tokio::test]
async fn s1_remote_customers_give_and_refuse_subscriptions_as_the_local_service() {
    use partnercenter::domain::Error;
    use partnercenter::domain::model::{
        Billing, Channel as DomainChannel, Subscription, SubscriptionStatus as DomainStatus,
    };
    use partnercenter::service::contract::customers::{
        CreateSubscription, Customers as _, GetSubscription, ListSubscriptions, UpdateSubscription,
    };

    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&operator(), None).await.expect("customer");
    let local = local_customers(&server);
    let remote = remote_customers(&server);
    let create = CreateSubscription {
        customer_id: tenant.id.clone(),
        service: Service::Azure,
        offer_name: " Advice ".into(),
        quantity: 2,
        billing: Billing::Usage,
        status: None,
        channel: DomainChannel::Advisor,
        partner_of_record_id: Some(advisor.id.clone()),
        indirect_provider_id: None,
        request_id: Some("remote-advice".into()),
    };
    let created = remote
        .create_subscription(&operator(), create.clone())
        .await
        .expect("remote records");
    assert_eq!(
        (created.offer_name.as_str(), created.status),
        ("Advice", DomainStatus::Active)
    );
    assert_eq!(
        remote.create_subscription(&operator(), create).await.ok(),
        Some(created.clone())
    );
    // S1: the advisor now reads the subscription, the same through both.
    let get = GetSubscription { id: created.id.clone() };
    let here = local
        .get_subscription(&partner(&advisor.id), get.clone())
        .await
        .expect("local");
    let there = remote
        .get_subscription(&partner(&advisor.id), get.clone())
        .await
        .expect("remote");
    assert_eq!(here, created);
    assert_eq!(there, created);
    let wire = server
        .customers(&partner(&advisor.id))
        .get_subscription(pb::GetSubscriptionRequest { id: created.id.clone() })
        .await
        .expect("gRPC reads")
        .into_inner();
    assert_eq!(Subscription::try_from(wire).ok(), Some(created.clone()));

    let list = ListSubscriptions {
        page_size: 0,
        page_token: String::new(),
        customer_id: tenant.id.clone(),
        service: Some(Service::Azure),
        status: None,
    };
    let here = local
        .list_subscriptions(&partner(&advisor.id), list.clone())
        .await
        .expect("local");
    let there = remote
        .list_subscriptions(&partner(&advisor.id), list.clone())
        .await
        .expect("remote");
    assert_eq!(here, there);
    assert_eq!(there.items, std::slice::from_ref(&created));

    // S3 by the operator.
    let update = UpdateSubscription {
        id: created.id.clone(),
        etag: partnercenter::domain::model::etag(created.version),
        quantity: Some(5),
        status: Some(DomainStatus::Suspended),
    };
    let updated = remote
        .update_subscription(&operator(), update.clone())
        .await
        .expect("updates");
    assert_eq!(
        (updated.quantity, updated.status, updated.version),
        (5, DomainStatus::Suspended, created.version + 1)
    );
    assert_eq!(
        local.get_subscription(&operator(), get.clone()).await.ok(),
        Some(updated)
    );

    // Refusals: a stranger reads (C4), an unknown id for the operator and
    // for a partner, an ADVISOR advisor cannot manage (S3), a stale etag, a
    // customer's admin records (S1), a stranger sells without a
    // relationship (S2).
    let unknown = GetSubscription { id: random_id() };
    let reads = [
        (partner(&stranger.id), get.clone(), "NO_RELATIONSHIP"),
        (operator(), unknown.clone(), "SUBSCRIPTION_NOT_FOUND"),
        (partner(&stranger.id), unknown, "NO_RELATIONSHIP"),
    ];
    for (who, get, reason) in reads {
        let here = local.get_subscription(&who, get.clone()).await.expect_err("local");
        let there = remote.get_subscription(&who, get.clone()).await.expect_err("remote");
        let wire = Error::from(
            server
                .customers(&who)
                .get_subscription(pb::GetSubscriptionRequest::from(get))
                .await
                .expect_err("gRPC refuses"),
        );
        assert_eq!(here.reason.as_str(), reason, "{who:?}");
        assert_eq!(here, there, "{who:?}");
        assert_eq!(there, wire, "{who:?}");
    }
    // The advisor has VIEW, not MANAGE_SUBSCRIPTION; the operator's etag is
    // stale after the update above.
    let updates = [
        (partner(&advisor.id), update.clone(), "PERMISSION_DENIED"),
        (operator(), update.clone(), "ABORTED"),
    ];
    for (who, update, code) in updates {
        let here = local
            .update_subscription(&who, update.clone())
            .await
            .expect_err("local");
        let there = remote.update_subscription(&who, update).await.expect_err("remote");
        assert_eq!(here.code.as_str(), code, "{who:?}");
        assert_eq!(here, there, "{who:?}");
    }
    let sell = CreateSubscription {
        customer_id: tenant.id.clone(),
        service: Service::Office365,
        offer_name: "E3".into(),
        quantity: 1,
        billing: Billing::License,
        status: None,
        channel: DomainChannel::Csp,
        partner_of_record_id: None,
        indirect_provider_id: None,
        request_id: None,
    };
    for (who, reason) in [
        (customer(&tenant.id), "ROLE_NOT_ALLOWED"),
        (partner(&stranger.id), "NO_RELATIONSHIP"),
    ] {
        let here = local.create_subscription(&who, sell.clone()).await.expect_err("local");
        let there = remote
            .create_subscription(&who, sell.clone())
            .await
            .expect_err("remote");
        assert_eq!(here.reason.as_str(), reason, "{who:?}");
        assert_eq!(here, there, "{who:?}");
    }
    // Nothing changed.
    assert_eq!(subscriptions_of(&server, &tenant.id).await.len(), 1);
}
