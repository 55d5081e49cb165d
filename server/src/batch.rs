//! [`Batcher`]: non-streamed requests that arrive while the model is busy are decoded
//! together. The llama.cpp backend serves one job at a time, but one `generate_batch` job
//! decodes several requests in one batch per token step; so the batcher takes every request
//! that queued up during the previous job and hands them over as one. A request alone keeps
//! its conversation's session (KV reuse); requests decoded together do not (the backend
//! batches only session-less requests).

use std::sync::Arc;

use agentry_model::{Completion, GenerateRequest, LanguageModel, ModelError};
use tokio::sync::{mpsc, oneshot};

/// Most requests handed to the model as one batch.
const MAX_BATCH: usize = 8;

type Reply = oneshot::Sender<Result<Vec<Completion>, ModelError>>;

/// The queue in front of the model for non-streamed requests.
#[derive(Debug, Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<(GenerateRequest, Reply)>,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(model: Arc<dyn LanguageModel>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(GenerateRequest, Reply)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                // Callers that went away need no work.
                group.retain(|(_, reply)| !reply.is_closed());
                serve(&*model, group).await;
            }
        });
        Self { tx }
    }

    /// The completions of `req`, decoded together with whatever else is waiting.
    ///
    /// # Errors
    /// The model's error for this request.
    pub async fn generate(&self, req: GenerateRequest) -> Result<Vec<Completion>, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((req, reply))
            .map_err(|_| ModelError::WorkerGone)?;
        answer.await.map_err(|_| ModelError::WorkerGone)?
    }
}

async fn serve(model: &dyn LanguageModel, mut group: Vec<(GenerateRequest, Reply)>) {
    if group.len() <= 1 {
        if let Some((req, reply)) = group.pop() {
            let _ = reply.send(model.generate(req).await);
        }
        return;
    }
    tracing::debug!(requests = group.len(), "decoding requests together");
    let reqs: Vec<GenerateRequest> = group
        .iter()
        .map(|(req, _)| GenerateRequest {
            session: None,
            ..req.clone()
        })
        .collect();
    match model.generate_batch(reqs).await {
        Ok(all) if all.len() == group.len() => {
            for ((_, reply), completions) in group.into_iter().zip(all) {
                let _ = reply.send(Ok(completions));
            }
        }
        // One bad request (a schema that does not compile, a prompt too long) fails the
        // whole batch: serve each alone so only that one gets the error.
        _ => {
            for (req, reply) in group {
                let _ = reply.send(model.generate(req).await);
            }
        }
    }
}
