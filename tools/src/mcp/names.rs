//! Local names of a server's tools: `<server>__<tool>` with the tool's name sanitised,
//! and no two tools of one server under one name.

use std::collections::HashMap;

use super::{McpError, SEPARATOR};

/// The local name of each of `remote`, in order.
///
/// # Errors
/// [`McpError::NameCollision`] when two tools become the same name.
pub(super) fn local_names(
    server: &str,
    remote: &[rmcp::model::Tool],
) -> Result<Vec<String>, McpError> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut names = Vec::with_capacity(remote.len());
    for tool in remote {
        let name = format!("{server}{SEPARATOR}{}", sanitize(&tool.name));
        if let Some(first) = seen.insert(name.clone(), &tool.name) {
            return Err(McpError::NameCollision {
                server: server.to_owned(),
                first: first.to_owned(),
                second: tool.name.to_string(),
                name,
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// `name` with each character outside `[a-zA-Z0-9_-]` replaced by `_`.
pub(super) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("get.weather/now"), "get_weather_now");
        assert_eq!(sanitize("ok-name_1"), "ok-name_1");
    }
}
