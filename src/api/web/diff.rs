//! A line diff of two catalog revisions' stored definitions, as YAML: what the admin's
//! revision page shows between two revisions.

use similar::{ChangeTag, TextDiff};

/// One line of a diff: `' '` kept, `'-'` only in the older, `'+'` only in the newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub tag: char,
    pub text: String,
}

/// The lines of `old` and `new`, with a few lines of context around each change; empty
/// when they are the same.
pub(crate) fn lines(old: &str, new: &str) -> Vec<Line> {
    let diff = TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for group in diff.grouped_ops(3) {
        if !out.is_empty() {
            out.push(Line {
                tag: '~',
                text: "...".into(),
            });
        }
        for op in group {
            for change in diff.iter_changes(&op) {
                let tag = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                };
                out.push(Line {
                    tag,
                    text: change.value().trim_end_matches('\n').to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_shows_as_removed_and_added() {
        let d = lines("a\nb\nc\n", "a\nB\nc\n");
        let changed: Vec<_> = d.iter().filter(|l| l.tag != ' ').collect();
        assert_eq!(changed.len(), 2);
        assert_eq!((changed[0].tag, changed[0].text.as_str()), ('-', "b"));
        assert_eq!((changed[1].tag, changed[1].text.as_str()), ('+', "B"));
    }

    #[test]
    fn the_same_text_has_no_diff() {
        assert!(lines("a\nb\n", "a\nb\n").is_empty());
    }
}
