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
    pub fn new<'a>(values: impl IntoIterator<Item = &'a SecretValue>) -> Self {
        let mut values: Vec<Zeroizing<String>> = values
            .into_iter()
            .map(|v| v.expose())
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
    fn values_too_short_to_be_secrets_are_left_alone() {
        let v = values(&["ab"]);
        let r = Redactor::new(&v);
        assert!(r.is_empty());
        assert_eq!(r.mask("abab"), "abab");
        assert_eq!(format!("{r:?}"), "Redactor { 0 values }");
    }
}
