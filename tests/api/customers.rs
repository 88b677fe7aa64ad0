//! CustomerService customers: C1-C6, P4 for customer writes and reads,
//! UpdateCustomer, idempotent creates, validation and paging.

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::domain::access::{AccessReason, Action};
use partnercenter::domain::model::{
    DelegatedAdminGrant, EventResource, GrantState, Relationship, RelationshipKind, RelationshipSource,
    RelationshipState, Scope, Service,
};
use tonic::Code;

use crate::support::*;

/// Every customer, as the operator reads them (one page of up to 1000).
async fn all_customers(server: &TestServer) -> Vec<pb::Customer> {
    let reply = server
        .customers(&operator())
        .list_customers(pb::ListCustomersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("operator lists customers")
        .into_inner();
    assert!(reply.next_page_token.is_empty());
    reply.customers
}

async fn customer_count(server: &TestServer) -> usize {
    all_customers(server).await.len()
}

/// The relationships recorded (by their creation events) for a customer.
async fn relationships_of(server: &TestServer, customer_id: &str) -> Vec<Relationship> {
    server
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.resource {
            EventResource::Relationship(r) if r.customer_id == customer_id => Some(r),
            _ => None,
        })
        .collect()
}

/// The DAP grants recorded (by their events) for a customer.
async fn grants_of(server: &TestServer, customer_id: &str) -> Vec<DelegatedAdminGrant> {
    server
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.resource {
            EventResource::DelegatedAdminGrant(g) if g.customer_id == customer_id => Some(g),
            _ => None,
        })
        .collect()
}

/// Asserts `partner_id` holds exactly one ACTIVE grant per service, with
/// both scopes and no end_time (C1).
fn assert_full_dap(grants: &[DelegatedAdminGrant], partner_id: &str) {
    let mine: Vec<&DelegatedAdminGrant> = grants.iter().filter(|g| g.partner_id == partner_id).collect();
    assert_eq!(mine.len(), Service::ALL.len(), "{grants:?}");
    for service in Service::ALL {
        let grant = mine
            .iter()
            .find(|g| g.service == *service)
            .unwrap_or_else(|| panic!("no grant for {service}: {grants:?}"));
        assert_eq!(grant.state, GrantState::Active);
        assert!(grant.end_time.is_none(), "{grant:?}");
        assert!(!grant.auto_extend, "{grant:?}");
        let scopes: BTreeSet<&str> = grant.scopes.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            scopes,
            BTreeSet::from([Scope::Provisioning.as_str(), Scope::Support.as_str()])
        );
    }
}

async fn list_customers(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    request: pb::ListCustomersRequest,
) -> Result<pb::ListCustomersResponse, tonic::Status> {
    server
        .customers(who)
        .list_customers(request)
        .await
        .map(|r| r.into_inner())
}

/// Ids of every customer the principal lists, following the pages.
async fn listed_ids(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    filter: pb::ListCustomersRequest,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let reply = list_customers(
            server,
            who,
            pb::ListCustomersRequest {
                page_token: token.clone(),
                ..filter.clone()
            },
        )
        .await
        .expect("list customers");
        ids.extend(reply.customers.into_iter().map(|c| c.id));
        if reply.next_page_token.is_empty() {
            return ids;
        }
        token = reply.next_page_token;
    }
}

fn named_request(domain: &str, company_name: &str) -> pb::CreateCustomerRequest {
    let mut request = customer_request(domain, None);
    request.customer.as_mut().expect("customer").company_name = company_name.into();
    request
}

// ---------------------------------------------------------------- C1

#[tokio::test]
async fn c1_direct_reseller_creates_customer_and_gets_reseller_relationship_and_full_dap() {
    let server = TestServer::start().await;
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let domain = unique_domain("c1direct");
    let created = server
        .customers(&partner(&reseller.id))
        .create_customer(customer_request(&domain, None))
        .await
        .expect("direct reseller creates a customer")
        .into_inner();

    assert!(uuid::Uuid::parse_str(&created.id).is_ok(), "{created:?}");
    assert_eq!(created.domain, domain);
    assert_eq!(created.company_name, format!("Company of {domain}"));
    let contact = created.billing_contact.clone().expect("billing contact");
    assert_eq!(contact.email, format!("admin@{domain}"));
    assert_eq!(contact.first_name, "Li");
    assert_eq!(contact.last_name, "Wei");
    assert_eq!(contact.culture, "zh-CN");
    assert_eq!(contact.language, "zh");
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some() && created.update_time.is_some());

    let relationships = relationships_of(&server, &created.id).await;
    assert_eq!(relationships.len(), 1, "{relationships:?}");
    let relationship = &relationships[0];
    assert_eq!(relationship.partner_id, reseller.id);
    assert_eq!(relationship.kind, RelationshipKind::Reseller);
    assert_eq!(relationship.state, RelationshipState::Active);
    assert_eq!(relationship.source, RelationshipSource::CustomerCreation);
    assert!(relationship.indirect_provider_id.is_none());
    assert_full_dap(&grants_of(&server, &created.id).await, &reseller.id);

    let view = decide(&server, &reseller.id, &created.id, Action::View, None, None).await;
    assert!(view.allowed);
    let sell = decide(&server, &reseller.id, &created.id, Action::Sell, None, None).await;
    assert!(sell.allowed, "{sell:?}");
    assert_eq!(sell.reason, AccessReason::Transacting);
    for service in Service::ALL {
        for action in [Action::Provision, Action::Support] {
            let decision = decide(&server, &reseller.id, &created.id, action, Some(*service), None).await;
            assert!(decision.allowed, "{action:?} {service}: {decision:?}");
            assert_eq!(decision.reason, AccessReason::DelegatedAdmin);
            assert_eq!(decision.grant_ids.len(), 1);
        }
    }

    let read = get_customer(&server, &partner(&reseller.id), &created.id)
        .await
        .expect("the creator reads its customer");
    assert_eq!(read, created);
}

#[tokio::test]
async fn c1_indirect_provider_creates_customer_for_itself_with_reseller_relationship_and_dap() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let created = server
        .create_customer(&partner(&provider.id), None)
        .await
        .expect("provider creates a customer");

    let relationships = relationships_of(&server, &created.id).await;
    assert_eq!(relationships.len(), 1, "{relationships:?}");
    assert_eq!(relationships[0].partner_id, provider.id);
    assert_eq!(relationships[0].kind, RelationshipKind::Reseller);
    assert_full_dap(&grants_of(&server, &created.id).await, &provider.id);
    let provision = decide(
        &server,
        &provider.id,
        &created.id,
        Action::Provision,
        Some(Service::Azure),
        None,
    )
    .await;
    assert!(provision.allowed, "{provision:?}");
    assert!(
        decide(&server, &provider.id, &created.id, Action::Sell, None, None)
            .await
            .allowed
    );
}

