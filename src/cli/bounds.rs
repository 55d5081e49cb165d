//! Bounds on the command line's numbers: a count, context or size outside
//! them is refused by the parser with a clear error (exit status 2) instead
//! of overflowing somewhere later.

use clap::builder::{RangedI64ValueParser, RangedU64ValueParser};

/// Largest context size in tokens (`--ctx`): 4M tokens, above any model's.
pub const MAX_CTX: u64 = 1 << 22;
/// Largest number of hits asked for (`recall -k`).
pub const MAX_K: u64 = 1000;
/// Largest reply in tokens (`--max-tokens`, `/set max_tokens=N`).
pub const MAX_TOKENS: u64 = MAX_CTX;
/// What a `max_tokens` value must be, in words.
pub const MAX_TOKENS_EXPECTED: &str = "a whole number from 1 to 4194304";
/// Largest number of GPU layers (`--gpu-layers`); any model has far fewer.
pub const MAX_GPU_LAYERS: u64 = 10_000;
/// Largest number of CPU threads (`--threads`).
pub const MAX_THREADS: i64 = 4096;
/// Largest count of items or steps (`eval --limit`, `--max-steps`).
pub const MAX_COUNT: u64 = 1_000_000;
/// Largest collection size for `bench memory --sizes`.
pub const MAX_BENCH_SIZE: u64 = 10_000_000;

/// `--ctx`: 1 to [`MAX_CTX`].
pub fn ctx<T: TryFrom<u64> + Clone + Send + Sync + 'static>() -> RangedU64ValueParser<T> {
    RangedU64ValueParser::new().range(1..=MAX_CTX)
}

/// `-k`: 1 to [`MAX_K`].
pub fn k() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_K)
}

/// `--max-tokens`: 1 to [`MAX_TOKENS`].
pub fn max_tokens() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_TOKENS)
}

/// `--gpu-layers`: 0 to [`MAX_GPU_LAYERS`].
pub fn gpu_layers<T: TryFrom<u64> + Clone + Send + Sync + 'static>() -> RangedU64ValueParser<T> {
    RangedU64ValueParser::new().range(0..=MAX_GPU_LAYERS)
}

/// `--threads`: 1 to [`MAX_THREADS`].
pub fn threads() -> RangedI64ValueParser<i32> {
    RangedI64ValueParser::new().range(1..=MAX_THREADS)
}

/// `--limit`, `--max-steps`: 1 to [`MAX_COUNT`].
pub fn count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_COUNT)
}

/// `bench memory --sizes`: 1 to [`MAX_BENCH_SIZE`] each.
pub fn bench_size() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_BENCH_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_match_the_bound() {
        assert!(MAX_TOKENS_EXPECTED.ends_with(&format!(" {MAX_TOKENS}")));
    }
}
