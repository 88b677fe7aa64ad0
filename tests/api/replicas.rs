//! Two server processes over one database (PostgreSQL when the suite runs on
//! it, else one SQLite file): writes through one are read at once through
//! the other (A3), D2 holds with concurrent grants spread over both, and a
//! WatchEvents stream on one replica sees the other's writes in seq order
//! with no gap (E1, E3).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use partnercenter::api::pb;
use partnercenter::api::pb::customer_service_client::CustomerServiceClient;
use partnercenter::api::pb::partner_service_client::PartnerServiceClient;
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;
use partnercenter::auth::TokenAuthority;
use partnercenter::domain::principal::Principal;
use tonic::transport::Channel;

use crate::support::*;

/// A `partnercenter serve` child process, killed when dropped.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) channel: Channel,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port for a child process to listen on. It comes from below
/// the kernel's ephemeral range, which `bind(…:0)` never hands out, so no
/// other test's listener can take it between this call and the child's
/// bind (a port from `bind(…:0)`, dropped and passed on, once went to an
/// in-process server, and a test talked to the wrong one); each call
/// takes the next port this process has not given out.
pub(crate) fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const BASE: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(BASE);
    if span < 1_000 {
        // No room below the ephemeral range: the racy way is all there is.
        return std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a loopback port")
            .port();
    }
    // Test binaries running at once start at different places.
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (BASE + (start + n) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {BASE}..{ephemeral_low}");
}

pub(crate) async fn start_replica(database_url: &str) -> Replica {
    start_process::<&str>(database_url, free_port(), &[]).await
}

/// One deployment over a store: one `serve` process, or, when the suite
/// runs split, one per service, each call sent to the process of its
/// service.
pub(crate) struct Deployment(Vec<Replica>);

impl Deployment {
    pub(crate) async fn start(database_url: &str) -> Self {
        if !split_topology() {
            return Deployment(vec![start_replica(database_url).await]);
        }
        let split = SplitPorts::new();
        let mut processes = Vec::new();
        for (index, services) in ["partner", "customer", "relationship"].into_iter().enumerate() {
            processes.push(start_process(database_url, split.0[index], &split.flags(services)).await);
        }
        Deployment(processes)
    }

    pub(crate) fn partners(&self) -> &Replica {
        &self.0[0]
    }

    pub(crate) fn customers(&self) -> &Replica {
        self.0.get(1).unwrap_or(&self.0[0])
    }

    pub(crate) fn relationships(&self) -> &Replica {
        self.0.get(2).unwrap_or(&self.0[0])
    }
}

/// Where the three processes of a split deployment listen: partner,
/// customer, relationship, on free loopback ports.
pub(crate) struct SplitPorts(pub(crate) [u16; 3]);

impl SplitPorts {
    pub(crate) fn new() -> Self {
        SplitPorts([free_port(), free_port(), free_port()])
    }

    /// The flags of the process serving `services`: those, and where all
    /// three are (a process ignores its own).
    pub(crate) fn flags(&self, services: &str) -> Vec<String> {
        let url = |index: usize| format!("http://127.0.0.1:{}", self.0[index]);
        vec![
            "--services".to_owned(),
            services.to_owned(),
            "--partner-service-url".to_owned(),
            url(0),
            "--customer-service-url".to_owned(),
            url(1),
            "--relationship-service-url".to_owned(),
            url(2),
        ]
    }
}

/// A `serve` child process on `port`, with more flags (e.g. `--services`).
pub(crate) async fn start_process<S: AsRef<std::ffi::OsStr>>(database_url: &str, port: u16, flags: &[S]) -> Replica {
    start_process_with(database_url, port, flags, Stdio::null(), "warn").await
}

