//! PartnerService: P1-P5, pagination, etags, idempotent retries.

use partnercenter::api::RemotePartners;
use partnercenter::api::pb;
use partnercenter::domain::model::{LinkSide, LinkState, PartnerKind, etag};
use partnercenter::domain::principal::Principal;
use partnercenter::domain::{self, ErrorCode, Reason};
use partnercenter::service::contract::partners::{self as svc, Partners as _};
use partnercenter::service::partners::LocalPartners;
use pb::partner::{Kind, Status as PartnerStatus};
use tonic::Code;

use crate::support::*;

fn new_partner(mpn_id: &str, kind: Kind) -> pb::Partner {
    pb::Partner {
        mpn_id: mpn_id.into(),
        display_name: "Contoso Cloud".into(),
        kind: kind as i32,
        ..Default::default()
    }
}

fn create_request(partner: pb::Partner, request_id: &str) -> pb::CreatePartnerRequest {
    pb::CreatePartnerRequest {
        partner: Some(partner),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn p1_only_the_operator_creates_partners() {
    let server = TestServer::start().await;
    let existing = server.create_partner(Kind::DirectReseller).await;
    assert_eq!(existing.status, PartnerStatus::Active as i32);
    assert!(uuid::Uuid::parse_str(&existing.id).is_ok_and(|u| u.get_version_num() == 7));
    assert!(!existing.etag.is_empty());
    for caller in [partner(&existing.id), customer(&existing.id), service()] {
        refused_without_change(
            &server,
            server
                .partners(&caller)
                .create_partner(create_request(new_partner(&next_mpn_id(), Kind::DirectReseller), "")),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    let all = server
        .partners(&operator())
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.partners.len(), 1, "refused creates change nothing");
}

/// Which error wins: INVALID_ARGUMENT on the request alone comes before
/// PERMISSION_DENIED on the caller's role, on every write of the partner
/// service; the same request well-formed is refused for the role.
#[tokio::test]
async fn errors_a_malformed_request_is_refused_before_the_callers_role() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    for caller in [partner(&reseller.id), customer(&reseller.id), service()] {
        let malformed = pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: "12".into(),
                display_name: " ".into(),
                ..Default::default()
            }),
            request_id: "not printable".into(),
        };
        let status = refused_without_change(
            &server,
            server.partners(&caller).create_partner(malformed),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(
            violated_fields(&status),
            ["request_id", "partner.mpn_id", "partner.display_name", "partner.kind"],
            "every violation at once"
        );
        let well_formed = create_request(new_partner(&next_mpn_id(), Kind::DirectReseller), "r-1");
        refused_without_change(
            &server,
            server.partners(&caller).create_partner(well_formed),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }

    // P3: a partner may not change its status; a status of no value is
    // answered first.
    let caller = partner(&reseller.id);
    let update = |status: PartnerStatus| pb::UpdatePartnerRequest {
        partner: Some(pb::Partner {
            id: reseller.id.clone(),
            status: status as i32,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["status".into()],
        }),
    };
    let status = refused_without_change(
        &server,
        server
            .partners(&caller)
            .update_partner(update(PartnerStatus::Unspecified)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), ["partner.status"]);
    refused_without_change(
        &server,
        server
            .partners(&caller)
            .update_partner(update(PartnerStatus::Suspended)),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;

    // P2: a customer may not link partners; a malformed request id is
    // answered first.
    let caller = customer(&reseller.id);
    let link = |request_id: &str| pb::LinkIndirectResellerRequest {
        provider_id: provider.id.clone(),
        reseller_id: reseller.id.clone(),
        request_id: request_id.into(),
        ..Default::default()
    };
    let status = refused_without_change(
        &server,
        server.partners(&caller).link_indirect_reseller(link("not printable")),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), ["request_id"]);
    refused_without_change(
        &server,
        server.partners(&caller).link_indirect_reseller(link("r-2")),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn p1_duplicate_mpn_id_is_already_exists() {
    let server = TestServer::start().await;
    let mpn_id = next_mpn_id();
    let mut client = server.partners(&operator());
    client
        .create_partner(create_request(new_partner(&mpn_id, Kind::DirectReseller), ""))
        .await
        .unwrap();
    refused_without_change(
        &server,
        client.create_partner(create_request(new_partner(&mpn_id, Kind::Advisor), "")),
        Code::AlreadyExists,
        "MPN_ID_TAKEN",
    )
    .await;
    let all = client
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.partners.len(), 1);
}

#[tokio::test]
async fn create_partner_validates_every_field_at_once() {
    let server = TestServer::start().await;
    let status = refused_without_change(
        &server,
        server.partners(&operator()).create_partner(create_request(
            pb::Partner {
                mpn_id: "12a".into(),
                display_name: "  ".into(),
                ..Default::default()
            },
            "",
        )),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["partner.display_name", "partner.kind", "partner.mpn_id"]);
    for mpn_id in ["12345", "12345678901", "１２３４５６"] {
        assert_eq!(
            violated_fields(
                &refused_without_change(
                    &server,
                    server
                        .partners(&operator())
                        .create_partner(create_request(new_partner(mpn_id, Kind::Advisor), "")),
                    Code::InvalidArgument,
                    "INVALID_FIELD"
                )
                .await
            ),
            ["partner.mpn_id"]
        );
    }
    for mpn_id in ["123456", "1234567890"] {
        server
            .partners(&operator())
            .create_partner(create_request(new_partner(mpn_id, Kind::Advisor), ""))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn create_partner_retry_with_request_id_returns_the_first_result() {
    let server = TestServer::start().await;
    let mut client = server.partners(&operator());
    let request = create_request(new_partner(&next_mpn_id(), Kind::DirectReseller), "req-1");
    let first = client.create_partner(request.clone()).await.unwrap().into_inner();
    let again = client.create_partner(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    let all = client
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.partners.len(), 1);
    assert_eq!(server.events().await.len(), 1, "a replay appends no event");

    let other_payload = create_request(new_partner(&next_mpn_id(), Kind::Advisor), "req-1");
    refused_without_change(
        &server,
        client.create_partner(other_payload),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    )
    .await;
}

#[tokio::test]
async fn p2_links_join_an_active_provider_and_an_active_reseller() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let mut ops = server.partners(&operator());
    let link = |provider_id: &str, reseller_id: &str| pb::LinkIndirectResellerRequest {
        provider_id: provider_id.into(),
        reseller_id: reseller_id.into(),
        request_id: String::new(),
        ..Default::default()
    };

    // Wrong kinds on either side.
    refused_without_change(
        &server,
        ops.link_indirect_reseller(link(&direct.id, &reseller.id)),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;
    refused_without_change(
        &server,
        ops.link_indirect_reseller(link(&provider.id, &direct.id)),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;

    // A suspended reseller cannot be linked.
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        ops.link_indirect_reseller(link(&provider.id, &reseller.id)),
        Code::FailedPrecondition,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    server.set_partner_status(&reseller.id, PartnerStatus::Active).await;

    let created = ops
        .link_indirect_reseller(link(&provider.id, &reseller.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.state, pb::partner_link::State::Active as i32);
    assert_eq!(
        (created.provider_id.as_str(), created.reseller_id.as_str()),
        (provider.id.as_str(), reseller.id.as_str())
    );

    // A second ACTIVE link of the same pair.
    refused_without_change(
        &server,
        ops.link_indirect_reseller(link(&provider.id, &reseller.id)),
        Code::AlreadyExists,
        "LINK_EXISTS",
    )
    .await;
    let unknown = uuid::Uuid::now_v7().to_string();
    refused_without_change(
        &server,
        ops.link_indirect_reseller(link(&provider.id, &unknown)),
        Code::NotFound,
        "PARTNER_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn p2_only_the_operator_or_that_provider_manages_its_links() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let other_provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let request = pb::LinkIndirectResellerRequest {
        provider_id: provider.id.clone(),
        reseller_id: reseller.id.clone(),
        request_id: String::new(),
        ..Default::default()
    };
    for caller in [partner(&other_provider.id), partner(&reseller.id)] {
        refused_without_change(
            &server,
            server.partners(&caller).link_indirect_reseller(request.clone()),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    refused_without_change(
        &server,
        server.partners(&service()).link_indirect_reseller(request.clone()),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
    let mut own = server.partners(&partner(&provider.id));
    own.link_indirect_reseller(request.clone()).await.unwrap();

    // L3: another provider may not end it; the provider withdraws its
    // PENDING request, which the reseller would decline instead.
    let unlink = pb::UnlinkIndirectResellerRequest {
        provider_id: provider.id.clone(),
        reseller_id: reseller.id.clone(),
        ..Default::default()
    };
    refused_without_change(
        &server,
        server
            .partners(&partner(&other_provider.id))
            .unlink_indirect_reseller(unlink.clone()),
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    )
    .await;
    refused_without_change(
        &server,
        server
            .partners(&partner(&reseller.id))
            .unlink_indirect_reseller(unlink.clone()),
        Code::FailedPrecondition,
        "LINK_NOT_ACTIVE",
    )
    .await;
    let revoked = own.unlink_indirect_reseller(unlink.clone()).await.unwrap().into_inner();
    assert_eq!(revoked.state, pb::partner_link::State::Revoked as i32);
    // A repeat returns it and appends nothing; a pair never linked is
    // NOT_FOUND.
    let again = without_change(&server, own.unlink_indirect_reseller(unlink))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, revoked);
    let never = pb::UnlinkIndirectResellerRequest {
        provider_id: provider.id.clone(),
        reseller_id: random_id(),
        ..Default::default()
    };
    refused_without_change(
        &server,
        own.unlink_indirect_reseller(never),
        Code::NotFound,
        "LINK_NOT_FOUND",
    )
    .await;

    // Revoked links stay listed; a new link may be made.
    own.link_indirect_reseller(request).await.unwrap();
    let links = own
        .list_partner_links(pb::ListPartnerLinksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .partner_links;
    let states: Vec<i32> = links.iter().map(|l| l.state).collect();
    assert_eq!(
        states,
        [
            pb::partner_link::State::Revoked as i32,
            pb::partner_link::State::Pending as i32
        ]
    );
}

#[tokio::test]
async fn p3_operator_changes_kind_and_status_and_existing_business_stays() {
    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let customer = server.create_customer(&operator(), None).await.unwrap();
    let advisory = server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: pb::subscription::Channel::Advisor as i32,
                ..csp_subscription(&customer.id, &advisor.id)
            },
        )
        .await
        .unwrap();

    // The advisor joins CSP.
    let updated = server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: advisor.id.clone(),
                kind: Kind::DirectReseller as i32,
                etag: advisor.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["kind"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.kind, Kind::DirectReseller as i32);
    assert_eq!(updated.display_name, advisor.display_name);
    assert_ne!(updated.etag, advisor.etag);

    // The subscription and the relationship are exactly as they were.
    let after = server
        .customers(&operator())
        .get_subscription(pb::GetSubscriptionRequest {
            id: advisory.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, advisory);
    let view = server
        .customers(&partner(&advisor.id))
        .get_customer(pb::GetCustomerRequest {
            id: customer.id.clone(),
        })
        .await;
    assert!(view.is_ok(), "the ADVISOR relationship still gives VIEW");
    // Still not transacting: ADVISOR relationships never are.
    refused_without_change(
        &server,
        server.create_subscription(&partner(&advisor.id), csp_subscription(&customer.id, "")),
        Code::FailedPrecondition,
        "NOT_TRANSACTING",
    )
    .await;
}

#[tokio::test]
async fn p3_a_partner_renames_itself_but_never_changes_kind_or_status() {
    let server = TestServer::start().await;
    let me = server.create_partner(Kind::DirectReseller).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let mut client = server.partners(&partner(&me.id));
    let renamed = client
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: me.id.clone(),
                display_name: "Renamed Ltd".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.display_name, "Renamed Ltd");
    for (id, path) in [(&me.id, "kind"), (&me.id, "status"), (&other.id, "display_name")] {
        refused_without_change(
            &server,
            client.update_partner(pb::UpdatePartnerRequest {
                partner: Some(pb::Partner {
                    id: id.clone(),
                    display_name: "x".into(),
                    kind: Kind::IndirectProvider as i32,
                    status: PartnerStatus::Active as i32,
                    ..Default::default()
                }),
                update_mask: mask(&[path]),
            }),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
}

#[tokio::test]
async fn update_partner_with_a_stale_etag_is_aborted_and_masks_are_checked() {
    let server = TestServer::start().await;
    let me = server.create_partner(Kind::DirectReseller).await;
    let mut ops = server.partners(&operator());
    let rename = |etag: &str, name: &str| pb::UpdatePartnerRequest {
        partner: Some(pb::Partner {
            id: me.id.clone(),
            display_name: name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    };
    let first = ops
        .update_partner(rename(&me.etag, "First"))
        .await
        .unwrap()
        .into_inner();
    refused_without_change(
        &server,
        ops.update_partner(rename(&me.etag, "Second")),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    ops.update_partner(rename(&first.etag, "Second")).await.unwrap();

    let no_mask = pb::UpdatePartnerRequest {
        update_mask: None,
        ..rename("", "Third")
    };
    refused_without_change(
        &server,
        ops.update_partner(no_mask),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let bad_path = pb::UpdatePartnerRequest {
        update_mask: mask(&["mpn_id"]),
        ..rename("", "Third")
    };
    refused_without_change(
        &server,
        ops.update_partner(bad_path),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let got = ops
        .get_partner(pb::GetPartnerRequest { id: me.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.display_name, "Second");
    assert_eq!(got.mpn_id, me.mpn_id);
}

#[tokio::test]
async fn p4_a_suspended_partner_cannot_write_or_read_customers() {
    let server = TestServer::start().await;
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let me = partner(&reseller.id);
    let customer = server.create_customer(&me, None).await.unwrap();
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;

    refused_without_change(
        &server,
        server.create_customer(&me, None),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    refused_without_change(
        &server,
        server.partners(&me).update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: reseller.id.clone(),
                display_name: "Still here".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        }),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    let read = server
        .customers(&me)
        .get_customer(pb::GetCustomerRequest {
            id: customer.id.clone(),
        })
        .await;
    assert_error(read, Code::PermissionDenied, "PARTNER_NOT_ACTIVE");
    let listed = server
        .customers(&me)
        .list_customers(pb::ListCustomersRequest::default())
        .await;
    assert_error(listed, Code::PermissionDenied, "PARTNER_NOT_ACTIVE");
    let decision = decide(
        &server,
        &reseller.id,
        &customer.id,
        partnercenter::domain::access::Action::View,
        None,
        None,
    )
    .await;
    assert!(!decision.allowed);
    assert_eq!(decision.reason.as_str(), "PARTNER_NOT_ACTIVE");

    // Reinstated, it finds its customer as it was.
    server.set_partner_status(&reseller.id, PartnerStatus::Active).await;
    let read = server
        .customers(&me)
        .get_customer(pb::GetCustomerRequest {
            id: customer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, customer);
}

#[tokio::test]
async fn p5_partners_see_themselves_and_linked_partners_only() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let suspended = server.create_partner(Kind::DirectReseller).await;
    server.set_partner_status(&suspended.id, PartnerStatus::Suspended).await;
    server.link(&provider.id, &reseller.id).await;

    let get = |caller: &partnercenter::domain::principal::Principal, id: &str| {
        let mut client = server.partners(caller);
        let id = id.to_owned();
        async move { client.get_partner(pb::GetPartnerRequest { id }).await }
    };
    let as_reseller = partner(&reseller.id);
    assert!(get(&as_reseller, &reseller.id).await.is_ok());
    assert!(get(&as_reseller, &provider.id).await.is_ok());
    assert_error(
        get(&as_reseller, &stranger.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    );
    let missing = uuid::Uuid::now_v7().to_string();
    assert_error(
        get(&as_reseller, &missing).await,
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    );
    assert_error(get(&operator(), &missing).await, Code::NotFound, "PARTNER_NOT_FOUND");

    let listed: Vec<String> = server
        .partners(&as_reseller)
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .partners
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut expected = vec![provider.id.clone(), reseller.id.clone()];
    expected.sort();
    assert_eq!(listed, expected);

    // Unlinked, they no longer see each other.
    server.unlink(&provider.id, &reseller.id).await;
    assert_error(
        get(&as_reseller, &provider.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    );

    // A customer admin reads any ACTIVE partner, never a suspended one.
    let admin = customer(&uuid::Uuid::now_v7().to_string());
    assert!(get(&admin, &stranger.id).await.is_ok());
    assert_error(
        get(&admin, &suspended.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    );
    let admin_list = server
        .partners(&admin)
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(admin_list.partners.len(), 3);
    assert!(
        admin_list
            .partners
            .iter()
            .all(|p| p.status == PartnerStatus::Active as i32)
    );

    // Operator and service see all.
    for caller in [operator(), service()] {
        let all = server
            .partners(&caller)
            .list_partners(pb::ListPartnersRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.partners.len(), 4);
        assert!(get(&caller, &suspended.id).await.is_ok());
    }
}

#[tokio::test]
async fn list_partners_pages_by_id_with_filters_bound_to_the_token() {
    let server = TestServer::start().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let kind = if i % 2 == 0 {
            Kind::DirectReseller
        } else {
            Kind::Advisor
        };
        created.push(server.create_partner(kind).await);
    }
    let mut client = server.partners(&service());
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_partners(pb::ListPartnersRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.partners.len() <= 3);
        seen.extend(page.partners.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = created.iter().map(|p| p.id.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected, "every partner once, in id order");

    let advisors = client
        .list_partners(pb::ListPartnersRequest {
            kind: Kind::Advisor as i32,
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(advisors.partners.len(), 2);
    assert!(advisors.partners.iter().all(|p| p.kind == Kind::Advisor as i32));
    let replayed_elsewhere = client
        .list_partners(pb::ListPartnersRequest {
            kind: Kind::DirectReseller as i32,
            page_token: advisors.next_page_token.clone(),
            ..Default::default()
        })
        .await;
    assert_error(replayed_elsewhere, Code::InvalidArgument, "INVALID_FIELD");
    let negative = client
        .list_partners(pb::ListPartnersRequest {
            page_size: -1,
            ..Default::default()
        })
        .await;
    assert_error(negative, Code::InvalidArgument, "INVALID_FIELD");
    let garbage = client
        .list_partners(pb::ListPartnersRequest {
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await;
    assert_error(garbage, Code::InvalidArgument, "INVALID_FIELD");
}

/// The partner service in this process and through the generated client,
/// over the same server and store.
fn local_and_remote(server: &TestServer) -> (LocalPartners, RemotePartners) {
    (
        LocalPartners::new(
            server.server.store().clone(),
            std::sync::Arc::new(partnercenter::service::relationships::consequences::InProcessConsequences),
        ),
        RemotePartners::new(partner_remote(server)),
    )
}

/// The same refusal through the local service, the remote service and the
/// gRPC client (decoded back): code, reason, message, violations, metadata.
#[track_caller]
fn same_error<T: std::fmt::Debug, U: std::fmt::Debug>(
    local: domain::Result<T>,
    remote: domain::Result<T>,
    grpc: Result<U, tonic::Status>,
) -> domain::Error {
    let local = local.expect_err("the local service refuses");
    assert_eq!(remote.expect_err("the remote service refuses"), local);
    assert_eq!(domain::Error::from(grpc.expect_err("the gRPC call is refused")), local);
    local
}

#[tokio::test]
async fn remote_partners_give_the_same_values_as_the_local_service() {
    let server = TestServer::start().await;
    let (local, remote) = local_and_remote(&server);
    let ops = operator();

    let provider = remote
        .create_partner(
            &ops,
            svc::CreatePartner {
                mpn_id: next_mpn_id(),
                display_name: " Fabrikam ".into(),
                kind: PartnerKind::IndirectProvider,
                status: None,
                request_id: Some("create-provider".into()),
            },
        )
        .await
        .expect("created remotely");
    assert_eq!(provider.display_name, "Fabrikam");
    assert_eq!(local.get_partner(&ops, &provider.id).await.unwrap(), provider);
    assert_eq!(remote.get_partner(&service(), &provider.id).await.unwrap(), provider);
    let reseller = local
        .create_partner(
            &ops,
            svc::CreatePartner {
                mpn_id: next_mpn_id(),
                display_name: "Reseller".into(),
                kind: PartnerKind::IndirectReseller,
                status: None,
                request_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(remote.get_partner(&ops, &reseller.id).await.unwrap(), reseller);

    let pending = remote
        .link_indirect_reseller(
            &partner(&provider.id),
            svc::LinkIndirectReseller {
                provider_id: provider.id.clone(),
                reseller_id: reseller.id.clone(),
                request_id: None,
                expire_after_days: 7,
            },
        )
        .await
        .unwrap();
    assert_eq!(pending.state, LinkState::Pending);
    // L2: the reseller accepts through the remote service, with the etag.
    let named = svc::NamedLink {
        provider_id: provider.id.clone(),
        reseller_id: reseller.id.clone(),
        etag: etag(pending.version),
    };
    let link = remote
        .accept_partner_link(&partner(&reseller.id), named.clone())
        .await
        .unwrap();
    assert_eq!((link.id.as_str(), link.state), (pending.id.as_str(), LinkState::Active));
    assert_eq!(link.version, pending.version + 1);
    // A repeat returns it as it is, through either service.
    assert_eq!(
        local
            .accept_partner_link(&partner(&reseller.id), named.clone())
            .await
            .unwrap(),
        link
    );
    let current = svc::NamedLink {
        etag: etag(link.version),
        ..named.clone()
    };
    let suspended = remote.suspend_partner_link(&ops, current).await.unwrap();
    assert_eq!(suspended.state, LinkState::Suspended);
    let link = remote
        .resume_partner_link(
            &partner(&provider.id),
            svc::NamedLink {
                etag: etag(suspended.version),
                ..named
            },
        )
        .await
        .unwrap();
    assert_eq!(link.state, LinkState::Active);
    let links = svc::ListPartnerLinks {
        partner_id: Some(reseller.id.clone()),
        state: Some(LinkState::Active),
        ..Default::default()
    };
    let through_local = local.list_partner_links(&service(), links.clone()).await.unwrap();
    assert_eq!(through_local.items, vec![link.clone()]);
    assert_eq!(
        remote.list_partner_links(&service(), links).await.unwrap(),
        through_local
    );

    let renamed = remote
        .update_partner(
            &partner(&reseller.id),
            svc::UpdatePartner {
                id: reseller.id.clone(),
                etag: etag(reseller.version),
                fields: vec![svc::PartnerField::DisplayName],
                display_name: "Renamed".into(),
                kind: None,
                status: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Renamed");
    assert_eq!(renamed.version, reseller.version + 1);
    assert_eq!(local.get_partner(&ops, &reseller.id).await.unwrap(), renamed);

    // One page of one at a time, the token of the remote page continuing
    // the local list and the other way round.
    let first = svc::ListPartners {
        page_size: 1,
        ..Default::default()
    };
    let local_first = local.list_partners(&ops, first.clone()).await.unwrap();
    assert_eq!(remote.list_partners(&ops, first).await.unwrap(), local_first);
    let second = svc::ListPartners {
        page_size: 1,
        page_token: local_first.next_page_token.clone(),
        ..Default::default()
    };
    let remote_second = remote.list_partners(&ops, second.clone()).await.unwrap();
    assert_eq!(local.list_partners(&ops, second).await.unwrap(), remote_second);
    let mut ids: Vec<String> = [&local_first, &remote_second]
        .iter()
        .flat_map(|page| page.items.iter().map(|p| p.id.clone()))
        .collect();
    ids.sort();
    let mut expected = vec![provider.id.clone(), reseller.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    let revoked = remote
        .unlink_indirect_reseller(
            &ops,
            svc::UnlinkIndirectReseller {
                provider_id: provider.id.clone(),
                reseller_id: reseller.id.clone(),
                note: Some("contract ended".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            revoked.id.as_str(),
            revoked.state,
            revoked.ended_by,
            revoked.end_note.as_deref()
        ),
        (
            link.id.as_str(),
            LinkState::Revoked,
            Some(LinkSide::Operator),
            Some("contract ended")
        )
    );
}

#[tokio::test]
async fn remote_partners_give_the_same_errors_as_the_local_service() {
    let server = TestServer::start().await;
    let (local, remote) = local_and_remote(&server);
    let ops = operator();
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let create = |mpn_id: &str| svc::CreatePartner {
        mpn_id: mpn_id.into(),
        display_name: "Contoso".into(),
        kind: PartnerKind::DirectReseller,
        status: None,
        request_id: None,
    };

    // P1: not the operator.
    let caller = customer(&provider.id);
    let mpn_id = next_mpn_id();
    let error = same_error(
        local.create_partner(&caller, create(&mpn_id)).await,
        remote.create_partner(&caller, create(&mpn_id)).await,
        server
            .partners(&caller)
            .create_partner(pb::CreatePartnerRequest::from(create(&mpn_id)))
            .await,
    );
    assert_eq!(
        (error.code, error.reason),
        (ErrorCode::PermissionDenied, Reason::RoleNotAllowed)
    );

    // P1: a duplicate mpn_id (a cause beyond the spec's reasons).
    let error = same_error(
        local.create_partner(&ops, create(&provider.mpn_id)).await,
        remote.create_partner(&ops, create(&provider.mpn_id)).await,
        server
            .partners(&ops)
            .create_partner(pb::CreatePartnerRequest::from(create(&provider.mpn_id)))
            .await,
    );
    assert_eq!(
        (error.code, error.reason),
        (ErrorCode::AlreadyExists, Reason::MpnIdTaken)
    );

    // P5: an unknown partner, to one who reads everything and to a partner.
    let unknown = partnercenter::store::new_id();
    let error = same_error(
        local.get_partner(&service(), &unknown).await,
        remote.get_partner(&service(), &unknown).await,
        server
            .partners(&service())
            .get_partner(pb::GetPartnerRequest { id: unknown.clone() })
            .await,
    );
    assert_eq!(
        (error.code, error.reason),
        (ErrorCode::NotFound, Reason::PartnerNotFound)
    );
    let caller = partner(&advisor.id);
    let error = same_error(
        local.get_partner(&caller, &provider.id).await,
        remote.get_partner(&caller, &provider.id).await,
        server
            .partners(&caller)
            .get_partner(pb::GetPartnerRequest {
                id: provider.id.clone(),
            })
            .await,
    );
    assert_eq!(
        (error.code, error.reason),
        (ErrorCode::PermissionDenied, Reason::PartnerNotVisible)
    );

    // P2: a link of the wrong kinds (a reason the spec names).
    let link = || svc::LinkIndirectReseller {
        provider_id: provider.id.clone(),
        reseller_id: advisor.id.clone(),
        request_id: None,
        expire_after_days: 0,
    };
    let error = same_error(
        local.link_indirect_reseller(&ops, link()).await,
        remote.link_indirect_reseller(&ops, link()).await,
        server
            .partners(&ops)
            .link_indirect_reseller(pb::LinkIndirectResellerRequest::from(link()))
            .await,
    );
    assert_eq!(error.reason, Reason::PartnerKindNotAllowed);

    // AIP-154: a stale etag.
    let stale = || svc::UpdatePartner {
        id: advisor.id.clone(),
        etag: etag(0),
        fields: vec![svc::PartnerField::DisplayName],
        display_name: "Late".into(),
        kind: None,
        status: None,
    };
    let error = same_error(
        local.update_partner(&ops, stale()).await,
        remote.update_partner(&ops, stale()).await,
        server
            .partners(&ops)
            .update_partner(pb::UpdatePartnerRequest::from(stale()))
            .await,
    );
    assert_eq!((error.code, error.reason), (ErrorCode::Aborted, Reason::EtagMismatch));

    // A page token of other filters: INVALID_ARGUMENT with its violation.
    let page = local
        .list_partners(
            &ops,
            svc::ListPartners {
                page_size: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let other_filters = || svc::ListPartners {
        kind: Some(PartnerKind::Advisor),
        page_token: page.next_page_token.clone(),
        ..Default::default()
    };
    let error = same_error(
        local.list_partners(&ops, other_filters()).await,
        remote.list_partners(&ops, other_filters()).await,
        server
            .partners(&ops)
            .list_partners(pb::ListPartnersRequest::from(other_filters()))
            .await,
    );
    assert_eq!(error.violations.len(), 1);
    assert_eq!(error.violations[0].field, "page_token");

    // Nothing the refusals touched changed.
    assert_eq!(local.get_partner(&ops, &advisor.id).await.unwrap().version, 1);
}

/// P4's gate, read through the trait as the other services do: the same
/// answer whether the partner service is in this process or another.
#[tokio::test]
async fn p4_the_caller_gate_reads_the_caller_through_the_partner_service() {
    let server = TestServer::start().await;
    let (local, remote) = local_and_remote(&server);
    let active = server.create_partner(Kind::DirectReseller).await;
    let suspended = server.create_partner(Kind::DirectReseller).await;
    server.set_partner_status(&suspended.id, PartnerStatus::Suspended).await;
    let reader = Principal::Service {
        subject: "customer-service".into(),
    };
    let unknown = partnercenter::store::new_id();
    for partners in [&local as &dyn svc::Partners, &remote] {
        for caller in [operator(), service(), customer(&unknown), partner(&active.id)] {
            assert_eq!(svc::require_active_caller(partners, &reader, &caller).await, Ok(()));
        }
        let refused = svc::require_active_caller(partners, &reader, &partner(&suspended.id))
            .await
            .expect_err("a suspended caller is refused");
        assert_eq!(
            (refused.code, refused.reason),
            (ErrorCode::PermissionDenied, Reason::PartnerNotActive)
        );
        let refused = svc::require_active_caller(partners, &reader, &partner(&unknown))
            .await
            .expect_err("a caller that does not exist is refused");
        assert_eq!(
            (refused.code, refused.reason),
            (ErrorCode::PermissionDenied, Reason::PartnerNotFound)
        );
    }
}
