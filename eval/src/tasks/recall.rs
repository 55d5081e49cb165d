//! The tasks' memory: a keyword retriever over the task's memories, so recall needs no
//! embedding model and gives the same hits on every machine.

use std::collections::HashSet;

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// The `top_k` memories sharing the most words (longer than two letters) with `query`,
/// best first, each with its score (shared words / query words); memories sharing none
/// are left out. Ties keep the memories' order.
pub fn recall(memories: &[String], query: &str, top_k: usize) -> Vec<(String, f32)> {
    let query_words = words(query);
    if query_words.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &String)> = memories
        .iter()
        .map(|m| (words(m).intersection(&query_words).count(), m))
        .filter(|(shared, _)| *shared > 0)
        .collect();
    scored.sort_by_key(|(shared, _)| std::cmp::Reverse(*shared));
    scored
        .into_iter()
        .take(top_k)
        .map(|(shared, m)| (m.clone(), shared as f32 / query_words.len() as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_keyword_matches_come_first() {
        let memories = vec![
            "The user's dentist is Dr. Ruiz.".to_owned(),
            "The user's favourite colour is teal.".to_owned(),
            "The office wifi password is in the drawer.".to_owned(),
        ];
        let hits = recall(&memories, "What is my favourite colour?", 2);
        assert_eq!(hits[0].0, memories[1]);
        assert!(hits.iter().all(|(m, _)| *m != memories[2]));
        assert!(recall(&memories, "zzz", 3).is_empty());
    }
}
