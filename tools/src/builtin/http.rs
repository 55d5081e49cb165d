//! `http_get`: fetches a URL with reqwest, screened by a host allow-list and by the
//! resolved IP addresses, with size and time limits; HTML comes back as text.
//!
//! Screening happens before any connection: the tool resolves the host itself and
//! refuses if any address is forbidden; the client's DNS resolver applies the same
//! rules to every connection it makes (so a DNS answer that changes between the check
//! and the connection is screened too); redirects are re-checked against the allow-list
//! and IP literals. System proxies are ignored, so the address screened is the address
//! contacted.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::net::AddressRules;
use crate::error::ToolError;
use crate::spec::Capabilities;
use crate::tool::{ToolContext, TypedTool};

/// Limits and allowances of [`HttpGet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGetConfig {
    /// Hosts that may be fetched (`example.com`, or `*.example.com` for its subdomains);
    /// `None` allows any host whose addresses pass [`HttpGetConfig::addresses`].
    pub allowed_hosts: Option<Vec<String>>,
    /// Which non-public addresses are allowed (none by default).
    pub addresses: AddressRules,
    /// Most bytes of body read; the rest is dropped and `truncated` set.
    pub max_bytes: usize,
    /// Time limit of the whole request.
    pub timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for HttpGetConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: None,
            addresses: AddressRules::default(),
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(20),
            max_redirects: 5,
        }
    }
}

/// Arguments of [`HttpGet`].
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct HttpGetArgs {
    /// The `http` or `https` URL to fetch.
    pub url: String,
}

/// Output of [`HttpGet`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct HttpGetOutput {
    /// The final URL, after redirects.
    pub url: String,
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body as text (HTML converted to plain text).
    pub text: String,
    /// Whether the body was cut at the size limit.
    pub truncated: bool,
}

/// Fetches a web page or API response with GET.
#[derive(Debug, Clone)]
pub struct HttpGet {
    config: Arc<HttpGetConfig>,
    client: reqwest::Client,
}

impl HttpGet {
    /// An `http_get` tool with these limits.
    ///
    /// # Errors
    /// The HTTP client could not be built (e.g. no TLS backend).
    pub fn new(config: HttpGetConfig) -> Result<Self, ToolError> {
        let config = Arc::new(config);
        let redirect_config = config.clone();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(config.timeout)
            .dns_resolver(Arc::new(ScreeningResolver {
                rules: config.addresses,
            }))
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= redirect_config.max_redirects {
                    return attempt.error(format!(
                        "more than {} redirects",
                        redirect_config.max_redirects
                    ));
                }
                match check_url(&redirect_config, attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(message) => attempt.error(format!("redirect refused: {message}")),
                }
            }))
            .user_agent(concat!("agentry-tools/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ToolError::failed(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { config, client })
    }

    async fn fetch(&self, url: Url) -> Result<HttpGetOutput, ToolError> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| ToolError::failed(error_chain(&e)))?;
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ToolError::failed(error_chain(&e)))?
        {
            let room = self.config.max_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let is_html = content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
        let text = if is_html {
            html2text::from_read(body.as_slice(), 100)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned())
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        Ok(HttpGetOutput {
            url: final_url,
            status,
            content_type,
            text,
            truncated,
        })
    }
}

#[async_trait]
impl TypedTool for HttpGet {
    const NAME: &'static str = "http_get";
    type Args = HttpGetArgs;
    type Output = HttpGetOutput;

    fn description(&self) -> String {
        "Fetches a URL with HTTP GET and returns its status and body as text (HTML converted \
         to plain text). Only public hosts on the allow-list can be reached."
            .to_owned()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_network()
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.config.timeout + Duration::from_secs(1))
    }

    async fn run(&self, args: HttpGetArgs, _ctx: &ToolContext) -> Result<HttpGetOutput, ToolError> {
        let url = Url::parse(&args.url)
            .map_err(|e| ToolError::failed(format!("`{}` is not a valid URL: {e}", args.url)))?;
        check_url(&self.config, &url).map_err(ToolError::Refused)?;
        if let Some(host) = domain_of(&url) {
            screen_host(
                host,
                url.port_or_known_default().unwrap_or(80),
                self.config.addresses,
            )
            .await
            .map_err(ToolError::Refused)?;
        }
        self.fetch(url).await
    }
}

/// Checks scheme, host allow-list and IP-literal hosts of `url` (no DNS).
fn check_url(config: &HttpGetConfig, url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be fetched, not `{}`",
            url.scheme()
        ));
    }
    let host = match url.host() {
        Some(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(format!("`{url}` has no host")),
    };
    if let Some(allowed) = &config.allowed_hosts
        && !allowed.iter().any(|pattern| host_matches(pattern, &host))
    {
        return Err(format!(
            "host `{host}` is not on the allow-list ({})",
            allowed.join(", ")
        ));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal
        && let Some(why) = config.addresses.refusal(ip)
    {
        return Err(format!("`{ip}` is {why}; such addresses are not fetched"));
    }
    Ok(())
}

fn domain_of(url: &Url) -> Option<&str> {
    match url.host() {
        Some(url::Host::Domain(domain)) => Some(domain),
        _ => None,
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => host.len() > parent.len() + 1 && host.ends_with(&format!(".{parent}")),
        None => pattern == host,
    }
}

/// Resolves `host` and refuses if it has no address or any address is forbidden.
async fn screen_host(
    host: &str,
    port: u16,
    rules: AddressRules,
) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("`{host}` resolves to no address"));
    }
    for addr in &addrs {
        if let Some(why) = rules.refusal(addr.ip()) {
            return Err(format!(
                "`{host}` resolves to {}, {why}; such addresses are not fetched",
                addr.ip()
            ));
        }
    }
    Ok(addrs)
}

/// The client's resolver: every connection's addresses go through [`screen_host`].
struct ScreeningResolver {
    rules: AddressRules,
}

#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
struct Refused(String);

impl Resolve for ScreeningResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        Box::pin(async move {
            let addrs = screen_host(name.as_str(), 0, rules)
                .await
                .map_err(|message| {
                    Box::new(Refused(message)) as Box<dyn std::error::Error + Send + Sync>
                })?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// An error and its sources, joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        assert!(host_matches("example.com", "example.com"));
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "evilexample.com"));
        assert!(!host_matches("example.com", "example.com.evil.net"));
    }

    #[test]
    fn non_http_schemes_are_refused() {
        let config = HttpGetConfig::default();
        let url = Url::parse("file:///etc/passwd").ok();
        let result = url.map(|u| check_url(&config, &u));
        assert!(matches!(result, Some(Err(m)) if m.contains("only http and https")));
    }
}
