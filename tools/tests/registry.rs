//! The registry: typed tools, validation, unknown tools, timeouts, panics, output
//! budget, parallel calls, exports and the step schema.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentry_tools::{
    FnTool, Policy, RegistryError, ToolCall, ToolContext, ToolError, ToolFailure, ToolRegistry,
    TypedTool,
};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Barrier, Mutex};

#[derive(Debug, Deserialize, JsonSchema)]
struct Point {
    /// Horizontal coordinate.
    x: f64,
    /// Vertical coordinate.
    y: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Unit {
    Metres,
    Feet,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct DistanceArgs {
    /// Start point.
    from: Point,
    /// End point.
    to: Point,
    /// Unit of the answer.
    unit: Unit,
}

#[derive(Debug, Serialize, PartialEq)]
struct DistanceOutput {
    distance: f64,
    unit: &'static str,
}

struct Distance;

#[async_trait]
impl TypedTool for Distance {
    const NAME: &'static str = "distance";
    type Args = DistanceArgs;
    type Output = DistanceOutput;

    fn description(&self) -> String {
        "Distance between two points.".into()
    }

    async fn run(
        &self,
        args: DistanceArgs,
        _ctx: &ToolContext,
    ) -> Result<DistanceOutput, ToolError> {
        let metres = ((args.to.x - args.from.x).powi(2) + (args.to.y - args.from.y).powi(2)).sqrt();
        Ok(match args.unit {
            Unit::Metres => DistanceOutput {
                distance: metres,
                unit: "m",
            },
            Unit::Feet => DistanceOutput {
                distance: metres / 0.3048,
                unit: "ft",
            },
        })
    }
}

struct Stuck;

#[async_trait]
impl TypedTool for Stuck {
    const NAME: &'static str = "stuck";
    type Args = Value;
    type Output = ();

    fn description(&self) -> String {
        "Never finishes.".into()
    }

    fn timeout(&self) -> Option<Duration> {
        Some(Duration::from_millis(50))
    }

    async fn run(&self, _args: Value, _ctx: &ToolContext) -> Result<(), ToolError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

struct Panicky;

#[async_trait]
impl TypedTool for Panicky {
    const NAME: &'static str = "panicky";
    type Args = Value;
    type Output = ();

    fn description(&self) -> String {
        "Panics.".into()
    }

    async fn run(&self, _args: Value, _ctx: &ToolContext) -> Result<(), ToolError> {
        panic!("the tool broke on purpose");
    }
}

fn registry() -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for result in [
        registry.register(Distance),
        registry.register(Stuck),
        registry.register(Panicky),
    ] {
        assert!(result.is_ok(), "{result:?}");
    }
    registry
}

fn call(name: &str, args: Value) -> ToolCall {
    ToolCall::new(format!("id-{name}"), name, args)
}

#[tokio::test]
async fn typed_tool_schema_is_generated_and_args_deserialised() {
    let registry = registry();
    let spec = registry.get("distance").map(|t| t.spec());
    let params = spec.map(|s| s.parameters).unwrap_or_default();
    assert_eq!(params["type"], "object");
    assert_eq!(
        params["properties"]["from"]["properties"]["x"]["type"],
        "number"
    );
    assert_eq!(
        params["properties"]["unit"]["enum"],
        json!(["metres", "feet"])
    );
    assert_eq!(params["properties"]["from"]["description"], "Start point.");
    let required: Vec<&str> = params["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(required, ["from", "to", "unit"]);
    assert!(
        !params.to_string().contains("$ref"),
        "subschemas inlined: {params}"
    );

    let result = registry
        .call(
            &call(
                "distance",
                json!({"from": {"x": 0, "y": 0}, "to": {"x": 3, "y": 4}, "unit": "metres"}),
            ),
            &Policy::default(),
        )
        .await;
    assert_eq!(result.call_id, "id-distance");
    let observed: serde_json::Value = serde_json::from_str(&result.observation()).unwrap();
    assert_eq!(observed, serde_json::json!({"distance": 5.0, "unit": "m"}));
}

#[tokio::test]
async fn invalid_arguments_come_back_with_validation_messages() {
    let result = registry()
        .call(
            &call(
                "distance",
                json!({"from": {"x": "zero", "y": 0}, "unit": "miles"}),
            ),
            &Policy::default(),
        )
        .await;
    let Err(ToolFailure::InvalidArguments { errors, .. }) = &result.outcome else {
        panic!("expected invalid arguments, got {result:?}");
    };
    let all = errors.join("\n");
    assert!(all.contains("\"to\" is a required property"), "{all}");
    assert!(all.contains("at `/from/x`"), "{all}");
    assert!(all.contains("at `/unit`"), "{all}");
    assert!(
        result
            .observation()
            .starts_with("error: invalid arguments for `distance`")
    );
}

#[tokio::test]
async fn unknown_tool_lists_the_available_tools() {
    let result = registry()
        .call(&call("teleport", json!({})), &Policy::default())
        .await;
    assert_eq!(
        result.observation(),
        "error: unknown tool `teleport`; available tools: distance, panicky, stuck"
    );
}

#[tokio::test]
async fn a_tool_past_its_timeout_is_stopped() {
    let result = registry()
        .call(&call("stuck", json!({})), &Policy::default())
        .await;
    assert!(
        matches!(result.outcome, Err(ToolFailure::TimedOut { after, .. }) if after == Duration::from_millis(50))
    );
    assert_eq!(
        result.observation(),
        "error: tool `stuck` timed out after 50 ms and was stopped"
    );
}

#[tokio::test]
async fn a_panicking_tool_is_caught() {
    let result = registry()
        .call(&call("panicky", json!({})), &Policy::default())
        .await;
    assert_eq!(
        result.observation(),
        "error: tool `panicky` crashed (panic: the tool broke on purpose)"
    );
}

#[tokio::test]
async fn a_tool_error_is_an_observation() {
    let mut registry = ToolRegistry::new();
    let failing = FnTool::new("fails", "Always fails.", |_: Value| async move {
        Err::<(), _>(ToolError::failed("the disk is on fire"))
    });
    assert!(registry.register(failing).is_ok());
    let result = registry
        .call(&call("fails", json!({})), &Policy::default())
        .await;
    assert_eq!(
        result.observation(),
        "error: tool `fails` failed: the disk is on fire"
    );
}

#[tokio::test]
async fn long_output_is_cut_to_the_budget_with_a_marker() {
    let mut registry = ToolRegistry::new().with_output_budget(100);
    let long = FnTool::new("long", "Long output.", |_: Value| async move {
        Ok::<_, ToolError>("é".repeat(300))
    });
    assert!(registry.register(long).is_ok());
    let text = registry
        .call(&call("long", json!({})), &Policy::default())
        .await
        .observation();
    assert_eq!(text, format!("{}…[truncated 500 bytes]", "é".repeat(50)));
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Label {
    label: String,
}

type Spans = Arc<Mutex<Vec<(String, Instant, Instant)>>>;

#[tokio::test]
async fn call_all_runs_tools_overlapping_in_time_and_keeps_order() {
    let spans: Spans = Arc::default();
    let barrier = Arc::new(Barrier::new(2));
    let mut registry = ToolRegistry::new();
    for name in ["first", "second"] {
        let spans = spans.clone();
        let barrier = barrier.clone();
        let tool = FnTool::new(name, "Records its span.", move |args: Label| {
            let spans = spans.clone();
            let barrier = barrier.clone();
            async move {
                let start = Instant::now();
                // Both calls must be running for either to pass the barrier.
                barrier.wait().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
                spans
                    .lock()
                    .await
                    .push((args.label.clone(), start, Instant::now()));
                Ok::<_, ToolError>(args.label)
            }
        });
        assert!(registry.register(tool).is_ok());
    }
    let calls = [
        call("first", json!({"label": "a"})),
        call("second", json!({"label": "b"})),
    ];
    let results = registry.call_all(&calls, &Policy::default(), 2).await;
    let observations: Vec<String> = results.iter().map(|r| r.observation()).collect();
    assert_eq!(observations, ["a", "b"]);
    let spans = spans.lock().await;
    assert_eq!(spans.len(), 2);
    let (a, b) = (&spans[0], &spans[1]);
    assert!(a.1 < b.2 && b.1 < a.2, "intervals overlap: {spans:?}");
}

#[tokio::test]
async fn call_all_respects_the_concurrency_bound() {
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut registry = ToolRegistry::new();
    let (a, p) = (active.clone(), peak.clone());
    let tool = FnTool::new("busy", "Counts concurrent calls.", move |_: Value| {
        let (active, peak) = (a.clone(), p.clone());
        async move {
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            active.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ToolError>(())
        }
    });
    assert!(registry.register(tool).is_ok());
    let calls: Vec<ToolCall> = (0..6)
        .map(|i| ToolCall::new(i.to_string(), "busy", json!({})))
        .collect();
    let results = registry.call_all(&calls, &Policy::default(), 2).await;
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|r| !r.is_error()));
    let ids: Vec<&str> = results.iter().map(|r| r.call_id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[test]
fn permitted_tools_are_the_allowed_ones_and_their_schemas_check_arguments() {
    let registry = registry();
    let policy = Policy::default().allow_tools(["distance", "stuck"]);
    let permitted = registry.permitted(&policy);
    let names: Vec<&str> = permitted.iter().map(|spec| spec.name.as_str()).collect();
    assert_eq!(names, ["distance", "stuck"]);

    let validator = jsonschema::validator_for(&permitted[0].parameters);
    assert!(validator.is_ok(), "{validator:?}");
    if let Ok(validator) = validator {
        let good = json!({"from": {"x": 0, "y": 0}, "to": {"x": 1, "y": 1}, "unit": "feet"});
        assert!(validator.is_valid(&good));
        let wrong_args = json!({"from": {"x": 0}});
        assert!(!validator.is_valid(&wrong_args));
    }
}

#[test]
fn exports_openai_and_mcp_forms() {
    let registry = registry();
    let policy = Policy::default().allow_tools(["distance"]);
    let openai = registry.openai_tools(&policy);
    assert_eq!(openai[0]["type"], "function");
    assert_eq!(openai[0]["function"]["name"], "distance");
    assert_eq!(
        openai[0]["function"]["description"],
        "Distance between two points."
    );
    assert_eq!(openai[0]["function"]["parameters"]["type"], "object");
    assert_eq!(openai.as_array().map(Vec::len), Some(1));
    let mcp = registry.mcp_tools(&policy);
    assert_eq!(mcp[0]["name"], "distance");
    assert_eq!(
        mcp[0]["inputSchema"]["properties"]["unit"]["enum"],
        json!(["metres", "feet"])
    );
}

#[test]
fn registration_refuses_duplicates_and_bad_names() {
    let mut registry = registry();
    assert!(
        matches!(registry.register(Distance), Err(RegistryError::Duplicate(n)) if n == "distance")
    );
    let bad = FnTool::new("bad name!", "x", |_: Value| async move {
        Ok::<_, ToolError>(())
    });
    let error = registry
        .register(bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("invalid tool name `bad name!`"), "{error}");
    assert_eq!(registry.list().len(), 3);
}
