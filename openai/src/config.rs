//! [`OpenAiConfig`]: which server, which model, which key, and how patiently to ask; and
//! the model spec `openai:URL#MODEL` that names one on the command line and in workflows.

use std::time::Duration;

use reqwest::Url;

/// The environment variable read for the API key when none is named.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The prefix of a remote model spec: `openai:http://host:8080/v1#model-name`.
pub const SPEC_PREFIX: &str = "openai:";

/// Which kind of OpenAI-compatible server is on the other end; decides how constraints
/// and sampling parameters beyond OpenAI's own are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFlavor {
    /// llama.cpp's `llama-server`: takes `json_schema` and `grammar` body fields (GBNF),
    /// `top_k`, `min_p`, `repeat_penalty`, and has `/tokenize` and `/props`.
    LlamaCpp,
    /// Any other server: OpenAI's own fields only (`response_format` `json_schema`);
    /// a grammar constraint is refused.
    Generic,
}

/// How to reach one model on an OpenAI-compatible server.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// The API base URL, up to and including the version, e.g. `http://127.0.0.1:8080/v1`
    /// (requests go to `{base_url}/chat/completions`).
    pub base_url: Url,
    /// The model name sent in every request (as the server's `/models` lists it).
    pub model: String,
    /// The environment variable holding the API key (sent as `Authorization: Bearer`).
    /// `None`: [`DEFAULT_API_KEY_ENV`] when it is set, else no key. A variable named here
    /// must be set.
    pub api_key_env: Option<String>,
    /// An API key given directly; it takes precedence over `api_key_env`.
    pub api_key: Option<ApiKey>,
    /// The server's kind; `None` detects it when connecting (`/models` says `llamacpp`).
    pub flavor: Option<ServerFlavor>,
    /// Longest wait for a whole non-streamed reply, and for the next bytes of a stream.
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Retries of a request answered with 429 or 5xx, or whose connection failed
    /// (backoff doubles from 250 ms, `Retry-After` honoured up to 30 s).
    pub max_retries: u32,
    /// The context size reported in [`ModelInfo`](agentry_model::ModelInfo); `None` asks
    /// llama.cpp's `/props`, else assumes 4096.
    pub n_ctx: Option<usize>,
    /// Whether agents are given tools as the server's `tools` (native tool calls);
    /// `false`: agents write agentry's own JSON steps, for servers without tool support.
    pub native_tools: bool,
}

impl OpenAiConfig {
    /// A config for `model` at `base_url` with the defaults: key from
    /// [`DEFAULT_API_KEY_ENV`] if set, flavor detected, 300 s timeout, 10 s to connect,
    /// 3 retries, native tools.
    ///
    /// # Errors
    /// A base URL that is not an absolute `http`/`https` URL, or a blank model name.
    pub fn new(base_url: &str, model: &str) -> Result<Self, SpecError> {
        let base_url = parse_base_url(base_url)?;
        if model.trim().is_empty() {
            return Err(SpecError::NoModel {
                spec: base_url.to_string(),
            });
        }
        Ok(Self {
            base_url,
            model: model.to_owned(),
            api_key_env: None,
            api_key: None,
            flavor: None,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            n_ctx: None,
            native_tools: true,
        })
    }

    /// Parses a spec `openai:URL#MODEL`, e.g. `openai:http://127.0.0.1:8080/v1#qwen` (the
    /// first `#` ends the URL; the model name may hold `/` and `#`).
    ///
    /// # Errors
    /// A spec without the prefix, without `#MODEL`, or with a bad URL; the message quotes
    /// the spec.
    pub fn from_spec(spec: &str) -> Result<Self, SpecError> {
        let Some(rest) = spec.strip_prefix(SPEC_PREFIX) else {
            return Err(SpecError::NotRemote {
                spec: spec.to_owned(),
            });
        };
        let Some((url, model)) = rest.split_once('#') else {
            return Err(SpecError::NoModel {
                spec: spec.to_owned(),
            });
        };
        if model.trim().is_empty() {
            return Err(SpecError::NoModel {
                spec: spec.to_owned(),
            });
        }
        Self::new(url, model).map_err(|error| match error {
            SpecError::BadUrl { detail, .. } => SpecError::BadUrl {
                spec: spec.to_owned(),
                detail,
            },
            other => other,
        })
    }

    /// Sets the environment variable of the API key.
    pub fn with_api_key_env(mut self, var: impl Into<String>) -> Self {
        self.api_key_env = Some(var.into());
        self
    }

