//! [`CpuThreadPool`]: one set of ggml CPU threads kept for a context's whole life.
//!
//! Without one, llama.cpp makes a throwaway pool for every `llama_decode`: the helper
//! threads are created, run one graph and are joined again, once per token. On an idle
//! machine that costs little; on a busy one the scheduler starts each new thread behind
//! every runnable process while the decoding thread spins at the graph's first barrier
//! waiting for it, and a token can take seconds (`agentry serve --threads 2` decoded
//! about 2 tokens/s with pauses of 4–6 s, where `llama-server`, which keeps its pool,
//! decoded 6–11). llama.cpp's own tools attach a pool made once
//! (`llama_attach_threadpool`); this does the same.
//!
//! llama-cpp-2 0.1.160 keeps the context's raw pointer private, so it is read from the
//! context's `Debug` form (`LlamaContext { context: 0x… }`) and checked against the
//! context's own size before use; when it cannot be found, the context keeps llama.cpp's
//! per-call threads and a warning says so.

use std::ptr::NonNull;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_sys_2::{ggml_threadpool, llama_context};

/// A ggml CPU thread pool attached to one context. Drop it only after that context:
/// the context uses its threads until it is freed.
#[derive(Debug)]
pub struct CpuThreadPool {
    pool: NonNull<ggml_threadpool>,
    threads: i32,
}

// SAFETY: the pool is only a handle to threads that ggml owns; it is created, used (through
// the context) and freed on the worker thread, and ggml's pool functions may be called
// from any thread.
unsafe impl Send for CpuThreadPool {}

impl CpuThreadPool {
    /// Makes a pool of `threads` threads and attaches it to `ctx` for both decoding and
    /// prompt evaluation. `None` (and `ctx` unchanged) when `threads` is below 2 (one
    /// thread needs no pool), when ggml cannot make the pool, or when the context's
    /// pointer cannot be found.
    pub fn attach(ctx: &mut LlamaContext<'_>, threads: i32) -> Option<Self> {
        if threads < 2 {
            return None;
        }
        let Some(raw) = raw_context(ctx) else {
            tracing::warn!(
                "cannot reach the llama.cpp context to give it a thread pool; \
                 decoding makes its threads per call (slow on a busy machine)"
            );
            return None;
        };
        // SAFETY: plain value constructor of ggml.
        let mut params = unsafe { llama_cpp_sys_2::ggml_threadpool_params_default(threads) };
        // SAFETY: `params` is a valid, initialised parameter block.
        let pool = NonNull::new(unsafe { llama_cpp_sys_2::ggml_threadpool_new(&mut params) })?;
        // SAFETY: `raw` is `ctx`'s live context (checked in `raw_context`) and `pool` a live
        // pool; a null batch pool makes llama.cpp use `pool` for prompts too. The caller
        // keeps the pool alive as long as the context (see the type's documentation).
        unsafe {
            llama_cpp_sys_2::llama_attach_threadpool(raw, pool.as_ptr(), std::ptr::null_mut())
        };
        Some(Self { pool, threads })
    }

    /// The pool's threads (the calling thread included).
    pub fn threads(&self) -> i32 {
        self.threads
    }
}

impl Drop for CpuThreadPool {
    fn drop(&mut self) {
        // SAFETY: the pool was made by `ggml_threadpool_new` and is freed once; its
        // context is gone (the type's contract).
        unsafe { llama_cpp_sys_2::ggml_threadpool_free(self.pool.as_ptr()) };
    }
}

/// `ctx`'s `llama_context` pointer, read from its `Debug` form and accepted only when
/// the context it points to reports `ctx`'s size and batch.
fn raw_context(ctx: &LlamaContext<'_>) -> Option<*mut llama_context> {
    let address = pointer_in_debug(&format!("{ctx:?}"))?;
    let raw = address as *mut llama_context;
    // SAFETY: the address is the context pointer llama-cpp-2 itself prints (its only
    // pointer field); reading two counters through it does not change the context.
    let (n_ctx, n_batch) = unsafe {
        (
            llama_cpp_sys_2::llama_n_ctx(raw),
            llama_cpp_sys_2::llama_n_batch(raw),
        )
    };
    (n_ctx == ctx.n_ctx() && n_batch == ctx.n_batch()).then_some(raw)
}

/// The one `0x…` address in a `Debug` string, if there is exactly one.
fn pointer_in_debug(text: &str) -> Option<usize> {
    let mut found = text.match_indices("0x").map(|(at, _)| {
        let digits: String = text[at + 2..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        usize::from_str_radix(&digits, 16).ok()
    });
    let first = found.next()??;
    match found.next() {
        None if first != 0 => Some(first),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::pointer_in_debug;

    #[test]
    fn reads_the_only_address() {
        assert_eq!(
            pointer_in_debug("LlamaContext { context: 0x5581c0ffee10 }"),
            Some(0x5581_c0ff_ee10)
        );
    }

    #[test]
    fn refuses_none_several_or_null() {
        assert_eq!(pointer_in_debug("LlamaContext { context: .. }"), None);
        assert_eq!(pointer_in_debug("A { a: 0x10, b: 0x20 }"), None);
        assert_eq!(pointer_in_debug("A { a: 0x0 }"), None);
        assert_eq!(pointer_in_debug("A { a: 0x }"), None);
    }
}
