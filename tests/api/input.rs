//! W3: every bad input is refused cleanly: bytes that do not decode, fields
//! beyond their maximum, and errors small enough for every standard client.

use partnercenter::pb;
use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::support::*;

/// Sends and receives raw bytes, so a test can put on the wire what the
/// generated clients never would.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// One RPC of the contract: its path, request message and streaming kind.
struct Method {
    path: String,
    input: DescriptorProto,
    server_streaming: bool,
}

/// Every method of the three services, read from the served descriptors so
/// a new method is covered without editing this test.
fn every_method() -> Vec<Method> {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let messages: Vec<DescriptorProto> = set.file.iter().flat_map(|file| file.message_type.clone()).collect();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let input_name = method.input_type().rsplit('.').next().unwrap_or_default();
                let input = messages
                    .iter()
                    .find(|message| message.name() == input_name)
                    .unwrap_or_else(|| panic!("input type {input_name}"))
                    .clone();
                methods.push(Method {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    input,
                    server_streaming: method.server_streaming(),
                });
            }
        }
    }
    methods
}

fn tag(field: i32, wire_type: u8) -> u8 {
    let tag = ((field as u32) << 3) | u32::from(wire_type);
    assert!(tag < 0x80, "single-byte tags keep the payloads readable");
    tag as u8
}

/// The number of a string field of the message (every request has one, at
/// the top or one level down), with the enclosing field if nested.
fn string_field(message: &DescriptorProto, all: &[DescriptorProto]) -> (Option<i32>, i32) {
    if let Some(field) = message.field.iter().find(|f| f.r#type() == Type::String) {
        return (None, field.number());
    }
    for field in message.field.iter().filter(|f| f.r#type() == Type::Message) {
        let name = field.type_name().rsplit('.').next().unwrap_or_default();
        if let Some(inner) = all.iter().find(|m| m.name() == name)
            && let Some(string) = inner.field.iter().find(|f| f.r#type() == Type::String)
        {
            return (Some(field.number()), string.number());
        }
    }
    panic!("{} has no string field", message.name());
}

/// Wraps `inner` as the bytes of field `outer`, when nested.
fn nest(outer: Option<i32>, inner: Vec<u8>) -> Vec<u8> {
    match outer {
        None => inner,
        Some(number) => {
            let mut bytes = vec![tag(number, 2), u8::try_from(inner.len()).expect("short")];
            bytes.extend(inner);
            bytes
        }
    }
}

/// Sends `payload` as the request of `method` and returns the status.
async fn send_raw(server: &TestServer, method: &Method, payload: Vec<u8>) -> Status {
    let channel =
        tonic::service::interceptor::InterceptedService::new(server.channel.clone(), server.bearer(&operator()));
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = method.path.parse().expect("path");
    let request = tonic::Request::new(payload);
    if method.server_streaming {
        match grpc.server_streaming(request, path, RawCodec).await {
            Err(status) => status,
            Ok(response) => match response.into_inner().message().await {
                Err(status) => status,
                Ok(message) => panic!("{} answered {message:?} to junk", method.path),
            },
        }
    } else {
        match grpc.unary(request, path, RawCodec).await {
            Err(status) => status,
            Ok(response) => panic!("{} accepted junk: {:?}", method.path, response.into_inner()),
        }
    }
}

#[tokio::test]
async fn w3_malformed_bytes_are_invalid_argument_on_every_method() {
    let server = TestServer::start().await;
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let all: Vec<DescriptorProto> = set.file.iter().flat_map(|file| file.message_type.clone()).collect();
    let methods = every_method();
    assert!(methods.len() >= 28, "{} methods", methods.len());
    for method in &methods {
        let (outer, field) = string_field(&method.input, &all);
        let cases = [
            (
                "invalid UTF-8 in a string",
                nest(outer, vec![tag(field, 2), 2, 0xff, 0xfe]),
            ),
            ("truncated varint", vec![0x80]),
            ("wrong wire type", nest(outer, vec![tag(field, 0), 1])),
            ("length beyond the end", nest(outer, vec![tag(field, 2), 10, b'a'])),
            ("field number zero", vec![0x00, 0x01]),
        ];
        for (what, payload) in cases {
            let status = send_raw(&server, method, payload).await;
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{} with {what}: {status:?}",
                method.path
            );
            assert_eq!(reason(&status), "MALFORMED_MESSAGE", "{} with {what}", method.path);
        }
    }
}

