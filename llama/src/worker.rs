//! The worker thread: it owns the llama.cpp model and context and serves jobs one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel as RawModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{mpsc, oneshot};

use super::grammar::{to_grammar, tool_calls_grammar};
#[cfg(feature = "llguidance")]
use super::guidance::Guidance;
use super::sampler::{
    GrammarMode, SchemaEngine, SequenceSampler, TokenConstraint, gbnf_sampler, lazy_gbnf_sampler,
    validate,
};
use super::slots::{Owner, Slots, common_prefix};
use super::template::{ChatTemplate, PromptPiece};
use super::text::{Utf8Decoder, find_stop, releasable};
use agentry_model::{
    CandidateScore, Completion, Constraint, FinishReason, GenerateRequest, ModelError, ModelInput,
    ScoreRequest, StreamEvent, Timings, Usage,
};

/// A unit of work for the worker.
pub enum Job {
    /// Generate; events (tokens when `want_tokens`, then `Done`) go to `events`.
    Generate {
        /// The request.
        req: Box<GenerateRequest>,
        /// Where events go; a closed channel cancels.
        events: mpsc::UnboundedSender<Result<StreamEvent, ModelError>>,
        /// Whether token events are wanted.
        want_tokens: bool,
    },
    /// Generate several requests decoded together.
    GenerateBatch {
        /// The requests.
        reqs: Vec<GenerateRequest>,
        /// The completions of each request, in order.
        reply: oneshot::Sender<Result<Vec<Vec<Completion>>, ModelError>>,
    },
    /// Score candidates.
    Score {
        /// The request.
        req: ScoreRequest,
        /// The reply.
        reply: oneshot::Sender<Result<Vec<CandidateScore>, ModelError>>,
    },
    /// Count the tokens of a text.
    CountTokens {
        /// The text.
        text: String,
        /// The reply.
        reply: oneshot::Sender<Result<usize, ModelError>>,
    },
    /// The prompt's tokens (template applied).
    Tokenize {
        /// The prompt.
        prompt: ModelInput,
        /// The reply.
        reply: oneshot::Sender<Result<Vec<i32>, ModelError>>,
    },
    /// Render messages with the chat template.
    Render {
        /// The prompt.
        prompt: ModelInput,
        /// The reply.
        reply: oneshot::Sender<Result<String, ModelError>>,
    },
}

/// State of one sample being decoded.
struct Stream {
    seq: i32,
    sampler: SequenceSampler,
    decoder: Utf8Decoder,
    text: String,
    released: usize,
    pos: i32,
    idx: i32,
    generated: usize,
    pending: Option<LlamaToken>,
    evaluated: Vec<LlamaToken>,
    finish: Option<FinishReason>,
    max_tokens: usize,
    stops: Vec<String>,
}

/// The worker's state. Lives on the worker thread only.
pub struct Worker<'m> {
    /// The model.
    pub model: &'m RawModel,
    /// The context (all sequences).
    pub ctx: LlamaContext<'m>,
    /// The chat template, if any.
    pub template: Option<ChatTemplate>,
    /// The model as errors name it: its display name and file.
    pub name: String,
    /// Context size.
    pub n_ctx: usize,
    /// Batch size.
    pub n_batch: usize,
    /// How grammars are applied.
    pub grammar_mode: GrammarMode,
    /// What enforces JSON Schema constraints (without the `llguidance` feature only
    /// llama.cpp's grammar can be configured, so there is nothing to keep).
    #[cfg(feature = "llguidance")]
    schema_engine: SchemaEngine,
    /// llguidance's parser factory, built on the first request that needs it.
    #[cfg(feature = "llguidance")]
    guidance: std::cell::OnceCell<Guidance>,
    batch: LlamaBatch<'static>,
    slots: Slots,
    stats: Arc<Counters>,
}

/// Running totals of the work a model has done.
#[derive(Debug, Default)]
pub struct Counters {
    /// Prompt tokens evaluated (cached prefixes and scoring candidates excluded).
    pub prompt_evaluated: AtomicU64,
    /// Tokens sampled, over all samples.
    pub generated: AtomicU64,
}

fn decode_err(e: DecodeError) -> ModelError {
    ModelError::Decode(e.to_string())
}

