//! `http_get`: refuses loopback, private, link-local and metadata addresses before any
//! connection; fetches from a server on 127.0.0.1 (started here) when loopback is
//! explicitly allowed. No test sends traffic anywhere but loopback.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentry_tools::builtin::{AddressRules, HttpGet, HttpGetConfig};
use agentry_tools::{Capabilities, Policy, ToolCall, ToolRegistry, ToolResult, ToolSet};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn registry(config: HttpGetConfig) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    registry
        .register(HttpGet::new(config).expect("client builds"))
        .expect("http_get registers");
    registry
}

/// The network granted and `http_get` pre-approved (approval is tested elsewhere).
fn network() -> Policy {
    Policy::default()
        .with_capabilities(Capabilities::NONE.with_network())
        .approve(&ToolSet::named(["http_get"]))
}

async fn get(registry: &ToolRegistry, url: &str) -> ToolResult {
    registry
        .call(
            &ToolCall::new("c", "http_get", json!({ "url": url })),
            &network(),
        )
        .await
}

/// A listener nobody should connect to: after the call, `accept` must find nothing.
fn silent_listener(addr: &str) -> Option<StdListener> {
    let listener = StdListener::bind(addr).ok()?;
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

fn assert_no_connection(listener: &StdListener) {
    match listener.accept() {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        Ok((_, peer)) => panic!("a connection reached the listener from {peer}"),
    }
}

#[tokio::test]
async fn loopback_is_refused_before_any_connection() {
    let registry = registry(HttpGetConfig::default());
    let listener = silent_listener("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();

    let literal = get(&registry, &format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(
        literal.observation(),
        "error: tool `http_get` failed: refused: `127.0.0.1` is a loopback address; such addresses are not fetched"
    );
    let by_name = get(&registry, &format!("http://localhost:{port}/")).await;
    assert!(
        by_name.observation().contains("`localhost` resolves to")
            && by_name.observation().contains("loopback"),
        "{by_name:?}"
    );
    assert_no_connection(&listener);

    // [::1]: listen there too when the machine has IPv6 loopback.
    let v6 = silent_listener("[::1]:0");
    let v6_port = v6
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map_or(9, |a| a.port());
    let result = get(&registry, &format!("http://[::1]:{v6_port}/")).await;
    assert!(
        result.observation().contains("`::1` is a loopback address"),
        "{result:?}"
    );
    if let Some(v6) = &v6 {
        assert_no_connection(v6);
    }
}

#[tokio::test]
async fn private_link_local_and_metadata_addresses_are_refused() {
    let registry = registry(HttpGetConfig::default());
    let cases = [
        ("http://10.0.0.1/", "a private network address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "a cloud metadata service address",
        ),
        ("http://169.254.1.2/", "a link-local address"),
        ("http://[fd00::1]/", "a private network address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://0.0.0.0/", "not a public unicast address"),
    ];
    for (url, why) in cases {
        let result = get(&registry, url).await;
        assert!(result.observation().contains(why), "{url}: {result:?}");
        assert!(
            result.observation().contains("refused"),
            "{url}: {result:?}"
        );
    }
    // Allowing loopback does not allow the rest.
    let loopback_only = registry_with_loopback(None);
    let result = get(&loopback_only, "http://169.254.169.254/").await;
    assert!(result.observation().contains("metadata"), "{result:?}");
}

/// Odd IPv4 spellings are normalised by the URL parser to the address they mean and
/// screened as such; IPv6 forms carrying a private IPv4 address are refused; a name that
/// resolves to loopback is refused after resolution (#17 item 9).
#[tokio::test]
async fn every_spelling_of_a_private_address_is_refused() {
    let registry = registry(HttpGetConfig::default());
    let cases = [
        ("http://2130706433/", "`127.0.0.1` is a loopback address"),
        ("http://0177.0.0.1/", "`127.0.0.1` is a loopback address"),
        ("http://0x7f.1/", "`127.0.0.1` is a loopback address"),
        ("http://127.1/", "`127.0.0.1` is a loopback address"),
        ("http://0x7f000001/", "`127.0.0.1` is a loopback address"),
        (
            "http://012.0.0.1/",
            "`10.0.0.1` is a private network address",
        ),
        (
            "http://3232235777/",
            "`192.168.1.1` is a private network address",
        ),
        ("http://0/", "`0.0.0.0` is not a public unicast address"),
        ("http://[::127.0.0.1]/", "a loopback address"),
        ("http://[::ffff:7f00:1]/", "a loopback address"),
        ("http://[64:ff9b::10.0.0.1]/", "a private network address"),
        ("http://[2002:c0a8:101::1]/", "a private network address"),
        (
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "a special-purpose address",
        ),
        ("http://[ff02::1]/", "not a public unicast address"),
        ("http://198.18.0.1/", "a special-purpose address"),
        ("http://255.255.255.255/", "not a public unicast address"),
        ("http://localhost/", "`localhost` resolves to"),
        // A trailing dot is still a name that is resolved (or refused) before any connection.
        ("http://LOCALHOST./", "localhost."),
    ];
    for (url, why) in cases {
        let result = get(&registry, url).await;
        assert!(
            result.observation().contains(why) && result.observation().contains("refused"),
            "{url}: {result:?}"
        );
    }
}

#[tokio::test]
async fn hosts_off_the_allow_list_and_other_schemes_are_refused() {
    let registry = registry(HttpGetConfig {
        allowed_hosts: Some(vec!["docs.rs".into(), "*.example.org".into()]),
        ..HttpGetConfig::default()
    });
    let result = get(&registry, "http://localhost/").await;
    assert!(
        result
            .observation()
            .contains("host `localhost` is not on the allow-list"),
        "{result:?}"
    );
    let result = get(&registry, "ftp://docs.rs/").await;
    assert!(
        result.observation().contains("only http and https"),
        "{result:?}"
    );
    let result = get(&registry, "not a url").await;
    assert!(
        result.observation().contains("is not a valid URL"),
        "{result:?}"
    );
}

#[tokio::test]
async fn http_get_needs_the_network_capability() {
    let registry = registry(HttpGetConfig::default());
    let result = registry
        .call(
            &ToolCall::new("c", "http_get", json!({"url": "http://127.0.0.1/"})),
            &Policy::default(),
        )
        .await;
    assert!(
        result.observation().contains("not granted: network"),
        "{result:?}"
    );
}

fn registry_with_loopback(allowed_hosts: Option<Vec<String>>) -> ToolRegistry {
    registry(HttpGetConfig {
        allowed_hosts,
        addresses: AddressRules {
            allow_loopback: true,
            allow_private: false,
        },
        max_bytes: 64,
        ..HttpGetConfig::default()
    })
}

/// Serves `response` (a full HTTP response) to every connection; counts connections.
async fn serve(response: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, count)
}

fn http_response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn allowed_fetch_from_loopback_returns_html_as_text() {
    let html = "<html><head><title>T</title></head><body><h1>News</h1><p>Hello <b>world</b></p></body></html>";
    let (port, connections) = serve(http_response(
        "200 OK",
        "Content-Type: text/html; charset=utf-8\r\n",
        html,
    ))
    .await;
    let registry = registry(HttpGetConfig {
        addresses: AddressRules {
            allow_loopback: true,
            allow_private: false,
        },
        ..HttpGetConfig::default()
    });
    let result = get(&registry, &format!("http://127.0.0.1:{port}/page")).await;
    let output = result
        .outcome
        .as_ref()
        .map(|o| o.value.clone())
        .unwrap_or_default();
    assert_eq!(output["status"], 200, "{result:?}");
    let text = output["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("News") && text.contains("Hello") && text.contains("world"),
        "{text}"
    );
    assert!(!text.contains("<p>"), "{text}");
    assert_eq!(output["truncated"], false);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn body_is_cut_at_the_size_limit() {
    let body = "x".repeat(1000);
    let (port, _) = serve(http_response(
        "200 OK",
        "Content-Type: text/plain\r\n",
        &body,
    ))
    .await;
    let registry = registry_with_loopback(None);
    let result = get(&registry, &format!("http://127.0.0.1:{port}/")).await;
    let output = result
        .outcome
        .as_ref()
        .map(|o| o.value.clone())
        .unwrap_or_default();
    assert_eq!(output["truncated"], true, "{result:?}");
    assert_eq!(output["text"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn redirects_are_checked_again() {
    let (target_port, target_hits) =
        serve(http_response("200 OK", "", "should not be fetched")).await;
    let redirect = http_response(
        "302 Found",
        &format!("Location: http://localhost:{target_port}/\r\n"),
        "",
    );
    let (port, _) = serve(redirect).await;
    let registry = registry_with_loopback(Some(vec!["127.0.0.1".into()]));
    let result = get(&registry, &format!("http://127.0.0.1:{port}/")).await;
    let text = result.observation();
    assert!(
        text.contains("redirect refused")
            && text.contains("host `localhost` is not on the allow-list"),
        "{text}"
    );
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}
