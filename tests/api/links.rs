//! Two-sided links (L1-L6): a provider's link is PENDING until its reseller
//! accepts; either side ends it; the provider suspends and resumes it; 30
//! days after a revocation the chains through it count as ended.

use partnercenter::api::pb;
use partnercenter::domain::clock::Clock;
use partnercenter::domain::model::MICROS_PER_DAY;
use partnercenter::domain::principal::Principal;
use pb::check_access_request::Action;
use pb::partner::{Kind, Status as PartnerStatus};
use pb::partner_link::{Side, State};
use tonic::Code;

use crate::support::*;

/// A provider and a reseller, both ACTIVE, not linked.
async fn pair(server: &TestServer) -> (pb::Partner, pb::Partner) {
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    (provider, reseller)
}

fn link_request(provider_id: &str, reseller_id: &str, expire_after_days: i32) -> pb::LinkIndirectResellerRequest {
    pb::LinkIndirectResellerRequest {
        provider_id: provider_id.into(),
        reseller_id: reseller_id.into(),
        expire_after_days,
        ..Default::default()
    }
}

/// The provider's own link request (PENDING).
async fn propose(server: &TestServer, provider_id: &str, reseller_id: &str) -> pb::PartnerLink {
    server
        .partners(&partner(provider_id))
        .link_indirect_reseller(link_request(provider_id, reseller_id, 0))
        .await
        .expect("the provider links")
        .into_inner()
}

/// One of the four link changes, as `who`.
async fn change(
    server: &TestServer,
    who: &Principal,
    what: &str,
    provider_id: &str,
    reseller_id: &str,
    etag: &str,
) -> Result<pb::PartnerLink, tonic::Status> {
    let mut client = server.partners(who);
    let (p, r, e) = (provider_id.to_owned(), reseller_id.to_owned(), etag.to_owned());
    let reply = match what {
        "accept" => {
            client
                .accept_partner_link(pb::AcceptPartnerLinkRequest {
                    provider_id: p,
                    reseller_id: r,
                    etag: e,
                })
                .await
        }
        "decline" => {
            client
                .decline_partner_link(pb::DeclinePartnerLinkRequest {
                    provider_id: p,
                    reseller_id: r,
                    etag: e,
                })
                .await
        }
        "suspend" => {
            client
                .suspend_partner_link(pb::SuspendPartnerLinkRequest {
                    provider_id: p,
                    reseller_id: r,
                    etag: e,
                })
                .await
        }
        "resume" => {
            client
                .resume_partner_link(pb::ResumePartnerLinkRequest {
                    provider_id: p,
                    reseller_id: r,
                    etag: e,
                })
                .await
        }
        "unlink" => {
            client
                .unlink_indirect_reseller(pb::UnlinkIndirectResellerRequest {
                    provider_id: p,
                    reseller_id: r,
                    note: e,
                })
                .await
        }
        other => panic!("no change {other}"),
    };
    reply.map(|r| r.into_inner())
}

/// Whether A1 allows `action` (the service's CheckAccess).
async fn allowed(server: &TestServer, partner_id: &str, customer_id: &str, action: Action, service: &str) -> bool {
    server.check(partner_id, customer_id, action, service, "").await.allowed
}

/// The event types appended after `seq`, in order.
async fn event_types_after(server: &TestServer, seq: i64) -> Vec<String> {
    server
        .events()
        .await
        .into_iter()
        .filter(|e| e.seq > seq)
        .map(|e| e.event_type)
        .collect()
}

