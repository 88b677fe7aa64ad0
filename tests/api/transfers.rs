//! Transfers: T1-T4 through CreateTransfer, GetTransfer, ListTransfers,
//! AcceptTransfer, RejectTransfer, CancelTransfer, CheckAccess and the sweep.

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::api::pb::subscription::{Channel, Status as SubscriptionStatus};
use partnercenter::api::pb::transfer::State;
use partnercenter::domain::principal::Principal;
use tonic::{Code, Status};

use crate::support::*;

const DAY: i64 = 86_400_000_000;

/// A subscription the operator records (S1).
async fn recorded(
    server: &TestServer,
    customer_id: &str,
    channel: Channel,
    partner_of_record_id: &str,
) -> pb::Subscription {
    server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: channel as i32,
                ..csp_subscription(customer_id, partner_of_record_id)
            },
        )
        .await
        .expect("recorded")
}

async fn propose(
    server: &TestServer,
    who: &str,
    customer_id: &str,
    subscription_ids: &[&str],
    partner_of_record_id: &str,
) -> Result<pb::Transfer, Status> {
    server
        .customers(&partner(who))
        .create_transfer(pb::CreateTransferRequest {
            customer_id: customer_id.into(),
            subscription_ids: subscription_ids.iter().map(|id| (*id).to_owned()).collect(),
            partner_of_record_id: partner_of_record_id.into(),
            request_id: String::new(),
        })
        .await
        .map(|reply| reply.into_inner())
}

async fn accept(server: &TestServer, who: &Principal, id: &str) -> Result<pb::AcceptTransferResponse, Status> {
    server
        .customers(who)
        .accept_transfer(pb::AcceptTransferRequest {
            id: id.into(),
            etag: String::new(),
        })
        .await
        .map(|reply| reply.into_inner())
}

async fn get(server: &TestServer, who: &Principal, id: &str) -> Result<pb::Transfer, Status> {
    server
        .customers(who)
        .get_transfer(pb::GetTransferRequest { id: id.into() })
        .await
        .map(|reply| reply.into_inner())
}

async fn list(server: &TestServer, who: &Principal, request: pb::ListTransfersRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .customers(who)
            .list_transfers(pb::ListTransfersRequest {
                page_token: token,
                page_size: 2,
                ..request.clone()
            })
            .await
            .expect("listed")
            .into_inner();
        ids.extend(page.transfers.into_iter().map(|t| t.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        token = page.next_page_token;
    }
}

async fn manage(server: &TestServer, partner_id: &str, customer_id: &str, subscription_id: &str) -> bool {
    server
        .check(partner_id, customer_id, Action::ManageSubscription, "", subscription_id)
        .await
        .allowed
}

/// A second DIRECT_RESELLER the customer accepts (I6): transacting too.
async fn second_reseller(server: &TestServer, customer_id: &str) -> pb::Partner {
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let invitation = server
        .invite(&reseller.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    server.accept(customer_id, &invitation.code).await.expect("accepted");
    reseller
}

/// The operator sets a subscription's status (S3).
async fn set_status(server: &TestServer, subscription_id: &str, status: SubscriptionStatus) {
    update_subscription(
        server,
        &operator(),
        pb::Subscription {
            id: subscription_id.into(),
            status: status as i32,
            ..Default::default()
        },
        &["status"],
    )
    .await
    .expect("status set");
}

/// The seed's second customer: it bought from an advisor, which then
/// joined CSP (P3) and was accepted as its reseller (I6).
async fn advisor_now_in_csp(server: &TestServer) -> (pb::Partner, pb::Customer, pb::Subscription) {
    let advisor = server.create_partner(Kind::Advisor).await;
    let tenant = server
        .create_customer(&operator(), None)
        .await
        .expect("a customer that bought elsewhere");
    let advised = recorded(server, &tenant.id, Channel::Advisor, &advisor.id).await;
    server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: advisor.id.clone(),
                kind: Kind::DirectReseller as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["kind".into()],
            }),
        })
        .await
        .expect("the advisor joins CSP");
    let invitation = server
        .invite(&advisor.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    (advisor, tenant, advised)
}