#[tokio::test]
async fn c1_provider_naming_linked_reseller_gives_it_indirect_relationship_and_the_dap_instead() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;

    let created = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("provider creates a customer for its reseller");

    let relationships = relationships_of(&server, &created.id).await;
    assert_eq!(relationships.len(), 2, "{relationships:?}");
    let providers: Vec<&Relationship> = relationships.iter().filter(|r| r.partner_id == provider.id).collect();
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].kind, RelationshipKind::Reseller);
    let resellers: Vec<&Relationship> = relationships.iter().filter(|r| r.partner_id == reseller.id).collect();
    assert_eq!(resellers.len(), 1);
    assert_eq!(resellers[0].kind, RelationshipKind::IndirectReseller);
    assert_eq!(resellers[0].indirect_provider_id.as_deref(), Some(provider.id.as_str()));
    assert_eq!(resellers[0].state, RelationshipState::Active);
    assert_eq!(resellers[0].source, RelationshipSource::CustomerCreation);

    // The reseller receives the DAP instead of the provider.
    let grants = grants_of(&server, &created.id).await;
    assert_full_dap(&grants, &reseller.id);
    assert!(grants.iter().all(|g| g.partner_id != provider.id), "{grants:?}");

    let reseller_provision = decide(
        &server,
        &reseller.id,
        &created.id,
        Action::Provision,
        Some(Service::Azure),
        None,
    )
    .await;
    assert!(reseller_provision.allowed, "{reseller_provision:?}");
    let provider_provision = decide(
        &server,
        &provider.id,
        &created.id,
        Action::Provision,
        Some(Service::Azure),
        None,
    )
    .await;
    assert!(!provider_provision.allowed);
    assert_eq!(provider_provision.reason, AccessReason::NoDelegatedAdmin);
    // Both transact: the provider by its RESELLER relationship, the reseller
    // through its ACTIVE provider and link.
    assert!(
        decide(&server, &provider.id, &created.id, Action::Sell, None, None)
            .await
            .allowed
    );
    assert!(
        decide(&server, &reseller.id, &created.id, Action::Sell, None, None)
            .await
            .allowed
    );

    // Both read the customer.
    get_customer(&server, &partner(&provider.id), &created.id)
        .await
        .expect("provider reads");
    get_customer(&server, &partner(&reseller.id), &created.id)
        .await
        .expect("reseller reads");
}

#[tokio::test]
async fn c1_provider_naming_a_reseller_not_active_linked_is_failed_precondition_reseller_not_linked() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let other_provider = server.create_partner(Kind::IndirectProvider).await;
    let never_linked = server.create_partner(Kind::IndirectReseller).await;
    let linked_elsewhere = server.create_partner(Kind::IndirectReseller).await;
    server.link(&other_provider.id, &linked_elsewhere.id).await;
    let revoked = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &revoked.id).await;
    server.unlink(&provider.id, &revoked.id).await;

    let customers_before = customer_count(&server).await;
    for reseller_id in [
        never_linked.id.clone(),
        linked_elsewhere.id.clone(),
        revoked.id.clone(),
        random_id(),
    ] {
        refused_without_change(
            &server,
            server.create_customer(&partner(&provider.id), Some(&reseller_id)),
            Code::FailedPrecondition,
            "RESELLER_NOT_LINKED",
        )
        .await;
    }
    assert_eq!(customer_count(&server).await, customers_before);
}

#[tokio::test]
async fn c1_indirect_reseller_and_advisor_may_not_create_customers_partner_kind_not_allowed() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let advisor = server.create_partner(Kind::Advisor).await;

    for who in [&reseller, &advisor] {
        refused_without_change(
            &server,
            server.create_customer(&partner(&who.id), None),
            Code::PermissionDenied,
            "PARTNER_KIND_NOT_ALLOWED",
        )
        .await;
    }
    assert_eq!(customer_count(&server).await, 0);
}

#[tokio::test]
async fn c1_direct_reseller_may_not_name_an_indirect_reseller() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let status = refused_without_change(
        &server,
        server.create_customer(&partner(&direct.id), Some(&reseller.id)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), vec!["indirect_reseller_id".to_string()]);
    assert_eq!(customer_count(&server).await, 0);
}

#[tokio::test]
async fn c1_p4_suspended_partner_may_not_create_customers() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    server.set_partner_status(&direct.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        server.create_customer(&partner(&direct.id), None),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    assert_eq!(customer_count(&server).await, 0);

    // Reactivated, it may create again.
    server.set_partner_status(&direct.id, PartnerStatus::Active).await;
    server
        .create_customer(&partner(&direct.id), None)
        .await
        .expect("an ACTIVE partner creates");
}

#[tokio::test]
async fn c1_provider_may_not_name_a_suspended_linked_reseller() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    let result = without_change(
        &server,
        server.create_customer(&partner(&provider.id), Some(&reseller.id)),
    )
    .await;
    let status = result.expect_err("a suspended reseller cannot receive a new customer");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(customer_count(&server).await, 0);
}

#[tokio::test]
async fn c1_customer_admin_and_service_may_not_create_customers() {
    let server = TestServer::start().await;
    let existing = server.create_customer(&operator(), None).await.expect("created");
    for who in [customer(&existing.id), service()] {
        let status = without_change(&server, server.create_customer(&who, None))
            .await
            .expect_err("only the operator and partners create customers");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(!reason(&status).is_empty());
    }
    assert_eq!(customer_count(&server).await, 1);
}

// ---------------------------------------------------------------- C2

