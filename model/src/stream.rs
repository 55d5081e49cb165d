//! [`CompletionStream`]: tokens as they are decoded, then the finished completions.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use crate::{Completion, ModelError, StreamEvent};

/// Events of one generation: [`StreamEvent::Token`]s, then one [`StreamEvent::Done`].
///
/// Dropping the stream cancels the generation: the backend stops decoding at the next token.
#[derive(Debug)]
pub struct CompletionStream {
    rx: mpsc::UnboundedReceiver<Result<StreamEvent, ModelError>>,
}

impl CompletionStream {
    /// A stream fed by a backend through `rx`; the backend stops when `rx` is dropped.
    pub fn new(rx: mpsc::UnboundedReceiver<Result<StreamEvent, ModelError>>) -> Self {
        Self { rx }
    }

    /// The next event, or `None` after the last.
    pub async fn next_event(&mut self) -> Option<Result<StreamEvent, ModelError>> {
        self.rx.recv().await
    }

    /// Drains the stream; returns the final completions.
    pub async fn finish(mut self) -> Result<Vec<Completion>, ModelError> {
        while let Some(event) = self.rx.recv().await {
            if let StreamEvent::Done(c) = event? {
                return Ok(c);
            }
        }
        Err(ModelError::WorkerGone)
    }
}

impl Stream for CompletionStream {
    type Item = Result<StreamEvent, ModelError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