/// As `start_process`, logging at `log_level` to `stdout`.
pub(crate) async fn start_process_with<S: AsRef<std::ffi::OsStr>>(
    database_url: &str,
    port: u16,
    flags: &[S],
    stdout: Stdio,
    log_level: &str,
) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(flags)
        .env("PARTNERCENTER_DATABASE_URL", database_url)
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .env("PARTNERCENTER_METRICS_LISTEN", "off")
        .env("PARTNERCENTER_MAX_CONNECTIONS", "4")
        .env("RUST_LOG", log_level)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("replica starts");
    let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
    for _ in 0..200 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the serve process for port {port} exited before it served: {status}");
        }
        if let Ok(channel) = endpoint.connect().await {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            let serving = health
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await
                .is_ok_and(|r| r.into_inner().status == 1);
            if serving {
                return Replica { child, channel };
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("replica on port {port} did not become healthy");
}

pub(crate) fn bearer(principal: &Principal) -> Bearer {
    let token = TokenAuthority::new(SECRET.as_bytes(), "partnercenter", None)
        .mint(principal, 3600)
        .unwrap();
    Bearer::new(&token)
}

pub(crate) fn partners(replica: &Replica, principal: &Principal) -> PartnerServiceClient<Authed> {
    PartnerServiceClient::with_interceptor(replica.channel.clone(), bearer(principal))
}

pub(crate) fn customers(replica: &Replica, principal: &Principal) -> CustomerServiceClient<Authed> {
    CustomerServiceClient::with_interceptor(replica.channel.clone(), bearer(principal))
}

pub(crate) fn relationships(replica: &Replica, principal: &Principal) -> RelationshipServiceClient<Authed> {
    RelationshipServiceClient::with_interceptor(replica.channel.clone(), bearer(principal))
}

pub(crate) async fn new_partner(replica: &Replica, kind: pb::partner::Kind) -> String {
    partners(replica, &operator())
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: next_mpn_id(),
                display_name: "Replica partner".into(),
                kind: kind as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

/// The database both replicas share, and on PostgreSQL its guard (keep it
/// until the test ends: it drops the database).
pub(crate) async fn shared_database(dir: &tempfile::TempDir) -> (String, Option<TestDatabase>) {
    match postgres_admin_url() {
        Some(admin_url) => {
            let database = fresh_postgres_database(&admin_url).await;
            (database.url.clone(), Some(database))
        }
        None => (
            format!("sqlite://{}?mode=rwc", dir.path().join("shared.db").display()),
            None,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_writes_d2_and_the_event_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = shared_database(&dir).await;
    let a = start_replica(&database_url).await;
    let b = start_replica(&database_url).await;

    // E3: a stream on B, opened before any write.
    let mut stream = relationships(&b, &service())
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();

    // A3: what A acknowledged, B reads at once.
    let reseller = new_partner(&a, pb::partner::Kind::DirectReseller).await;
    let read = partners(&b, &operator())
        .get_partner(pb::GetPartnerRequest { id: reseller.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.id, reseller);
    let customer_id = customers(&a, &operator())
        .create_customer(customer_request(&unique_domain("replica"), None))
        .await
        .unwrap()
        .into_inner()
        .id;
    let code = relationships(&a, &partner(&reseller))
        .create_relationship_request(pb::CreateRelationshipRequestRequest {
            relationship_request: Some(pb::RelationshipRequest {
                include_delegated_admin: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .code;
    relationships(&b, &customer(&customer_id))
        .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code })
        .await
        .unwrap();
    let check = |replica: &Replica, partner_id: &str, action: pb::check_access_request::Action| {
        let mut client = relationships(replica, &service());
        let request = pb::CheckAccessRequest {
            partner_id: partner_id.to_owned(),
            customer_id: customer_id.clone(),
            action: action as i32,
            service: "azure".into(),
            subscription_id: String::new(),
            user_id: String::new(),
        };
        async move { client.check_access(request).await.unwrap().into_inner().allowed }
    };
    assert!(check(&a, &reseller, pb::check_access_request::Action::Provision).await);

    // D2 across replicas: several transacting partners, concurrent grants for
    // one service through both replicas; one transacting holder remains.
    let mut contenders = Vec::new();
    for _ in 0..6 {
        let id = new_partner(&a, pb::partner::Kind::DirectReseller).await;
        let code = relationships(&b, &partner(&id))
            .create_relationship_request(pb::CreateRelationshipRequestRequest::default())
            .await
            .unwrap()
            .into_inner()
            .code;
        relationships(&a, &customer(&customer_id))
            .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code })
            .await
            .unwrap();
        contenders.push(id);
    }
    let mut grants = Vec::new();
    for (i, id) in contenders.iter().enumerate() {
        let replica = if i % 2 == 0 { &a } else { &b };
        let mut client = relationships(replica, &customer(&customer_id));
        let request = pb::GrantDelegatedAdminRequest {
            partner_id: id.clone(),
            service: "azure".into(),
            scopes: vec![pb::delegated_admin_grant::Scope::Provisioning as i32],
            ..Default::default()
        };
        grants.push(tokio::spawn(async move { client.grant_delegated_admin(request).await }));
    }
    for grant in grants {
        grant.await.unwrap().expect("every grant is acknowledged");
    }
    let listed = relationships(&b, &customer(&customer_id))
        .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
            customer_id: customer_id.clone(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let active_azure: Vec<&pb::DelegatedAdminGrant> = listed
        .delegated_admin_grants
        .iter()
        .filter(|g| g.service == "azure" && g.state == pb::delegated_admin_grant::State::Active as i32)
        .collect();
    assert_eq!(
        active_azure.len(),
        1,
        "one transacting holder of azure DAP: {active_azure:?}"
    );
    let mut allowed = 0;
    for id in contenders.iter().chain([&reseller]) {
        if check(&b, id, pb::check_access_request::Action::Provision).await {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 1);

    // E3: B's stream saw every event, in order, without a gap.
    let last = relationships(&a, &operator())
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events
        .last()
        .map(|e| e.seq)
        .unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("the stream delivers within 10 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push(event.seq);
    }
    assert_eq!(seen, (1..=last).collect::<Vec<_>>());
}

/// A3 with the access index: a recorded history over two replicas, each
/// deciding from its own index. Writers on A create a customer (C1: the
/// creator may VIEW and SELL) and then end the relationship (M3: neither),
/// and after each acknowledgement ask B; several writers at once, so B's
/// index is always behind someone's write. No check may miss a write
/// acknowledged before it was asked. When the suite runs split, A and B
/// are two deployments of three processes each: the creation goes to A's
/// customer process, the end to A's relationship process, and the checks
/// to B's relationship process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a3_a_check_on_one_replica_reflects_every_write_acknowledged_on_the_other() {
    use pb::check_access_request::Action;
    const WRITERS: usize = 4;
    // Split, each creation is two hops: fewer rounds, thousands of checks still.
    let rounds: usize = if split_topology() { 150 } else { 300 };
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = shared_database(&dir).await;
    let a = std::sync::Arc::new(Deployment::start(&database_url).await);
    let b = std::sync::Arc::new(Deployment::start(&database_url).await);
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (a, b) = (a.clone(), b.clone());
        writers.push(tokio::spawn(async move {
            let reseller = new_partner(a.partners(), pb::partner::Kind::DirectReseller).await;
            let check = |customer_id: String, action: Action| {
                let (b, reseller) = (b.clone(), reseller.clone());
                async move {
                    relationships(b.relationships(), &service())
                        .check_access(pb::CheckAccessRequest {
                            partner_id: reseller,
                            customer_id,
                            action: action as i32,
                            ..Default::default()
                        })
                        .await
                        .expect("checked")
                        .into_inner()
                        .allowed
                }
            };
            let mut violations = Vec::new();
            for round in 0..rounds {
                let customer_id = customers(a.customers(), &partner(&reseller))
                    .create_customer(customer_request(&unique_domain("a3"), None))
                    .await
                    .expect("customer")
                    .into_inner()
                    .id;
                for action in [Action::View, Action::Sell] {
                    if !check(customer_id.clone(), action).await {
                        violations.push(format!("round {round}: {action:?} denied after the creation"));
                    }
                }
                relationships(a.relationships(), &partner(&reseller))
                    .end_reseller_relationship(pb::EndResellerRelationshipRequest {
                        customer_id: customer_id.clone(),
                        partner_id: String::new(),
                    })
                    .await
                    .expect("ended");
                for action in [Action::View, Action::Sell] {
                    if check(customer_id.clone(), action).await {
                        violations.push(format!("round {round}: {action:?} allowed after the end"));
                    }
                }
            }
            violations
        }));
    }
    let mut violations = Vec::new();
    for writer in writers {
        violations.extend(writer.await.expect("writer"));
    }
    assert!(
        violations.is_empty(),
        "{} stale decisions of {}: {violations:?}",
        violations.len(),
        WRITERS * rounds * 4
    );
}

/// A3 for R4-R7: writers on replica A add a user to a group that holds
/// an assignment and take it out again, and assign a role to a user
/// directly and delete the assignment, and after each acknowledgement ask
/// replica B whether that user may READ_DIRECTORY. No check may miss a
/// membership or assignment change acknowledged before it was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a3_assignments_and_group_membership_reach_a_check_on_the_other_replica_at_once() {
    use pb::access_assignment::Principal as Assignee;
    use pb::check_access_request::Action;
    use pb::delegated_admin_grant::Role;
    const WRITERS: usize = 4;
    let rounds: usize = if split_topology() { 25 } else { 60 };
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _database) = shared_database(&dir).await;
    let a = std::sync::Arc::new(Deployment::start(&database_url).await);
    let b = std::sync::Arc::new(Deployment::start(&database_url).await);
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (a, b) = (a.clone(), b.clone());
        writers.push(tokio::spawn(async move {
            let holder = new_partner(a.partners(), pb::partner::Kind::DirectReseller).await;
            let customer_id = customers(a.customers(), &operator())
                .create_customer(customer_request(&unique_domain("a3r"), None))
                .await
                .expect("customer")
                .into_inner()
                .id;
            let grant = relationships(a.relationships(), &customer(&customer_id))
                .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
                    partner_id: holder.clone(),
                    service: "office365".into(),
                    roles: vec![Role::DirectoryReader as i32],
                    ..Default::default()
                })
                .await
                .expect("granted")
                .into_inner()
                .grant
                .expect("the grant")
                .id;
            let mut writes = relationships(a.relationships(), &partner(&holder));
            let group = writes
                .create_security_group(pb::CreateSecurityGroupRequest {
                    security_group: Some(pb::SecurityGroup {
                        display_name: format!("Writer {writer}"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("group")
                .into_inner()
                .id;
            writes
                .create_access_assignment(pb::CreateAccessAssignmentRequest {
                    access_assignment: Some(pb::AccessAssignment {
                        grant_id: grant.clone(),
                        principal: Some(Assignee::SecurityGroupId(group.clone())),
                        roles: vec![Role::DirectoryReader as i32],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("the group's assignment");
            let check = |user_id: String| {
                let (b, holder, customer_id) = (b.clone(), holder.clone(), customer_id.clone());
                async move {
                    relationships(b.relationships(), &service())
                        .check_access(pb::CheckAccessRequest {
                            partner_id: holder,
                            customer_id,
                            action: Action::ReadDirectory as i32,
                            service: "office365".into(),
                            user_id,
                            ..Default::default()
                        })
                        .await
                        .expect("checked")
                        .into_inner()
                        .allowed
                }
            };
            let group_writes = writes.clone();
            let set_members = |members: Vec<String>| {
                let (mut writes, group) = (group_writes.clone(), group.clone());
                async move {
                    writes
                        .update_security_group(pb::UpdateSecurityGroupRequest {
                            security_group: Some(pb::SecurityGroup {
                                id: group,
                                member_user_ids: members,
                                ..Default::default()
                            }),
                            update_mask: mask(&["member_user_ids"]),
                        })
                        .await
                        .expect("members set");
                }
            };
            let mut violations = Vec::new();
            for round in 0..rounds {
                let member = format!("member-{round}");
                set_members(vec![member.clone()]).await;
                if !check(member.clone()).await {
                    violations.push(format!("round {round}: denied after joining the group"));
                }
                set_members(Vec::new()).await;
                if check(member).await {
                    violations.push(format!("round {round}: allowed after leaving the group"));
                }
                let direct = format!("direct-{round}");
                let assignment = writes
                    .create_access_assignment(pb::CreateAccessAssignmentRequest {
                        access_assignment: Some(pb::AccessAssignment {
                            grant_id: grant.clone(),
                            principal: Some(Assignee::UserId(direct.clone())),
                            roles: vec![Role::DirectoryReader as i32],
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .expect("assigned")
                    .into_inner()
                    .id;
                if !check(direct.clone()).await {
                    violations.push(format!("round {round}: denied after the assignment"));
                }
                writes
                    .delete_access_assignment(pb::DeleteAccessAssignmentRequest {
                        id: assignment,
                        etag: String::new(),
                    })
                    .await
                    .expect("deleted");
                if check(direct).await {
                    violations.push(format!("round {round}: allowed after the deletion"));
                }
            }
            violations
        }));
    }
    let mut violations = Vec::new();
    for writer in writers {
        violations.extend(writer.await.expect("writer"));
    }
    assert!(
        violations.is_empty(),
        "{} stale decisions of {}: {violations:?}",
        violations.len(),
        WRITERS * rounds * 4
    );
}

/// A3 with `sole_writer`: the process takes its SQLite store's lock file
/// exclusively, so no other process opens the store while it runs (a
/// second `serve` fails, naming the setting), and its access index, which
/// then reads nothing before deciding, still reflects every acknowledged
/// write; once it stops, the store opens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a3_a_sole_writer_decides_on_every_acknowledged_write_and_keeps_other_processes_out() {
    use partnercenter::api::server;
    use pb::check_access_request::Action;
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("sole.db").display());
    let mut config = partnercenter::config::Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.store.database_url = database_url.clone();
    config.store.sole_writer = true;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.telemetry.metrics_listen = None;
    let running = server::spawn(&config, std::sync::Arc::new(partnercenter::domain::clock::SystemClock))
        .await
        .expect("the sole writer starts");
    let refused = Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "off"])
        .env("PARTNERCENTER_DATABASE_URL", &database_url)
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .output()
        .expect("serve runs");
    assert!(!refused.status.success(), "a second process opened the store");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("sole_writer"), "{stderr}");

    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = |principal: &Principal| Bearer::new(&running.authority().mint(principal, 600).unwrap());
    let reseller = PartnerServiceClient::with_interceptor(channel.clone(), token(&operator()))
        .create_partner(create_partner_request(pb::partner::Kind::DirectReseller))
        .await
        .unwrap()
        .into_inner()
        .id;
    let check = |customer_id: &str| pb::CheckAccessRequest {
        partner_id: reseller.clone(),
        customer_id: customer_id.to_owned(),
        action: Action::Sell as i32,
        ..Default::default()
    };
    let mut checks = RelationshipServiceClient::with_interceptor(channel.clone(), token(&service()));
    for round in 0..50 {
        let customer_id = CustomerServiceClient::with_interceptor(channel.clone(), token(&partner(&reseller)))
            .create_customer(customer_request(&unique_domain("sole"), None))
            .await
            .unwrap()
            .into_inner()
            .id;
        let allowed = checks
            .check_access(check(&customer_id))
            .await
            .unwrap()
            .into_inner()
            .allowed;
        assert!(allowed, "round {round}: SELL denied after the creation");
        RelationshipServiceClient::with_interceptor(channel.clone(), token(&partner(&reseller)))
            .end_reseller_relationship(pb::EndResellerRelationshipRequest {
                customer_id: customer_id.clone(),
                partner_id: String::new(),
            })
            .await
            .unwrap();
        let allowed = checks
            .check_access(check(&customer_id))
            .await
            .unwrap()
            .into_inner()
            .allowed;
        assert!(!allowed, "round {round}: SELL allowed after the end");
    }
    running.shutdown().await;
    let options = partnercenter::store::StoreOptions {
        url: database_url,
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
        sqlite_page_cache_mib: 2,
    };
    partnercenter::store::Store::open(&options, std::sync::Arc::new(partnercenter::domain::clock::SystemClock))
        .await
        .expect("the store opens once the sole writer stopped");
}