#[tokio::test]
async fn c2_operator_creates_customer_without_any_partner() {
    let server = TestServer::start().await;
    let bystander = server.create_partner(Kind::DirectReseller).await;
    let events_before = server.events().await.len();

    let created = server
        .create_customer(&operator(), None)
        .await
        .expect("operator creates");

    let events = server.events().await;
    let new_events = &events[events_before..];
    assert_eq!(new_events.len(), 1, "{new_events:?}");
    assert_eq!(new_events[0].event_type, "customer.created");
    assert!(relationships_of(&server, &created.id).await.is_empty());
    assert!(grants_of(&server, &created.id).await.is_empty());

    assert_eq!(
        get_customer(&server, &operator(), &created.id)
            .await
            .expect("operator reads"),
        created
    );
    assert_eq!(
        get_customer(&server, &customer(&created.id), &created.id)
            .await
            .expect("its admin reads"),
        created
    );
    assert_error(
        get_customer(&server, &partner(&bystander.id), &created.id).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    let view = decide(&server, &bystander.id, &created.id, Action::View, None, None).await;
    assert!(!view.allowed);
}

#[tokio::test]
async fn c2_operator_may_not_name_an_indirect_reseller() {
    let server = TestServer::start().await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let status = refused_without_change(
        &server,
        server.create_customer(&operator(), Some(&reseller.id)),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(violated_fields(&status), vec!["indirect_reseller_id".to_string()]);
    assert_eq!(customer_count(&server).await, 0);
}

// ---------------------------------------------------------------- C3

#[tokio::test]
async fn c3_duplicate_domain_is_already_exists_regardless_of_case() {
    let server = TestServer::start().await;
    let domain = unique_domain("Contoso-C3");
    let created = server
        .customers(&operator())
        .create_customer(customer_request(&domain, None))
        .await
        .expect("created")
        .into_inner();
    // Stored in lower case.
    assert_eq!(created.domain, domain.to_lowercase());

    let customers_before = customer_count(&server).await;
    for variant in [domain.clone(), domain.to_lowercase(), domain.to_uppercase()] {
        refused_without_change(
            &server,
            server
                .customers(&operator())
                .create_customer(customer_request(&variant, None)),
            Code::AlreadyExists,
            "DOMAIN_TAKEN",
        )
        .await;
    }
    assert_eq!(customer_count(&server).await, customers_before);
}

#[tokio::test]
async fn c3_domain_taken_is_told_even_to_a_partner_that_cannot_see_the_tenant() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let other = server.create_partner(Kind::IndirectProvider).await;
    let domain = unique_domain("fabrikam");
    let created = server
        .customers(&partner(&owner.id))
        .create_customer(customer_request(&domain, None))
        .await
        .expect("created")
        .into_inner();

    refused_without_change(
        &server,
        server
            .customers(&partner(&other.id))
            .create_customer(customer_request(&domain.to_uppercase(), None)),
        Code::AlreadyExists,
        "DOMAIN_TAKEN",
    )
    .await;
    assert_eq!(customer_count(&server).await, 1);
    // The refusal gave the other partner nothing on the tenant.
    assert_error(
        get_customer(&server, &partner(&other.id), &created.id).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
}

// ---------------------------------------------------------------- C4

#[tokio::test]
async fn c4_partner_reads_a_customer_exactly_when_view_is_allowed_and_nothing_leaks() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let mine = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    let direct = server.create_customer(&operator(), None).await.expect("created");

    assert_eq!(
        get_customer(&server, &partner(&owner.id), &mine.id)
            .await
            .expect("owner reads"),
        mine
    );
    // Another tenant, an existing one the partner has no business with and an
    // unknown id all get the same answer: existence never leaks.
    let denied_existing = assert_error(
        get_customer(&server, &partner(&stranger.id), &mine.id).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    assert_error(
        get_customer(&server, &partner(&owner.id), &direct.id).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    let denied_unknown = assert_error(
        get_customer(&server, &partner(&stranger.id), &random_id()).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    assert_error(
        get_customer(&server, &partner(&owner.id), &random_id()).await,
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    );
    assert_eq!(denied_existing.message(), denied_unknown.message());

    for (who, customer_id, expected) in [
        (&owner.id, &mine.id, true),
        (&stranger.id, &mine.id, false),
        (&owner.id, &direct.id, false),
    ] {
        let view = decide(&server, who, customer_id, Action::View, None, None).await;
        assert_eq!(view.allowed, expected, "{view:?}");
    }
}

#[tokio::test]
async fn c4_p4_suspended_partner_reads_no_customer_until_reactivated() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let mine = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    server.set_partner_status(&owner.id, PartnerStatus::Suspended).await;

    assert_error(
        get_customer(&server, &partner(&owner.id), &mine.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
    // P4: every call of a suspended partner is refused, lists too.
    assert_error(
        list_customers(&server, &partner(&owner.id), Default::default()).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
    let view = decide(&server, &owner.id, &mine.id, Action::View, None, None).await;
    assert!(!view.allowed);
    assert_eq!(view.reason, AccessReason::PartnerNotActive);

    // P3: suspension changed nothing else; reactivated, it reads again.
    server.set_partner_status(&owner.id, PartnerStatus::Active).await;
    get_customer(&server, &partner(&owner.id), &mine.id)
        .await
        .expect("reads again");
    assert_eq!(
        listed_ids(&server, &partner(&owner.id), Default::default()).await,
        vec![mine.id]
    );
}

#[tokio::test]
async fn c4_operator_and_service_read_every_customer_and_unknown_is_not_found() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let mine = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    let direct = server.create_customer(&operator(), None).await.expect("created");

    for who in [operator(), service()] {
        assert_eq!(get_customer(&server, &who, &mine.id).await.expect("reads"), mine);
        assert_eq!(get_customer(&server, &who, &direct.id).await.expect("reads"), direct);
        assert_error(
            get_customer(&server, &who, &random_id()).await,
            Code::NotFound,
            "CUSTOMER_NOT_FOUND",
        );
        let ids = listed_ids(&server, &who, Default::default()).await;
        assert_eq!(ids.len(), 2);
    }
}

#[tokio::test]
async fn c4_malformed_customer_id_is_invalid_argument() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    for who in [operator(), partner(&owner.id)] {
        for id in ["", "not-a-uuid"] {
            let status = assert_error(
                get_customer(&server, &who, id).await,
                Code::InvalidArgument,
                "INVALID_FIELD",
            );
            assert_eq!(violated_fields(&status), vec!["id".to_string()]);
        }
    }
}

// ---------------------------------------------------------------- C5

#[tokio::test]
async fn c5_customer_admin_sees_only_its_own_customer() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let own = server.create_customer(&operator(), None).await.expect("created");
    let other = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    server.create_customer(&operator(), None).await.expect("created");

    let admin = customer(&own.id);
    assert_eq!(get_customer(&server, &admin, &own.id).await.expect("reads own"), own);
    for id in [other.id.clone(), random_id()] {
        let status = get_customer(&server, &admin, &id)
            .await
            .expect_err("another tenant is not readable");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert_eq!(
        listed_ids(&server, &admin, Default::default()).await,
        vec![own.id.clone()]
    );
    // Even asking for another partner's customers yields only its own tenant,
    // or nothing.
    let filtered = listed_ids(
        &server,
        &admin,
        pb::ListCustomersRequest {
            domain_prefix: other.domain.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(filtered.is_empty(), "{filtered:?}");
}

// ---------------------------------------------------------------- C6

#[tokio::test]
async fn c6_list_filters_by_company_name_and_domain_prefix_case_insensitively() {
    let server = TestServer::start().await;
    let ops = server.customers(&operator());
    let mut ids = std::collections::HashMap::new();
    for (domain, company) in [
        ("alpha-one.cn", "Alpha Trading"),
        ("ALPHA-two.cn", "alpha Foods"),
        ("beta.cn", "Beta Alpha Ltd"),
        ("gamma.cn", "100% Gamma_Co"),
    ] {
        let created = ops
            .clone()
            .create_customer(named_request(domain, company))
            .await
            .expect("created")
            .into_inner();
        ids.insert(company, created.id);
    }
    let set = |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| ids[n].clone()).collect() };
    let listed = |request: pb::ListCustomersRequest| {
        let server = &server;
        async move {
            listed_ids(server, &operator(), request)
                .await
                .into_iter()
                .collect::<BTreeSet<_>>()
        }
    };

    assert_eq!(
        listed(pb::ListCustomersRequest {
            company_name_prefix: "ALPHA".into(),
            ..Default::default()
        })
        .await,
        set(&["Alpha Trading", "alpha Foods"])
    );
    assert_eq!(
        listed(pb::ListCustomersRequest {
            company_name_prefix: "alpha t".into(),
            ..Default::default()
        })
        .await,
        set(&["Alpha Trading"])
    );
    assert_eq!(
        listed(pb::ListCustomersRequest {
            domain_prefix: "Alpha-".into(),
            ..Default::default()
        })
        .await,
        set(&["Alpha Trading", "alpha Foods"])
    );
    assert_eq!(
        listed(pb::ListCustomersRequest {
            domain_prefix: "alpha".into(),
            company_name_prefix: "alpha f".into(),
            ..Default::default()
        })
        .await,
        set(&["alpha Foods"])
    );
    assert_eq!(
        listed(pb::ListCustomersRequest {
            domain_prefix: "BETA.".into(),
            ..Default::default()
        })
        .await,
        set(&["Beta Alpha Ltd"])
    );
    // A prefix, not a substring; and wildcards in a prefix are literal.
    assert!(
        listed(pb::ListCustomersRequest {
            company_name_prefix: "Trading".into(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        listed(pb::ListCustomersRequest {
            company_name_prefix: "%".into(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        listed(pb::ListCustomersRequest {
            domain_prefix: "_eta".into(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        listed(pb::ListCustomersRequest {
            company_name_prefix: "100% gamma_".into(),
            ..Default::default()
        })
        .await,
        set(&["100% Gamma_Co"])
    );
    assert_eq!(listed(Default::default()).await.len(), 4);
}

#[tokio::test]
async fn c6_list_filters_by_indirect_reseller_id() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let first = server.create_partner(Kind::IndirectReseller).await;
    let second = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &first.id).await;
    server.link(&provider.id, &second.id).await;
    let by_provider = partner(&provider.id);
    let a = server
        .create_customer(&by_provider, Some(&first.id))
        .await
        .expect("created");
    let b = server
        .create_customer(&by_provider, Some(&first.id))
        .await
        .expect("created");
    let c = server
        .create_customer(&by_provider, Some(&second.id))
        .await
        .expect("created");
    let own = server.create_customer(&by_provider, None).await.expect("created");
    server.create_customer(&operator(), None).await.expect("created");

    let filter = |id: &str| pb::ListCustomersRequest {
        indirect_reseller_id: id.into(),
        ..Default::default()
    };
    let expected_first: BTreeSet<String> = [a.id.clone(), b.id.clone()].into();
    for who in [operator(), by_provider.clone(), partner(&first.id)] {
        let ids: BTreeSet<String> = listed_ids(&server, &who, filter(&first.id)).await.into_iter().collect();
        assert_eq!(ids, expected_first, "{who:?}");
    }
    let ids: BTreeSet<String> = listed_ids(&server, &operator(), filter(&second.id))
        .await
        .into_iter()
        .collect();
    assert_eq!(ids, BTreeSet::from([c.id.clone()]));
    // The second reseller, filtering on the first, still sees only what it may read.
    assert!(
        listed_ids(&server, &partner(&second.id), filter(&first.id))
            .await
            .is_empty()
    );
    // The provider's unfiltered list holds all four of its customers.
    let all: BTreeSet<String> = listed_ids(&server, &by_provider, Default::default())
        .await
        .into_iter()
        .collect();
    assert_eq!(all, BTreeSet::from([a.id, b.id, c.id, own.id]));
    // A malformed id is invalid.
    let status = assert_error(
        list_customers(&server, &operator(), filter("nope")).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(violated_fields(&status), vec!["indirect_reseller_id".to_string()]);
}

#[tokio::test]
async fn c6_partner_list_holds_exactly_the_customers_c4_lets_it_read() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let second = server.create_partner(Kind::DirectReseller).await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    for _ in 0..3 {
        server
            .create_customer(&partner(&first.id), None)
            .await
            .expect("created");
    }
    for _ in 0..2 {
        server
            .create_customer(&partner(&second.id), None)
            .await
            .expect("created");
    }
    server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("created");
    server.create_customer(&operator(), None).await.expect("created");

    let everyone = all_customers(&server).await;
    assert_eq!(everyone.len(), 7);
    for who in [&first, &second, &provider, &reseller] {
        let listed: BTreeSet<String> = listed_ids(&server, &partner(&who.id), Default::default())
            .await
            .into_iter()
            .collect();
        let mut readable = BTreeSet::new();
        for c in &everyone {
            let view = decide(&server, &who.id, &c.id, Action::View, None, None).await;
            let get = get_customer(&server, &partner(&who.id), &c.id).await;
            assert_eq!(view.allowed, get.is_ok(), "{view:?} {get:?}");
            if view.allowed {
                readable.insert(c.id.clone());
            }
        }
        assert_eq!(listed, readable, "partner {}", who.id);
    }
    assert_eq!(
        listed_ids(&server, &partner(&first.id), Default::default()).await.len(),
        3
    );
    assert_eq!(
        listed_ids(&server, &partner(&second.id), Default::default())
            .await
            .len(),
        2
    );
    assert_eq!(
        listed_ids(&server, &partner(&reseller.id), Default::default())
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn c6_list_pages_return_every_customer_once_in_ascending_id_order() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    for _ in 0..7 {
        server
            .create_customer(&partner(&owner.id), None)
            .await
            .expect("created");
    }
    for _ in 0..2 {
        server.create_customer(&operator(), None).await.expect("created");
    }

    for (who, expected) in [(operator(), 9), (partner(&owner.id), 7)] {
        let mut ids = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let reply = list_customers(
                &server,
                &who,
                pb::ListCustomersRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            )
            .await
            .expect("page");
            pages += 1;
            assert!(reply.customers.len() <= 2);
            ids.extend(reply.customers.into_iter().map(|c| c.id));
            if reply.next_page_token.is_empty() {
                break;
            }
            assert_ne!(reply.next_page_token, token);
            token = reply.next_page_token;
            assert!(pages < 100, "paging does not end");
        }
        assert_eq!(ids.len(), expected, "{who:?}");
        assert_eq!(pages, expected.div_ceil(2), "{who:?}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending and unique: {ids:?}");
        let unpaged: Vec<String> = list_customers(
            &server,
            &who,
            pb::ListCustomersRequest {
                page_size: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("one page")
        .customers
        .into_iter()
        .map(|c| c.id)
        .collect();
        assert_eq!(ids, unpaged);
    }
}

#[tokio::test]
async fn c6_page_size_zero_means_fifty_and_above_a_thousand_is_capped() {
    let server = TestServer::start().await;
    for _ in 0..52 {
        server.create_customer(&operator(), None).await.expect("created");
    }
    let first = list_customers(&server, &operator(), Default::default())
        .await
        .expect("default page");
    assert_eq!(first.customers.len(), 50);
    assert!(!first.next_page_token.is_empty());
    let rest = list_customers(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            page_token: first.next_page_token,
            ..Default::default()
        },
    )
    .await
    .expect("second page");
    assert_eq!(rest.customers.len(), 2);
    assert!(rest.next_page_token.is_empty());

    let big = list_customers(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            page_size: 5000,
            ..Default::default()
        },
    )
    .await
    .expect("capped page");
    assert_eq!(big.customers.len(), 52);
    assert!(big.next_page_token.is_empty());
}

#[tokio::test]
async fn c6_page_token_reused_with_another_filter_is_invalid_argument() {
    let server = TestServer::start().await;
    let ops = server.customers(&operator());
    for (domain, company) in [
        ("acme-1.cn", "Acme One"),
        ("acme-2.cn", "Acme Two"),
        ("acme-3.cn", "Acme Three"),
        ("other.cn", "Other"),
    ] {
        ops.clone()
            .create_customer(named_request(domain, company))
            .await
            .expect("created");
    }
    let first = list_customers(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            page_size: 2,
            company_name_prefix: "acme".into(),
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    assert_eq!(first.customers.len(), 2);
    let token = first.next_page_token;
    assert!(!token.is_empty());

    for other in [
        pb::ListCustomersRequest {
            company_name_prefix: "other".into(),
            ..Default::default()
        },
        pb::ListCustomersRequest {
            domain_prefix: "acme".into(),
            ..Default::default()
        },
        pb::ListCustomersRequest::default(),
        pb::ListCustomersRequest {
            company_name_prefix: "acme".into(),
            indirect_reseller_id: random_id(),
            ..Default::default()
        },
    ] {
        let result = list_customers(
            &server,
            &operator(),
            pb::ListCustomersRequest {
                page_size: 2,
                page_token: token.clone(),
                ..other
            },
        )
        .await;
        let status = assert_error(result, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), vec!["page_token".to_string()]);
    }
    // With the same filters the token still works (the page size may change).
    let second = list_customers(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            page_size: 5,
            page_token: token,
            company_name_prefix: "acme".into(),
            ..Default::default()
        },
    )
    .await
    .expect("second page");
    assert_eq!(second.customers.len(), 1);
    assert!(second.next_page_token.is_empty());

    // A token that was never issued is invalid too.
    let result = list_customers(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            page_token: "not-a-token!".into(),
            ..Default::default()
        },
    )
    .await;
    assert_error(result, Code::InvalidArgument, "INVALID_FIELD");
}

#[tokio::test]
async fn c6_negative_page_size_is_invalid_argument() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    server.create_customer(&operator(), None).await.expect("created");
    for who in [operator(), partner(&owner.id)] {
        for size in [-1, i32::MIN] {
            let result = list_customers(
                &server,
                &who,
                pb::ListCustomersRequest {
                    page_size: size,
                    ..Default::default()
                },
            )
            .await;
            let status = assert_error(result, Code::InvalidArgument, "INVALID_FIELD");
            assert_eq!(violated_fields(&status), vec!["page_size".to_string()]);
        }
    }
}

// ---------------------------------------------------------------- UpdateCustomer

fn update_request(customer: pb::Customer, paths: &[&str]) -> pb::UpdateCustomerRequest {
    pb::UpdateCustomerRequest {
        customer: Some(customer),
        update_mask: mask(paths),
    }
}

#[tokio::test]
async fn update_customer_changes_only_the_masked_fields_and_moves_the_etag() {
    let server = TestServer::start().await;
    let created = server.create_customer(&operator(), None).await.expect("created");
    let events_before = server.events().await.len();

    let mut change = created.clone();
    change.company_name = "  Renamed Ltd  ".into();
    change.domain = "elsewhere.cn".into();
    let contact = change.billing_contact.as_mut().expect("contact");
    contact.email = "changed@example.cn".into();
    contact.first_name = "Zhang".into();

    let updated = server
        .customers(&operator())
        .update_customer(update_request(change, &["company_name", "billing_contact.first_name"]))
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.company_name, "Renamed Ltd");
    assert_eq!(updated.domain, created.domain, "the domain never changes");
    let contact = updated.billing_contact.clone().expect("contact");
    let before = created.billing_contact.clone().expect("contact");
    assert_eq!(contact.first_name, "Zhang");
    assert_eq!(contact.email, before.email, "not in the mask");
    assert_eq!(contact.last_name, before.last_name);
    assert_ne!(updated.etag, created.etag);
    assert_eq!(updated.create_time, created.create_time);

    let read = get_customer(&server, &operator(), &created.id)
        .await
        .expect("read back");
    assert_eq!(read, updated);
    let events = server.events().await;
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events.last().expect("event").event_type, "customer.updated");

    // The whole billing contact at once.
    let mut change = read.clone();
    change.billing_contact = Some(pb::BillingContact {
        email: "new@tenant.cn".into(),
        first_name: "Wang".into(),
        last_name: "Fang".into(),
        culture: "en-US".into(),
        language: "en".into(),
    });
    let updated = server
        .customers(&operator())
        .update_customer(update_request(change.clone(), &["billing_contact"]))
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(updated.billing_contact, change.billing_contact);
    assert_eq!(updated.company_name, "Renamed Ltd");
}

#[tokio::test]
async fn update_customer_with_stale_etag_is_aborted_etag_mismatch() {
    let server = TestServer::start().await;
    let created = server.create_customer(&operator(), None).await.expect("created");
    let mut first = created.clone();
    first.company_name = "First".into();
    let updated = server
        .customers(&operator())
        .update_customer(update_request(first, &["company_name"]))
        .await
        .expect("with the current etag")
        .into_inner();

    let mut stale = created.clone();
    stale.company_name = "Second".into();
    refused_without_change(
        &server,
        server
            .customers(&operator())
            .update_customer(update_request(stale, &["company_name"])),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    assert_eq!(
        get_customer(&server, &operator(), &created.id).await.expect("read"),
        updated
    );
}

#[tokio::test]
async fn update_customer_mask_must_name_updatable_fields() {
    let server = TestServer::start().await;
    let created = server.create_customer(&operator(), None).await.expect("created");
    for paths in [&[][..], &["domain"][..], &["id"][..], &["company_name", "etag"][..]] {
        let mut change = created.clone();
        change.company_name = "Changed".into();
        change.domain = "changed.cn".into();
        let status = refused_without_change(
            &server,
            server
                .customers(&operator())
                .update_customer(update_request(change, paths)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&status), vec!["update_mask".to_string()], "{paths:?}");
    }
    refused_without_change(
        &server,
        server
            .customers(&operator())
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(created.clone()),
                update_mask: None,
            }),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(
        get_customer(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

#[tokio::test]
async fn update_customer_validates_the_masked_fields() {
    let server = TestServer::start().await;
    let created = server.create_customer(&operator(), None).await.expect("created");
    let mut change = created.clone();
    change.company_name = "   ".into();
    let contact = change.billing_contact.as_mut().expect("contact");
    contact.email = "not an email".into();
    contact.last_name = String::new();
    contact.culture = "zh_CN".into();
    let status = refused_without_change(
        &server,
        server.customers(&operator()).update_customer(update_request(
            change,
            &[
                "company_name",
                "billing_contact.email",
                "billing_contact.last_name",
                "billing_contact.culture",
            ],
        )),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "customer.company_name".to_string(),
            "customer.billing_contact.email".to_string(),
            "customer.billing_contact.last_name".to_string(),
            "customer.billing_contact.culture".to_string(),
        ])
    );
    assert_eq!(
        get_customer(&server, &operator(), &created.id).await.expect("read"),
        created
    );

    // Unknown customer, as the operator: NOT_FOUND.
    let mut unknown = created.clone();
    unknown.id = random_id();
    unknown.etag = String::new();
    refused_without_change(
        &server,
        server
            .customers(&operator())
            .update_customer(update_request(unknown, &["company_name"])),
        Code::NotFound,
        "CUSTOMER_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn update_customer_by_own_admin_and_transacting_partner_others_refused_without_change() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let mine = server
        .create_customer(&partner(&owner.id), None)
        .await
        .expect("created");
    let other = server.create_customer(&operator(), None).await.expect("created");
    let indirect = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("created");

    let rename = |c: &pb::Customer, name: &str| {
        let mut change = c.clone();
        change.company_name = name.into();
        change.etag = String::new();
        update_request(change, &["company_name"])
    };

    let by_admin = server
        .customers(&customer(&mine.id))
        .update_customer(rename(&mine, "By Admin"))
        .await
        .expect("own admin updates")
        .into_inner();
    assert_eq!(by_admin.company_name, "By Admin");
    let by_owner = server
        .customers(&partner(&owner.id))
        .update_customer(rename(&mine, "By Owner"))
        .await
        .expect("transacting partner updates")
        .into_inner();
    assert_eq!(by_owner.company_name, "By Owner");
    let by_reseller = server
        .customers(&partner(&reseller.id))
        .update_customer(rename(&indirect, "By Reseller"))
        .await
        .expect("transacting indirect reseller updates")
        .into_inner();
    assert_eq!(by_reseller.company_name, "By Reseller");

    let events_before = server.events().await.len();
    let everyone_before = all_customers(&server).await;
    refused_without_change(
        &server,
        server
            .customers(&partner(&stranger.id))
            .update_customer(rename(&mine, "Stranger")),
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    )
    .await;
    let mut unknown = mine.clone();
    unknown.id = random_id();
    refused_without_change(
        &server,
        server
            .customers(&partner(&stranger.id))
            .update_customer(rename(&unknown, "Stranger")),
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    )
    .await;
    refused_without_change(
        &server,
        server
            .customers(&partner(&owner.id))
            .update_customer(rename(&other, "Not Mine")),
        Code::PermissionDenied,
        "NO_RELATIONSHIP",
    )
    .await;
    for who in [customer(&other.id), service()] {
        let status = server
            .customers(&who)
            .update_customer(rename(&mine, "Intruder"))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?} {status:?}");
    }
    server.set_partner_status(&owner.id, PartnerStatus::Suspended).await;
    let events_before = events_before + 1;
    refused_without_change(
        &server,
        server
            .customers(&partner(&owner.id))
            .update_customer(rename(&mine, "Suspended")),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    assert_eq!(all_customers(&server).await, everyone_before);
    assert_eq!(server.events().await.len(), events_before);
}

#[tokio::test]
async fn update_customer_by_a_partner_that_may_only_view_is_not_transacting() {
    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::Advisor).await;
    let created = server.create_customer(&operator(), None).await.expect("created");
    let mut advisory = csp_subscription(&created.id, &advisor.id);
    advisory.channel = pb::subscription::Channel::Advisor as i32;
    server
        .create_subscription(&operator(), advisory)
        .await
        .expect("advisor subscription recorded");
    get_customer(&server, &partner(&advisor.id), &created.id)
        .await
        .expect("the advisor may view");

    let mut change = created.clone();
    change.company_name = "By Advisor".into();
    refused_without_change(
        &server,
        server
            .customers(&partner(&advisor.id))
            .update_customer(update_request(change, &["company_name"])),
        Code::FailedPrecondition,
        "NOT_TRANSACTING",
    )
    .await;
    assert_eq!(
        get_customer(&server, &operator(), &created.id).await.expect("read"),
        created
    );
}

// ---------------------------------------------------------------- request_id

#[tokio::test]
async fn create_customer_retry_with_same_request_id_returns_the_first_customer_and_creates_one() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    for who in [operator(), partner(&owner.id)] {
        let mut request = customer_request(&unique_domain("retry"), None);
        request.request_id = "retry-0001".into();
        let customers_before = customer_count(&server).await;

        let first = server
            .customers(&who)
            .create_customer(request.clone())
            .await
            .expect("first call")
            .into_inner();
        let events_after_first = server.events().await.len();
        let second = server
            .customers(&who)
            .create_customer(request.clone())
            .await
            .expect("retry")
            .into_inner();
        assert_eq!(second, first);
        assert_eq!(customer_count(&server).await, customers_before + 1);
        assert_eq!(
            server.events().await.len(),
            events_after_first,
            "a retry appends no event"
        );
    }
}

#[tokio::test]
async fn create_customer_request_id_reused_with_another_payload_is_request_id_reused() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let who = partner(&owner.id);
    let mut request = customer_request(&unique_domain("reuse"), None);
    request.request_id = "order-42".into();
    let first = server
        .customers(&who)
        .create_customer(request.clone())
        .await
        .expect("first call")
        .into_inner();

    let mut other = customer_request(&unique_domain("reuse"), None);
    other.request_id = "order-42".into();
    refused_without_change(
        &server,
        server.customers(&who).create_customer(other.clone()),
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    )
    .await;
    assert_eq!(customer_count(&server).await, 1);
    // The other domain was not taken by the refused call.
    let listed = listed_ids(
        &server,
        &operator(),
        pb::ListCustomersRequest {
            domain_prefix: other.customer.as_ref().expect("customer").domain.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(listed.is_empty());
    assert_eq!(
        listed_ids(&server, &operator(), Default::default()).await,
        vec![first.id]
    );
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn create_customer_validation_names_every_invalid_field_and_creates_nothing() {
    let server = TestServer::start().await;
    let owner = server.create_partner(Kind::DirectReseller).await;
    let request = pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            domain: "not a domain".into(),
            company_name: String::new(),
            billing_contact: Some(pb::BillingContact {
                email: "nobody".into(),
                first_name: "  ".into(),
                last_name: String::new(),
                culture: "zh_CN".into(),
                language: "c1".into(),
            }),
            ..Default::default()
        }),
        indirect_reseller_id: "not-a-uuid".into(),
        request_id: String::new(),
    };
    for who in [operator(), partner(&owner.id)] {
        let status = refused_without_change(
            &server,
            server.customers(&who).create_customer(request.clone()),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let fields: BTreeSet<String> = violated_fields(&status).into_iter().collect();
        assert_eq!(
            fields,
            [
                "customer.domain",
                "customer.company_name",
                "customer.billing_contact.email",
                "customer.billing_contact.first_name",
                "customer.billing_contact.last_name",
                "customer.billing_contact.culture",
                "customer.billing_contact.language",
                "indirect_reseller_id",
            ]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>()
        );
    }
    // No customer at all is invalid too.
    let status = refused_without_change(
        &server,
        server
            .customers(&operator())
            .create_customer(pb::CreateCustomerRequest::default()),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert!(violated_fields(&status).contains(&"customer.domain".to_string()));
    assert_eq!(customer_count(&server).await, 0);
}

#[tokio::test]
async fn create_customer_rejects_each_bad_domain_and_email_alone() {
    let server = TestServer::start().await;
    for bad in [
        "", "nodot", "-a.cn", "a-.cn", "a..cn", "a b.cn", "a.123", "é.cn", "a_b.cn",
    ] {
        let status = refused_without_change(
            &server,
            server
                .customers(&operator())
                .create_customer(customer_request(bad, None)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let fields = violated_fields(&status);
        assert!(fields.contains(&"customer.domain".to_string()), "{bad}: {fields:?}");
    }
    for bad in ["", "plain", "@tenant.cn", "li@", "li wei@tenant.cn", "li@nodot"] {
        let mut request = customer_request(&unique_domain("email"), None);
        request
            .customer
            .as_mut()
            .and_then(|c| c.billing_contact.as_mut())
            .expect("contact")
            .email = bad.into();
        let status = refused_without_change(
            &server,
            server.customers(&operator()).create_customer(request),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(
            violated_fields(&status),
            vec!["customer.billing_contact.email".to_string()],
            "{bad}"
        );
    }
    for (first, last) in [("", "Wei"), ("Li", ""), ("", "")] {
        let mut request = customer_request(&unique_domain("names"), None);
        let contact = request
            .customer
            .as_mut()
            .and_then(|c| c.billing_contact.as_mut())
            .expect("contact");
        contact.first_name = first.into();
        contact.last_name = last.into();
        let status = refused_without_change(
            &server,
            server.customers(&operator()).create_customer(request),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let mut expected = Vec::new();
        if first.is_empty() {
            expected.push("customer.billing_contact.first_name".to_string());
        }
        if last.is_empty() {
            expected.push("customer.billing_contact.last_name".to_string());
        }
        let mut fields = violated_fields(&status);
        fields.sort();
        assert_eq!(fields, expected);
    }
    assert_eq!(customer_count(&server).await, 0);
    assert!(server.events().await.is_empty());
}

// ------------------------------------------------ the trait, local and remote

/// C1, C4, C6 through `Customers`: the generated client behind the trait
/// gives the values of the local service, and its refusals are the local
/// service's and the ones the gRPC client receives (code, reason, message,
/// metadata, violations).
#[tokio::test]
async fn c4_remote_customers_give_and_refuse_as_the_local_service() {
    use partnercenter::domain::Error;
    use partnercenter::domain::model::{BillingContact, Customer};
    use partnercenter::service::contract::customers::{
        CreateCustomer, CustomerField, Customers as _, GetCustomer, ListCustomers, UpdateCustomer,
    };

    let server = TestServer::start().await;
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let local = local_customers(&server);
    let remote = remote_customers(&server);
    let contact = BillingContact {
        email: "admin@remote.cn".into(),
        first_name: "Li".into(),
        last_name: "Wei".into(),
        culture: "zh-CN".into(),
        language: "zh".into(),
    };
    let domain = unique_domain("remote");
    let create = CreateCustomer {
        domain: domain.clone(),
        company_name: " Remote Co ".into(),
        billing_contact: contact.clone(),
        indirect_reseller_id: None,
        request_id: Some("remote-1".into()),
    };
    let created = remote
        .create_customer(&partner(&reseller.id), create.clone())
        .await
        .expect("remote creates");
    assert_eq!(
        (created.domain.as_str(), created.company_name.as_str()),
        (domain.as_str(), "Remote Co")
    );
    // C1: the creator reads its new tenant, the same through both.
    let get = GetCustomer { id: created.id.clone() };
    let here = local
        .get_customer(&partner(&reseller.id), get.clone())
        .await
        .expect("local");
    let there = remote
        .get_customer(&partner(&reseller.id), get.clone())
        .await
        .expect("remote");
    assert_eq!(here, created);
    assert_eq!(there, created);
    let wire = server
        .customers(&partner(&reseller.id))
        .get_customer(pb::GetCustomerRequest { id: created.id.clone() })
        .await
        .expect("gRPC reads")
        .into_inner();
    assert_eq!(Customer::try_from(wire).ok(), Some(created.clone()));
    // AIP-155 through the trait: the retry is the first result.
    let retried = remote
        .create_customer(&partner(&reseller.id), create)
        .await
        .expect("retry");
    assert_eq!(retried, created);

    // C6: the same page through both.
    let list = ListCustomers {
        page_size: 10,
        page_token: String::new(),
        company_name_prefix: String::new(),
        domain_prefix: String::new(),
        indirect_reseller_id: None,
    };
    let here = local
        .list_customers(&partner(&reseller.id), list.clone())
        .await
        .expect("local");
    let there = remote
        .list_customers(&partner(&reseller.id), list.clone())
        .await
        .expect("remote");
    assert_eq!(here, there);
    assert_eq!(there.items, std::slice::from_ref(&created));

    let rename = UpdateCustomer {
        id: created.id.clone(),
        etag: etag_of(created.version),
        fields: vec![CustomerField::CompanyName],
        company_name: "Renamed".into(),
        billing_contact: BillingContact::default(),
    };
    let renamed = remote
        .update_customer(&operator(), rename.clone())
        .await
        .expect("renames");
    assert_eq!(
        (renamed.company_name.as_str(), renamed.version),
        ("Renamed", created.version + 1)
    );
    assert_eq!(local.get_customer(&operator(), get.clone()).await.ok(), Some(renamed));

    // Refusals: a partner without a relationship (C4), another tenant's
    // admin (C5), a stale etag, a taken domain (C3), a suspended caller (P4).
    server.set_partner_status(&other.id, PartnerStatus::Suspended).await;
    let someone = server.create_partner(Kind::DirectReseller).await;
    let taken = CreateCustomer {
        domain: domain.clone(),
        company_name: "Again".into(),
        billing_contact: contact.clone(),
        indirect_reseller_id: None,
        request_id: None,
    };
    let cases: Vec<(partnercenter::domain::principal::Principal, &str)> = vec![
        (partner(&someone.id), "NO_RELATIONSHIP"),
        (customer(&uuid_of(7)), "TENANT_MISMATCH"),
        (partner(&other.id), "PARTNER_NOT_ACTIVE"),
    ];
    for (who, reason) in cases {
        let here = local.get_customer(&who, get.clone()).await.expect_err("local refuses");
        let there = remote
            .get_customer(&who, get.clone())
            .await
            .expect_err("remote refuses");
        let wire = Error::from(
            server
                .customers(&who)
                .get_customer(pb::GetCustomerRequest { id: created.id.clone() })
                .await
                .expect_err("gRPC refuses"),
        );
        assert_eq!(here.reason.as_str(), reason, "{who:?}");
        assert_eq!(here, there, "{who:?}");
        assert_eq!(there, wire, "{who:?}");
    }
    let here = local
        .update_customer(&operator(), rename.clone())
        .await
        .expect_err("stale");
    let there = remote.update_customer(&operator(), rename).await.expect_err("stale");
    assert_eq!(here.reason.as_str(), "ETAG_MISMATCH");
    assert_eq!(here, there);
    let here = local
        .create_customer(&operator(), taken.clone())
        .await
        .expect_err("taken");
    let there = remote.create_customer(&operator(), taken).await.expect_err("taken");
    assert_eq!(here.reason.as_str(), "DOMAIN_TAKEN");
    assert_eq!(here, there);

    // A command the server's decoding refuses comes back with its
    // violations, as the gRPC client receives them.
    let invalid = CreateCustomer {
        domain: unique_domain("invalid"),
        company_name: String::new(),
        billing_contact: BillingContact {
            email: "not an email".into(),
            ..contact
        },
        indirect_reseller_id: None,
        request_id: None,
    };
    let there = remote
        .create_customer(&operator(), invalid.clone())
        .await
        .expect_err("invalid");
    let wire = Error::from(
        server
            .customers(&operator())
            .create_customer(pb::CreateCustomerRequest::from(invalid))
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(there, wire);
    let fields: BTreeSet<&str> = there.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        BTreeSet::from(["customer.company_name", "customer.billing_contact.email"])
    );
}

fn etag_of(version: i64) -> String {
    partnercenter::domain::model::etag(version)
}

fn uuid_of(n: u8) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn domain_available(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    domain: &str,
) -> Result<bool, tonic::Status> {
    server
        .customers(who)
        .check_domain_availability(pb::CheckDomainAvailabilityRequest { domain: domain.into() })
        .await
        .map(|reply| reply.into_inner().available)
}

/// C7: CheckDomainAvailability tells what C3 would (regardless of case),
/// and creates nothing.
#[tokio::test]
async fn c7_a_domain_is_available_exactly_until_a_customer_has_it_in_any_case() {
    let server = TestServer::start().await;
    let (reseller, _) = reseller_with_customer(&server).await;
    let domain = unique_domain("avail");
    let before = last_seq(&server).await;
    for who in [operator(), service(), partner(&reseller.id)] {
        assert!(domain_available(&server, &who, &domain).await.expect("answered"));
    }
    assert_eq!(last_seq(&server).await, before, "asking changes nothing");
    assert!(
        !all_customers(&server).await.iter().any(|c| c.domain == domain),
        "asking creates no customer"
    );
    server
        .customers(&partner(&reseller.id))
        .create_customer(customer_request(&domain, None))
        .await
        .expect("created");
    for asked in [domain.clone(), domain.to_uppercase()] {
        for who in [operator(), service(), partner(&reseller.id)] {
            assert!(
                !domain_available(&server, &who, &asked).await.expect("answered"),
                "{asked}"
            );
        }
    }
    // C3 says the same.
    let again = server
        .customers(&operator())
        .create_customer(customer_request(&domain.to_uppercase(), None))
        .await;
    assert_error(again, Code::AlreadyExists, "DOMAIN_TAKEN");
}

/// C7: asked by whoever may create customers (C1), and refused to others
/// as C1 refuses them; a customer admin is PERMISSION_DENIED.
#[tokio::test]
async fn c7_only_those_who_may_create_customers_may_ask_and_others_are_refused_as_c1_refuses_them() {
    let server = TestServer::start().await;
    let domain = unique_domain("who");
    let provider = server.create_partner(Kind::IndirectProvider).await;
    assert!(
        domain_available(&server, &partner(&provider.id), &domain)
            .await
            .expect("a provider may ask")
    );
    for kind in [Kind::IndirectReseller, Kind::Advisor] {
        let refused = server.create_partner(kind).await;
        let asked = domain_available(&server, &partner(&refused.id), &domain).await;
        let status = assert_error(asked, Code::PermissionDenied, "PARTNER_KIND_NOT_ALLOWED");
        let created = server
            .customers(&partner(&refused.id))
            .create_customer(customer_request(&domain, None))
            .await;
        let c1 = assert_error(created, Code::PermissionDenied, "PARTNER_KIND_NOT_ALLOWED");
        assert_eq!(status.message(), c1.message(), "the same refusal as C1's");
    }
    let (suspended, tenant) = reseller_with_customer(&server).await;
    server.set_partner_status(&suspended.id, PartnerStatus::Suspended).await;
    let asked = domain_available(&server, &partner(&suspended.id), &domain).await;
    assert_error(asked, Code::PermissionDenied, "PARTNER_NOT_ACTIVE");
    let asked = domain_available(&server, &customer(&tenant.id), &domain).await;
    assert_error(asked, Code::PermissionDenied, "ROLE_NOT_ALLOWED");
    let unknown = domain_available(&server, &partner("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), &domain).await;
    assert!(unknown.is_err(), "an unknown partner may not ask");
}

/// C7: a name that is no DNS name is INVALID_ARGUMENT on the field, before
/// the caller is looked at.
#[tokio::test]
async fn c7_an_invalid_dns_name_is_invalid_argument() {
    let server = TestServer::start().await;
    let too_long = format!("{}.cn", "a".repeat(251));
    for bad in [
        "",
        "no spaces.cn",
        "-lead.cn",
        "under_score.cn",
        too_long.as_str(),
        "x..cn",
    ] {
        for who in [operator(), customer("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")] {
            let status = assert_error(
                domain_available(&server, &who, bad).await,
                Code::InvalidArgument,
                "INVALID_FIELD",
            );
            assert_eq!(violated_fields(&status), vec!["domain".to_owned()], "{bad:?}");
        }
    }
}