#[tokio::test]
async fn l1_a_providers_link_is_pending_until_its_reseller_accepts() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (provider, reseller) = pair(&server).await;
    let now = clock.now();

    // Bad input first, before the caller's role, and nothing is stored.
    for days in [-1, 91] {
        let refused = refused_without_change(
            &server,
            server
                .partners(&partner(&provider.id))
                .link_indirect_reseller(link_request(&provider.id, &reseller.id, days)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&refused), vec!["expire_after_days"]);
    }
    // The operator's link is ACTIVE at once: it takes no expiry.
    refused_without_change(
        &server,
        server
            .partners(&operator())
            .link_indirect_reseller(link_request(&provider.id, &reseller.id, 5)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;

    let link = propose(&server, &provider.id, &reseller.id).await;
    assert_eq!(link.state, State::Pending as i32);
    assert_eq!(
        link.expire_time.as_ref().map(|t| t.seconds * 1_000_000),
        Some(now + 30 * MICROS_PER_DAY)
    );
    assert!(!link.etag.is_empty());

    // A second PENDING link of the pair.
    refused_without_change(
        &server,
        server
            .partners(&partner(&provider.id))
            .link_indirect_reseller(link_request(&provider.id, &reseller.id, 0)),
        Code::AlreadyExists,
        "LINK_EXISTS",
    )
    .await;
    // Both sides read each other (P5) while it is PENDING ...
    server
        .partners(&partner(&reseller.id))
        .get_partner(pb::GetPartnerRequest {
            id: provider.id.clone(),
        })
        .await
        .expect("the reseller reads its provider");
    server
        .partners(&partner(&provider.id))
        .get_partner(pb::GetPartnerRequest {
            id: reseller.id.clone(),
        })
        .await
        .expect("the provider reads its reseller");
    // ... but it links nothing: the provider may not create a customer for
    // the reseller (C1), nor name it in an invitation (I2).
    let refused = server.create_customer(&partner(&provider.id), Some(&reseller.id)).await;
    assert_error(refused, Code::FailedPrecondition, "RESELLER_NOT_LINKED");
    let invitation = pb::RelationshipRequest {
        indirect_reseller_id: reseller.id.clone(),
        ..Default::default()
    };
    assert_error(
        server.invite(&provider.id, invitation).await,
        Code::FailedPrecondition,
        "RESELLER_NOT_LINKED",
    );

    // A provider's link of its own number of days; the operator's ACTIVE.
    let (provider2, reseller2) = pair(&server).await;
    let long = server
        .partners(&partner(&provider2.id))
        .link_indirect_reseller(link_request(&provider2.id, &reseller2.id, 90))
        .await
        .expect("linked")
        .into_inner();
    assert_eq!(
        long.expire_time.map(|t| t.seconds * 1_000_000),
        Some(now + 90 * MICROS_PER_DAY)
    );
    let (provider3, reseller3) = pair(&server).await;
    let by_operator = server.link(&provider3.id, &reseller3.id).await;
    assert_eq!(by_operator.state, State::Active as i32);
    assert_eq!(by_operator.expire_time, None);
}

#[tokio::test]
async fn l1_a_pending_link_past_its_expiry_is_expired_and_the_sweep_records_it() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (provider, reseller) = pair(&server).await;
    let link = server
        .partners(&partner(&provider.id))
        .link_indirect_reseller(link_request(&provider.id, &reseller.id, 2))
        .await
        .expect("linked")
        .into_inner();
    clock.advance(2 * MICROS_PER_DAY);

    // EXPIRED for every decision, recorded or not: it cannot be accepted,
    // lists show it EXPIRED, it holds the pair no more, and the two no
    // longer read each other.
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_EXPIRED",
    )
    .await;
    let listed = server
        .partners(&partner(&reseller.id))
        .list_partner_links(pb::ListPartnerLinksRequest {
            state: State::Expired as i32,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .partner_links;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].state),
        (link.id.as_str(), State::Expired as i32)
    );
    let pending = server
        .partners(&operator())
        .list_partner_links(pb::ListPartnerLinksRequest {
            partner_id: provider.id.clone(),
            state: State::Pending as i32,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .partner_links;
    assert!(pending.is_empty(), "{pending:?}");
    let hidden = server
        .partners(&partner(&reseller.id))
        .get_partner(pb::GetPartnerRequest {
            id: provider.id.clone(),
        })
        .await;
    assert_error(hidden, Code::PermissionDenied, "PARTNER_NOT_VISIBLE");

    let before = last_seq(&server).await;
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.links_expired, 1);
    assert_eq!(event_types_after(&server, before).await, vec!["partner_link.expired"]);
    // Once, however often it sweeps.
    let again = server.server.store().sweep().await.expect("sweep");
    assert_eq!(again.links_expired, 0);

    // The provider may ask again.
    let renewed = propose(&server, &provider.id, &reseller.id).await;
    assert_eq!(renewed.state, State::Pending as i32);
    assert_ne!(renewed.id, link.id);
}

