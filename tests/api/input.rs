//! W3: every bad input is refused cleanly: bytes that do not decode, fields
//! beyond their maximum, and errors small enough for every standard client.

use partnercenter::api::pb;
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

/// Sends `payload` as the request of `method`: Ok when the server answered
/// (or opened the stream), else the status.
async fn call_raw(server: &TestServer, method: &Method, payload: Vec<u8>) -> Result<(), Status> {
    call_raw_as(server, &operator(), method, payload).await
}

async fn call_raw_as(
    server: &TestServer,
    caller: &partnercenter::domain::principal::Principal,
    method: &Method,
    payload: Vec<u8>,
) -> Result<(), Status> {
    let channel =
        tonic::service::interceptor::InterceptedService::new(server.channel_for(&method.path), server.bearer(caller));
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX);
    grpc.ready().await.expect("ready");
    let path = method.path.parse().expect("path");
    let request = tonic::Request::new(payload);
    if method.server_streaming {
        grpc.server_streaming(request, path, RawCodec).await.map(drop)
    } else {
        grpc.unary(request, path, RawCodec).await.map(drop)
    }
}

/// Sends junk as the request of `method` and returns the refusal.
async fn send_raw(server: &TestServer, method: &Method, payload: Vec<u8>) -> Status {
    match call_raw(server, method, payload).await {
        Err(status) => status,
        Ok(()) => panic!("{} accepted junk", method.path),
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

/// Sends `body` as the whole request body of `method`, length prefixes and
/// all, so a test can break the gRPC framing itself. Ok when the call
/// succeeded, or when a server-streaming call opened its stream.
async fn call_framed(
    server: &TestServer,
    method: &Method,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Result<(), Status> {
    use tower::ServiceExt;
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(method.path.as_str())
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server.token(&operator())));
    if let Some(encoding) = encoding {
        request = request.header("grpc-encoding", encoding);
    }
    let request = request
        .body(tonic::body::Body::new(axum::body::Body::from(body)))
        .expect("request");
    let response = server
        .channel_for(&method.path)
        .oneshot(request)
        .await
        .expect("transport");
    // A trailers-only answer.
    if let Some(status) = Status::from_header_map(response.headers()) {
        return if status.code() == Code::Ok { Ok(()) } else { Err(status) };
    }
    if method.server_streaming {
        return Ok(());
    }
    let mut body = response.into_body();
    loop {
        let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx)).await;
        match frame {
            Some(Ok(frame)) => {
                if let Ok(trailers) = frame.into_trailers() {
                    let status = Status::from_header_map(&trailers).expect("grpc-status");
                    return if status.code() == Code::Ok { Ok(()) } else { Err(status) };
                }
            }
            Some(Err(status)) => return Err(status),
            None => panic!("{}: no trailers", method.path),
        }
    }
}

/// `message` behind its length prefix, with the compressed-flag `flag`.
fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut bytes = vec![flag];
    bytes.extend(u32::try_from(message.len()).expect("short").to_be_bytes());
    bytes.extend(message);
    bytes
}

/// W3 below the codec: a body that is not exactly one length-prefixed
/// message is the client's fault on every method, never INTERNAL.
#[tokio::test]
async fn w3_malformed_frames_are_invalid_argument_on_every_method() {
    let server = TestServer::start().await;
    let methods = every_method();
    assert!(methods.len() >= 28, "{} methods", methods.len());
    for method in &methods {
        // An empty message decodes: what is wrong is only the framing.
        let one = framed(0, &[]);
        let cases: [(&str, Option<&str>, Vec<u8>); 8] = [
            ("an empty body", None, Vec::new()),
            ("a length prefix cut short", None, one[..3].to_vec()),
            ("a message cut short", None, framed(0, &[0x08, 0x01])[..6].to_vec()),
            ("the compressed-flag and no grpc-encoding", None, framed(1, &[])),
            (
                "the compressed-flag and grpc-encoding identity",
                Some("identity"),
                framed(1, &[]),
            ),
            ("a compressed-flag of 2", None, framed(2, &[])),
            ("two messages", None, [one.clone(), one.clone()].concat()),
            ("a message and a stray byte", None, [one.clone(), vec![0]].concat()),
        ];
        for (what, encoding, body) in cases {
            let status = match call_framed(&server, method, encoding, body).await {
                Err(status) => status,
                Ok(()) => panic!("{} accepted {what}", method.path),
            };
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{} with {what}: {status:?}",
                method.path
            );
            assert_eq!(reason(&status), "MALFORMED_MESSAGE", "{} with {what}", method.path);
            assert!(
                status.message().contains("gRPC message"),
                "{} with {what}: {}",
                method.path,
                status.message()
            );
        }
        // An encoding the server does not accept is UNIMPLEMENTED, naming
        // what it accepts, as gRPC's compression spec says.
        let status = call_framed(&server, method, Some("gzip"), framed(1, &[]))
            .await
            .expect_err("gzip is not accepted");
        assert_eq!(status.code(), Code::Unimplemented, "{}: {status:?}", method.path);
        assert!(status.metadata().get("grpc-accept-encoding").is_some(), "{status:?}");
        assert_eq!(reason(&status), "ENCODING_NOT_SUPPORTED", "{}", method.path);
    }
    // One well-formed message still reaches the method.
    let list = methods
        .iter()
        .find(|method| method.path.ends_with("/ListPartners"))
        .expect("ListPartners");
    call_framed(&server, list, None, framed(0, &[]))
        .await
        .expect("one empty request");
}

