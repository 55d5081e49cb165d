//! Smoke test on the real SmolLM2-135M: 3 items of each suite under two configurations
//! (48 tokens a reply, one step a task, to stay within a few minutes on 2 cores), and the
//! report's figures recomputed equal from its own trace file. Skips (with a
//! printed reason) only when the shared data folder is absent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentry_core::model::LanguageModel;
use agentry_eval::{EvalOptions, Evaluation, Report, Suite, TraceFile, read_records};
use agentry_llama::{LlamaConfig, LlamaModel};
use agentry_model_store::ModelStore;

/// The shared data folder: `shared/data` beside the repository.
fn data_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).to_path_buf()
}

fn gpu_layers() -> u32 {
    std::env::var("AGENTRY_TEST_GPU_LAYERS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn smollm2() -> Arc<dyn LanguageModel> {
    let path = ModelStore::from_env()
        .unwrap_or_else(|e| panic!("open the model store: {e}"))
        .pull("smollm2-135m")
        .await
        .unwrap_or_else(|e| panic!("pull smollm2-135m: {e}"));
    let config = LlamaConfig {
        n_ctx: 4096,
        gpu_layers: gpu_layers(),
        ..LlamaConfig::default()
    };
    Arc::new(
        LlamaModel::open(path, config)
            .await
            .unwrap_or_else(|e| panic!("open smollm2-135m: {e}")),
    )
}

fn options(suite: Suite, configs: &[&str], category: &str, data: &Path) -> EvalOptions {
    let mut options = EvalOptions::new(suite);
    options.configs = configs
        .iter()
        .map(|c| {
            c.parse::<agentry_eval::Config>()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    options.categories = vec![category.to_owned()];
    options.limit = Some(3);
    options.data_dir = Some(data.to_path_buf());
    options.max_tokens = 48;
    options.max_steps = Some(1);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_items_of_each_suite_and_the_report_recomputed_from_the_trace() {
    let data = data_dir();
    if !data.join("bfcl").is_dir() {
        println!(
            "skipped: the shared data folder {} is absent (it holds bfcl/, gsm8k/, game24/)",
            data.display()
        );
        return;
    }
    let model = smollm2().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let runs = [
        options(Suite::Bfcl, &["planner", "plain"], "simple_python", &data),
        options(Suite::Gsm8k, &["direct", "plain"], "test", &data),
        options(Suite::Game24, &["direct", "plain"], "tot", &data),
        options(Suite::Tasks, &["planner", "plain"], "tools", &data),
    ];
    let models = vec!["smollm2-135m".to_owned()];
    for opts in runs {
        let suite = opts.suite;
        let evaluation = Evaluation::load(opts).unwrap_or_else(|e| panic!("{suite}: {e}"));
        assert_eq!(evaluation.items().len(), 3, "{suite}");
        let path = dir.path().join(format!("{suite}.jsonl"));
        let mut trace = TraceFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let scored = evaluation
            .run_model("smollm2-135m", model.clone(), &mut trace)
            .await
            .unwrap_or_else(|e| panic!("{suite}: {e}"));
        assert_eq!(scored, 6, "{suite}: 3 items x 2 configurations");
        let report = evaluation.report(&trace, &models);
        println!("{}", report.to_markdown());

        // The figures, recomputed from the trace file alone.
        let records = read_records(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records.len(), 6, "{suite}");
        assert_eq!(Report::from_records(&records), report, "{suite}");
        for row in &report.rows {
            let rows: Vec<_> = records
                .iter()
                .filter(|r| r.config == row.config && r.category == row.category)
                .collect();
            assert_eq!(row.items, 3);
            assert_eq!(
                row.correct,
                rows.iter().filter(|r| r.verdict.correct).count()
            );
            assert!(row.ci_low <= row.accuracy && row.accuracy <= row.ci_high);
            assert!(
                row.mean_steps >= 1.0,
                "{suite} {}: every item asked the model",
                row.config
            );
        }
        for record in &records {
            assert!(
                !record.raw_output.is_empty(),
                "{}: no model output kept",
                record.item
            );
            assert!(!record.prompt.is_null(), "{}: no prompt kept", record.item);
            assert!(!record.verdict.why.is_empty());
        }
        // The JSON report reads back equal.
        let json = serde_json::to_string(&report).unwrap_or_default();
        let back: Report = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report);

        // A re-run with the same trace skips every scored item.
        let mut trace = TraceFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let again = evaluation
            .run_model("smollm2-135m", model.clone(), &mut trace)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, 0, "{suite}: the re-run scored items again");
        assert_eq!(evaluation.report(&trace, &models), report);
    }
}