#[tokio::test]
async fn l1_w1_at_most_a_hundred_pending_links_per_provider_even_when_they_race() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let mut resellers = Vec::new();
    for _ in 0..105 {
        resellers.push(server.create_partner(Kind::IndirectReseller).await);
    }
    for reseller in &resellers[..98] {
        propose(&server, &provider.id, &reseller.id).await;
    }
    // Seven at once for the last two places.
    let mut calls = tokio::task::JoinSet::new();
    for reseller in &resellers[98..] {
        let mut client = server.partners(&partner(&provider.id));
        let request = link_request(&provider.id, &reseller.id, 0);
        calls.spawn(async move { client.link_indirect_reseller(request).await });
    }
    let results = calls.join_all().await;
    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 2, "{results:?}");
    for refused in results.into_iter().filter(Result::is_err) {
        assert_error(refused, Code::ResourceExhausted, "PENDING_LINK_LIMIT_REACHED");
    }
    // The operator's links are not requests: not counted.
    server.link(&provider.id, &resellers[104].id).await;
}

#[tokio::test]
async fn l2_only_the_reseller_accepts_and_a_repeat_returns_the_link() {
    let server = TestServer::start().await;
    let (provider, reseller) = pair(&server).await;
    let stranger = server.create_partner(Kind::IndirectReseller).await;
    let link = propose(&server, &provider.id, &reseller.id).await;

    for who in [partner(&provider.id), operator()] {
        refused_without_change(
            &server,
            change(&server, &who, "accept", &provider.id, &reseller.id, ""),
            Code::PermissionDenied,
            "LINK_SIDE_NOT_ALLOWED",
        )
        .await;
    }
    // Another partner: PERMISSION_DENIED, whether the pair exists or not.
    for reseller_id in [reseller.id.clone(), random_id()] {
        refused_without_change(
            &server,
            change(
                &server,
                &partner(&stranger.id),
                "accept",
                &provider.id,
                &reseller_id,
                "",
            ),
            Code::PermissionDenied,
            "PARTNER_NOT_VISIBLE",
        )
        .await;
    }
    for who in [service(), customer(&random_id())] {
        refused_without_change(
            &server,
            change(&server, &who, "accept", &provider.id, &reseller.id, ""),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    // A stale etag.
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            "W/\"99\"",
        ),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;

    let before = last_seq(&server).await;
    let accepted = change(
        &server,
        &partner(&reseller.id),
        "accept",
        &provider.id,
        &reseller.id,
        &link.etag,
    )
    .await
    .expect("the reseller accepts");
    assert_eq!(
        (accepted.id.as_str(), accepted.state),
        (link.id.as_str(), State::Active as i32)
    );
    assert_ne!(accepted.etag, link.etag);
    assert_eq!(event_types_after(&server, before).await, vec!["partner_link.accepted"]);
    // The repeat, even with the etag it was first sent with.
    let repeated = without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            &link.etag,
        ),
    )
    .await
    .expect("a repeat");
    assert_eq!(repeated, accepted);
    // Now it links: the provider creates a customer for the reseller.
    server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("C1 through the accepted link");
}

