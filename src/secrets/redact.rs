//! Masking a user's secret values in text the portal passes on (container logs): each
//! value becomes `****` wherever it occurs. Nothing upstream does this; a server that
//! prints its token would otherwise hand it to whoever reads its logs.

use zeroize::Zeroizing;

use super::SecretValue;

/// What a masked value is replaced with.
pub const MASK: &str = "****";

/// Values shorter than this are not masked: a one- or two-character secret would mask
/// half of every line and is no secret anyway. Secret values of that length are refused
/// nowhere, so this is said in the README.
pub const MIN_MASKED_LEN: usize = 3;

/// The values to mask, longest first so that a value containing another is masked whole.
pub struct Redactor {
    values: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor {{ {} values }}", self.values.len())
    }
}

impl Redactor {
    /// The values to mask; a value of several lines (a PEM key) is masked whole and, as
    /// logs are read line by line, each of its lines as well.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a SecretValue>) -> Self {
        let mut values: Vec<Zeroizing<String>> = values
            .into_iter()
            .map(|v| v.expose())
            .flat_map(|v| {
                let lines = v.contains('\n').then(|| v.lines().map(str::trim_end));
                std::iter::once(v).chain(lines.into_iter().flatten())
            })
            .filter(|v| v.len() >= MIN_MASKED_LEN)
            .map(|v| Zeroizing::new(v.to_string()))
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Self { values }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The longest value's length.
    pub fn longest(&self) -> usize {
        self.values.first().map_or(0, |v| v.len())
    }

    /// Where to cut `bytes` at `at` or before so that no value is split by the cut: the
    /// start of a value that runs across `at`, else `at`.
    pub fn safe_cut(&self, bytes: &[u8], at: usize) -> usize {
        let mut cut = at.min(bytes.len());
        for v in &self.values {
            let v = v.as_bytes();
            let from = at.saturating_sub(v.len() - 1);
            let to = (at + v.len() - 1).min(bytes.len());
            if to <= from || to - from < v.len() {
                continue;
            }
            if let Some(i) = bytes[from..to].windows(v.len()).position(|w| w == v) {
                let start = from + i;
                if start < at && start + v.len() > at {
                    cut = cut.min(start);
                }
            }
        }
        cut
    }

    /// `text` with every value masked.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Vec<SecretValue> {
        v.iter()
            .map(|s| SecretValue::new(s.to_string()).unwrap())
            .collect()
    }

    #[test]
    fn every_occurrence_of_every_value_is_masked() {
        let v = values(&["ghp_abc123", "hunter2"]);
        let r = Redactor::new(&v);
        assert_eq!(
            r.mask("token=ghp_abc123 pass=hunter2 again ghp_abc123"),
            "token=**** pass=**** again ****"
        );
        assert_eq!(r.mask("nothing here"), "nothing here");
    }

    #[test]
    fn a_value_inside_another_does_not_leave_the_rest_of_the_longer_visible() {
        let v = values(&["abc", "xxabcxx"]);
        assert_eq!(Redactor::new(&v).mask("k=xxabcxx"), "k=****");
    }

    #[test]
    fn each_line_of_a_value_of_several_lines_is_masked_too() {
        let v = values(&["-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----\n"]);
        let r = Redactor::new(&v);
        assert_eq!(r.mask("MIIEabcdef"), "****");
        assert_eq!(r.mask("-----BEGIN KEY-----"), "****");
        assert_eq!(r.longest(), 49, "the whole value is the longest");
    }

    #[test]
    fn a_cut_never_splits_a_value() {
        let v = values(&["secret"]);
        let r = Redactor::new(&v);
        assert_eq!(r.safe_cut(b"xxsecretyy", 4), 2);
        assert_eq!(r.safe_cut(b"xxsecretyy", 8), 8);
        assert_eq!(r.safe_cut(b"xxsecretyy", 1), 1);
    }

    #[test]
    fn values_too_short_to_be_secrets_are_left_alone() {
        let v = values(&["ab"]);
        let r = Redactor::new(&v);
        assert!(r.is_empty());
        assert_eq!(r.mask("abab"), "abab");
        assert_eq!(format!("{r:?}"), "Redactor { 0 values }");
    }
}