/// T1, T2, T3: the advisor that joined CSP proposes to take over its
/// ADVISOR subscription and a DIRECT one; the customer's admin accepts; in
/// one transaction both become CSP with it as partner of record, events in
/// order, relationships and grants untouched; A1 follows at once. Repeating
/// the acceptance returns the same and appends nothing.
#[tokio::test]
async fn t1_t2_t3_an_accepted_transfer_moves_every_subscription_and_access_follows_at_once() {
    let server = TestServer::start().await;
    let (advisor, tenant, advised) = advisor_now_in_csp(&server).await;
    let direct = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let ids = [advised.id.as_str(), direct.id.as_str()];
    assert!(
        !manage(&server, &advisor.id, &tenant.id, &advised.id).await,
        "ADVISOR: not managed"
    );

    let proposed = propose(&server, &advisor.id, &tenant.id, &ids, "")
        .await
        .expect("proposed");
    assert_eq!(proposed.state, State::Pending as i32);
    assert_eq!(proposed.partner_of_record_id, advisor.id);
    assert!(proposed.indirect_provider_id.is_empty());
    let snapshot: Vec<(String, i32)> = proposed
        .subscriptions
        .iter()
        .map(|s| (s.subscription_id.clone(), s.channel))
        .collect();
    assert_eq!(
        snapshot,
        vec![
            (advised.id.clone(), Channel::Advisor as i32),
            (direct.id.clone(), Channel::Direct as i32)
        ]
    );
    let relationships_before = relationships_listing(&server, &operator(), &tenant.id).await;

    let seq = last_seq(&server).await;
    let accepted = accept(&server, &customer(&tenant.id), &proposed.id)
        .await
        .expect("accepted");
    let transfer = accepted.transfer.expect("the transfer");
    assert_eq!(transfer.state, State::Completed as i32);
    assert_eq!(accepted.subscriptions.len(), 2);
    for subscription in &accepted.subscriptions {
        assert_eq!(subscription.channel, Channel::Csp as i32);
        assert_eq!(subscription.partner_of_record_id, advisor.id);
        assert_eq!(subscription.status, SubscriptionStatus::Active as i32);
    }
    let events = server.events().await;
    let appended: Vec<&str> = events
        .iter()
        .filter(|e| e.seq > seq)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        appended,
        vec!["subscription.updated", "subscription.updated", "transfer.completed"]
    );
    // T3: at once, no cache in between.
    assert!(manage(&server, &advisor.id, &tenant.id, &advised.id).await);
    assert!(manage(&server, &advisor.id, &tenant.id, &direct.id).await);
    // M1: relationships and grants untouched.
    let relationships_after = relationships_listing(&server, &operator(), &tenant.id).await;
    assert_eq!(relationships_after.relationships, relationships_before.relationships);
    assert_eq!(
        relationships_after.delegated_admin_grants,
        relationships_before.delegated_admin_grants
    );

    let seq = last_seq(&server).await;
    let again = accept(&server, &customer(&tenant.id), &proposed.id)
        .await
        .expect("repeated");
    assert_eq!(again.transfer, Some(transfer.clone()));
    assert_eq!(again.subscriptions, accepted.subscriptions);
    assert_eq!(last_seq(&server).await, seq, "a repeat appends nothing");
    let rejected = server
        .customers(&customer(&tenant.id))
        .reject_transfer(pb::RejectTransferRequest {
            id: proposed.id.clone(),
            etag: String::new(),
        })
        .await;
    assert_error(rejected, Code::FailedPrecondition, "TRANSFER_NOT_PENDING");
}

/// T3: the former partner of record of a CSP subscription loses
/// MANAGE_SUBSCRIPTION and SUPPORT through it at acceptance; the new one
/// gains them.
#[tokio::test]
async fn t3_the_former_partner_of_record_loses_manage_and_support_and_the_new_one_gains_them() {
    let server = TestServer::start().await;
    let (former, tenant) = reseller_with_customer(&server).await;
    let sold = server
        .create_subscription(&partner(&former.id), csp_subscription(&tenant.id, ""))
        .await
        .expect("sold");
    let taker = second_reseller(&server, &tenant.id).await;
    let support = |p: String| {
        let server = &server;
        let (tenant, sold) = (tenant.id.clone(), sold.id.clone());
        async move { server.check(&p, &tenant, Action::Support, "", &sold).await.reason }
    };
    assert!(manage(&server, &former.id, &tenant.id, &sold.id).await);
    assert!(!manage(&server, &taker.id, &tenant.id, &sold.id).await);
    let proposed = propose(&server, &taker.id, &tenant.id, &[&sold.id], "")
        .await
        .expect("proposed");
    accept(&server, &customer(&tenant.id), &proposed.id)
        .await
        .expect("accepted");
    assert!(!manage(&server, &former.id, &tenant.id, &sold.id).await);
    assert!(manage(&server, &taker.id, &tenant.id, &sold.id).await);
    // The former keeps SUPPORT only through its C1 grant (D5 aside).
    let former_support = support(former.id.clone()).await;
    assert_eq!(former_support, pb::check_access_response::Reason::DelegatedAdmin as i32);
    let taker_support = support(taker.id.clone()).await;
    assert_eq!(taker_support, pb::check_access_response::Reason::PartnerOfRecord as i32);
}