/// What an error takes on the wire: the percent-encoded grpc-message and the
/// base64 grpc-status-details-bin.
fn error_wire_size(status: &Status) -> usize {
    let message: usize = status
        .message()
        .bytes()
        .map(|b| if (0x20..0x7f).contains(&b) && b != b'%' { 1 } else { 3 })
        .sum();
    message + status.details().len().div_ceil(3) * 4
}

/// W3's bound on an error, and its ErrorInfo.
#[track_caller]
fn assert_small(status: &Status) {
    let size = error_wire_size(status);
    assert!(size < 8 * 1024, "{size} bytes: {:?}", status.code());
    reason(status);
    let violations = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.len())
        .unwrap_or_default();
    assert!(violations <= 20, "{violations} violations listed");
}

#[tokio::test]
async fn w3_an_error_for_1000_invalid_checks_lists_20_and_counts_the_rest() {
    let server = TestServer::start().await;
    // Each check is wrong three ways: not a UUID twice, no action.
    let check = pb::CheckAccessRequest {
        partner_id: "not-a-partner-id".into(),
        customer_id: "é".repeat(100),
        ..Default::default()
    };
    let status = server
        .relationships(&service())
        .batch_check_access(pb::BatchCheckAccessRequest {
            checks: vec![check; 1000],
        })
        .await
        .expect_err("invalid checks");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "INVALID_FIELD");
    assert_small(&status);
    assert_eq!(violated_fields(&status).len(), 20);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata.get("violations_omitted").map(String::as_str),
        Some("2980")
    );
    // The message names the first few and counts the rest.
    assert!(status.message().ends_with(" more"), "{}", status.message());
}

#[tokio::test]
async fn w3_a_huge_update_mask_path_is_not_echoed() {
    let server = TestServer::start().await;
    let partner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let huge = "x".repeat(1 << 20);
    let status = server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: partner.id.clone(),
                display_name: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: mask(&[&huge, "display_name"]),
        })
        .await
        .expect_err("unknown path");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_small(&status);
    assert!(
        status.message().len() < 1024,
        "{} bytes of message",
        status.message().len()
    );
}

#[tokio::test]
async fn w3_m3_active_subscriptions_names_at_most_20_and_counts_the_rest() {
    let server = TestServer::start().await;
    let direct = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let tenant = server
        .create_customer(&partner(&direct.id), None)
        .await
        .expect("customer");
    let mut ids = Vec::new();
    for _ in 0..25 {
        let subscription = server
            .create_subscription(&partner(&direct.id), csp_subscription(&tenant.id, &direct.id))
            .await
            .expect("subscription");
        ids.push(subscription.id);
    }
    let status = server
        .relationships(&partner(&direct.id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: tenant.id.clone(),
            partner_id: String::new(),
        })
        .await
        .expect_err("blocked");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "ACTIVE_SUBSCRIPTIONS");
    assert_small(&status);
    let info = status.get_details_error_info().expect("ErrorInfo");
    let named: Vec<&str> = info.metadata["subscription_ids"].split(',').collect();
    assert_eq!(named.len(), 20);
    assert!(named.iter().all(|id| ids.iter().any(|known| known == id)), "{named:?}");
    assert_eq!(
        info.metadata.get("subscription_ids_omitted").map(String::as_str),
        Some("5")
    );
    assert!(status.message().contains("and 5 more"), "{}", status.message());
}
