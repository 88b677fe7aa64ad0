//! W3: every bad input is refused cleanly: bytes that do not decode, fields
//! beyond their maximum, and errors small enough for every standard client.

use partnercenter::pb;
use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

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
