//! Security groups: R4 and R8 through CreateSecurityGroup,
//! GetSecurityGroup, ListSecurityGroups, UpdateSecurityGroup,
//! DeleteSecurityGroup and ListEvents.

use partnercenter::api::pb;
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::domain::principal::Principal;
use tonic::{Code, Status};

use crate::support::*;

fn group(display_name: &str, members: &[&str]) -> pb::SecurityGroup {
    pb::SecurityGroup {
        display_name: display_name.into(),
        member_user_ids: members.iter().map(|m| m.to_string()).collect(),
        ..Default::default()
    }
}

async fn create(
    server: &TestServer,
    who: &Principal,
    security_group: pb::SecurityGroup,
    request_id: &str,
) -> Result<pb::SecurityGroup, Status> {
    server
        .relationships(who)
        .create_security_group(pb::CreateSecurityGroupRequest {
            security_group: Some(security_group),
            request_id: request_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(server: &TestServer, who: &Principal, id: &str) -> Result<pb::SecurityGroup, Status> {
    server
        .relationships(who)
        .get_security_group(pb::GetSecurityGroupRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

async fn list(server: &TestServer, who: &Principal, partner_id: &str) -> Result<Vec<pb::SecurityGroup>, Status> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let reply = server
            .relationships(who)
            .list_security_groups(pb::ListSecurityGroupsRequest {
                page_size: 2,
                page_token,
                partner_id: partner_id.into(),
            })
            .await?
            .into_inner();
        all.extend(reply.security_groups);
        if reply.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = reply.next_page_token;
    }
}

async fn update(
    server: &TestServer,
    who: &Principal,
    security_group: pb::SecurityGroup,
    paths: &[&str],
) -> Result<pb::SecurityGroup, Status> {
    server
        .relationships(who)
        .update_security_group(pb::UpdateSecurityGroupRequest {
            security_group: Some(security_group),
            update_mask: mask(paths),
        })
        .await
        .map(|r| r.into_inner())
}

async fn delete(server: &TestServer, who: &Principal, id: &str, etag: &str) -> Result<pb::SecurityGroup, Status> {
    server
        .relationships(who)
        .delete_security_group(pb::DeleteSecurityGroupRequest {
            id: id.into(),
            etag: etag.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn events_of(server: &TestServer, who: &Principal) -> Vec<pb::Event> {
    server
        .relationships(who)
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events listed")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| e.r#type.starts_with("security_group."))
        .collect()
}

/// R4: a partner creates (a retry with its request_id returns the same
/// group), reads, lists, updates with and without an etag (a stale one is
/// ABORTED) and deletes its group; the operator does the same for it.
#[tokio::test]
async fn r4_partner_and_operator_create_read_update_and_delete_groups_with_etags() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let me = partner(&owner.id);

    let made = create(&server, &me, group("  Help desk  ", &["u1", "a,b", "x y"]), "r-1")
        .await
        .expect("created");
    assert_eq!(made.partner_id, owner.id);
    assert_eq!(made.display_name, "Help desk");
    assert_eq!(made.member_user_ids, ["u1", "a,b", "x y"]);
    assert!(!made.etag.is_empty());
    let again = without_change(
        &server,
        create(&server, &me, group("  Help desk  ", &["u1", "a,b", "x y"]), "r-1"),
    )
    .await
    .expect("replayed");
    assert_eq!(again, made);
    assert_eq!(get(&server, &me, &made.id).await.expect("read"), made);

    // The operator names the partner.
    let by_operator = create(
        &server,
        &operator(),
        pb::SecurityGroup {
            partner_id: owner.id.clone(),
            ..group("Billing", &[])
        },
        "",
    )
    .await
    .expect("operator created");
    assert_eq!(by_operator.partner_id, owner.id);
    let mut ids = vec![made.id.clone(), by_operator.id.clone()];
    ids.sort();
    let listed: Vec<String> = list(&server, &me, "")
        .await
        .expect("listed")
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(listed, ids);
    let listed: Vec<String> = list(&server, &operator(), &owner.id)
        .await
        .expect("listed")
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(listed, ids);

    let renamed = update(
        &server,
        &me,
        pb::SecurityGroup {
            id: made.id.clone(),
            etag: made.etag.clone(),
            ..group("Tier 2", &[])
        },
        &["display_name"],
    )
    .await
    .expect("renamed");
    assert_eq!(renamed.display_name, "Tier 2");
    assert_eq!(renamed.member_user_ids, made.member_user_ids);
    assert_ne!(renamed.etag, made.etag);
    // The etag read first is stale now.
    refused_without_change(
        &server,
        update(
            &server,
            &me,
            pb::SecurityGroup {
                id: made.id.clone(),
                etag: made.etag.clone(),
                ..group("Tier 3", &[])
            },
            &["display_name"],
        ),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    // Without an etag, the update applies.
    let members = update(
        &server,
        &operator(),
        pb::SecurityGroup {
            id: made.id.clone(),
            ..group("ignored", &["u2"])
        },
        &["member_user_ids"],
    )
    .await
    .expect("members replaced");
    assert_eq!(members.display_name, "Tier 2");
    assert_eq!(members.member_user_ids, ["u2"]);

    refused_without_change(
        &server,
        delete(&server, &me, &made.id, &renamed.etag),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    let deleted = delete(&server, &me, &made.id, &members.etag).await.expect("deleted");
    assert!(deleted.delete_time.is_some(), "the reply says when: {deleted:?}");
    assert_eq!(
        pb::SecurityGroup {
            delete_time: None,
            ..deleted
        },
        members,
        "the group as it was"
    );
    assert_error(
        get(&server, &me, &made.id).await,
        Code::PermissionDenied,
        "GROUP_NOT_VISIBLE",
    );
    assert_error(
        get(&server, &operator(), &made.id).await,
        Code::NotFound,
        "GROUP_NOT_FOUND",
    );
    let gone = delete(&server, &operator(), &by_operator.id, "")
        .await
        .expect("deleted");
    assert_eq!(gone.id, by_operator.id);
    assert!(list(&server, &me, "").await.expect("listed").is_empty());
}

/// R4: every malformed group is INVALID_ARGUMENT naming its fields, and
/// changes nothing.
#[tokio::test]
async fn r4_invalid_groups_are_refused_naming_fields_and_change_nothing() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let long_id = "u".repeat(129);
    let too_many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let cases: Vec<(pb::SecurityGroup, Vec<&str>)> = vec![
        (group("   ", &[]), vec!["security_group.display_name"]),
        (group(&"n".repeat(257), &[]), vec!["security_group.display_name"]),
        (
            group("ok", &["a", "b", "c", "a"]),
            vec!["security_group.member_user_ids[3]"],
        ),
        (
            group("ok", &["a", "", "tab\there"]),
            vec!["security_group.member_user_ids[1]", "security_group.member_user_ids[2]"],
        ),
        (group("ok", &["a", &long_id]), vec!["security_group.member_user_ids[1]"]),
        (
            pb::SecurityGroup {
                member_user_ids: too_many.clone(),
                ..group("ok", &[])
            },
            vec!["security_group.member_user_ids"],
        ),
        (
            group("", &["é"]),
            vec!["security_group.display_name", "security_group.member_user_ids[0]"],
        ),
    ];
    for (input, fields) in cases {
        let refused = refused_without_change(
            &server,
            create(&server, &me, input.clone(), ""),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let mut violated = violated_fields(&refused);
        violated.sort();
        assert_eq!(violated, fields, "{input:?}");
    }
    let made = create(&server, &me, group("ok", &["a"]), "").await.expect("created");
    for (input, paths, field) in [
        (group(" ", &[]), vec!["display_name"], "security_group.display_name"),
        (
            group("x", &["a", "a"]),
            vec!["member_user_ids"],
            "security_group.member_user_ids[1]",
        ),
        (group("x", &[]), vec!["etag_of_nothing"], "update_mask"),
        (group("x", &[]), vec![], "update_mask"),
    ] {
        let refused = refused_without_change(
            &server,
            update(
                &server,
                &me,
                pb::SecurityGroup {
                    id: made.id.clone(),
                    ..input
                },
                &paths,
            ),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&refused), [field]);
    }
    // The operator must name the partner; a partner that does not exist is
    // not found.
    refused_without_change(
        &server,
        create(&server, &operator(), group("ok", &[]), ""),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    refused_without_change(
        &server,
        create(
            &server,
            &operator(),
            pb::SecurityGroup {
                partner_id: random_id(),
                ..group("ok", &[])
            },
            "",
        ),
        Code::NotFound,
        "PARTNER_NOT_FOUND",
    )
    .await;
    assert_eq!(get(&server, &me, &made.id).await.expect("unchanged"), made);
}

/// R4, W1: a partner keeps at most 500 groups; with 499, creates racing for
/// the last place: exactly one succeeds, the others are RESOURCE_EXHAUSTED.
#[tokio::test]
async fn r4_at_most_500_groups_per_partner_decided_inside_the_write() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let client = server.relationships(&me);
    let mut fills = Vec::new();
    for i in 0..499 {
        let mut client = client.clone();
        fills.push(tokio::spawn(async move {
            client
                .create_security_group(pb::CreateSecurityGroupRequest {
                    security_group: Some(group(&format!("g{i}"), &[])),
                    request_id: String::new(),
                })
                .await
                .map(|_| ())
        }));
        if fills.len() == 50 {
            for fill in fills.drain(..) {
                fill.await.expect("joined").expect("filled");
            }
        }
    }
    for fill in fills {
        fill.await.expect("joined").expect("filled");
    }
    let racers: Vec<_> = (0..6)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .create_security_group(pb::CreateSecurityGroupRequest {
                        security_group: Some(group(&format!("last{i}"), &[])),
                        request_id: String::new(),
                    })
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("joined") {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert_eq!(reason(&status), "GROUP_LIMIT_REACHED");
            }
        }
    }
    assert_eq!(won, 1);
    assert_eq!(list(&server, &operator(), &owner.id).await.expect("listed").len(), 500);
    refused_without_change(
        &server,
        create(
            &server,
            &operator(),
            pb::SecurityGroup {
                partner_id: owner.id.clone(),
                ..group("one more", &[])
            },
            "",
        ),
        Code::ResourceExhausted,
        "GROUP_LIMIT_REACHED",
    )
    .await;
    // Another partner's count is its own.
    create(&server, &partner(&other.id), group("mine", &[]), "")
        .await
        .expect("another partner's first");
}

/// R4, W2: another partner's group id, existing or not, is the same
/// PERMISSION_DENIED for every call, and changes nothing; naming another
/// partner on create or list is refused too.
#[tokio::test]
async fn r4_another_partners_group_existing_or_not_is_the_same_permission_denied() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::IndirectProvider).await;
    let made = create(&server, &partner(&owner.id), group("ops", &["u"]), "")
        .await
        .expect("created");
    let them = partner(&stranger.id);
    let unknown = random_id();
    let mut answers = Vec::new();
    for id in [made.id.as_str(), unknown.as_str()] {
        let read = assert_error(
            get(&server, &them, id).await,
            Code::PermissionDenied,
            "GROUP_NOT_VISIBLE",
        );
        let changed = refused_without_change(
            &server,
            update(
                &server,
                &them,
                pb::SecurityGroup {
                    id: id.into(),
                    ..group("mine now", &[])
                },
                &["display_name"],
            ),
            Code::PermissionDenied,
            "GROUP_NOT_VISIBLE",
        )
        .await;
        let deleted = refused_without_change(
            &server,
            delete(&server, &them, id, ""),
            Code::PermissionDenied,
            "GROUP_NOT_VISIBLE",
        )
        .await;
        answers.push([read, changed, deleted].map(|s| (s.code(), s.message().to_owned(), s.details().to_vec())));
    }
    assert_eq!(answers[0], answers[1]);
    refused_without_change(
        &server,
        create(
            &server,
            &them,
            pb::SecurityGroup {
                partner_id: owner.id.clone(),
                ..group("theirs", &[])
            },
            "",
        ),
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    )
    .await;
    assert_error(
        list(&server, &them, &owner.id).await,
        Code::PermissionDenied,
        "GROUP_NOT_VISIBLE",
    );
    assert!(list(&server, &them, "").await.expect("own listed").is_empty());
    assert_eq!(
        get(&server, &partner(&owner.id), &made.id).await.expect("unchanged"),
        made
    );
}

/// R4: services read any partner's groups but never write; customers'
/// admins do neither; a suspended partner is refused (P4).
#[tokio::test]
async fn r4_services_read_but_never_write_and_customers_are_refused() {
    let server = TestServer::start().await;
    let (reseller, tenant) = reseller_with_customer(&server).await;
    let made = create(&server, &partner(&reseller.id), group("ops", &["u"]), "")
        .await
        .expect("created");
    assert_eq!(get(&server, &service(), &made.id).await.expect("service reads"), made);
    let listed = list(&server, &service(), "").await.expect("service lists");
    assert!(listed.contains(&made));
    let ids: Vec<String> = list(&server, &service(), &reseller.id)
        .await
        .expect("service lists")
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(ids, [made.id.as_str()]);
    let admin = customer(&tenant.id);
    for who in [service(), admin.clone()] {
        refused_without_change(
            &server,
            create(
                &server,
                &who,
                pb::SecurityGroup {
                    partner_id: reseller.id.clone(),
                    ..group("x", &[])
                },
                "",
            ),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
        refused_without_change(
            &server,
            update(
                &server,
                &who,
                pb::SecurityGroup {
                    id: made.id.clone(),
                    ..group("x", &[])
                },
                &["display_name"],
            ),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
        refused_without_change(
            &server,
            delete(&server, &who, &made.id, ""),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    assert_error(
        get(&server, &admin, &made.id).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    assert_error(
        list(&server, &admin, "").await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );

    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    let me = partner(&reseller.id);
    assert_error(
        get(&server, &me, &made.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
    refused_without_change(
        &server,
        create(&server, &me, group("x", &[]), ""),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
}

/// R8: security_group.created, updated and deleted go to its partner, the
/// operator and services; another partner sees none.
#[tokio::test]
async fn r8_group_events_go_to_its_partner_operator_and_service_only() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let made = create(&server, &me, group("ops", &["u"]), "").await.expect("created");
    let changed = update(
        &server,
        &me,
        pb::SecurityGroup {
            id: made.id.clone(),
            ..group("ops 2", &[])
        },
        &["display_name"],
    )
    .await
    .expect("updated");
    delete(&server, &operator(), &made.id, &changed.etag)
        .await
        .expect("deleted");
    for who in [me.clone(), operator(), service()] {
        let events = events_of(&server, &who).await;
        let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(
            types,
            [
                "security_group.created",
                "security_group.updated",
                "security_group.deleted"
            ],
            "{who:?}"
        );
        for event in &events {
            assert_eq!(event.partner_id, owner.id);
            assert_eq!(event.subject_id, made.id);
            assert!(event.customer_id.is_empty());
            assert!(matches!(event.resource, Some(pb::event::Resource::SecurityGroup(_))));
        }
    }
    assert!(events_of(&server, &partner(&stranger.id)).await.is_empty());
}