#[tokio::test]
async fn l2_acceptance_fails_provider_first_then_expiry_then_state() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (provider, reseller) = pair(&server).await;
    propose(&server, &provider.id, &reseller.id).await;
    clock.advance(31 * MICROS_PER_DAY);
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    // Expired and the provider suspended: the provider is named first.
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    server.set_partner_status(&provider.id, PartnerStatus::Active).await;
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_EXPIRED",
    )
    .await;

    // A declined link is no longer PENDING.
    let (provider, reseller) = pair(&server).await;
    propose(&server, &provider.id, &reseller.id).await;
    let declined = change(
        &server,
        &partner(&reseller.id),
        "decline",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("declined");
    assert_eq!(declined.state, State::Declined as i32);
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "accept",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_NOT_PENDING",
    )
    .await;
    // Only the reseller declines; a repeat returns it.
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&provider.id),
            "decline",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::PermissionDenied,
        "LINK_SIDE_NOT_ALLOWED",
    )
    .await;
    let again = without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "decline",
            &provider.id,
            &reseller.id,
            "",
        ),
    )
    .await
    .expect("a repeat");
    assert_eq!(again, declined);
    // A pair with no link at all.
    let (lone_provider, lone_reseller) = pair(&server).await;
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&lone_reseller.id),
            "accept",
            &lone_provider.id,
            &lone_reseller.id,
            "",
        ),
        Code::NotFound,
        "LINK_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn l2_d2_an_accepted_link_makes_the_resellers_chains_transact_again() {
    let server = TestServer::start().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    assert!(allowed(&server, &reseller.id, &created.id, Action::Sell, "").await);
    server.unlink(&provider.id, &reseller.id).await;
    assert!(!allowed(&server, &reseller.id, &created.id, Action::Sell, "").await);
    // The provider's new link is a request: nothing transacts until the
    // reseller accepts it.
    propose(&server, &provider.id, &reseller.id).await;
    assert!(!allowed(&server, &reseller.id, &created.id, Action::Sell, "").await);
    change(
        &server,
        &partner(&reseller.id),
        "accept",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("accepted");
    assert!(allowed(&server, &reseller.id, &created.id, Action::Sell, "").await);
}

#[tokio::test]
async fn l3_either_side_or_the_operator_ends_a_link_with_a_note() {
    let server = TestServer::start().await;
    // The reseller ends an ACTIVE link.
    let (provider, reseller) = pair(&server).await;
    server.link(&provider.id, &reseller.id).await;
    let refused = refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "unlink",
            &provider.id,
            &reseller.id,
            &"x".repeat(501),
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&refused), vec!["note"]);
    let before = last_seq(&server).await;
    let ended = change(
        &server,
        &partner(&reseller.id),
        "unlink",
        &provider.id,
        &reseller.id,
        "moving on",
    )
    .await
    .expect("the reseller ends it");
    assert_eq!(ended.state, State::Revoked as i32);
    assert_eq!(ended.ended_by, Side::Reseller as i32);
    assert_eq!(ended.end_note, "moving on");
    assert_eq!(event_types_after(&server, before).await, vec!["partner_link.revoked"]);
    let again = without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "unlink",
            &provider.id,
            &reseller.id,
            "",
        ),
    )
    .await
    .expect("a repeat");
    assert_eq!(again, ended);

    // The provider withdraws its request; the reseller declines instead.
    let (provider, reseller) = pair(&server).await;
    propose(&server, &provider.id, &reseller.id).await;
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "unlink",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_NOT_ACTIVE",
    )
    .await;
    let withdrawn = change(
        &server,
        &partner(&provider.id),
        "unlink",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("withdrawn");
    assert_eq!(
        (withdrawn.state, withdrawn.ended_by),
        (State::Revoked as i32, Side::Provider as i32)
    );

    // The operator ends one; a DECLINED link cannot be ended.
    let (provider, reseller) = pair(&server).await;
    server.link(&provider.id, &reseller.id).await;
    let by_operator = change(&server, &operator(), "unlink", &provider.id, &reseller.id, "")
        .await
        .expect("ended");
    assert_eq!(by_operator.ended_by, Side::Operator as i32);
    let (provider, reseller) = pair(&server).await;
    propose(&server, &provider.id, &reseller.id).await;
    change(
        &server,
        &partner(&reseller.id),
        "decline",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("declined");
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&provider.id),
            "unlink",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_NOT_ACTIVE",
    )
    .await;
}