/// T1's refusals, each in its rule's order, and nothing stored.
#[tokio::test]
async fn t1_a_proposal_is_refused_for_the_wrong_partner_subscriptions_or_an_overlap_of_the_same_proposer() {
    let server = TestServer::start().await;
    let (reseller, tenant) = reseller_with_customer(&server).await;
    let (_, elsewhere) = reseller_with_customer(&server).await;
    let direct = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let foreign = recorded(&server, &elsewhere.id, Channel::Direct, "").await;
    let own_csp = server
        .create_subscription(&partner(&reseller.id), csp_subscription(&tenant.id, ""))
        .await
        .expect("sold");
    let cancelled = recorded(&server, &tenant.id, Channel::Direct, "").await;
    set_status(&server, &cancelled.id, SubscriptionStatus::Cancelled).await;
    let before = last_seq(&server).await;

    for kind in [Kind::IndirectReseller, Kind::Advisor] {
        let refused = server.create_partner(kind).await;
        let result = propose(&server, &refused.id, &tenant.id, &[&direct.id], "").await;
        assert_error(result, Code::PermissionDenied, "PARTNER_KIND_NOT_ALLOWED");
    }
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let unseen = propose(&server, &stranger.id, &tenant.id, &[&direct.id], "").await;
    assert_error(unseen, Code::PermissionDenied, "NO_RELATIONSHIP");
    // VIEW through a grant alone is not transacting.
    server
        .grant(
            &tenant.id,
            &stranger.id,
            "azure",
            &[pb::delegated_admin_grant::Scope::Support],
        )
        .await
        .expect("granted");
    let helper_only = propose(&server, &stranger.id, &tenant.id, &[&direct.id], "").await;
    assert_error(helper_only, Code::FailedPrecondition, "NOT_TRANSACTING");
    let before = before.max(last_seq(&server).await);

    let cases: [(&[&str], Code, &str); 4] = [
        (&[&foreign.id], Code::InvalidArgument, "INVALID_FIELD"),
        (
            &[&direct.id, &cancelled.id],
            Code::FailedPrecondition,
            "SUBSCRIPTION_CANCELLED",
        ),
        (&[&own_csp.id], Code::FailedPrecondition, "ALREADY_PARTNER_OF_RECORD"),
        (&[], Code::InvalidArgument, "INVALID_FIELD"),
    ];
    for (ids, code, reason) in cases {
        let result = propose(&server, &reseller.id, &tenant.id, ids, "").await;
        assert_error(result, code, reason);
    }
    let twice = propose(&server, &reseller.id, &tenant.id, &[&direct.id, &direct.id], "").await;
    assert_error(twice, Code::InvalidArgument, "INVALID_FIELD");
    let too_many: Vec<String> = (0..101).map(|_| direct.id.clone()).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_error(
        propose(&server, &reseller.id, &tenant.id, &too_many, "").await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    let named = propose(&server, &reseller.id, &tenant.id, &[&direct.id], &stranger.id).await;
    assert_error(named, Code::InvalidArgument, "INVALID_FIELD");
    let by_admin = server
        .customers(&customer(&tenant.id))
        .create_transfer(pb::CreateTransferRequest {
            customer_id: tenant.id.clone(),
            subscription_ids: vec![direct.id.clone()],
            ..Default::default()
        })
        .await;
    assert_error(by_admin, Code::PermissionDenied, "ROLE_NOT_ALLOWED");
    assert_eq!(last_seq(&server).await, before, "no refusal stored anything");

    // The same proposer may not overlap itself; another partner may.
    propose(&server, &reseller.id, &tenant.id, &[&direct.id], "")
        .await
        .expect("proposed");
    let overlap = propose(&server, &reseller.id, &tenant.id, &[&direct.id], "").await;
    assert_error(overlap, Code::FailedPrecondition, "TRANSFER_PENDING");
    let other = second_reseller(&server, &tenant.id).await;
    propose(&server, &other.id, &tenant.id, &[&direct.id], "")
        .await
        .expect("another partner may overlap");

    // A retry with the same request_id returns the first transfer.
    let retry = async || {
        server
            .customers(&partner(&other.id))
            .create_transfer(pb::CreateTransferRequest {
                customer_id: tenant.id.clone(),
                subscription_ids: vec![own_csp.id.clone()],
                partner_of_record_id: String::new(),
                request_id: "transfer-once".into(),
            })
            .await
    };
    let first = retry().await.expect("proposed").into_inner();
    let second = retry().await.expect("replayed").into_inner();
    assert_eq!(first, second);
}

/// T1: a provider names its chain's reseller as the new partner of
/// record and becomes the provider; a reseller outside that chain is
/// refused.
#[tokio::test]
async fn t1_a_provider_names_a_reseller_of_its_chain_as_the_new_partner_of_record() {
    let server = TestServer::start().await;
    let (provider, reseller, tenant) = indirect_chain(&server).await;
    let direct = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let outsider = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &outsider.id).await;
    let refused = propose(&server, &provider.id, &tenant.id, &[&direct.id], &outsider.id).await;
    assert_error(refused, Code::FailedPrecondition, "RESELLER_NOT_LINKED");
    let proposed = propose(&server, &provider.id, &tenant.id, &[&direct.id], &reseller.id)
        .await
        .expect("proposed");
    assert_eq!(proposed.partner_of_record_id, reseller.id);
    assert_eq!(proposed.indirect_provider_id, provider.id);
    // T4: the named reseller reads it too.
    assert_eq!(
        get(&server, &partner(&reseller.id), &proposed.id)
            .await
            .expect("read")
            .id,
        proposed.id
    );
    let accepted = accept(&server, &customer(&tenant.id), &proposed.id)
        .await
        .expect("accepted");
    assert_eq!(accepted.subscriptions[0].partner_of_record_id, reseller.id);
    assert_eq!(accepted.subscriptions[0].indirect_provider_id, provider.id);
    assert!(manage(&server, &reseller.id, &tenant.id, &direct.id).await);
    assert!(manage(&server, &provider.id, &tenant.id, &direct.id).await);
}

