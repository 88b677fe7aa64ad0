//! H2, H6: one webhook attempt over HTTP. The SSRF guard sits in the
//! resolver, at connect time, so a name that resolves inside the network
//! today is refused even if it resolved outside when the endpoint was
//! registered; the connection goes only to the addresses that were checked.
//! Redirects are never followed (a 3xx is a failed attempt), proxies from
//! the environment are ignored (they would resolve for us), and a response
//! body is read to 1 KiB at most and dropped.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Url, redirect};

use crate::domain::model::DeliveryError;
use crate::domain::rules::forbidden_address;

/// H6: `Retry-After` is honoured up to a day, the schedule's longest step.
pub use crate::domain::rules::MAX_RETRY_AFTER;

/// H2: the most of a response body that is read (and then dropped).
pub const MAX_BODY_READ: usize = 1024;

const USER_AGENT: &str = concat!("partnercenter-webhooks/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection to a receiver is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// H2: hosts (no port; compared case-insensitively) that skip the
    /// address check and may use http. From the server's configuration
    /// only, never the API: tests reach their receiver on 127.0.0.1 so.
    pub allow_hosts: Vec<String>,
    /// H6: the whole attempt, connect to the last byte read (15 s).
    pub timeout: Duration,
}

/// The outcome of one POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// None when no response arrived.
    pub status_code: Option<u16>,
    /// None on a 2xx.
    pub error: Option<DeliveryError>,
    /// H6: the response's `Retry-After` (seconds or an HTTP date), at most
    /// 24 h.
    pub retry_after: Option<Duration>,
    /// Until the response's head arrived, or until the attempt failed.
    pub latency: Duration,
}

impl Attempt {
    fn failed(error: DeliveryError, started: Instant) -> Self {
        Attempt {
            status_code: None,
            error: Some(error),
            retry_after: None,
            latency: started.elapsed(),
        }
    }
}

/// The hosts H2 lets through, shared by the client and its resolver.
#[derive(Debug)]
struct AllowHosts(Vec<String>);

impl AllowHosts {
    fn contains(&self, host: &str) -> bool {
        self.0.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }
}

/// H2, H6: posts webhook attempts over pooled HTTPS connections (rustls),
/// with the SSRF guard of H2 at connect time. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_hosts: Arc<AllowHosts>,
}

impl WebhookClient {
    pub fn new(options: ClientOptions) -> Result<Self, String> {
        let allow_hosts = Arc::new(AllowHosts(options.allow_hosts));
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            // H2: a redirect could lead anywhere; the receiver's 3xx is its answer.
            .redirect(redirect::Policy::none())
            // A proxy would resolve the name itself, past the check below.
            .no_proxy()
            .timeout(options.timeout)
            .pool_idle_timeout(POOL_IDLE)
            .dns_resolver(Arc::new(CheckedResolver {
                allow_hosts: Arc::clone(&allow_hosts),
            }))
            .build()
            .map_err(|e| format!("the webhook client could not be built: {e}"))?;
        Ok(WebhookClient { http, allow_hosts })
    }