    /// Sets the API key itself (for a key that is not in the environment).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey(key.into()));
        self
    }

    /// Sets the server's kind instead of detecting it.
    pub fn with_flavor(mut self, flavor: ServerFlavor) -> Self {
        self.flavor = Some(flavor);
        self
    }

    /// Sets the request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of retries.
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The API key: the named variable's value (an error when it is unset or blank),
    /// else [`DEFAULT_API_KEY_ENV`]'s when set.
    ///
    /// # Errors
    /// [`SpecError::MissingKey`] naming the variable.
    pub fn api_key(&self) -> Result<Option<String>, SpecError> {
        if let Some(ApiKey(key)) = &self.api_key {
            return Ok(Some(key.clone()));
        }
        match &self.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.trim().is_empty() => Ok(Some(key.trim().to_owned())),
                _ => Err(SpecError::MissingKey { var: var.clone() }),
            },
            None => Ok(std::env::var(DEFAULT_API_KEY_ENV)
                .ok()
                .map(|key| key.trim().to_owned())
                .filter(|key| !key.is_empty())),
        }
    }

    /// `{base_url}/{path}`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.as_str().trim_end_matches('/'))
    }

    /// The server's root (the base URL without a trailing `/v1`), where llama.cpp serves
    /// `/props` and `/tokenize`.
    pub(crate) fn root_endpoint(&self, path: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        let root = base.strip_suffix("/v1").unwrap_or(base);
        format!("{root}/{path}")
    }

    /// How the server is named in errors: `URL (model NAME)`.
    pub(crate) fn server_name(&self) -> String {
        format!(
            "{} (model {})",
            self.base_url.as_str().trim_end_matches('/'),
            self.model
        )
    }
}

/// An API key; its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(pub String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

fn parse_base_url(text: &str) -> Result<Url, SpecError> {
    let bad = |detail: String| SpecError::BadUrl {
        spec: text.to_owned(),
        detail,
    };
    let url = Url::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme is `{}`; expected http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment".into()));
    }
    Ok(url)
}

/// Why a remote model spec or config is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The spec does not start with `openai:`.
    #[error("`{spec}` is not a remote model spec: expected openai:URL#MODEL")]
    NotRemote {
        /// The spec.
        spec: String,
    },
    /// No model name after `#`.
    #[error(
        "`{spec}` names no model: expected openai:URL#MODEL, e.g. openai:http://127.0.0.1:8080/v1#qwen2.5-coder"
    )]
    NoModel {
        /// The spec.
        spec: String,
    },
    /// The URL does not parse or is not http(s).
    #[error("`{spec}`: bad server URL: {detail}")]
    BadUrl {
        /// The spec or URL.
        spec: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The API key's environment variable is named but not set.
    #[error("the API key variable {var} is not set (or is blank)")]
    MissingKey {
        /// The variable.
        var: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_what_is_wrong() {
        let config = OpenAiConfig::from_spec("openai:http://127.0.0.1:8080/v1#qwen").unwrap();
        assert_eq!(config.model, "qwen");
        assert_eq!(
            config.endpoint("chat/completions"),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(config.root_endpoint("props"), "http://127.0.0.1:8080/props");
        let config = OpenAiConfig::from_spec("openai:https://api.example.com/v1/#org/m#1").unwrap();
        assert_eq!(config.model, "org/m#1", "the first # separates the model");

        let cases = [
            ("smollm2-135m", "not a remote model spec"),
            ("openai:http://127.0.0.1:8080/v1", "names no model"),
            ("openai:http://127.0.0.1:8080/v1#  ", "names no model"),
            ("openai:ftp://host/v1#m", "scheme is `ftp`"),
            ("openai:not a url#m", "bad server URL"),
            ("openai:http://h/v1?x=1#m", "no query"),
        ];
        for (spec, says) in cases {
            let text = OpenAiConfig::from_spec(spec).unwrap_err().to_string();
            assert!(text.contains(says), "{spec}: {text}");
            assert!(text.contains(spec.trim_end()), "{spec}: {text}");
        }
    }

    #[test]
    fn a_key_given_directly_is_used_and_never_printed() {
        let config = OpenAiConfig::new("http://h/v1", "m")
            .unwrap()
            .with_api_key_env("AGENTRY_TEST_SURELY_UNSET_KEY_VAR")
            .with_api_key("sk-secret");
        assert_eq!(config.api_key().unwrap().as_deref(), Some("sk-secret"));
        assert!(!format!("{config:?}").contains("sk-secret"));
    }

    #[test]
    fn a_named_key_variable_must_be_set() {
        let config = OpenAiConfig::new("http://h/v1", "m")
            .unwrap()
            .with_api_key_env("AGENTRY_TEST_SURELY_UNSET_KEY_VAR");
        assert_eq!(
            config.api_key().unwrap_err(),
            SpecError::MissingKey {
                var: "AGENTRY_TEST_SURELY_UNSET_KEY_VAR".into()
            }
        );
    }
}
