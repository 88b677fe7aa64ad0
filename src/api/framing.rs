//! W3 before the codec: a request whose gRPC framing is broken (no message,
//! a frame cut short, a compressed frame nobody negotiated, an unknown flag,
//! a second message on a method that takes one) is INVALID_ARGUMENT with
//! cause MALFORMED_MESSAGE, like bytes the codec cannot decode. tonic
//! answers most of these INTERNAL without details, and takes the first of
//! two messages silently.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderValue;
use http_body::Frame;
use prost::bytes::{Buf, Bytes};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use crate::domain::{Error, ErrorCode, Reason};

/// The gRPC length prefix: a compressed-flag byte and a big-endian length.
const PREFIX_BYTES: usize = 5;

/// W3: the request is not one well-formed gRPC message.
fn malformed_frame(what: &str) -> Error {
    Error::new(
        ErrorCode::InvalidArgument,
        Reason::MalformedMessage,
        format!("the request is not one well-formed gRPC message: {what}"),
    )
}

/// Wraps one of the services (every method of which takes exactly one
/// request message) so that its request framing is checked as it is read.
#[derive(Clone)]
pub struct Framing<S> {
    inner: S,
}

impl<S> Framing<S> {
    pub fn new(inner: S) -> Self {
        Framing { inner }
    }
}

impl<S: NamedService> NamedService for Framing<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, ResponseBody> tower::Service<http::Request<Body>> for Framing<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<ResponseBody>> + Send + 'static,
    S::Future: Send + 'static,
    ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResponseBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // A compressed frame is allowed only under a grpc-encoding; whether
        // tonic supports that encoding it checks itself (UNIMPLEMENTED, with
        // the encodings it accepts, as gRPC's compression spec says).
        let compressed = request
            .headers()
            .get("grpc-encoding")
            .is_some_and(|encoding| encoding != "identity");
        let request = request.map(|body| {
            Body::new(OneMessage {
                inner: body,
                compressed,
                prefix: [0; PREFIX_BYTES],
                state: State::Prefix(0),
                messages: 0,
                done: false,
            })
        });
        let call = self.inner.call(request);
        Box::pin(async move {
            call.await
                .map(|response| undetailed_internal_as_malformed(response.map(Body::new)))
        })
    }
}

/// A trailers-only answer of INTERNAL without an ErrorInfo is tonic's own
/// refusal of a request it could not read: every INTERNAL of the service
/// (handlers, interceptor, limits) is built from a domain error and carries
/// one, and tonic's other INTERNALs (encoding a reply) come in trailers
/// after the headers, not here. `OneMessage` already refuses the framing
/// errors tonic knows today; this keeps a new one (a decompression failure
/// once compression is accepted, say) from ever answering INTERNAL. A read
/// of the body that failed in the transport also lands here: the client
/// broke the stream, and it was not the service's fault either.
fn undetailed_internal_as_malformed(response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers();
    let internal = headers.get("grpc-status") == Some(&HeaderValue::from_static("13"));
    if !internal || headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let what = Status::from_header_map(headers)
        .map(|status| status.message().to_owned())
        .unwrap_or_default();
    Status::from(malformed_frame(&what)).into_http()
}

#[derive(Clone, Copy)]
enum State {
    /// This many bytes of a length prefix read.
    Prefix(usize),
    /// This many bytes of the message left to read.
    Message(usize),
}

pin_project_lite::pin_project! {
    /// A request body that passes its bytes through unchanged and fails
    /// (with the Status tonic answers as is) when they are not exactly one
    /// length-prefixed message.
    struct OneMessage<B> {
        #[pin]
        inner: B,
        compressed: bool,
        prefix: [u8; PREFIX_BYTES],
        state: State,
        messages: usize,
        done: bool,
    }
}

impl<B> http_body::Body for OneMessage<B>
where
    B: http_body::Body<Data = Bytes, Error = Status>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let frame = match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(status)) => return Poll::Ready(Some(Err(status))),
            None => {
                *this.done = true;
                let refusal = match (*this.messages, *this.state) {
                    (1, State::Prefix(0)) => return Poll::Ready(None),
                    (0, State::Prefix(0)) => "the body holds no message".to_owned(),
                    (_, State::Prefix(read)) => {
                        format!("the body ends {read} bytes into a {PREFIX_BYTES}-byte length prefix")
                    }
                    (_, State::Message(left)) => format!("the body ends {left} bytes before the message does"),
                };
                return Poll::Ready(Some(Err(malformed_frame(&refusal).into())));
            }
        };
        let Some(data) = frame.data_ref() else {
            // Trailers: the body is over.
            return Poll::Ready(Some(Ok(frame)));
        };
        let mut bytes = data.clone();
        while bytes.has_remaining() {
            if *this.messages > 0 {
                *this.done = true;
                let refusal = "a second message follows the first; this method takes one";
                return Poll::Ready(Some(Err(malformed_frame(refusal).into())));
            }
            match *this.state {
                State::Prefix(read) => {
                    this.prefix[read] = bytes.get_u8();
                    if read + 1 < PREFIX_BYTES {
                        *this.state = State::Prefix(read + 1);
                        continue;
                    }
                    let refusal = match this.prefix[0] {
                        0 => None,
                        1 if *this.compressed => None,
                        // gRPC's compression spec asks for INTERNAL here; W3
                        // makes it the client's fault, which it is.
                        1 => Some("the message is marked compressed but no grpc-encoding was sent".to_owned()),
                        flag => Some(format!("the compressed-flag is {flag}; it must be 0 or 1")),
                    };
                    if let Some(refusal) = refusal {
                        *this.done = true;
                        return Poll::Ready(Some(Err(malformed_frame(&refusal).into())));
                    }
                    let length = u32::from_be_bytes([this.prefix[1], this.prefix[2], this.prefix[3], this.prefix[4]]);
                    *this.state = State::Message(length as usize);
                }
                State::Message(left) => {
                    let taken = left.min(bytes.remaining());
                    bytes.advance(taken);
                    *this.state = State::Message(left - taken);
                }
            }
            if let State::Message(0) = *this.state {
                *this.messages += 1;
                *this.state = State::Prefix(0);
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        // Not the inner body's: an empty body still has its refusal to give.
        self.done
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    fn answered(response: http::Response<Body>) -> Status {
        Status::from_header_map(response.headers()).expect("grpc-status")
    }

    #[test]
    fn w3_tonics_undetailed_internal_becomes_malformed_message() {
        let status = answered(undetailed_internal_as_malformed(
            Status::internal("Missing request message.").into_http(),
        ));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().ends_with("Missing request message."),
            "{}",
            status.message()
        );
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.domain, crate::api::ERROR_DOMAIN);
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(
            info.metadata.get("cause").map(String::as_str),
            Some("MALFORMED_MESSAGE")
        );
    }

    #[test]
    fn w4_the_services_own_internal_stays_internal() {
        let own = Status::from(Error::internal("the store failed")).into_http();
        let status = answered(undetailed_internal_as_malformed(own));
        assert_eq!(status.code(), Code::Internal);
        // W4 adds the error id of the log line to the message.
        assert!(status.message().starts_with("the store failed"), "{}", status.message());
        // Other codes without details pass as they are.
        let status = answered(undetailed_internal_as_malformed(
            Status::unimplemented("no such method").into_http(),
        ));
        assert_eq!(status.code(), Code::Unimplemented);
    }
}
