//! Several requests decoded together: one batch per token step, each prompt in its own
//! sequence.

use super::*;

impl Worker<'_> {
    /// Serves several requests: those without a session are decoded together, in groups whose
    /// samples fit the context's sequences; a request with a session is served on its own (it
    /// reuses its cached prefix).
    pub(super) fn generate_batch(
        &mut self,
        reqs: &[GenerateRequest],
    ) -> Result<Vec<Vec<Completion>>, ModelError> {
        let mut out: Vec<Option<Vec<Completion>>> = vec![None; reqs.len()];
        let capacity = self.slots.count().max(1);
        let mut group: Vec<usize> = Vec::new();
        let mut group_samples = 0;
        for (i, req) in reqs.iter().enumerate() {
            if req.session.is_some() {
                let (events, _rx) = mpsc::unbounded_channel();
                out[i] = Some(self.generate(req, &events, false)?);
                continue;
            }
            if group_samples + req.n > capacity || group.len() == self.n_batch {
                self.serve_group(reqs, &group, &mut out)?;
                group.clear();
                group_samples = 0;
            }
            group.push(i);
            group_samples += req.n;
        }
        self.serve_group(reqs, &group, &mut out)?;
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Decodes the requests `group` of `reqs` together into `out`.
    fn serve_group(
        &mut self,
        reqs: &[GenerateRequest],
        group: &[usize],
        out: &mut [Option<Vec<Completion>>],
    ) -> Result<(), ModelError> {
        if group.is_empty() {
            return Ok(());
        }
        // Check everything and build every sampler before any work is done.
        let mut prepared = Vec::with_capacity(group.len());
        let mut needed = 0;
        for &i in group {
            let req = &reqs[i];
            let samplers = self.samplers(req)?;
            let prompt = self.tokenize_prompt(&req.prompt)?;
            self.check_fits(prompt.len())?;
            needed += prompt.len() + req.n * req.sampling.max_tokens.min(self.n_ctx - prompt.len());
            prepared.push((i, prompt, samplers));
        }
        self.make_room(usize::MAX, 0, needed);
        let mut held: Vec<usize> = Vec::new();
        let result = self.decode_group(reqs, prepared, &mut held);
        for seq in held {
            self.clear_seq(seq);
        }
        for (i, completions) in result? {
            out[i] = Some(completions);
        }
        Ok(())
    }

    /// Evaluates each prompt in its own sequence (all but the last token), then the last tokens
    /// of all prompts in one batch, then decodes every sample of every request together.
    fn decode_group(
        &mut self,
        reqs: &[GenerateRequest],
        mut prepared: Vec<(usize, Vec<LlamaToken>, Vec<SequenceSampler>)>,
        held: &mut Vec<usize>,
    ) -> Result<Vec<(usize, Vec<Completion>)>, ModelError> {
        let start = Instant::now();
        let mut bases = Vec::with_capacity(prepared.len());
        for (_, prompt, _) in &prepared {
            let base = self.acquire_busy(None)?;
            held.push(base);
            if prompt.len() > 1 {
                self.eval(base, 0, &prompt[..prompt.len() - 1])?;
            }
            bases.push(base);
        }
        self.batch.clear();
        for (k, (_, prompt, _)) in prepared.iter().enumerate() {
            let last = prompt[prompt.len() - 1];
            self.batch
                .add(last, prompt.len() as i32 - 1, &[bases[k] as i32], true)
                .map_err(|e| ModelError::Decode(e.to_string()))?;
        }
        self.stats
            .prompt_evaluated
            .fetch_add(prepared.len() as u64, Ordering::Relaxed);
        self.ctx.decode(&mut self.batch).map_err(decode_err)?;
        let prompt_time = start.elapsed();
        let decode_start = Instant::now();

        let mut streams = Vec::new();
        let mut owners = Vec::new();
        for (k, (i, prompt, samplers)) in prepared.iter_mut().enumerate() {
            let req = &reqs[*i];
            for (s, sampler) in std::mem::take(samplers).into_iter().enumerate() {
                let seq = if s == 0 {
                    bases[k]
                } else {
                    let seq = self.acquire_busy(Some(bases[k]))?;
                    held.push(seq);
                    let _ = self
                        .ctx
                        .copy_kv_cache_seq(bases[k] as i32, seq as i32, None, None);
                    seq
                };
                streams.push(Stream {
                    seq: seq as i32,
                    sampler,
                    decoder: Utf8Decoder::default(),
                    text: String::new(),
                    released: 0,
                    pos: prompt.len() as i32,
                    idx: k as i32,
                    generated: 0,
                    pending: None,
                    evaluated: Vec::new(),
                    finish: None,
                    max_tokens: req.sampling.max_tokens,
                    stops: req.sampling.stop.clone(),
                });
                owners.push(k);
            }
        }
        let (events, _rx) = mpsc::unbounded_channel();
        self.decode_loop(&mut streams, &events, false)?;
        let timings = Timings {
            prompt: prompt_time,
            decode: decode_start.elapsed(),
        };
        let mut results: Vec<(usize, Vec<Completion>)> =
            prepared.iter().map(|(i, _, _)| (*i, Vec::new())).collect();
        for (stream, k) in streams.into_iter().zip(owners) {
            let prompt_tokens = prepared[k].1.len();
            results[k].1.push(Completion {
                text: stream.text,
                finish_reason: stream.finish.unwrap_or(FinishReason::Cancelled),
                usage: Usage {
                    prompt_tokens,
                    cached_tokens: 0,
                    evaluated_tokens: prompt_tokens,
                    completion_tokens: stream.generated,
                },
                timings,
            });
        }
        Ok(results)
    }
}