    /// H2, H6: one POST of `body` to `url`, with `headers` (the caller's
    /// `webhook-*`; `Content-Type: application/json` unless given). A URL
    /// H2 refuses (not https, or an IP literal in a forbidden range, unless
    /// its host is allow-listed) fails as BLOCKED_ADDRESS without a
    /// connection; so does a name resolving to such an address. The
    /// response body is read to 1 KiB and dropped, never returned.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Attempt {
        let started = Instant::now();
        let url = match self.admit(url) {
            Ok(url) => url,
            Err(error) => return Attempt::failed(error, started),
        };
        let headers = match header_map(headers) {
            Ok(headers) => headers,
            Err(bad) => {
                // A bug of the caller, not of the receiver: say which header.
                tracing::error!(header = %bad, "a webhook header is not valid HTTP; nothing sent");
                return Attempt::failed(DeliveryError::Connect, started);
            }
        };
        let mut response = match self.http.post(url).headers(headers).body(body).send().await {
            Ok(response) => response,
            Err(e) => return Attempt::failed(classify(&e), started),
        };
        let latency = started.elapsed();
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        drain(&mut response).await;
        let error = if status.is_success() {
            None
        } else if status.is_redirection() {
            Some(DeliveryError::Redirect)
        } else {
            Some(DeliveryError::HttpStatus)
        };
        Attempt {
            status_code: Some(status.as_u16()),
            error,
            retry_after,
            latency,
        }
    }

    /// H2: the URL as it will be sent, if H2 lets it be. IP literals are
    /// checked here because reqwest connects to them without a resolver.
    fn admit(&self, raw: &str) -> Result<Url, DeliveryError> {
        // Endpoint URLs were checked at registration; one that no longer
        // parses cannot be connected to.
        let url = Url::parse(raw).map_err(|_| DeliveryError::Connect)?;
        let (host, literal) = match url.host() {
            Some(url::Host::Domain(name)) => (name.to_ascii_lowercase(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return Err(DeliveryError::Connect),
        };
        let allow_listed = self.allow_hosts.contains(&host);
        match url.scheme() {
            "https" => {}
            "http" if allow_listed => {}
            _ => return Err(DeliveryError::BlockedAddress),
        }
        if !allow_listed && literal.and_then(forbidden_address).is_some() {
            return Err(DeliveryError::BlockedAddress);
        }
        Ok(url)
    }
}

/// The caller's headers, and `Content-Type: application/json` unless it
/// gave one; the name of the first header that is not valid HTTP otherwise.
fn header_map(headers: &[(&str, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| name.to_string())?;
        let header_value = HeaderValue::from_str(value).map_err(|_| name.to_string())?;
        map.append(header_name, header_value);
    }
    if !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(map)
}

/// H2: reads at most about 1 KiB of the body, chunk by chunk, dropping
/// each; a small body read to its end lets the connection go back to the
/// pool, a large one is cut off by dropping the response.
async fn drain(response: &mut reqwest::Response) {
    let mut read = 0;
    while read < MAX_BODY_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            // The status is the answer: a body that ends badly changes nothing.
            Ok(None) | Err(_) => break,
        }
    }
}

/// H6: the class of an attempt that got no response.
fn classify(error: &reqwest::Error) -> DeliveryError {
    if chain_has::<BlockedAddress>(error) {
        DeliveryError::BlockedAddress
    } else if error.is_timeout() {
        DeliveryError::Timeout
    } else if chain_has::<rustls::Error>(error) {
        DeliveryError::Tls
    } else {
        DeliveryError::Connect
    }
}

/// Whether `error` or one of its sources is a `T`.
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(current) = next {
        if current.is::<T>() {
            return true;
        }
        // An io::Error's source() skips the error it wraps (tokio-rustls
        // wraps rustls::Error so): look inside it too.
        if let Some(inner) = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && chain_has::<T>(inner)
        {
            return true;
        }
        next = current.source();
    }
    false
}

/// H6: `Retry-After` as delay-seconds or an HTTP date (a past date is no
/// wait), at most 24 h; None when it is neither.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "later than a day".
        value.parse::<u64>().map(Duration::from_secs).unwrap_or(MAX_RETRY_AFTER)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// H2: a host that resolved to an address webhooks never reach. The
/// attempt's class is found by this type in the error's source chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, a {why} address, which webhooks never reach (H2)")]
struct BlockedAddress {
    host: String,
    address: IpAddr,
    why: &'static str,
}

