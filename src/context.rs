//! What a call carries from hop to hop: its trace id (W3C trace context),
//! the caller's request id, and its deadline. The gRPC trace layer sets it
//! for the whole of each call (`api::trace`); the remote clients pass it on
//! to the next process (`traceparent`, `x-request-id`, `grpc-timeout`), and
//! the use cases bound their waits by the deadline.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallContext {
    /// 32 lower-case hex digits: the caller's, or a new one.
    pub trace_id: String,
    /// The `x-request-id` the call came with, or the trace id.
    pub request_id: String,
    /// When the call must be answered: the client's `grpc-timeout` or the
    /// server's own deadline, whichever is sooner.
    pub deadline: Option<Instant>,
}

tokio::task_local! {
    static CALL: CallContext;
}

impl CallContext {
    /// A context for work that no call started (a background task).
    pub fn detached(trace_id: Option<&str>) -> Self {
        let trace_id = trace_id
            .filter(|id| is_trace_id(id))
            .map_or_else(new_trace_id, str::to_owned);
        CallContext {
            request_id: trace_id.clone(),
            trace_id,
            deadline: None,
        }
    }

    /// Runs `future` with this context as the current one.
    pub async fn scope<F: std::future::Future>(self, future: F) -> F::Output {
        CALL.scope(self, future).await
    }

    /// The context of the call being served, if any.
    pub fn current() -> Option<CallContext> {
        CALL.try_with(Clone::clone).ok()
    }

    /// The time left until the deadline of the call being served (zero once
    /// it has passed); None when there is no call or no deadline.
    pub fn remaining() -> Option<Duration> {
        CALL.try_with(|call| {
            call.deadline
                .map(|deadline| deadline.saturating_duration_since(Instant::now()))
        })
        .ok()
        .flatten()
    }

    /// The trace id of the call being served, or a new one.
    pub fn current_trace_id() -> String {
        CALL.try_with(|call| call.trace_id.clone())
            .unwrap_or_else(|_| new_trace_id())
    }
}

/// 128 random bits as 32 hex digits (never all zeros, which W3C reserves),
/// from the thread's generator (no system call per call: ids need to be
/// unique, not secret).
pub fn new_trace_id() -> String {
    let id: u128 = rand::random::<u128>() | 1;
    format!("{id:032x}")
}

/// A W3C trace id: 32 lower-case hex digits, not all zeros.
pub fn is_trace_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && text.bytes().any(|b| b != b'0')
}

/// The trace id and parent span id of a W3C `traceparent` header
/// (`00-<trace>-<span>-<flags>`).
pub fn parse_traceparent(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let _flags = parts.next()?;
    let hex = |text: &str| text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let span_ok = span_id.len() == 16 && hex(span_id) && span_id.bytes().any(|b| b != b'0');
    (version.len() == 2 && version != "ff" && is_trace_id(trace_id) && span_ok).then_some((trace_id, span_id))
}

/// A `traceparent` header for a call made on behalf of `trace_id`, with a
/// new span id.
pub fn traceparent(trace_id: &str) -> String {
    let span = &new_trace_id()[..16];
    format!("00-{trace_id}-{span}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_its_trace_id() {
        let id = new_trace_id();
        assert!(is_trace_id(&id));
        assert_eq!(
            parse_traceparent(&traceparent(&id)).map(|(trace, _)| trace),
            Some(id.as_str())
        );
        assert_eq!(parse_traceparent("00-0000-1111-01"), None);
        assert_eq!(
            parse_traceparent("00-00000000000000000000000000000000-0000000000000001-01"),
            None
        );
        assert_eq!(
            parse_traceparent(&format!("00-{id}-0000000000000000-01")),
            None,
            "an all-zero parent span"
        );
        assert_eq!(parse_traceparent("garbage"), None);
    }

    #[tokio::test]
    async fn the_deadline_bounds_what_remains() {
        assert_eq!(CallContext::remaining(), None);
        let context = CallContext {
            deadline: Some(Instant::now() + Duration::from_secs(5)),
            ..CallContext::detached(None)
        };
        let left = context.scope(async { CallContext::remaining() }).await;
        assert!(left.is_some_and(|left| left <= Duration::from_secs(5) && left > Duration::from_secs(4)));
    }
}
