//! KV-cache sequence slots: which sequence holds which session, and LRU eviction.

use llama_cpp_2::token::LlamaToken;

use agentry_model::SessionId;

/// Who holds a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nobody: the sequence is empty.
    Free,
    /// The current request (scratch prompt, extra sample or scoring candidate).
    Busy,
    /// A session, kept between requests.
    Session(SessionId),
}

/// One KV-cache sequence.
#[derive(Debug)]
pub struct Slot {
    /// Who holds it.
    pub owner: Owner,
    /// The tokens whose KV the sequence holds, in position order.
    pub tokens: Vec<LlamaToken>,
    /// Logical time of the last use (for LRU eviction).
    pub last_used: u64,
}

/// The table of sequences of one context.
#[derive(Debug)]
pub struct Slots {
    slots: Vec<Slot>,
    clock: u64,
}

impl Slots {
    /// `n` free sequences.
    pub fn new(n: usize) -> Self {
        Self {
            slots: (0..n)
                .map(|_| Slot {
                    owner: Owner::Free,
                    tokens: Vec::new(),
                    last_used: 0,
                })
                .collect(),
            clock: 0,
        }
    }

    /// The number of sequences.
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// The slot with this sequence id.
    pub fn get_mut(&mut self, seq: usize) -> Option<&mut Slot> {
        self.slots.get_mut(seq)
    }

    /// The sequence that holds `session`, if any.
    pub fn find_session(&self, session: &SessionId) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| matches!(&s.owner, Owner::Session(id) if id == session))
    }

    /// A free sequence, or `None`.
    pub fn find_free(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.owner == Owner::Free)
    }

    /// The least recently used session sequence other than `keep`, if any.
    pub fn lru_session(&self, keep: Option<usize>) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| Some(*i) != keep && matches!(s.owner, Owner::Session(_)))
            .min_by_key(|(_, s)| s.last_used)
            .map(|(i, _)| i)
    }

    /// Tokens held by sessions other than `keep`.
    pub fn session_tokens(&self, keep: Option<usize>) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, s)| Some(*i) != keep && matches!(s.owner, Owner::Session(_)))
            .map(|(_, s)| s.tokens.len())
            .sum()
    }

    /// Marks a sequence used now.
    pub fn touch(&mut self, seq: usize) {
        self.clock += 1;
        let now = self.clock;
        if let Some(s) = self.slots.get_mut(seq) {
            s.last_used = now;
        }
    }

    /// Empties a sequence's record (the caller clears its KV).
    pub fn release(&mut self, seq: usize) {
        if let Some(s) = self.slots.get_mut(seq) {
            s.owner = Owner::Free;
            s.tokens.clear();
        }
    }
}

/// Length of the common prefix of two token lists.
pub fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_picks_the_oldest_session_and_skips_the_kept_one() {
        let mut slots = Slots::new(3);
        for (seq, name) in [(0, "a"), (1, "b"), (2, "c")] {
            let s = slots.get_mut(seq).unwrap();
            s.owner = Owner::Session(SessionId::new(name));
            slots.touch(seq);
        }
        slots.touch(0);
        assert_eq!(slots.lru_session(None), Some(1));
        assert_eq!(slots.lru_session(Some(1)), Some(2));
        assert_eq!(slots.find_session(&SessionId::new("c")), Some(2));
        assert_eq!(slots.find_free(), None);
        slots.release(1);
        assert_eq!(slots.find_free(), Some(1));
    }

    #[test]
    fn common_prefix_counts_equal_leading_tokens() {
        let t = |v: &[i32]| v.iter().map(|&i| LlamaToken(i)).collect::<Vec<_>>();
        assert_eq!(common_prefix(&t(&[1, 2, 3]), &t(&[1, 2, 4, 5])), 2);
        assert_eq!(common_prefix(&t(&[]), &t(&[1])), 0);
    }
}