/// T2: a subscription changed since the proposal makes acceptance
/// TRANSFER_STALE naming it, and nothing changes; overlapping proposals of
/// two partners: once one is accepted the other is stale; a partner no
/// longer transacting cannot complete one.
#[tokio::test]
async fn t2_acceptance_fails_whole_when_a_subscription_or_partner_changed() {
    let server = TestServer::start().await;
    let (first, tenant) = reseller_with_customer(&server).await;
    let a = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let b = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let proposed = propose(&server, &first.id, &tenant.id, &[&a.id, &b.id], "")
        .await
        .expect("proposed");
    set_status(&server, &b.id, SubscriptionStatus::Suspended).await;
    let before = last_seq(&server).await;
    let stale = accept(&server, &customer(&tenant.id), &proposed.id).await;
    let status = assert_error(stale, Code::FailedPrecondition, "TRANSFER_STALE");
    assert!(status.message().contains(&b.id), "{}", status.message());
    assert!(!status.message().contains(&a.id), "only the changed one is named");
    assert_eq!(last_seq(&server).await, before, "nothing moved");
    let kept = subscriptions_of(&server, &tenant.id).await;
    assert!(kept.iter().all(|s| s.channel == Channel::Direct as i32));
    let pending = get(&server, &customer(&tenant.id), &proposed.id).await.expect("read");
    assert_eq!(pending.state, State::Pending as i32, "a stale transfer stays PENDING");

    // Two partners propose the same subscription; the second accepted
    // makes the first stale.
    let second = second_reseller(&server, &tenant.id).await;
    let d = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let mine = propose(&server, &first.id, &tenant.id, &[&d.id], "")
        .await
        .expect("proposed");
    let theirs = propose(&server, &second.id, &tenant.id, &[&d.id], "")
        .await
        .expect("proposed");
    accept(&server, &customer(&tenant.id), &theirs.id)
        .await
        .expect("accepted");
    let late = accept(&server, &customer(&tenant.id), &mine.id).await;
    assert_error(late, Code::FailedPrecondition, "TRANSFER_STALE");

    // The proposer suspended: not transacting, so nothing completes.
    let c = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let doomed = propose(&server, &second.id, &tenant.id, &[&c.id], "")
        .await
        .expect("proposed");
    server.set_partner_status(&second.id, PartnerStatus::Suspended).await;
    let refused = accept(&server, &customer(&tenant.id), &doomed.id).await;
    assert_error(refused, Code::FailedPrecondition, "NOT_TRANSACTING");
}

