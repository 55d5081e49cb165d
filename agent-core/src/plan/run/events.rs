//! What happens in a run, as events ([`AgentEvent`]), and a JSON Lines transcript of them
//! ([`TranscriptWriter`], [`read_transcript`]).

use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use agentry_tools::{HoldReason, ToolCall, ToolResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action::Recollection;
use super::limits::StopReason;

/// Something that happened in a run. The run records its own events (drain them with
/// [`AgentRun::drain_events`](super::AgentRun::drain_events)); the driver adds
/// [`AgentEvent::Token`] when it streams. Serialised with a `type` field:
/// `{"type": "thought", "step": 1, "text": ".."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// A piece of the model's text as it is generated (emitted by the driver).
    Token {
        /// The text.
        text: String,
    },
    /// The thought of a step.
    Thought {
        /// The step (1-based).
        step: usize,
        /// The thought.
        text: String,
    },
    /// The model asked for a tool call.
    ToolCall {
        /// The step that asked.
        step: usize,
        /// The call.
        call: ToolCall,
    },
    /// A call's result (a denied call's result is an `ApprovalDenied` failure).
    ToolResult {
        /// The step that asked for the call.
        step: usize,
        /// The result.
        result: ToolResult,
    },
    /// Memories recalled before a step.
    Recall {
        /// The step they were recalled for.
        step: usize,
        /// The hits.
        items: Vec<Recollection>,
    },
    /// Text that entered the run from outside shows signs of a prompt injection: a hint
    /// for whoever reads the log, not a verdict (calls with side effects are held after
    /// any untrusted text, signs or not).
    InjectionSignals {
        /// The step the text came in for.
        step: usize,
        /// Where it came from (a tool's name, "recalled memories").
        source: String,
        /// What was found, one line each: `kind: "matched text" (why)`.
        signals: Vec<String>,
    },
    /// A call waits for a person's approval.
    ApprovalNeeded {
        /// The step that asked for the call.
        step: usize,
        /// The call.
        call: ToolCall,
        /// Why it was held.
        #[serde(default)]
        reason: HoldReason,
    },
    /// The final answer.
    Answer {
        /// The answer.
        value: Value,
    },
    /// Something went wrong and the run carries on (e.g. a reply that could not be read),
    /// or the driver failed and the run stops.
    Error {
        /// What went wrong.
        message: String,
    },
    /// A reply was read but not taken, and the model is asked again with `problem`: a
    /// call of a tool withheld after a repeat, or an answer that announces a call it
    /// does not make.
    SentBack {
        /// The step of the reply.
        step: usize,
        /// Why it was sent back, as the model is told.
        problem: String,
    },
    /// The run ended; always the run's last event.
    Stopped {
        /// Why.
        reason: StopReason,
    },
}

/// One line of a transcript: a sequence number, the time it was written, and the event's
/// fields (`{"seq": 0, "unix_ms": 1764412345678, "type": "thought", "step": 1, "text": ".."}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Position in the transcript, from 0.
    pub seq: u64,
    /// When the line was written, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The event.
    #[serde(flatten)]
    pub event: AgentEvent,
}

