//! How an unknown key is reported: as a slip of the nearest known key when one is close,
//! otherwise with the keys that are known.

/// The message for an unknown `key` where `known` are the keys allowed.
pub fn unknown_field(key: &str, known: &[&str]) -> String {
    match closest(key, known) {
        Some(near) => format!("unknown field, did you mean {near}?"),
        None => format!("unknown field; expected one of {}", known.join(", ")),
    }
}

/// The known key nearest to `key`, if it is near enough to be a typo: one edit for short
/// names, two for names of six letters or more. Swapping two neighbours counts as one
/// edit, as that is the commonest slip (`transprot`). The first of equally near keys wins.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let mut best: Option<(usize, &'k str)> = None;
    for &name in known {
        let allowed = if name.chars().count() < 6 { 1 } else { 2 };
        // Lengths that differ by more than the allowance cannot be near; skipping them
        // also bounds the work on a very long key.
        if key.chars().count().abs_diff(name.chars().count()) > allowed {
            continue;
        }
        let d = distance(key, name);
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, name));
        }
    }
    best.map(|(_, name)| name)
}

/// Edits (insert, delete, replace, swap of neighbours) from `a` to `b`: the optimal
/// string alignment distance.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between the first i chars of a and the first j of b.
    let mut rows: Vec<Vec<usize>> = (0..=a.len())
        .map(|i| (0..=b.len()).map(|j| if i == 0 { j } else { i }).collect())
        .collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = rows[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut d = replace.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["image", "tag", "transport", "port", "env", "user"];

    #[test]
    fn near_misses_name_the_key_meant() {
        assert_eq!(closest("transprot", KNOWN), Some("transport"));
        assert_eq!(closest("imgae", KNOWN), Some("image"));
        assert_eq!(closest("envv", KNOWN), Some("env"));
        assert_eq!(closest("Port", KNOWN), Some("port"));
        assert_eq!(closest("trnsprt", KNOWN), Some("transport"));
    }

    #[test]
    fn keys_that_are_not_near_suggest_nothing() {
        assert_eq!(closest("memory", KNOWN), None);
        assert_eq!(closest("tga_x", KNOWN), None);
        assert_eq!(closest(&"x".repeat(10_000), KNOWN), None);
    }

    #[test]
    fn the_message_suggests_or_lists() {
        assert_eq!(
            unknown_field("transprot", KNOWN),
            "unknown field, did you mean transport?"
        );
        assert_eq!(
            unknown_field("sparkle", &["a", "b"]),
            "unknown field; expected one of a, b"
        );
    }

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