/// T2: two transfers of different partners naming one subscription,
/// accepted at once: exactly one completes, the other is stale.
#[tokio::test]
async fn t2_two_transfers_of_one_subscription_accepted_at_once_exactly_one_wins() {
    let server = TestServer::start().await;
    let (first, tenant) = reseller_with_customer(&server).await;
    let second = second_reseller(&server, &tenant.id).await;
    for round in 0..5 {
        let shared = recorded(&server, &tenant.id, Channel::Direct, "").await;
        let x = propose(&server, &first.id, &tenant.id, &[&shared.id], "")
            .await
            .expect("proposed");
        let y = propose(&server, &second.id, &tenant.id, &[&shared.id], "")
            .await
            .expect("proposed");
        let admin = customer(&tenant.id);
        let (rx, ry) = tokio::join!(accept(&server, &admin, &x.id), accept(&server, &admin, &y.id));
        let won = [&rx, &ry].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {rx:?} {ry:?}");
        for result in [rx, ry] {
            if let Err(status) = result {
                assert_error::<()>(Err(status), Code::FailedPrecondition, "TRANSFER_STALE");
            }
        }
    }
}

/// T2: the customer's admin rejects, the proposer cancels (another partner
/// may not), each repeatable; past 30 days a transfer is EXPIRED for every
/// decision before the sweep records it; a stale etag is ABORTED.
#[tokio::test]
async fn t2_reject_cancel_and_expiry_end_a_pending_transfer() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (proposer, tenant) = reseller_with_customer(&server).await;
    let sub = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let admin = customer(&tenant.id);

    let first = propose(&server, &proposer.id, &tenant.id, &[&sub.id], "")
        .await
        .expect("proposed");
    let stale_etag = server
        .customers(&admin)
        .reject_transfer(pb::RejectTransferRequest {
            id: first.id.clone(),
            etag: "W/\"9\"".into(),
        })
        .await;
    assert_error(stale_etag, Code::Aborted, "ETAG_MISMATCH");
    let reject = async || {
        server
            .customers(&admin)
            .reject_transfer(pb::RejectTransferRequest {
                id: first.id.clone(),
                etag: first.etag.clone(),
            })
            .await
    };
    let rejected = reject().await.expect("rejected").into_inner();
    assert_eq!(rejected.state, State::Rejected as i32);
    assert_eq!(reject().await.expect("repeated").into_inner(), rejected);
    assert_error(
        accept(&server, &admin, &first.id).await,
        Code::FailedPrecondition,
        "TRANSFER_NOT_PENDING",
    );

    let second = propose(&server, &proposer.id, &tenant.id, &[&sub.id], "")
        .await
        .expect("proposed");
    let outsider = server.create_partner(Kind::DirectReseller).await;
    let cancel = async |who: &str| {
        server
            .customers(&partner(who))
            .cancel_transfer(pb::CancelTransferRequest {
                id: second.id.clone(),
                etag: String::new(),
            })
            .await
    };
    assert_error(cancel(&outsider.id).await, Code::PermissionDenied, "NOT_TRANSFER_PARTY");
    let cancelled = cancel(&proposer.id).await.expect("cancelled").into_inner();
    assert_eq!(cancelled.state, State::Cancelled as i32);

    let third = propose(&server, &proposer.id, &tenant.id, &[&sub.id], "")
        .await
        .expect("proposed");
    assert_eq!(
        third.expire_time.as_ref().map(|t| t.seconds),
        Some(1_800_000_000 + 30 * 86_400)
    );
    clock.advance(30 * DAY);
    assert_eq!(
        get(&server, &admin, &third.id).await.expect("read").state,
        State::Expired as i32
    );
    assert_error(
        accept(&server, &admin, &third.id).await,
        Code::FailedPrecondition,
        "TRANSFER_NOT_PENDING",
    );
    // T4: ListTransfers filters by the state GetTransfer shows, before the
    // sweep has recorded it.
    let by_state = |state: State| pb::ListTransfersRequest {
        state: state as i32,
        ..Default::default()
    };
    assert_eq!(
        list(&server, &admin, by_state(State::Expired)).await,
        vec![third.id.clone()]
    );
    assert!(list(&server, &admin, by_state(State::Pending)).await.is_empty());
    // Expired, it no longer blocks a new proposal of the same proposer.
    propose(&server, &proposer.id, &tenant.id, &[&sub.id], "")
        .await
        .expect("proposed anew");
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.transfers_expired, 1);
    let events = server.events().await;
    assert_eq!(events.iter().filter(|e| e.event_type == "transfer.expired").count(), 1);
    assert_eq!(server.server.store().sweep().await.expect("sweep").transfers_expired, 0);
}