#[tokio::test]
async fn l3_l4_a_suspended_link_stops_transacting_and_deletes_nothing() {
    let server = TestServer::start().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    let subscription = server
        .create_subscription(
            &partner(&provider.id),
            pb::Subscription {
                partner_of_record_id: reseller.id.clone(),
                ..csp_subscription(&created.id, "")
            },
        )
        .await
        .expect("a CSP subscription of the reseller through the provider");

    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "suspend",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::PermissionDenied,
        "LINK_SIDE_NOT_ALLOWED",
    )
    .await;
    let before = last_seq(&server).await;
    let suspended = change(
        &server,
        &partner(&provider.id),
        "suspend",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("suspended");
    assert_eq!(suspended.state, State::Suspended as i32);
    assert_eq!(event_types_after(&server, before).await, vec!["partner_link.suspended"]);
    without_change(
        &server,
        change(
            &server,
            &partner(&provider.id),
            "suspend",
            &provider.id,
            &reseller.id,
            "",
        ),
    )
    .await
    .expect("a repeat");

    // L4: the reseller loses SELL and the subscription's SUPPORT and
    // MANAGE_SUBSCRIPTION, which the provider keeps; VIEW and its DAP stay.
    let check = |partner_id: &str, action: Action, subscription_id: &str| {
        let (server, partner_id, customer_id, subscription_id) = (
            &server,
            partner_id.to_owned(),
            created.id.clone(),
            subscription_id.to_owned(),
        );
        async move {
            let service = if subscription_id.is_empty() { "office365" } else { "" };
            server
                .check(&partner_id, &customer_id, action, service, &subscription_id)
                .await
        }
    };
    assert!(!check(&reseller.id, Action::Sell, "").await.allowed);
    assert!(
        !check(&reseller.id, Action::ManageSubscription, &subscription.id)
            .await
            .allowed
    );
    assert!(
        check(&provider.id, Action::ManageSubscription, &subscription.id)
            .await
            .allowed
    );
    assert!(check(&reseller.id, Action::View, "").await.allowed);
    assert!(
        check(&reseller.id, Action::Provision, "").await.allowed,
        "its DAP stays"
    );
    let listing = relationships_listing(&server, &operator(), &created.id).await;
    assert!(
        listing
            .relationships
            .iter()
            .all(|r| r.state == pb::relationship::State::Active as i32),
        "{listing:?}"
    );
    assert_eq!(listing.relationships.len(), 2);
    // An invitation naming the reseller cannot be made while it is suspended.
    let invitation = pb::RelationshipRequest {
        indirect_reseller_id: reseller.id.clone(),
        ..Default::default()
    };
    assert_error(
        server.invite(&provider.id, invitation).await,
        Code::FailedPrecondition,
        "RESELLER_NOT_LINKED",
    );

    // Resumed: transacting again, with no new acceptance.
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&reseller.id),
            "resume",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::PermissionDenied,
        "LINK_SIDE_NOT_ALLOWED",
    )
    .await;
    let resumed = change(
        &server,
        &operator(),
        "resume",
        &provider.id,
        &reseller.id,
        &suspended.etag,
    )
    .await
    .expect("resumed");
    assert_eq!(resumed.state, State::Active as i32);
    assert!(check(&reseller.id, Action::Sell, "").await.allowed);
    assert!(
        check(&reseller.id, Action::ManageSubscription, &subscription.id)
            .await
            .allowed
    );

    // Suspending a link that is not ACTIVE, resuming one not SUSPENDED.
    server.unlink(&provider.id, &reseller.id).await;
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&provider.id),
            "suspend",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_NOT_ACTIVE",
    )
    .await;
    refused_without_change(
        &server,
        change(
            &server,
            &partner(&provider.id),
            "resume",
            &provider.id,
            &reseller.id,
            "",
        ),
        Code::FailedPrecondition,
        "LINK_NOT_SUSPENDED",
    )
    .await;
}