impl<'m> Worker<'m> {
    /// A worker over a model and a context with `n_seq` sequences.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &'m RawModel,
        ctx: LlamaContext<'m>,
        template: Option<ChatTemplate>,
        name: String,
        n_seq: usize,
        grammar_mode: GrammarMode,
        schema_engine: SchemaEngine,
        stats: Arc<Counters>,
    ) -> Self {
        let n_ctx = ctx.n_ctx() as usize;
        let n_batch = ctx.n_batch() as usize;
        #[cfg(not(feature = "llguidance"))]
        debug_assert_eq!(schema_engine, SchemaEngine::LlamaGrammar);
        Self {
            model,
            ctx,
            template,
            name,
            n_ctx,
            n_batch,
            grammar_mode,
            #[cfg(feature = "llguidance")]
            schema_engine,
            #[cfg(feature = "llguidance")]
            guidance: std::cell::OnceCell::new(),
            batch: LlamaBatch::new(n_batch.max(1), n_seq.max(1) as i32),
            slots: Slots::new(n_seq),
            stats,
        }
    }

    /// Serves one job.
    pub fn serve(&mut self, job: Job) {
        match job {
            Job::Generate {
                req,
                events,
                want_tokens,
            } => {
                let result = self.generate(&req, &events, want_tokens);
                let _ = events.send(result.map(StreamEvent::Done));
            }
            Job::GenerateBatch { reqs, reply } => {
                let _ = reply.send(self.generate_batch(&reqs));
            }
            Job::Score { req, reply } => {
                let _ = reply.send(self.score(&req));
            }
            Job::CountTokens { text, reply } => {
                let n = self
                    .model
                    .vocab()
                    .tokenize(text.as_bytes(), false, false)
                    .len();
                let _ = reply.send(Ok(n));
            }
            Job::Tokenize { prompt, reply } => {
                let tokens = self
                    .tokenize_prompt(&prompt)
                    .map(|t| t.into_iter().map(|t| t.0).collect());
                let _ = reply.send(tokens);
            }
            Job::Render { prompt, reply } => {
                let _ = reply.send(self.render(&prompt));
            }
        }
    }

    fn render(&self, prompt: &ModelInput) -> Result<String, ModelError> {
        match prompt {
            ModelInput::Raw(text) => Ok(text.clone()),
            ModelInput::Messages(messages) => self.template()?.render(messages),
            ModelInput::WithTools { messages, tools } => {
                self.template()?.render_with_tools(messages, tools)
            }
        }
    }

    /// The chat template, or the error for a model without one.
    fn template(&self) -> Result<&ChatTemplate, ModelError> {
        self.template
            .as_ref()
            .ok_or_else(|| ModelError::NoChatTemplate {
                model: self.name.clone(),
            })
    }

    /// Tokens of a prompt. Chat messages: the template's own text with its control
    /// tokens parsed, each message's text as plain text (see [`PromptPiece`]), so text a
    /// message carries never becomes a control token. Raw text is the caller's own
    /// template text: its control tokens are parsed.
    pub fn tokenize_prompt(&self, prompt: &ModelInput) -> Result<Vec<LlamaToken>, ModelError> {
        let pieces = match prompt {
            ModelInput::Raw(text) => vec![PromptPiece::Template(text.clone())],
            ModelInput::Messages(messages) => self.template()?.render_pieces(messages)?,
            ModelInput::WithTools { messages, tools } => {
                self.template()?.render_pieces_with_tools(messages, tools)?
            }
        };
        let vocab = self.model.vocab();
        let bos = vocab.bos();
        let bos_text = if bos.0 >= 0 {
            String::from_utf8_lossy(&vocab.token_to_piece(bos, true, None)).into_owned()
        } else {
            String::new()
        };
        let starts_with_bos = match pieces.first() {
            Some(PromptPiece::Template(text)) => {
                !bos_text.is_empty() && text.starts_with(&bos_text)
            }
            _ => false,
        };
        let mut add_bos = vocab.should_add_bos() && !starts_with_bos;
        let mut tokens = Vec::new();
        for piece in &pieces {
            let (text, special) = match piece {
                PromptPiece::Template(text) => (text, true),
                PromptPiece::Content(text) => (text, false),
            };
            tokens.extend(vocab.tokenize(text.as_bytes(), add_bos, special));
            add_bos = false;
        }
        if tokens.is_empty() {
            return Err(ModelError::InvalidRequest("the prompt is empty".into()));
        }
        Ok(tokens)
    }

    fn clear_seq(&mut self, seq: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        self.slots.release(seq);
    }

    /// A sequence for this request's temporary use, evicting the LRU session if needed.
    fn acquire_busy(&mut self, keep: Option<usize>) -> Result<usize, ModelError> {
        let seq = match self.slots.find_free() {
            Some(s) => s,
            None => {
                let s = self.slots.lru_session(keep).ok_or_else(|| {
                    ModelError::InvalidRequest(
                        "more sequences needed than the context has (raise n_seq_max)".into(),
                    )
                })?;
                self.clear_seq(s);
                s
            }
        };
        if let Some(slot) = self.slots.get_mut(seq) {
            slot.owner = Owner::Busy;
            slot.tokens.clear();
        }
        Ok(seq)
    }

    /// The base sequence of a request and how many prompt tokens it already holds.
    fn acquire_base(
        &mut self,
        session: Option<&agentry_model::SessionId>,
        prompt: &[LlamaToken],
    ) -> Result<(usize, usize), ModelError> {
        if let Some(id) = session {
            let seq = match self.slots.find_session(id) {
                Some(seq) => seq,
                None => {
                    let seq = self.acquire_busy(None)?;
                    if let Some(slot) = self.slots.get_mut(seq) {
                        slot.owner = Owner::Session(id.clone());
                    }
                    seq
                }
            };
            self.slots.touch(seq);
            let slot = self
                .slots
                .get_mut(seq)
                .ok_or_else(|| ModelError::Decode("lost a sequence".into()))?;
            // At least the last prompt token is evaluated again: its logits start decoding.
            let prefix = common_prefix(&slot.tokens, prompt).min(prompt.len().saturating_sub(1));
            slot.tokens.truncate(prefix);
            let _ = self
                .ctx
                .clear_kv_cache_seq(Some(seq as u32), Some(prefix as u32), None);
            Ok((seq, prefix))
        } else {
            Ok((self.acquire_busy(None)?, 0))
        }
    }

    /// Evicts LRU sessions until `needed` more cells fit next to what `keep` already holds.
    fn make_room(&mut self, keep: usize, held: usize, needed: usize) {
        while self.slots.session_tokens(Some(keep)) + held + needed > self.n_ctx {
            match self.slots.lru_session(Some(keep)) {
                Some(s) => self.clear_seq(s),
                None => break,
            }
        }
    }

    /// Evaluates `tokens` at positions `start..` of `seq`; returns the batch index of the last
    /// token's logits.
    fn eval(&mut self, seq: usize, start: usize, tokens: &[LlamaToken]) -> Result<i32, ModelError> {
        self.stats
            .prompt_evaluated
            .fetch_add(tokens.len() as u64, Ordering::Relaxed);
        let mut last = 0;
        let n_chunks = tokens.len().div_ceil(self.n_batch);
        for (c, chunk) in tokens.chunks(self.n_batch).enumerate() {
            self.batch.clear();
            for (i, &t) in chunk.iter().enumerate() {
                let pos = start + c * self.n_batch + i;
                let logits = c + 1 == n_chunks && i + 1 == chunk.len();
                self.batch
                    .add(t, pos as i32, &[seq as i32], logits)
                    .map_err(|e| ModelError::Decode(e.to_string()))?;
            }
            self.ctx.decode(&mut self.batch).map_err(decode_err)?;
            last = chunk.len() as i32 - 1;
        }
        Ok(last)
    }

    fn check_fits(&self, prompt_tokens: usize) -> Result<(), ModelError> {
        if prompt_tokens + 1 > self.n_ctx {
            return Err(ModelError::ContextOverflow {
                prompt_tokens: prompt_tokens + 1,
                n_ctx: self.n_ctx,
            });
        }
        Ok(())
    }

    fn generate(
        &mut self,
        req: &GenerateRequest,
        events: &mpsc::UnboundedSender<Result<StreamEvent, ModelError>>,
        want_tokens: bool,
    ) -> Result<Vec<Completion>, ModelError> {
        // Build every sampler first: a bad grammar fails before any work is done.
        let samplers = self.samplers(req)?;
        let prompt = self.tokenize_prompt(&req.prompt)?;
        self.check_fits(prompt.len())?;

        let start = Instant::now();
        let (base, prefix) = self.acquire_base(req.session.as_ref(), &prompt)?;
        let max_gen = req.sampling.max_tokens.min(self.n_ctx - prompt.len());
        self.make_room(base, prefix, prompt.len() - prefix + req.n * max_gen);
        let result = self.generate_on(
            req,
            base,
            prefix,
            &prompt,
            samplers,
            events,
            want_tokens,
            start,
        );
        let keep = result.is_ok() && req.session.is_some();
        if !keep {
            self.clear_seq(base);
        }
        result
    }

    /// One sampler per sample of `req` (seed + i), after checking its sampling, `n` and
    /// constraint.
    fn samplers(&self, req: &GenerateRequest) -> Result<Vec<SequenceSampler>, ModelError> {
        validate(&req.sampling)?;
        if req.n == 0 {
            return Err(ModelError::InvalidRequest("n is 0".into()));
        }
        let mut grammars = self.grammar_samplers(&req.constraint, req.n)?.into_iter();
        Ok((0..req.n)
            .map(|i| {
                SequenceSampler::new(
                    self.model,
                    &req.sampling,
                    req.sampling.seed.wrapping_add(i as u32),
                    grammars.next(),
                    self.grammar_mode,
                )
            })
            .collect())
    }

    /// `n` token constraints for `constraint` (none for free text).
    fn grammar_samplers(
        &self,
        constraint: &Constraint,
        n: usize,
    ) -> Result<Vec<TokenConstraint>, ModelError> {
        if let Constraint::ToolCalls {
            syntax,
            call_schema,
            max_calls,
            bare_calls,
        } = constraint
        {
            let lazy = tool_calls_grammar(*syntax, call_schema, *max_calls, *bare_calls)?;
            return (0..n)
                .map(|_| lazy_gbnf_sampler(self.model, &lazy).map(TokenConstraint::Grammar))
                .collect();
        }
        #[cfg(feature = "llguidance")]
        if let (SchemaEngine::Llguidance, Constraint::JsonSchema(schema)) =
            (self.schema_engine, constraint)
        {
            let guidance = match self.guidance.get() {
                Some(g) => g,
                None => {
                    let built = Guidance::new(self.model)?;
                    self.guidance.get_or_init(|| built)
                }
            };
            return Ok(guidance
                .matchers(schema, n)?
                .into_iter()
                .map(|m| TokenConstraint::Guidance(Box::new(m)))
                .collect());
        }
        match to_grammar(constraint)? {
            None => Ok(Vec::new()),
            Some(grammar) => (0..n)
                .map(|_| gbnf_sampler(self.model, &grammar).map(TokenConstraint::Grammar))
                .collect(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_on(
        &mut self,
        req: &GenerateRequest,
        base: usize,
        prefix: usize,
        prompt: &[LlamaToken],
        samplers: Vec<SequenceSampler>,
        events: &mpsc::UnboundedSender<Result<StreamEvent, ModelError>>,
        want_tokens: bool,
        start: Instant,
    ) -> Result<Vec<Completion>, ModelError> {
        let last = self.eval(base, prefix, &prompt[prefix..])?;
        if let Some(slot) = self.slots.get_mut(base) {
            slot.tokens = prompt.to_vec();
        }
        let prompt_time = start.elapsed();
        let decode_start = Instant::now();

        let mut streams = Vec::with_capacity(samplers.len());
        let mut extra = Vec::new();
        for (i, sampler) in samplers.into_iter().enumerate() {
            let seq = if i == 0 {
                base
            } else {
                let s = match self.acquire_busy(Some(base)) {
                    Ok(s) => s,
                    Err(e) => {
                        for s in extra {
                            self.clear_seq(s);
                        }
                        return Err(e);
                    }
                };
                extra.push(s);
                let _ = self
                    .ctx
                    .copy_kv_cache_seq(base as i32, s as i32, None, None);
                s
            };
            streams.push(Stream {
                seq: seq as i32,
                sampler,
                decoder: Utf8Decoder::default(),
                text: String::new(),
                released: 0,
                pos: prompt.len() as i32,
                idx: last,
                generated: 0,
                pending: None,
                evaluated: Vec::new(),
                finish: None,
                max_tokens: req.sampling.max_tokens,
                stops: req.sampling.stop.clone(),
            });
        }
        let result = self.decode_loop(&mut streams, events, want_tokens);
        for s in extra {
            self.clear_seq(s);
        }
        result?;
        if let (Some(slot), Some(first)) = (self.slots.get_mut(base), streams.first()) {
            slot.tokens.extend_from_slice(&first.evaluated);
        }
        let timings = Timings {
            prompt: prompt_time,
            decode: decode_start.elapsed(),
        };
        Ok(streams
            .into_iter()
            .map(|s| Completion {
                text: s.text,
                finish_reason: s.finish.unwrap_or(FinishReason::Cancelled),
                usage: Usage {
                    prompt_tokens: prompt.len(),
                    cached_tokens: prefix,
                    evaluated_tokens: prompt.len() - prefix,
                    completion_tokens: s.generated,
                },
                timings,
            })
            .collect())
    }

    fn decode_loop(
        &mut self,
        streams: &mut [Stream],
        events: &mpsc::UnboundedSender<Result<StreamEvent, ModelError>>,
        want_tokens: bool,
    ) -> Result<(), ModelError> {
        loop {
            for (index, s) in streams.iter_mut().enumerate() {
                if s.finish.is_some() {
                    continue;
                }
                let token = s.sampler.sample(&self.ctx, s.idx)?;
                s.generated += 1;
                self.stats.generated.fetch_add(1, Ordering::Relaxed);
                if self.model.vocab().is_eog(token) {
                    s.finish = Some(FinishReason::Stop);
                } else {
                    let bytes = self.model.vocab().token_to_piece(token, false, None);
                    let piece = s.decoder.push(&bytes);
                    s.text.push_str(&piece);
                    if let Some(at) = find_stop(&s.text, &s.stops) {
                        s.text.truncate(at);
                        s.finish = Some(FinishReason::StopString);
                    } else if s.generated >= s.max_tokens {
                        s.finish = Some(FinishReason::Length);
                    } else if s.pos as usize + 1 >= self.n_ctx {
                        s.finish = Some(FinishReason::ContextFull);
                    } else {
                        s.pending = Some(token);
                    }
                }
                if s.finish.is_some() && s.finish != Some(FinishReason::StopString) {
                    let rest = s.decoder.finish();
                    s.text.push_str(&rest);
                }
                let upto = if s.finish.is_some() {
                    s.text.len()
                } else {
                    releasable(&s.text, &s.stops)
                };
                if want_tokens && upto > s.released {
                    let text = s.text[s.released..upto].to_string();
                    let _ = events.send(Ok(StreamEvent::Token { index, text }));
                }
                s.released = s.released.max(upto);
            }
            if events.is_closed() {
                for s in streams.iter_mut().filter(|s| s.finish.is_none()) {
                    s.finish = Some(FinishReason::Cancelled);
                }
                return Ok(());
            }
            self.batch.clear();
            let mut n = 0;
            for s in streams.iter_mut().filter(|s| s.finish.is_none()) {
                if let Some(token) = s.pending.take() {
                    self.batch
                        .add(token, s.pos, &[s.seq], true)
                        .map_err(|e| ModelError::Decode(e.to_string()))?;
                    s.idx = n;
                    s.pos += 1;
                    s.evaluated.push(token);
                    n += 1;
                }
            }
            if n == 0 {
                return Ok(());
            }
            match self.ctx.decode(&mut self.batch) {
                Ok(()) => {}
                Err(DecodeError::NoKvCacheSlot) => {
                    for s in streams.iter_mut().filter(|s| s.finish.is_none()) {
                        s.finish = Some(FinishReason::ContextFull);
                        s.evaluated.pop();
                    }
                    return Ok(());
                }
                Err(e) => return Err(decode_err(e)),
            }
        }
    }
}

mod batch;
mod score;
