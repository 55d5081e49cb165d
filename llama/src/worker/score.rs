//! Scoring: the log-probability of candidate continuations, the prompt evaluated once.

use super::*;

impl Worker<'_> {
    pub(super) fn score(&mut self, req: &ScoreRequest) -> Result<Vec<CandidateScore>, ModelError> {
        if req.candidates.is_empty() {
            return Ok(Vec::new());
        }
        let prompt = self.tokenize_prompt(&req.prompt)?;
        let mut cands = Vec::with_capacity(req.candidates.len());
        for (i, c) in req.candidates.iter().enumerate() {
            let t = self.model.vocab().tokenize(c.as_bytes(), false, false);
            if t.is_empty() {
                return Err(ModelError::InvalidRequest(format!(
                    "candidate {i} ({c:?}) has no tokens"
                )));
            }
            cands.push(t);
        }
        let longest = cands.iter().map(Vec::len).max().unwrap_or(0);
        self.check_fits(prompt.len() + longest)?;
        let base = self.acquire_busy(None)?;
        let result = self.score_on(base, &prompt, &cands);
        self.clear_seq(base);
        let logprobs = result?;
        Ok(req
            .candidates
            .iter()
            .zip(cands)
            .zip(logprobs)
            .map(|((c, t), logprob)| CandidateScore {
                candidate: c.clone(),
                logprob,
                tokens: t.len(),
            })
            .collect())
    }

    fn score_on(
        &mut self,
        base: usize,
        prompt: &[LlamaToken],
        cands: &[Vec<LlamaToken>],
    ) -> Result<Vec<f64>, ModelError> {
        let needed = prompt.len() + cands.iter().map(Vec::len).sum::<usize>();
        self.make_room(base, 0, needed);
        let last = self.eval(base, 0, prompt)?;
        let first = log_softmax(self.ctx.get_logits_ith(last));
        let mut out: Vec<f64> = cands
            .iter()
            .map(|c| {
                first
                    .get(c[0].0 as usize)
                    .copied()
                    .unwrap_or(f64::NEG_INFINITY)
            })
            .collect();
        // Candidates longer than one token: evaluate all but their last token, in parallel
        // sequences that share the prompt's KV, as many per batch as fit.
        let mut pending: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].len() > 1).collect();
        while !pending.is_empty() {
            let mut group = Vec::new();
            let mut tokens = 0;
            while let Some(&i) = pending.first() {
                let len = cands[i].len() - 1;
                if !group.is_empty() && tokens + len > self.n_batch {
                    break;
                }
                if len > self.n_batch {
                    return Err(ModelError::InvalidRequest(format!(
                        "candidate {i} is longer than the batch size {}",
                        self.n_batch
                    )));
                }
                let seq = match self.acquire_busy(Some(base)) {
                    Ok(s) => s,
                    Err(e) if group.is_empty() => return Err(e),
                    Err(_) => break,
                };
                let _ = self
                    .ctx
                    .copy_kv_cache_seq(base as i32, seq as i32, None, None);
                group.push((i, seq));
                tokens += len;
                pending.remove(0);
            }
            self.batch.clear();
            let mut idx = Vec::new();
            for &(i, seq) in &group {
                let mut positions = Vec::new();
                for (j, &t) in cands[i][..cands[i].len() - 1].iter().enumerate() {
                    positions.push(self.batch.n_tokens());
                    self.batch
                        .add(t, (prompt.len() + j) as i32, &[seq as i32], true)
                        .map_err(|e| ModelError::Decode(e.to_string()))?;
                }
                idx.push((i, positions));
            }
            let decoded = self.ctx.decode(&mut self.batch).map_err(decode_err);
            if decoded.is_ok() {
                for (i, positions) in &idx {
                    for (j, &p) in positions.iter().enumerate() {
                        let next = cands[*i][j + 1];
                        let lp = log_softmax(self.ctx.get_logits_ith(p));
                        out[*i] += lp
                            .get(next.0 as usize)
                            .copied()
                            .unwrap_or(f64::NEG_INFINITY);
                    }
                }
            }
            for &(_, seq) in &group {
                self.clear_seq(seq);
            }
            decoded?;
        }
        Ok(out)
    }
}

/// Natural-log softmax of logits.
fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    logits.iter().map(|&l| l as f64 - lse).collect()
}

#[cfg(test)]
mod tests {
    use super::log_softmax;

    #[test]
    fn log_softmax_normalises() {
        let lp = log_softmax(&[1.0, 2.0, 3.0]);
        let total: f64 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(lp[2] > lp[1] && lp[1] > lp[0]);
    }
}