#[tokio::test]
async fn l5_thirty_days_after_a_revocation_the_chain_counts_as_ended_with_its_dap() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    server.unlink(&provider.id, &reseller.id).await;
    clock.advance(30 * MICROS_PER_DAY - 1);
    assert!(
        allowed(&server, &reseller.id, &created.id, Action::View, "").await
            && allowed(&server, &reseller.id, &created.id, Action::Provision, "office365").await
    );
    let listed = server
        .customers(&partner(&reseller.id))
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .customers;
    assert!(listed.iter().any(|c| c.id == created.id), "{listed:?}");
    assert_eq!(
        server
            .server
            .store()
            .sweep()
            .await
            .expect("sweep")
            .relationships_handed_over,
        0
    );

    // From the 30th day on, by the clock, before any sweep.
    clock.advance(1);
    assert!(!allowed(&server, &reseller.id, &created.id, Action::View, "").await);
    assert!(!allowed(&server, &reseller.id, &created.id, Action::Provision, "office365").await);
    // The provider keeps its own relationship and VIEW.
    assert!(
        server
            .check(&provider.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );
    // The lists read it so too (C6, G1): the customer leaves the reseller's.
    let listed = server
        .customers(&partner(&reseller.id))
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .customers;
    assert!(listed.iter().all(|c| c.id != created.id), "{listed:?}");
    let grants = server
        .relationships(&partner(&reseller.id))
        .list_delegated_admin_grants(pb::ListDelegatedAdminGrantsRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .delegated_admin_grants;
    assert!(grants.is_empty(), "{grants:?}");
    let providers = server
        .customers(&partner(&provider.id))
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .expect("listed")
        .into_inner()
        .customers;
    assert!(providers.iter().any(|c| c.id == created.id));

    let before = last_seq(&server).await;
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.relationships_handed_over, 1);
    let types = event_types_after(&server, before).await;
    assert_eq!(types[0], "relationship.ended", "{types:?}");
    assert!(types[1..].iter().all(|t| t == "grant.revoked"), "{types:?}");
    assert_eq!(types.len(), 4, "the relationship and its three grants: {types:?}");
    let listing = relationships_listing(&server, &operator(), &created.id).await;
    let chain = listing
        .relationships
        .iter()
        .find(|r| r.partner_id == reseller.id)
        .expect("the reseller's relationship");
    assert_eq!(chain.state, pb::relationship::State::Ended as i32);
    assert_eq!(chain.end_cause, pb::relationship::EndCause::LinkEnded as i32);
    assert!(
        listing
            .delegated_admin_grants
            .iter()
            .filter(|g| g.partner_id == reseller.id)
            .all(|g| {
                g.state == pb::delegated_admin_grant::State::Revoked as i32
                    && g.end_cause == pb::EndCause::RelationshipEnded as i32
            })
    );
    // Once, however often it sweeps.
    assert_eq!(
        server
            .server
            .store()
            .sweep()
            .await
            .expect("sweep")
            .relationships_handed_over,
        0
    );
}

