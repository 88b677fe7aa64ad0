//! Server-side limits: calls in flight, the server's deadline, connections
//! and streams per connection; health answers through all of them.

use std::sync::Arc;
use std::time::Duration;

use partnercenter::api::pb;
use partnercenter::domain::clock::SystemClock;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

fn new_partner() -> pb::CreatePartnerRequest {
    pb::CreatePartnerRequest {
        partner: Some(pb::Partner {
            mpn_id: next_mpn_id(),
            display_name: "Flood".into(),
            kind: pb::partner::Kind::Advisor as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// A new connection to the process serving the PartnerService.
async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr_of("partnercenter.v1.PartnerService")))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn health_status(channel: &Channel, service: &str) -> i32 {
    let mut health = HealthClient::new(channel.clone());
    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
        service: service.into(),
    });
    request.set_timeout(Duration::from_secs(2));
    health.check(request).await.expect("health answers").into_inner().status
}

/// A flood of slow calls beyond the in-flight limit: the excess is shed at
/// once with RESOURCE_EXHAUSTED and an ErrorInfo, health stays SERVING
/// during it, the admitted calls finish, and nothing is INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_flood_is_shed_while_health_serves() {
    const LIMIT: usize = 4;
    const FLOOD: usize = 200;
    let server = TestServer::start_configured(Arc::new(SystemClock), Some(SECRET), |config| {
        config.server.max_in_flight_rpcs = LIMIT;
    })
    .await;
    let probe = channel(&server).await;
    // Every write waits while the test holds the write order: the calls
    // admitted stay in flight for as long as the test wants.
    let held = server.server.store().begin_write("test".into()).await.unwrap();
    let channels = [channel(&server).await, channel(&server).await];
    let mut calls = Vec::new();
    for i in 0..FLOOD {
        let mut client = pb::partner_service_client::PartnerServiceClient::with_interceptor(
            channels[i % 2].clone(),
            server.bearer(&operator()),
        );
        calls.push(tokio::spawn(async move { client.create_partner(new_partner()).await }));
    }
    // The excess is answered while the admitted calls still wait.
    let answered = |calls: &[tokio::task::JoinHandle<_>]| calls.iter().filter(|call| call.is_finished()).count();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while answered(&calls) < FLOOD - LIMIT && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        answered(&calls),
        FLOOD - LIMIT,
        "all but the admitted calls were answered while those waited"
    );
    for service in ["", "partnercenter.v1.PartnerService"] {
        assert_eq!(health_status(&probe, service).await, ServingStatus::Serving as i32);
    }
    drop(held);
    let (mut ok, mut shed) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_error(Err::<(), _>(status), Code::ResourceExhausted, "OVERLOADED");
                shed += 1;
            }
        }
    }
    assert_eq!((ok, shed), (LIMIT, FLOOD - LIMIT));
    // The budget is back: a call is served again.
    server.create_partner(pb::partner::Kind::Advisor).await;
}

/// A unary call running past the server's deadline is answered
/// DEADLINE_EXCEEDED with an ErrorInfo, without any client deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_server_deadline_ends_a_slow_call() {
    let server = TestServer::start_configured(Arc::new(SystemClock), Some(SECRET), |config| {
        config.server.rpc_timeout = Duration::from_millis(500);
    })
    .await;
    let held = server.server.store().begin_write("test".into()).await.unwrap();
    let started = std::time::Instant::now();
    let late = tokio::time::timeout(
        Duration::from_secs(5),
        server.partners(&operator()).create_partner(new_partner()),
    )
    .await
    .expect("the server ends the call");
    let status = late.expect_err("cut by the server");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let info = tonic_types::StatusExt::get_details_error_info(&status).expect("ErrorInfo");
    assert_eq!(info.domain, "partnercenter");
    assert_eq!(info.reason, "DEADLINE_EXCEEDED");
    assert_eq!(info.metadata.get("cause").map(String::as_str), Some("TIMEOUT"));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(held);
    assert!(server.events().await.is_empty(), "the cut call wrote nothing");
}

/// Connections beyond the limit wait until one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_connections_beyond_the_maximum_wait() {
    let server = TestServer::start_configured(Arc::new(SystemClock), Some(SECRET), |config| {
        config.server.max_client_connections = 2;
    })
    .await;
    // The harness's channel is the first connection.
    assert_eq!(
        health_status(&server.channel_for("partnercenter.v1.PartnerService"), "").await,
        ServingStatus::Serving as i32
    );
    let second = channel(&server).await;
    assert_eq!(health_status(&second, "").await, ServingStatus::Serving as i32);
    let third = Channel::from_shared(format!("http://{}", server.addr_of("partnercenter.v1.PartnerService")))
        .unwrap()
        .connect_lazy();
    let waiting = tokio::spawn(async move { health_status(&third, "").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection is not served");
    drop(second);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(status, ServingStatus::Serving as i32);
}

/// An unknown code does not wait for the write order (AcceptRelationship
/// Request looks the code up first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_unknown_invitation_code_does_not_queue_behind_writes() {
    let server = TestServer::start().await;
    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&reseller.id), None).await.unwrap();
    let held = server.server.store().begin_write("test".into()).await.unwrap();
    refused_without_change(
        &server,
        async {
            tokio::time::timeout(Duration::from_secs(3), server.accept(&tenant.id, "no-such-code"))
                .await
                .expect("answered while a write holds the order")
        },
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    )
    .await;
    drop(held);
}

/// One connection may have only so many calls open; a call beyond waits
/// for a free stream, and another connection is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_streams_per_connection_are_capped() {
    let server = TestServer::start_configured(Arc::new(SystemClock), Some(SECRET), |config| {
        config.server.max_concurrent_streams = 2;
    })
    .await;
    let crowded = channel(&server).await;
    // The first answer carries the server's SETTINGS.
    assert_eq!(health_status(&crowded, "").await, ServingStatus::Serving as i32);
    let held = server.server.store().begin_write("test".into()).await.unwrap();
    let mut writes = Vec::new();
    for _ in 0..2 {
        let mut client = pb::partner_service_client::PartnerServiceClient::with_interceptor(
            crowded.clone(),
            server.bearer(&operator()),
        );
        writes.push(tokio::spawn(async move { client.create_partner(new_partner()).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = {
        let crowded = crowded.clone();
        tokio::spawn(async move { health_status(&crowded, "").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third stream on the connection waits");
    assert_eq!(
        health_status(&server.channel_for("partnercenter.v1.PartnerService"), "").await,
        ServingStatus::Serving as i32
    );
    drop(held);
    for write in writes {
        write.await.unwrap().expect("written once the order is free");
    }
    assert_eq!(third.await.unwrap(), ServingStatus::Serving as i32);
}

/// With the default limits, a flood of calls on 2 cores does not starve
/// health: every probe during it answers SERVING within 2 s, and no
/// call of the flood is INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_defaults_keep_health_answering_during_a_flood() {
    let server = TestServer::start().await;
    let probe = channel(&server).await;
    let mut calls = Vec::new();
    for _ in 0..4 {
        let connection = channel(&server).await;
        for _ in 0..300 {
            let mut client = pb::partner_service_client::PartnerServiceClient::with_interceptor(
                connection.clone(),
                server.bearer(&operator()),
            );
            calls.push(tokio::spawn(async move {
                client.list_partners(pb::ListPartnersRequest::default()).await
            }));
        }
    }
    for _ in 0..5 {
        let started = std::time::Instant::now();
        assert_eq!(health_status(&probe, "").await, ServingStatus::Serving as i32);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for call in calls {
        if let Err(status) = call.await.unwrap() {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        }
    }
}
