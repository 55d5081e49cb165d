//! `clock`: the current date and time in a time zone (chrono + chrono-tz).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ToolError;
use crate::tool::{ToolContext, TypedTool};

/// Arguments of [`Clock`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
pub struct ClockArgs {
    /// An IANA time zone name such as `Europe/Paris` or `America/New_York`; default `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Output of [`Clock`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ClockOutput {
    /// The time zone used.
    pub timezone: String,
    /// The local date and time, RFC 3339 (with the UTC offset).
    pub datetime: String,
    /// The day of the week in English.
    pub weekday: String,
    /// Seconds since the Unix epoch.
    pub unix: i64,
}

/// Tells the current date and time in a time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

#[async_trait]
impl TypedTool for Clock {
    const NAME: &'static str = "clock";
    type Args = ClockArgs;
    type Output = ClockOutput;

    /// The time moves on: asking twice is asking two questions.
    fn idempotent(&self) -> bool {
        false
    }

    fn description(&self) -> String {
        "Tells the current date, time and weekday in a time zone (IANA name, default UTC)."
            .to_owned()
    }

    async fn run(&self, args: ClockArgs, _ctx: &ToolContext) -> Result<ClockOutput, ToolError> {
        now_in(args.timezone.as_deref().unwrap_or("UTC"), Utc::now())
    }
}

/// `now` seen in the time zone named `timezone`.
///
/// # Errors
/// An unknown time zone name.
pub fn now_in(timezone: &str, now: DateTime<Utc>) -> Result<ClockOutput, ToolError> {
    let tz: Tz = timezone.parse().map_err(|_| {
        ToolError::failed(format!(
            "unknown time zone `{timezone}`; use an IANA name such as `UTC`, `Europe/Paris` or `Asia/Tokyo`"
        ))
    })?;
    let local = now.with_timezone(&tz);
    Ok(ClockOutput {
        timezone: tz.name().to_owned(),
        datetime: local.to_rfc3339(),
        weekday: local.format("%A").to_string(),
        unix: now.timestamp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_the_named_zone() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let out = now_in("Asia/Tokyo", now).ok();
        let out = out.as_ref();
        assert_eq!(
            out.map(|o| o.datetime.as_str()),
            Some("2023-11-15T07:13:20+09:00")
        );
        assert_eq!(out.map(|o| o.weekday.as_str()), Some("Wednesday"));
        assert_eq!(out.map(|o| o.unix), Some(1_700_000_000));
    }

    #[test]
    fn unknown_zone_is_an_error() {
        let message = now_in("Mars/Olympus", Utc::now())
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| m.contains("unknown time zone `Mars/Olympus`")));
    }
}