/// H2: resolves with the system resolver and refuses the host when ANY of
/// its addresses is forbidden (a receiver cannot pick the good one for
/// us); otherwise returns exactly the addresses it checked, so the
/// connection goes to one of them. Allow-listed hosts are not checked.
#[derive(Debug)]
struct CheckedResolver {
    allow_hosts: Arc<AllowHosts>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_listed = self.allow_hosts.contains(&host);
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on the addresses.
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addresses = checked(&host, addresses, allow_listed)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// H2: the resolver's decision on the addresses of `host`.
fn checked(host: &str, addresses: Vec<SocketAddr>, allow_listed: bool) -> Result<Vec<SocketAddr>, BlockedAddress> {
    if !allow_listed {
        for address in &addresses {
            if let Some(why) = forbidden_address(address.ip()) {
                return Err(BlockedAddress {
                    host: host.to_string(),
                    address: address.ip(),
                    why,
                });
            }
        }
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;

    fn client(allow_hosts: &[&str], timeout: Duration) -> WebhookClient {
        WebhookClient::new(ClientOptions {
            allow_hosts: allow_hosts.iter().map(|host| host.to_string()).collect(),
            timeout,
        })
        .expect("a client")
    }

    fn local_client() -> WebhookClient {
        client(&["127.0.0.1"], Duration::from_secs(5))
    }

    /// A receiver on 127.0.0.1 that runs `handler` on each connection and
    /// counts the connections.
    async fn serve<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handler(stream));
            }
        });
        (address, connections)
    }

    /// Reads one request (head and Content-Length body); its head.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&buffer).into_owned(),
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            assert!(buffer.len() < 1 << 20, "a request head under 1 MiB");
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        head
    }

    /// A receiver that answers every request with `response`.
    async fn canned(response: String) -> (SocketAddr, Arc<AtomicUsize>) {
        let response = Arc::new(response);
        serve(move |mut stream| {
            let response = Arc::clone(&response);
            async move {
                read_request(&mut stream).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        })
        .await
    }

    fn no_content() -> String {
        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_string()
    }

    #[tokio::test]
    async fn h6_a_2xx_is_success_with_its_latency() {
        let (address, connections) = canned(no_content()).await;
        let attempt = local_client()
            .post(&format!("http://{address}/hook"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(204));
        assert_eq!(attempt.error, None);
        assert_eq!(attempt.retry_after, None);
        assert!(attempt.latency > Duration::ZERO && attempt.latency < Duration::from_secs(5));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn h5_the_callers_headers_json_and_the_user_agent_are_sent() {
        let (heads, mut received) = mpsc::unbounded_channel();
        let (address, _) = serve(move |mut stream| {
            let heads = heads.clone();
            async move {
                let _ = heads.send(read_request(&mut stream).await);
                let _ = stream.write_all(no_content().as_bytes()).await;
            }
        })
        .await;
        let headers = [
            ("webhook-id", "evt_7".to_string()),
            ("webhook-timestamp", "1700000000".to_string()),
            ("webhook-signature", "v1,abc=".to_string()),
        ];
        let attempt = local_client()
            .post(&format!("http://{address}/"), &headers, b"{}".to_vec())
            .await;
        assert_eq!(attempt.error, None);
        let head = received.recv().await.expect("a request").to_ascii_lowercase();
        assert!(head.starts_with("post / http/1.1\r\n"), "{head}");
        for line in [
            "webhook-id: evt_7",
            "webhook-timestamp: 1700000000",
            "webhook-signature: v1,abc=",
            "content-type: application/json",
            "content-length: 2",
            concat!("user-agent: partnercenter-webhooks/", env!("CARGO_PKG_VERSION")),
        ] {
            assert!(head.contains(&format!("{line}\r\n")), "{line} in {head}");
        }
    }

    #[tokio::test]
    async fn h6_a_503_is_an_http_status_failure_with_its_code() {
        let (address, _) = canned(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy".to_string(),
        )
        .await;
        let attempt = local_client()
            .post(&format!("http://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(503));
        assert_eq!(attempt.error, Some(DeliveryError::HttpStatus));
        assert_eq!(attempt.retry_after, None);
    }

    #[tokio::test]
    async fn h2_a_redirect_is_a_failure_and_its_location_is_not_followed() {
        let (target, followed) = canned(no_content()).await;
        let (address, _) = canned(format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{target}/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
        .await;
        let attempt = local_client()
            .post(&format!("http://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(302));
        assert_eq!(attempt.error, Some(DeliveryError::Redirect));
        assert_eq!(followed.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn h6_a_429_gives_its_retry_after() {
        let (address, _) = canned(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string(),
        )
        .await;
        let attempt = local_client()
            .post(&format!("http://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(429));
        assert_eq!(attempt.error, Some(DeliveryError::HttpStatus));
        assert_eq!(attempt.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn h6_retry_after_is_seconds_or_an_http_date_capped_at_24_hours() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(MAX_RETRY_AFTER));
        let in_a_minute = httpdate::fmt_http_date(now + Duration::from_secs(60));
        assert_eq!(parse_retry_after(&in_a_minute, now), Some(Duration::from_secs(60)));
        let in_a_week = httpdate::fmt_http_date(now + Duration::from_secs(7 * 86_400));
        assert_eq!(parse_retry_after(&in_a_week, now), Some(MAX_RETRY_AFTER));
        let an_hour_ago = httpdate::fmt_http_date(now - Duration::from_secs(3600));
        assert_eq!(parse_retry_after(&an_hour_ago, now), Some(Duration::ZERO));
        for bad in ["", "-5", "1.5", "soon", "Tue, 99 Nov 2023 00:00:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn h2_a_huge_response_body_is_read_to_1_kib_at_most() {
        const ANNOUNCED: u64 = 1 << 30;
        let sent = Arc::new(AtomicU64::new(0));
        let (done, mut finished) = mpsc::unbounded_channel();
        let written = Arc::clone(&sent);
        let (address, _) = serve(move |mut stream| {
            let written = Arc::clone(&written);
            let done = done.clone();
            async move {
                read_request(&mut stream).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {ANNOUNCED}\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_ok() {
                    let block = vec![b'x'; 64 * 1024];
                    // Bounded: stops at the announced length or when the
                    // client hangs up.
                    while written.load(Ordering::SeqCst) < ANNOUNCED {
                        if stream.write_all(&block).await.is_err() {
                            break;
                        }
                        written.fetch_add(block.len() as u64, Ordering::SeqCst);
                    }
                }
                let _ = done.send(());
            }
        })
        .await;
        let started = Instant::now();
        let attempt = local_client()
            .post(&format!("http://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(200));
        assert_eq!(attempt.error, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::timeout(Duration::from_secs(10), finished.recv())
            .await
            .expect("the receiver sees the client hang up");
        let total = sent.load(Ordering::SeqCst);
        // What the receiver got out is its socket buffers' worth, not the body.
        assert!(total < 64 << 20, "{total} bytes sent");
    }

    #[tokio::test]
    async fn h2_an_ip_literal_in_a_forbidden_range_is_blocked_before_connecting() {
        let (address, connections) = canned(no_content()).await;
        let port = address.port();
        let strict = client(&[], Duration::from_secs(5));
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("https://127.0.0.1:{port}/"),
            "https://127.0.0.1/".to_string(),
            format!("https://[::1]:{port}/"),
            format!("https://[::ffff:127.0.0.1]:{port}/"),
            // The WHATWG reading of 127.0.0.1 in decimal.
            format!("https://2130706433:{port}/"),
            format!("https://0.0.0.0:{port}/"),
        ] {
            let attempt = strict.post(&url, &[], b"{}".to_vec()).await;
            assert_eq!(attempt.error, Some(DeliveryError::BlockedAddress), "{url}");
            assert_eq!(attempt.status_code, None, "{url}");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn h2_a_name_resolving_to_loopback_is_blocked_at_connect_time() {
        let (address, connections) = canned(no_content()).await;
        let strict = client(&[], Duration::from_secs(5));
        let attempt = strict
            .post(&format!("https://localhost:{}/", address.port()), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.error, Some(DeliveryError::BlockedAddress));
        assert_eq!(attempt.status_code, None);
        assert_eq!(connections.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn h2_http_and_other_schemes_are_refused_unless_allow_listed() {
        let (address, connections) = canned(no_content()).await;
        let port = address.port();
        let strict = client(&[], Duration::from_secs(5));
        for url in [
            format!("http://localhost:{port}/"),
            "http://example.com/".to_string(),
            format!("ftp://localhost:{port}/"),
            "not a url".to_string(),
        ] {
            let attempt = strict.post(&url, &[], b"{}".to_vec()).await;
            assert!(attempt.error.is_some(), "{url}");
            assert_eq!(attempt.status_code, None, "{url}");
        }
        let attempt = strict.post("http://example.com/", &[], b"{}".to_vec()).await;
        assert_eq!(attempt.error, Some(DeliveryError::BlockedAddress));
        assert_eq!(connections.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn h2_an_allow_listed_name_matches_case_insensitively_and_may_use_http() {
        let (address, connections) = canned(no_content()).await;
        let allowed = client(&["LocalHost"], Duration::from_secs(5));
        let attempt = allowed
            .post(&format!("http://LOCALHOST:{}/", address.port()), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.status_code, Some(204));
        assert_eq!(attempt.error, None);
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn h2_the_resolver_refuses_a_name_with_any_forbidden_address() {
        let strict = CheckedResolver {
            allow_hosts: Arc::new(AllowHosts(Vec::new())),
        };
        let refused = strict.resolve(Name::from_str("localhost").expect("a name")).await;
        let error = refused.err().expect("localhost is loopback");
        assert!(chain_has::<BlockedAddress>(&*error), "{error}");

        let allowed = CheckedResolver {
            allow_hosts: Arc::new(AllowHosts(vec!["localhost".to_string()])),
        };
        let addresses: Vec<SocketAddr> = allowed
            .resolve(Name::from_str("localhost").expect("a name"))
            .await
            .expect("allow-listed")
            .collect();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(|a| a.ip().is_loopback()));

        // One forbidden address among public ones refuses the host; the
        // public ones alone pass, and only they are returned.
        let public: SocketAddr = "8.8.8.8:0".parse().expect("an address");
        let mixed = vec![public, "[2001:4860:4860::8888]:0".parse().expect("an address")];
        assert_eq!(checked("example.com", mixed.clone(), false).expect("all public"), mixed);
        let inside = vec![public, "10.1.2.3:0".parse().expect("an address")];
        let blocked = checked("example.com", inside.clone(), false).expect_err("one is private");
        assert_eq!(blocked.address.to_string(), "10.1.2.3");
        assert_eq!(
            checked("example.com", inside.clone(), true).expect("allow-listed"),
            inside
        );
    }

    #[tokio::test]
    async fn h6_a_receiver_that_never_answers_is_a_timeout() {
        let (address, _) = serve(|mut stream| async move {
            read_request(&mut stream).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
        })
        .await;
        let impatient = client(&["127.0.0.1"], Duration::from_millis(300));
        let started = Instant::now();
        let attempt = impatient.post(&format!("http://{address}/"), &[], b"{}".to_vec()).await;
        assert_eq!(attempt.error, Some(DeliveryError::Timeout));
        assert_eq!(attempt.status_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(attempt.latency >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn h6_a_closed_port_is_a_connect_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address");
        drop(listener);
        let attempt = local_client()
            .post(&format!("http://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.error, Some(DeliveryError::Connect));
        assert_eq!(attempt.status_code, None);
    }

    #[tokio::test]
    async fn h6_a_failed_tls_handshake_is_tls() {
        // A plain HTTP server answers the TLS ClientHello with HTTP.
        let (address, _) = serve(|mut stream| async move {
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        })
        .await;
        let attempt = local_client()
            .post(&format!("https://{address}/"), &[], b"{}".to_vec())
            .await;
        assert_eq!(attempt.error, Some(DeliveryError::Tls));
        assert_eq!(attempt.status_code, None);
    }

    #[test]
    fn h5_an_invalid_header_is_refused_by_name() {
        assert_eq!(
            header_map(&[("bad name", "x".to_string())]).err().as_deref(),
            Some("bad name")
        );
        assert_eq!(
            header_map(&[("webhook-id", "a\nb".to_string())]).err().as_deref(),
            Some("webhook-id")
        );
        let given = header_map(&[("Content-Type", "application/cloudevents+json".to_string())]).expect("valid");
        assert_eq!(given.get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(given[CONTENT_TYPE], "application/cloudevents+json");
    }
}
