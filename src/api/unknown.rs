//! Every refusal carries an ErrorInfo, tonic's own UNIMPLEMENTED too: a
//! method or service this server does not have (a typo in a path, a client
//! built from another contract), or a compression it does not accept. tonic
//! answers those without details; this layer, around the whole router, adds
//! the ErrorInfo and a message that names the fix, and keeps tonic's other
//! headers (`grpc-accept-encoding` lists the encodings it does accept).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderValue;
use tonic::Status;
use tonic::body::Body;

use crate::domain::{Error, ErrorCode, Reason};

/// The layer for `Server::builder().layer(…)`.
#[derive(Clone, Copy, Default)]
pub struct DetailedUnimplementedLayer;

impl<S> tower::Layer<S> for DetailedUnimplementedLayer {
    type Service = DetailedUnimplemented<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DetailedUnimplemented { inner }
    }
}

#[derive(Clone)]
pub struct DetailedUnimplemented<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for DetailedUnimplemented<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let call = self.inner.call(request);
        Box::pin(async move { call.await.map(|response| detailed(response, &path)) })
    }
}

/// Adds the ErrorInfo to a trailers-only UNIMPLEMENTED without one.
fn detailed(mut response: http::Response<Body>, path: &str) -> http::Response<Body> {
    let headers = response.headers();
    let unimplemented = headers.get("grpc-status") == Some(&HeaderValue::from_static("12"));
    if !unimplemented || headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let error = if headers.contains_key("grpc-accept-encoding") {
        let said = Status::from_header_map(headers)
            .map(|status| status.message().to_owned())
            .unwrap_or_default();
        Error::new(
            ErrorCode::Unimplemented,
            Reason::EncodingNotSupported,
            format!("{said}; send the request uncompressed (or in an encoding of grpc-accept-encoding)"),
        )
    } else {
        Error::new(
            ErrorCode::Unimplemented,
            Reason::MethodNotFound,
            format!(
                "this server has no method {}; `grpcurl -plaintext HOST:PORT list` lists its services \
                 and `describe SERVICE` their methods",
                super::echo(path)
            ),
        )
    };
    let ours = Status::from(error).into_http::<Body>();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        match ours.headers().get(name) {
            Some(value) => {
                response.headers_mut().insert(name, value.clone());
            }
            None => {
                response.headers_mut().remove(name);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn an_unknown_method_gets_an_error_info_that_names_the_fix() {
        let tonic_answer = Status::unimplemented("").into_http::<Body>();
        let response = detailed(tonic_answer, "/partnercenter.v1.PartnerService/Nope");
        let status = Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), Code::Unimplemented);
        assert!(status.message().contains("PartnerService/Nope"), "{}", status.message());
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.metadata.get("cause").map(String::as_str), Some("METHOD_NOT_FOUND"));
    }

    #[test]
    fn an_unsupported_encoding_keeps_the_accepted_ones() {
        let mut tonic_answer =
            Status::unimplemented("Content is compressed with `br` which isn't supported").into_http::<Body>();
        tonic_answer
            .headers_mut()
            .insert("grpc-accept-encoding", HeaderValue::from_static("identity"));
        let response = detailed(tonic_answer, "/partnercenter.v1.PartnerService/GetPartner");
        assert_eq!(response.headers()["grpc-accept-encoding"], "identity");
        let status = Status::from_header_map(response.headers()).expect("a status");
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(
            info.metadata.get("cause").map(String::as_str),
            Some("ENCODING_NOT_SUPPORTED")
        );
    }

    #[test]
    fn other_answers_pass_unchanged() {
        let own = Status::from(Error::new(ErrorCode::Unimplemented, Reason::MethodNotFound, "x")).into_http::<Body>();
        let before = own.headers().clone();
        assert_eq!(detailed(own, "/p").headers(), &before);
        let ok = http::Response::new(Body::empty());
        assert!(detailed(ok, "/p").headers().get("grpc-status").is_none());
    }
}