/// T4: who sees a transfer, in GetTransfer and ListTransfers alike: the
/// customer's admin, operator and service, its proposer and named partner
/// while they may VIEW the customer; nobody else, unknown ids refused the
/// same way.
#[tokio::test]
async fn t4_a_transfer_is_seen_by_its_customer_admin_operator_service_and_parties_only() {
    let server = TestServer::start().await;
    let (proposer, tenant) = reseller_with_customer(&server).await;
    let (_, elsewhere) = reseller_with_customer(&server).await;
    let sub = recorded(&server, &tenant.id, Channel::Direct, "").await;
    let proposed = propose(&server, &proposer.id, &tenant.id, &[&sub.id], "")
        .await
        .expect("proposed");
    let outsider = server.create_partner(Kind::DirectReseller).await;
    let all = pb::ListTransfersRequest::default();
    for who in [operator(), service(), customer(&tenant.id), partner(&proposer.id)] {
        assert_eq!(
            get(&server, &who, &proposed.id).await.expect("read").id,
            proposed.id,
            "{who:?}"
        );
        assert_eq!(
            list(&server, &who, all.clone()).await,
            vec![proposed.id.clone()],
            "{who:?}"
        );
    }
    for who in [customer(&elsewhere.id), partner(&outsider.id)] {
        let known = get(&server, &who, &proposed.id).await;
        let unknown = get(&server, &who, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").await;
        let (known, unknown) = (
            assert_error(known, Code::PermissionDenied, "NOT_TRANSFER_PARTY"),
            assert_error(unknown, Code::PermissionDenied, "NOT_TRANSFER_PARTY"),
        );
        assert_eq!(known.message(), unknown.message());
        assert!(list(&server, &who, all.clone()).await.is_empty(), "{who:?}");
    }
    let missing = get(&server, &operator(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").await;
    assert_error(missing, Code::NotFound, "TRANSFER_NOT_FOUND");
    // Filters: by state and proposer.
    let pending = pb::ListTransfersRequest {
        state: State::Pending as i32,
        proposing_partner_id: proposer.id.clone(),
        ..Default::default()
    };
    assert_eq!(list(&server, &operator(), pending).await, vec![proposed.id.clone()]);
    let completed = pb::ListTransfersRequest {
        state: State::Completed as i32,
        ..Default::default()
    };
    assert!(list(&server, &operator(), completed).await.is_empty());
    // The proposer no longer reads it once it may not VIEW the customer.
    server
        .relationships(&partner(&proposer.id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: tenant.id.clone(),
            partner_id: proposer.id.clone(),
        })
        .await
        .expect("ended");
    assert_error(
        get(&server, &partner(&proposer.id), &proposed.id).await,
        Code::PermissionDenied,
        "NOT_TRANSFER_PARTY",
    );
    assert!(list(&server, &partner(&proposer.id), all).await.is_empty());
}

/// T2, W1: an acceptance racing an update of one of its subscriptions
/// never leaves a transfer half-moved: either every subscription moved
/// (and the update applied after), or none did (TRANSFER_STALE).
#[tokio::test]
async fn t2_an_acceptance_racing_a_subscription_update_moves_all_or_nothing() {
    let server = TestServer::start().await;
    let (proposer, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let ops = operator();
    let mut outcomes = (0, 0);
    for round in 0..8 {
        let mut subscriptions = Vec::new();
        for _ in 0..3 {
            subscriptions.push(recorded(&server, &tenant.id, Channel::Direct, "").await);
        }
        let ids: Vec<&str> = subscriptions.iter().map(|s| s.id.as_str()).collect();
        let proposed = propose(&server, &proposer.id, &tenant.id, &ids, "")
            .await
            .expect("proposed");
        let suspend = update_subscription(
            &server,
            &ops,
            pb::Subscription {
                id: subscriptions[2].id.clone(),
                status: SubscriptionStatus::Suspended as i32,
                ..Default::default()
            },
            &["status"],
        );
        let (accepted, suspended) = tokio::join!(accept(&server, &admin, &proposed.id), suspend);
        suspended.expect("the update applies either way");
        let now: Vec<pb::Subscription> = subscriptions_of(&server, &tenant.id)
            .await
            .into_iter()
            .filter(|s| ids.contains(&s.id.as_str()))
            .collect();
        let csp = now.iter().filter(|s| s.channel == Channel::Csp as i32).count();
        match accepted {
            Ok(_) => {
                assert_eq!(csp, 3, "round {round}: accepted, so all moved");
                outcomes.0 += 1;
            }
            Err(status) => {
                assert_error::<()>(Err(status), Code::FailedPrecondition, "TRANSFER_STALE");
                assert_eq!(csp, 0, "round {round}: refused, so none moved");
                outcomes.1 += 1;
            }
        }
        // Close what is left so the next round's proposal does not overlap.
        let _ = server
            .customers(&partner(&proposer.id))
            .cancel_transfer(pb::CancelTransferRequest {
                id: proposed.id.clone(),
                etag: String::new(),
            })
            .await;
    }
    assert_eq!(outcomes.0 + outcomes.1, 8);
}

/// T2, W4: `kill -9` of the server while customer admins accept transfers
/// of two subscriptions each. After the restart every transfer is whole:
/// COMPLETED with both subscriptions moved (one `subscription.updated`
/// each and one `transfer.completed`), or PENDING with neither; every
/// acceptance that was acknowledged is COMPLETED; and accepting what is
/// left completes it, while accepting a COMPLETED one again appends
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t2_kill_9_during_acceptances_leaves_every_transfer_whole() {
    use crate::replicas::{customers, free_port, new_partner, relationships, start_process};
    use std::sync::Arc;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let port = free_port();
    let no_flags: [&str; 0] = [];
    let process = start_process(&database_url, port, &no_flags).await;
    let taker = new_partner(&process, Kind::DirectReseller).await;

    // Customers of the taker (C1: it transacts), each with two DIRECT
    // subscriptions the taker proposes to take over.
    struct Proposed {
        customer_id: String,
        transfer_id: String,
        subscription_ids: Vec<String>,
    }
    let mut proposed = Vec::new();
    for _ in 0..60 {
        let customer_id = customers(&process, &partner(&taker))
            .create_customer(customer_request(&unique_domain("killed"), None))
            .await
            .expect("customer")
            .into_inner()
            .id;
        let mut subscription_ids = Vec::new();
        for _ in 0..2 {
            let subscription = customers(&process, &operator())
                .create_subscription(pb::CreateSubscriptionRequest {
                    subscription: Some(pb::Subscription {
                        channel: Channel::Direct as i32,
                        ..csp_subscription(&customer_id, "")
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("recorded")
                .into_inner();
            subscription_ids.push(subscription.id);
        }
        let transfer_id = customers(&process, &partner(&taker))
            .create_transfer(pb::CreateTransferRequest {
                customer_id: customer_id.clone(),
                subscription_ids: subscription_ids.clone(),
                ..Default::default()
            })
            .await
            .expect("proposed")
            .into_inner()
            .id;
        proposed.push(Proposed {
            customer_id,
            transfer_id,
            subscription_ids,
        });
    }

    // Two admins' worth of acceptances at once. The one whose acceptance
    // is the 8th acknowledged kills the server there and then, while the
    // other's call is in flight.
    let mut process = process;
    let pid = process.child.id().to_string();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for half in 0..2 {
        let mine: Vec<(String, String)> = proposed
            .iter()
            .skip(half)
            .step_by(2)
            .map(|p| (p.customer_id.clone(), p.transfer_id.clone()))
            .collect();
        let (channel, acknowledged, pid) = (process.channel.clone(), acknowledged.clone(), pid.clone());
        tasks.push(tokio::spawn(async move {
            for (customer_id, transfer_id) in mine {
                let mut client = pb::customer_service_client::CustomerServiceClient::with_interceptor(
                    channel.clone(),
                    crate::replicas::bearer(&customer(&customer_id)),
                );
                let answered = tokio::time::timeout(
                    Duration::from_secs(3),
                    client.accept_transfer(pb::AcceptTransferRequest {
                        id: transfer_id.clone(),
                        etag: String::new(),
                    }),
                )
                .await;
                if !matches!(answered, Ok(Ok(_))) {
                    // The server is gone: this admin stops here.
                    return;
                }
                let mut acknowledged = acknowledged.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                acknowledged.push(transfer_id);
                if acknowledged.len() == 8 {
                    let killed = std::process::Command::new("kill")
                        .args(["-9", &pid])
                        .status()
                        .expect("kill runs");
                    assert!(killed.success(), "kill -9 {pid}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("an accepting admin");
    }
    let _ = process.child.wait();
    process = start_process(&database_url, port, &no_flags).await;
    let acknowledged: Vec<String> = acknowledged
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    assert!(
        acknowledged.len() >= 8 && acknowledged.len() < proposed.len(),
        "the kill came between the first and the last acceptance: {} of {}",
        acknowledged.len(),
        proposed.len()
    );

    // Every transfer whole; every acknowledged one COMPLETED.
    let mut completed = 0;
    for transfer in &proposed {
        let admin = customer(&transfer.customer_id);
        let state = customers(&process, &admin)
            .get_transfer(pb::GetTransferRequest {
                id: transfer.transfer_id.clone(),
            })
            .await
            .expect("the admin reads its transfer")
            .into_inner()
            .state;
        let mut channels = Vec::new();
        for id in &transfer.subscription_ids {
            let subscription = customers(&process, &admin)
                .get_subscription(pb::GetSubscriptionRequest { id: id.clone() })
                .await
                .expect("the admin reads its subscription")
                .into_inner();
            let moved = subscription.channel == Channel::Csp as i32 && subscription.partner_of_record_id == taker;
            channels.push(moved);
        }
        match state {
            s if s == State::Completed as i32 => {
                completed += 1;
                assert_eq!(channels, [true, true], "a COMPLETED transfer moved both");
            }
            s if s == State::Pending as i32 => {
                assert_eq!(channels, [false, false], "a PENDING transfer moved neither");
                assert!(
                    !acknowledged.contains(&transfer.transfer_id),
                    "an acknowledged acceptance was lost"
                );
            }
            other => panic!("transfer {} is {other}", transfer.transfer_id),
        }
    }
    assert!(completed >= acknowledged.len());
    eprintln!(
        "kill -9: {} acceptances acknowledged, {completed} of {} transfers completed",
        acknowledged.len(),
        proposed.len()
    );

    // The events say the same: each completion and each move once.
    let count = |events: &[pb::Event], kind: &str| events.iter().filter(|e| e.r#type == kind).count();
    let events = all_events(&process).await;
    assert_eq!(count(&events, "transfer.completed"), completed);
    assert_eq!(count(&events, "subscription.updated"), 2 * completed);

    // What is left completes; a repeat appends nothing.
    for transfer in &proposed {
        let accepted = customers(&process, &customer(&transfer.customer_id))
            .accept_transfer(pb::AcceptTransferRequest {
                id: transfer.transfer_id.clone(),
                etag: String::new(),
            })
            .await
            .expect("accepted, or its repeat")
            .into_inner();
        assert_eq!(accepted.transfer.map(|t| t.state), Some(State::Completed as i32));
        assert!(accepted.subscriptions.iter().all(|s| s.partner_of_record_id == taker));
    }
    let events = all_events(&process).await;
    assert_eq!(count(&events, "transfer.completed"), proposed.len());
    assert_eq!(count(&events, "subscription.updated"), 2 * proposed.len());

    async fn all_events(process: &crate::replicas::Replica) -> Vec<pb::Event> {
        let mut events = Vec::new();
        let mut after_seq = 0;
        loop {
            let page = relationships(process, &operator())
                .list_events(pb::ListEventsRequest {
                    after_seq,
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("the operator lists events")
                .into_inner()
                .events;
            let Some(last) = page.last() else { return events };
            after_seq = last.seq;
            events.extend(page);
        }
    }
}