#[tokio::test]
async fn l5_a_link_standing_again_within_thirty_days_keeps_the_chain() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (provider, reseller, created) = indirect_chain(&server).await;
    server.unlink(&provider.id, &reseller.id).await;
    clock.advance(10 * MICROS_PER_DAY);
    // A PENDING request does not keep it; an ACTIVE or SUSPENDED link does.
    propose(&server, &provider.id, &reseller.id).await;
    change(
        &server,
        &partner(&reseller.id),
        "accept",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("accepted");
    change(
        &server,
        &partner(&provider.id),
        "suspend",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("suspended");
    clock.advance(60 * MICROS_PER_DAY);
    let view = server.check(&reseller.id, &created.id, Action::View, "", "").await;
    assert!(view.allowed, "{view:?}");
    assert_eq!(
        server
            .server
            .store()
            .sweep()
            .await
            .expect("sweep")
            .relationships_handed_over,
        0
    );
}

#[tokio::test]
async fn l6_link_events_go_to_both_partners_the_operator_and_services_only() {
    let server = TestServer::start().await;
    let (provider, reseller) = pair(&server).await;
    let stranger = server.create_partner(Kind::IndirectReseller).await;
    let before = last_seq(&server).await;
    propose(&server, &provider.id, &reseller.id).await;
    change(
        &server,
        &partner(&reseller.id),
        "accept",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("accepted");
    change(
        &server,
        &partner(&provider.id),
        "suspend",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("suspended");
    change(
        &server,
        &partner(&provider.id),
        "resume",
        &provider.id,
        &reseller.id,
        "",
    )
    .await
    .expect("resumed");
    server.unlink(&provider.id, &reseller.id).await;
    let expected = [
        "partner_link.created",
        "partner_link.accepted",
        "partner_link.suspended",
        "partner_link.resumed",
        "partner_link.revoked",
    ];
    for who in [partner(&provider.id), partner(&reseller.id), operator(), service()] {
        let events = server
            .relationships(&who)
            .list_events(pb::ListEventsRequest {
                after_seq: before,
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("events")
            .into_inner()
            .events;
        let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(types, expected, "{who:?}");
    }
    let theirs = server
        .relationships(&partner(&stranger.id))
        .list_events(pb::ListEventsRequest {
            after_seq: before,
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    assert!(theirs.is_empty(), "{theirs:?}");
}

/// W1: an acceptance racing the provider's suspension (by the operator)
/// either commits before it or fails PARTNER_NOT_ACTIVE; never an ACTIVE
/// link accepted after the provider was suspended.
#[tokio::test]
async fn l2_w1_an_acceptance_racing_the_providers_suspension_is_before_it_or_refused() {
    let server = TestServer::start().await;
    for _ in 0..8 {
        let (provider, reseller) = pair(&server).await;
        propose(&server, &provider.id, &reseller.id).await;
        let reseller_caller = partner(&reseller.id);
        let accept = change(&server, &reseller_caller, "accept", &provider.id, &reseller.id, "");
        let suspend = server.set_partner_status(&provider.id, PartnerStatus::Suspended);
        let (accepted, suspended) = tokio::join!(accept, suspend);
        let events = server.events().await;
        match accepted {
            Ok(link) => {
                assert_eq!(link.state, State::Active as i32);
                let accepted_at = events
                    .iter()
                    .find(|e| e.event_type == "partner_link.accepted" && e.resource.subject_id() == link.id)
                    .map(|e| e.seq)
                    .expect("its event");
                let suspended_at = events
                    .iter()
                    .find(|e| e.event_type == "partner.updated" && e.resource.subject_id() == provider.id)
                    .map(|e| e.seq)
                    .expect("the suspension's event");
                assert!(accepted_at < suspended_at, "accepted after the suspension: {events:?}");
            }
            Err(status) => assert_eq!(reason(&status), "PARTNER_NOT_ACTIVE", "{status:?}"),
        }
        assert_eq!(suspended.status, PartnerStatus::Suspended as i32);
    }
}

/// W1: an acceptance racing the provider's withdrawal: one of them wins
/// whole, and the link ends in the state the winner's order implies.
#[tokio::test]
async fn l2_w1_an_acceptance_racing_a_withdrawal_leaves_one_consistent_outcome() {
    let server = TestServer::start().await;
    for _ in 0..8 {
        let (provider, reseller) = pair(&server).await;
        propose(&server, &provider.id, &reseller.id).await;
        let (as_reseller, as_provider) = (partner(&reseller.id), partner(&provider.id));
        let (accepted, withdrawn) = tokio::join!(
            change(&server, &as_reseller, "accept", &provider.id, &reseller.id, ""),
            change(&server, &as_provider, "unlink", &provider.id, &reseller.id, ""),
        );
        let withdrawn = withdrawn.expect("withdrawing a PENDING or ACTIVE link succeeds either way");
        assert_eq!(withdrawn.state, State::Revoked as i32);
        let types: Vec<String> = server
            .events()
            .await
            .into_iter()
            .filter(|e| e.resource.subject_id() == withdrawn.id)
            .map(|e| e.event_type)
            .collect();
        match accepted {
            Ok(link) => {
                assert_eq!(link.state, State::Active as i32);
                assert_eq!(
                    types,
                    ["partner_link.created", "partner_link.accepted", "partner_link.revoked"]
                );
            }
            Err(status) => {
                assert_eq!(reason(&status), "LINK_NOT_PENDING", "{status:?}");
                assert_eq!(types, ["partner_link.created", "partner_link.revoked"]);
            }
        }
    }
}