/// Why a transcript could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The writer or reader failed.
    #[error("transcript I/O failed: {0}")]
    Io(#[from] io::Error),
    /// An event could not be serialised.
    #[error("cannot serialise an event: {0}")]
    Serialize(serde_json::Error),
    /// A line is not a transcript line.
    #[error("transcript line {line}: {source}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// Writes events as JSON Lines (one [`TranscriptLine`] per line) to any writer: a file, a
/// socket, a `Vec<u8>`.
///
/// ```
/// use agentry_core::plan::run::{AgentEvent, TranscriptWriter, read_transcript};
///
/// let mut transcript = TranscriptWriter::new(Vec::new());
/// transcript.write(&AgentEvent::Thought { step: 1, text: "look it up".into() })?;
/// let bytes = transcript.into_inner();
/// let lines = read_transcript(bytes.as_slice())?;
/// assert_eq!(lines[0].event, AgentEvent::Thought { step: 1, text: "look it up".into() });
/// # Ok::<(), agentry_core::plan::run::TranscriptError>(())
/// ```
#[derive(Debug)]
pub struct TranscriptWriter<W: Write> {
    out: W,
    seq: u64,
}

impl<W: Write> TranscriptWriter<W> {
    /// A transcript written to `out`, numbered from 0.
    pub fn new(out: W) -> Self {
        Self { out, seq: 0 }
    }

    /// Writes one event as one line.
    pub fn write(&mut self, event: &AgentEvent) -> Result<(), TranscriptError> {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = TranscriptLine {
            seq: self.seq,
            unix_ms,
            event: event.clone(),
        };
        let mut text = serde_json::to_string(&line).map_err(TranscriptError::Serialize)?;
        text.push('\n');
        self.out.write_all(text.as_bytes())?;
        self.seq += 1;
        Ok(())
    }

    /// Writes each event, in order.
    pub fn write_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a AgentEvent>,
    ) -> Result<(), TranscriptError> {
        events.into_iter().try_for_each(|event| self.write(event))
    }

    /// Flushes the writer.
    pub fn flush(&mut self) -> Result<(), TranscriptError> {
        Ok(self.out.flush()?)
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a transcript written by [`TranscriptWriter`]; blank lines are skipped.
pub fn read_transcript(input: impl BufRead) -> Result<Vec<TranscriptLine>, TranscriptError> {
    let mut lines = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str(&line).map_err(|source| TranscriptError::Parse {
            line: index + 1,
            source,
        })?;
        lines.push(parsed);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use agentry_tools::{ToolFailure, ToolOutput};
    use serde_json::json;

    use super::*;

    fn every_event() -> Vec<AgentEvent> {
        let call = ToolCall::new("call-1-1", "clock", json!({"tz": "UTC"}));
        vec![
            AgentEvent::Token {
                text: "{\"th".into(),
            },
            AgentEvent::Thought {
                step: 1,
                text: "what time is it?\nline two".into(),
            },
            AgentEvent::ToolCall {
                step: 1,
                call: call.clone(),
            },
            AgentEvent::ApprovalNeeded {
                step: 1,
                call: call.clone(),
                reason: HoldReason::default(),
            },
            AgentEvent::ToolResult {
                step: 1,
                result: ToolResult {
                    call_id: "call-1-1".into(),
                    name: "clock".into(),
                    outcome: Ok(ToolOutput::json(json!({"time": "12:00"}))),
                },
            },
            AgentEvent::ToolResult {
                step: 1,
                result: ToolResult {
                    call_id: "call-1-2".into(),
                    name: "http_get".into(),
                    outcome: Err(ToolFailure::TimedOut {
                        name: "http_get".into(),
                        after: Duration::from_millis(250),
                    }),
                },
            },
            AgentEvent::Recall {
                step: 2,
                items: vec![Recollection::new("Paris is in France", "notes.md", 0.5)],
            },
            AgentEvent::Answer {
                value: json!({"time": "12:00", "n": 3}),
            },
            AgentEvent::Error {
                message: "step 2: no JSON".into(),
            },
            AgentEvent::SentBack {
                step: 3,
                problem: "it names the tool `calculator` but makes no call".into(),
            },
            AgentEvent::Stopped {
                reason: StopReason::MaxSteps { limit: 4 },
            },
        ]
    }

    #[test]
    fn transcript_round_trips_one_json_object_per_line() {
        let events = every_event();
        let mut writer = TranscriptWriter::new(Vec::new());
        writer
            .write_all(&events)
            .unwrap_or_else(|e| panic!("write failed: {e}"));
        writer
            .flush()
            .unwrap_or_else(|e| panic!("flush failed: {e}"));
        let bytes = writer.into_inner();
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        assert_eq!(text.lines().count(), events.len());
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap_or_default();
            assert!(
                value["type"].is_string() && value["unix_ms"].is_u64(),
                "{line}"
            );
        }
        assert!(text.starts_with(r#"{"seq":0,"#), "{text}");
        assert!(text.contains(r#""type":"thought","step":1,"#), "{text}");

        let lines = read_transcript(bytes.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let read: Vec<AgentEvent> = lines.iter().map(|l| l.event.clone()).collect();
        assert_eq!(read, events);
        let seqs: Vec<u64> = lines.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn a_broken_line_is_named() {
        let text = "\n{\"seq\":0,\"unix_ms\":1,\"type\":\"answer\",\"value\":1}\nnot json\n";
        match read_transcript(text.as_bytes()) {
            Err(TranscriptError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }
}
