//! Names as search sees them: normalized tokens, the DHT keys a token is
//! announced and looked up under, and how well a query matches a name.
//!
//! Normalizing: Unicode NFD, combining marks dropped (so `é` is `e`),
//! lowercase, split on anything not alphanumeric, tokens shorter than
//! [`MIN_TOKEN`] dropped. A typo is tolerated by matching tokens within
//! edit distance 1 (an adjacent swap counts as one edit); since DHT keys
//! need exact strings, each long token is also announced under its first and
//! last [`AFFIX`] characters, which one edit leaves intact at one end or the
//! other (docs/protocol.md §11.1).
//!
//! PURE: no sockets, no clock.

use crate::hash::BlobHash;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Tokens shorter than this (in characters) are not indexed nor looked for.
pub const MIN_TOKEN: usize = 3;
/// Tokens longer than this are cut (a key is a word, not a sentence).
pub const MAX_TOKEN: usize = 32;
/// Characters of a token's head and tail announced as fuzzy keys.
pub const AFFIX: usize = 3;
/// Tokens this long or longer are announced under their head and tail too;
/// a query token one shorter is looked up under them (a deleted letter).
pub const AFFIX_MIN: usize = 5;
/// Query tokens used, at most; the rest of a long query is ignored.
pub const MAX_QUERY_TOKENS: usize = 8;

/// The distinct normalized tokens of `text`, in order of appearance.
pub fn tokens(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()) {
        let word: String = word.chars().take(MAX_TOKEN).collect();
        if word.chars().count() >= MIN_TOKEN && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The kinds of DHT key a token is announced under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The whole token.
    Exact,
    /// Its first [`AFFIX`] characters.
    Head,
    /// Its last [`AFFIX`] characters.
    Tail,
}

/// The DHT key of one kind for `token`: SHA-384 of a fixed prefix and the text.
pub fn key(kind: KeyKind, token: &str) -> BlobHash {
    let chars: Vec<char> = token.chars().collect();
    let (prefix, text): (&str, String) = match kind {
        KeyKind::Exact => ("lbrymount-keyword:", token.to_owned()),
        KeyKind::Head => (
            "lbrymount-keyword-head:",
            chars.iter().take(AFFIX).collect(),
        ),
        KeyKind::Tail => (
            "lbrymount-keyword-tail:",
            chars[chars.len().saturating_sub(AFFIX)..].iter().collect(),
        ),
    };
    BlobHash::digest(format!("{prefix}{text}").as_bytes())
}

/// The keys a node holding a stream with token `token` announces.
pub fn announce_keys(token: &str) -> Vec<BlobHash> {
    let mut keys = vec![key(KeyKind::Exact, token)];
    if token.chars().count() >= AFFIX_MIN {
        keys.push(key(KeyKind::Head, token));
        keys.push(key(KeyKind::Tail, token));
    }
    keys
}

/// The keys a searcher looks up for query token `token`, exact first.
pub fn lookup_keys(token: &str) -> Vec<BlobHash> {
    let mut keys = vec![key(KeyKind::Exact, token)];
    if token.chars().count() + 1 >= AFFIX_MIN {
        keys.push(key(KeyKind::Head, token));
        keys.push(key(KeyKind::Tail, token));
    }
    keys
}

/// Whether `a` and `b` are at most one edit apart (insert, delete,
/// substitute, or swap two adjacent characters).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let start = short.iter().zip(&long).take_while(|(x, y)| x == y).count();
    if start == short.len() {
        return true;
    }
    if short.len() == long.len() {
        let swapped = start + 1 < short.len()
            && short[start] == long[start + 1]
            && short[start + 1] == long[start]
            && short[start + 2..] == long[start + 2..];
        swapped || short[start + 1..] == long[start + 1..]
    } else {
        short[start..] == long[start + 1..]
    }
}

/// How well one query token matches a name's tokens: 3 exact, 2 a prefix
/// of one, 1 within one edit of one, 0 not at all.
fn token_score(q: &str, name: &[String]) -> u32 {
    let mut best = 0;
    for t in name {
        let s = if t == q {
            3
        } else if t.starts_with(q) {
            2
        } else if within_one_edit(q, t) {
            1
        } else {
            0
        };
        best = best.max(s);
    }
    best
}

/// How well `query` (its tokens) matches `name` (its tokens): every query
/// token must match; the score is the sum, higher is better. `None`: no match.
pub fn score(query: &[String], name: &[String]) -> Option<u32> {
    if query.is_empty() {
        return None;
    }
    let mut total = 0;
    for q in query.iter().take(MAX_QUERY_TOKENS) {
        match token_score(q, name) {
            0 => return None,
            s => total += s,
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_fold_case_and_accents_and_drop_short_words() {
        assert_eq!(
            tokens("Crème_Brûlée de MAMAN-2023.mp4"),
            ["creme", "brulee", "maman", "2023", "mp4"]
        );
        assert_eq!(tokens("a b .. é"), Vec::<String>::new());
        assert_eq!(tokens("Été été ÉTÉ"), ["ete"]);
    }

    #[test]
    fn one_edit_is_a_swap_an_insert_a_delete_or_a_substitution() {
        for (a, b) in [
            ("holiday", "holiday"),
            ("holiday", "hloiday"),
            ("holiday", "holidy"),
            ("holiday", "holidays"),
            ("holiday", "halidey"),
        ] {
            let one = within_one_edit(a, b);
            assert_eq!(one, b != "halidey", "{a} {b}");
        }
        assert!(within_one_edit("holiday", "xoliday"));
        assert!(!within_one_edit("abc", "cab"));
    }

    #[test]
    fn one_edit_keeps_the_head_or_the_tail_key_of_a_long_token() {
        let name = announce_keys("holiday");
        for typo in ["hloiday", "holidya", "olidday", "holday", "holidays"] {
            let found = lookup_keys(typo).iter().any(|k| name.contains(k));
            assert!(found, "{typo}");
        }
    }

    #[test]
    fn scores_rank_exact_over_prefix_over_typo_and_need_every_word() {
        let name = tokens("Holiday Photos 2023.jpg");
        let s = |q: &str| score(&tokens(q), &name);
        assert_eq!(s("holiday photos"), Some(6));
        assert_eq!(s("holi"), Some(2));
        assert_eq!(s("hloiday"), Some(1));
        assert_eq!(s("holiday videos"), None);
        assert_eq!(s(""), None);
    }
}