/// What an error takes on the wire: the percent-encoded grpc-message and the
/// base64 grpc-status-details-bin.
fn error_wire_size(status: &Status) -> usize {
    let message: usize = status
        .message()
        .bytes()
        .map(|b| match b {
            // tonic's grpc-message encoding set: controls, non-ASCII and these.
            b' ' | b'"' | b'#' | b'%' | b'<' | b'>' | b'`' | b'?' | b'{' | b'}' => 3,
            0x21..=0x7e => 1,
            _ => 3,
        })
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
        customer_id: "é".repeat(60),
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

/// The maximum `docs/limits.md` gives a field, by its name.
fn limit_of(name: &str) -> usize {
    match name {
        "request_id" => 128,
        // R4, R5, R7: a partner's users' opaque ids.
        "user_id" => 128,
        "member_user_ids" => 1000,
        "mpn_id" => 10,
        "id" | "etag" | "code" => 64,
        name if name.ends_with("_id") => 64,
        "page_token" => 512,
        // R4.
        "security_group.display_name" => 256,
        "display_name" | "company_name" | "offer_name" | "first_name" | "last_name" | "company_name_prefix" => 200,
        "domain" | "customer_domain" | "domain_prefix" => 253,
        "email" => 254,
        "culture" => 35,
        "language" => 3,
        "service" => 32,
        "url" => 2048,
        "delegated_admin_services" => 3,
        "delegated_admin_scopes" | "scopes" => 2,
        "delegated_admin_roles" | "roles" => 6,
        "checks" => 1000,
        "subscription_ids" | "subscriptions" => 100,
        "note" | "end_note" => 500,
        // H1.
        "description" => 500,
        "event_types" => 50,
        "event_type" => 128,
        "paths" => 10,
        other => panic!("no maximum is known for field {other}: give it one (W3)"),
    }
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn field_bytes(number: i32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint((u64::from(number as u32) << 3) | 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

fn varint_field(number: i32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(number as u32) << 3, &mut out);
    varint(value, &mut out);
    out
}

/// One bounded field of a request: its path in a BadRequest, its maximum,
/// and how to encode the request with the field holding `n` characters or
/// items (every other field left empty).
struct Leaf {
    path: String,
    max: usize,
    encode: Box<dyn Fn(usize) -> Vec<u8>>,
}

/// Every string and repeated field of `message`, one level into the
/// service's own messages (and a repeated one's first item).
fn leaves(
    message: &DescriptorProto,
    all: &[DescriptorProto],
    prefix: &str,
    wrap: std::rc::Rc<dyn Fn(Vec<u8>) -> Vec<u8>>,
    out: &mut Vec<Leaf>,
) {
    for field in &message.field {
        let number = field.number();
        let name = field.name().to_owned();
        let repeated = field.label() == prost_types::field_descriptor_proto::Label::Repeated;
        let path = format!("{prefix}{name}");
        let wrap = wrap.clone();
        match field.r#type() {
            Type::String if !repeated => out.push(Leaf {
                // A field's own maximum where its message sets one (R4's
                // group name), else its name's.
                max: if path == "security_group.display_name" {
                    limit_of(&path)
                } else {
                    limit_of(&name)
                },
                path,
                // A two-byte character: limits count characters, not bytes.
                encode: Box::new(move |n| wrap(field_bytes(number, "é".repeat(n).as_bytes()))),
            }),
            Type::String => {
                let item_wrap = wrap.clone();
                out.push(Leaf {
                    max: limit_of(&name),
                    path: path.clone(),
                    encode: Box::new(move |n| wrap(field_bytes(number, b"azure").repeat(n))),
                });
                // A repeated string holds services, or ids.
                let item = if name.ends_with("_user_ids") {
                    "user_id"
                } else if name == "event_types" {
                    "event_type"
                } else if name.ends_with("_ids") {
                    "id"
                } else {
                    "service"
                };
                out.push(Leaf {
                    max: limit_of(item),
                    path: format!("{path}[0]"),
                    encode: Box::new(move |n| item_wrap(field_bytes(number, "é".repeat(n).as_bytes()))),
                });
            }
            Type::Enum if repeated => out.push(Leaf {
                max: limit_of(&name),
                path,
                encode: Box::new(move |n| wrap(varint_field(number, 1).repeat(n))),
            }),
            Type::Message => {
                let type_name = field.type_name().to_owned();
                if type_name == ".google.protobuf.FieldMask" {
                    let path_wrap = wrap.clone();
                    out.push(Leaf {
                        max: limit_of("paths"),
                        path: format!("{path}.paths"),
                        encode: Box::new(move |n| wrap(field_bytes(number, &field_bytes(1, b"status").repeat(n)))),
                    });
                    out.push(Leaf {
                        max: 64,
                        path: format!("{path}.paths[0]"),
                        encode: Box::new(move |n| {
                            path_wrap(field_bytes(number, &field_bytes(1, "é".repeat(n).as_bytes())))
                        }),
                    });
                } else if type_name.starts_with(".partnercenter.") {
                    let inner_name = type_name.rsplit('.').next().unwrap_or_default();
                    let inner = all.iter().find(|m| m.name() == inner_name).expect("message").clone();
                    if repeated {
                        let count_wrap = wrap.clone();
                        out.push(Leaf {
                            max: limit_of(&name),
                            path: path.clone(),
                            encode: Box::new(move |n| count_wrap(field_bytes(number, &[]).repeat(n))),
                        });
                    }
                    let item_prefix = if repeated {
                        format!("{path}[0].")
                    } else {
                        format!("{path}.")
                    };
                    let nested: std::rc::Rc<dyn Fn(Vec<u8>) -> Vec<u8>> =
                        std::rc::Rc::new(move |bytes| wrap(field_bytes(number, &bytes)));
                    leaves(&inner, all, &item_prefix, nested, out);
                }
            }
            _ => {}
        }
    }
}

/// Whether a refusal names `path` as beyond its maximum.
fn refused_for_length(status: &Status, path: &str) -> bool {
    status.get_details_bad_request().is_some_and(|bad| {
        bad.field_violations
            .iter()
            .any(|v| v.field == path && v.description.contains("at most"))
    })
}

#[tokio::test]
async fn w3_every_field_at_its_maximum_passes_and_one_beyond_is_refused() {
    let server = TestServer::start().await;
    // Something in the log, so "nothing appended" means something.
    server.create_partner(pb::partner::Kind::DirectReseller).await;
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let all: Vec<DescriptorProto> = set.file.iter().flat_map(|file| file.message_type.clone()).collect();
    let mut checked = 0;
    for method in every_method() {
        let mut fields = Vec::new();
        leaves(&method.input, &all, "", std::rc::Rc::new(|bytes| bytes), &mut fields);
        for leaf in fields {
            let at_max = call_raw(&server, &method, (leaf.encode)(leaf.max)).await;
            if let Err(status) = &at_max {
                assert!(
                    !matches!(status.code(), Code::Internal | Code::Unknown),
                    "{} {} at max: {status:?}",
                    method.path,
                    leaf.path
                );
                assert!(
                    !refused_for_length(status, &leaf.path),
                    "{} {} refused at its maximum {}: {status:?}",
                    method.path,
                    leaf.path,
                    leaf.max
                );
            }

            let status = without_change(&server, call_raw(&server, &method, (leaf.encode)(leaf.max + 1)))
                .await
                .expect_err(&format!("{} {} beyond its maximum", method.path, leaf.path));
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{} {}: {status:?}",
                method.path,
                leaf.path
            );
            assert_eq!(reason(&status), "INVALID_FIELD", "{} {}", method.path, leaf.path);
            assert!(
                refused_for_length(&status, &leaf.path),
                "{} {}: {status:?}",
                method.path,
                leaf.path
            );
            let named = status.get_details_bad_request().expect("BadRequest");
            assert!(
                named
                    .field_violations
                    .iter()
                    .any(|v| v.description.contains(&leaf.max.to_string())),
                "the limit is named: {named:?}"
            );
            checked += 1;
        }
    }
    // 108 today: a field added without a maximum fails in `limit_of`.
    assert!(checked >= 100, "{checked} fields checked");
}

/// A DNS name of exactly `len` characters ending in `tail`.
fn domain_of_length(len: usize, tail: &str) -> String {
    let mut need = len - tail.len() - 1;
    let mut labels = Vec::new();
    while need > 63 {
        labels.push("a".repeat(62));
        need -= 63;
    }
    labels.push("a".repeat(need));
    labels.push(tail.to_owned());
    let domain = labels.join(".");
    assert_eq!(domain.len(), len);
    domain
}

/// A character of four UTF-8 bytes: the longest a limit in characters allows.
const WIDE: char = '𠀀';

/// A customer whose every field is at its maximum.
fn customer_at_maximum(variant: usize) -> pb::Customer {
    let wide = |n: usize| -> String {
        let mut text: String = std::iter::repeat_n(WIDE, n - 1).collect();
        text.push(char::from_u32(0x4e00 + variant as u32).expect("char"));
        text
    };
    pb::Customer {
        domain: domain_of_length(253, &unique_domain("max")),
        company_name: wide(200),
        billing_contact: Some(pb::BillingContact {
            email: format!("{}@{}", "e".repeat(64), domain_of_length(189, "cn")),
            first_name: wide(200),
            last_name: wide(200),
            // 35 characters: a language and subtags of at most 8.
            culture: format!("zh{}-abcde", "-abcdefgh".repeat(3)),
            language: "zho".into(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn w3_a_customer_at_every_maximum_is_stored_whole() {
    let server = TestServer::start().await;
    let wanted = customer_at_maximum(0);
    let created = server
        .customers(&operator())
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(wanted.clone()),
            indirect_reseller_id: String::new(),
            request_id: "r".repeat(128),
        })
        .await
        .expect("every field at its maximum is accepted")
        .into_inner();
    let read = server
        .customers(&operator())
        .get_customer(pb::GetCustomerRequest { id: created.id.clone() })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.domain, wanted.domain);
    assert_eq!(read.company_name, wanted.company_name);
    assert_eq!(read.billing_contact, wanted.billing_contact);
    // The largest resource stays far under W3's 1 MiB.
    assert!(read.encoded_len() < 4 * 1024, "{} bytes", read.encoded_len());

    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let renamed: String = std::iter::repeat_n(WIDE, 200).collect();
    let partner = server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: reseller.id.clone(),
                display_name: renamed.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("a 200-character name")
        .into_inner();
    assert_eq!(partner.display_name, renamed);
}

#[tokio::test]
async fn w3_a_culture_beyond_35_characters_is_refused_and_nothing_changes() {
    let server = TestServer::start().await;
    let created = server
        .customers(&operator())
        .create_customer(customer_request(&unique_domain("culture"), None))
        .await
        .expect("customer")
        .into_inner();
    // Each subtag is well formed: only the whole is too long. The 1 MB one
    // is the value that once broke ListEvents for everyone.
    let too_long = [
        format!("zh{}-abcdef", "-abcdefgh".repeat(3)),
        format!("zh{}", "-abcdefgh".repeat(1 << 17)),
    ];
    for culture in too_long {
        for who in [operator(), customer(&created.id)] {
            let status = refused_without_change(
                &server,
                server.customers(&who).update_customer(pb::UpdateCustomerRequest {
                    customer: Some(pb::Customer {
                        id: created.id.clone(),
                        billing_contact: Some(pb::BillingContact {
                            culture: culture.clone(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    update_mask: mask(&["billing_contact.culture"]),
                }),
                Code::InvalidArgument,
                "INVALID_FIELD",
            )
            .await;
            assert_eq!(
                violated_fields(&status),
                vec!["customer.billing_contact.culture".to_string()]
            );
            assert!(
                status.message().contains("at most 35 characters"),
                "{}",
                status.message()
            );
            assert_small(&status);
        }
    }
    let read = server
        .customers(&operator())
        .get_customer(pb::GetCustomerRequest { id: created.id.clone() })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.billing_contact.expect("contact").culture, "zh-CN");
}

#[tokio::test]
async fn w3_list_events_pages_are_cut_by_bytes_and_continue_without_loss() {
    let server = TestServer::start().await;
    let created = server
        .customers(&operator())
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(customer_at_maximum(0)),
            ..Default::default()
        })
        .await
        .expect("customer")
        .into_inner();
    // Each update appends the whole customer, a few KiB at the maxima:
    // 1000 of them are more than a page may hold.
    for i in 1..1000 {
        let next = customer_at_maximum(i);
        server
            .customers(&operator())
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(pb::Customer {
                    id: created.id.clone(),
                    ..next
                }),
                update_mask: mask(&["company_name", "billing_contact.first_name"]),
            })
            .await
            .expect("update");
    }
    let last_seq = server.server.store().last_seq().await.expect("seq");
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = server
            .relationships(&operator())
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert!(!page.events.is_empty(), "a page holds at least one event");
        let bytes = page.encoded_len();
        assert!(bytes <= (2 << 20) + 64 * 1024, "{bytes} bytes in a page");
        pages += 1;
        seen.extend(page.events.iter().map(|e| e.seq));
        if page.next_page_token.is_empty() {
            break;
        }
        if pages == 1 {
            assert!(page.events.len() < 1000, "the first page is cut by bytes");
        }
        token = page.next_page_token;
    }
    assert!(pages >= 2, "{pages} pages");
    let expected: Vec<i64> = (1..=last_seq).collect();
    assert_eq!(seen, expected, "every event once, in order");
}

/// Draws a request of `message` from `choices`: each field absent or set to
/// a value picked among the edge cases of its type, the ids of real rows,
/// and random text; nested messages a few levels deep.
fn draw_message(
    message: &DescriptorProto,
    all: &[DescriptorProto],
    choices: &mut dyn Iterator<Item = u64>,
    ids: &[String],
    depth: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    for field in &message.field {
        let choice = choices.next().unwrap_or(0);
        if choice.is_multiple_of(4) {
            continue;
        }
        let repeated = field.label() == prost_types::field_descriptor_proto::Label::Repeated;
        let count = if repeated { (choice >> 2) % 4 } else { 1 };
        for _ in 0..count {
            let pick = choices.next().unwrap_or(0);
            let number = field.number();
            match field.r#type() {
                // Mostly a plausible value for the field, so calls get past
                // validation into the rules; else an edge case.
                Type::String if pick % 20 < 17 => {
                    let name = field.name();
                    let text = if name.ends_with("id") {
                        ids[(pick >> 4) as usize % ids.len()].clone()
                    } else if name.contains("service") {
                        ["office365", "azure", "dynamics365"][(pick >> 4) as usize % 3].to_owned()
                    } else if name.contains("domain") {
                        format!("d{}.cn", pick >> 4)
                    } else if name == "email" {
                        format!("li@d{}.cn", pick >> 4)
                    } else if name == "culture" {
                        "zh-CN".to_owned()
                    } else if name == "language" {
                        "zh".to_owned()
                    } else if name == "mpn_id" {
                        format!("{}", 100_000 + (pick >> 4) % 9_000_000)
                    } else {
                        format!("Name {}", pick >> 4)
                    };
                    out.extend(field_bytes(number, text.as_bytes()));
                }
                Type::Enum | Type::Int32 if pick % 20 < 17 => {
                    out.extend(varint_field(number, 1 + (pick >> 4) % 3));
                }
                Type::String => {
                    let text = match pick % 10 {
                        0 => String::new(),
                        1..=3 => ids[(pick >> 4) as usize % ids.len()].clone(),
                        4 => ["office365", "azure", "dynamics365", "zh-CN", "zh", "contoso.cn"]
                            [(pick >> 4) as usize % 6]
                            .to_owned(),
                        5 => "a".repeat((pick >> 4) as usize % 300),
                        6 => "é\u{0}\u{7f}'\"%;--".repeat((pick >> 4) as usize % 8),
                        7 => uuid::Uuid::from_u128(u128::from(pick)).to_string(),
                        8 => format!("li{}@{}.cn", pick % 100, pick % 7),
                        _ => char::from_u32((pick >> 4) as u32 % 0x11_0000)
                            .map(|c| c.to_string().repeat(((pick >> 30) % 70) as usize))
                            .unwrap_or_default(),
                    };
                    out.extend(field_bytes(number, text.as_bytes()));
                }
                Type::Int32 | Type::Int64 | Type::Enum | Type::Bool => {
                    let value: i64 = match pick % 8 {
                        0 => 0,
                        1 => 1,
                        2 => -1,
                        3 => i64::from(i32::MAX),
                        4 => i64::from(i32::MIN),
                        5 => i64::MAX,
                        6 => (pick >> 4) as i64 % 2000,
                        _ => ((pick >> 4) % 6) as i64,
                    };
                    out.extend(varint_field(number, value as u64));
                }
                Type::Message if depth < 3 => {
                    let name = field.type_name().rsplit('.').next().unwrap_or_default();
                    let inner = match field.type_name() {
                        ".google.protobuf.FieldMask" => {
                            let paths = [
                                "status",
                                "quantity",
                                "display_name",
                                "kind",
                                "company_name",
                                "billing_contact",
                                "billing_contact.culture",
                                "billing_contact.email",
                                "x",
                                "",
                            ];
                            let mut bytes = Vec::new();
                            for k in 0..(pick % 4) {
                                let path = paths[((pick >> (4 + 4 * k)) % paths.len() as u64) as usize];
                                bytes.extend(field_bytes(1, path.as_bytes()));
                            }
                            bytes
                        }
                        ".google.protobuf.Timestamp" => {
                            let seconds = [0, 1, u64::MAX, 253_402_300_800, pick >> 8][(pick % 5) as usize];
                            let nanos = [0, 999_999_999, 1_000_000_000, u64::MAX][((pick >> 3) % 4) as usize];
                            let mut bytes = varint_field(1, seconds);
                            bytes.extend(varint_field(2, nanos));
                            bytes
                        }
                        _ => match all.iter().find(|m| m.name() == name) {
                            Some(inner) => draw_message(inner, all, choices, ids, depth + 1),
                            None => Vec::new(),
                        },
                    };
                    out.extend(field_bytes(number, &inner));
                }
                _ => {}
            }
        }
    }
    out
}

/// W3 as a property: whatever a caller sends, well formed or not, the
/// answer is never INTERNAL or UNKNOWN and the server keeps serving.
#[test]
fn w3_random_requests_never_get_internal_or_unknown() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let (reseller, tenant, subscription) = runtime.block_on(async {
        let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
        let tenant = server
            .create_customer(&partner(&reseller.id), None)
            .await
            .expect("customer");
        let subscription = server
            .create_subscription(&partner(&reseller.id), csp_subscription(&tenant.id, &reseller.id))
            .await
            .expect("subscription");
        (reseller, tenant, subscription)
    });
    let ids = vec![
        reseller.id.clone(),
        tenant.id.clone(),
        subscription.id.clone(),
        reseller.etag.clone(),
    ];
    let callers = [operator(), service(), partner(&reseller.id), customer(&tenant.id)];
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let all: Vec<DescriptorProto> = set.file.iter().flat_map(|file| file.message_type.clone()).collect();
    let methods = every_method();

    // A fixed number of cases keeps the run short (about a second).
    let mut runner = TestRunner::new(Config {
        cases: 800,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..methods.len(),
        0..callers.len(),
        // Three in four well formed, the rest random bytes.
        (0..4u8).prop_map(|n| n > 0),
        proptest::collection::vec(any::<u64>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..64),
    );
    runner
        .run(&strategy, |(method, caller, structured, choices, bytes)| {
            let method = &methods[method];
            let payload = if structured {
                draw_message(&method.input, &all, &mut choices.into_iter(), &ids, 0)
            } else {
                bytes
            };
            let result = runtime.block_on(call_raw_as(&server, &callers[caller], method, payload));
            if let Err(status) = result {
                prop_assert!(
                    !matches!(status.code(), Code::Internal | Code::Unknown),
                    "{}: {status:?}",
                    method.path
                );
                // Every refusal of the service carries its ErrorInfo.
                reason(&status);
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));

    runtime.block_on(async {
        server
            .customers(&operator())
            .get_customer(pb::GetCustomerRequest { id: tenant.id.clone() })
            .await
            .expect("still serving");
    });
}
