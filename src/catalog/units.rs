//! Resource quantities as users write them: memory ("512m", "1GiB", bytes), CPUs ("0.5")
//! and durations ("30s", "500ms"). Each parses strictly and prints back in a form that
//! parses to the same value, so stored catalogs round-trip byte for byte.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Docker refuses memory limits under 6 MiB.
pub const MIN_MEMORY: u64 = 6 * MIB;
/// A sanity ceiling: a single MCP server asking for more than 1 TiB is a typo.
pub const MAX_MEMORY: u64 = 1024 * GIB;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Memory(u64);

/// The most memory one server may have unless the admin says otherwise.
pub const DEFAULT_MAX_SERVER_MEMORY: Memory = Memory(4 * GIB);

impl Memory {
    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn from_bytes(bytes: u64) -> Result<Self, String> {
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&bytes) {
            return Err(format!(
                "memory {bytes} bytes is out of range: use between 6m and 1024g"
            ));
        }
        Ok(Self(bytes))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| {
            format!("invalid memory {text:?}: use a whole number with an optional unit, e.g. 512m or 1g")
        })?;
        let mult = match unit.trim() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => KIB,
            "m" | "mb" | "mib" => MIB,
            "g" | "gb" | "gib" => GIB,
            other => {
                return Err(format!(
                    "invalid memory unit {other:?} in {text:?}: use b, k, m or g"
                ))
            }
        };
        let bytes = n
            .checked_mul(mult)
            .ok_or_else(|| format!("memory {text:?} is too large"))?;
        Self::from_bytes(bytes)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b if b % GIB == 0 => write!(f, "{}g", b / GIB),
            b if b % MIB == 0 => write!(f, "{}m", b / MIB),
            b if b % KIB == 0 => write!(f, "{}k", b / KIB),
            b => write!(f, "{b}"),
        }
    }
}

impl Serialize for Memory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) if n.fract() == 0.0 && n >= 0.0 => {
                Memory::from_bytes(n as u64).map_err(de::Error::custom)
            }
            NumOrText::Num(n) => Err(de::Error::custom(format!(
                "invalid memory {n}: use whole bytes or a unit, e.g. 512m"
            ))),
            NumOrText::Text(t) => Memory::parse(&t).map_err(de::Error::custom),
        }
    }
}

/// CPUs in thousandths (Docker's NanoCPUs / 1e6), so values compare and hash exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpus(u32);

/// More CPUs than this is a typo on any machine the portal targets.
pub const MAX_MILLICPUS: u32 = 256_000;

/// The most CPUs one server may have unless the admin says otherwise.
pub const DEFAULT_MAX_SERVER_CPUS: Cpus = Cpus(4000);

impl Cpus {
    pub fn millis(self) -> u32 {
        self.0
    }

    pub fn from_millis(millis: u32) -> Result<Self, String> {
        if millis == 0 || millis > MAX_MILLICPUS {
            return Err(format!(
                "cpus {} is out of range: use between 0.001 and 256",
                f64::from(millis) / 1000.0
            ));
        }
        Ok(Self(millis))
    }

    pub fn from_f64(value: f64) -> Result<Self, String> {
        if !value.is_finite() || value <= 0.0 {
            return Err(format!(
                "invalid cpus {value}: use a positive number such as 0.5"
            ));
        }
        let millis = (value * 1000.0).round();
        if millis > f64::from(MAX_MILLICPUS) {
            return Err(format!("cpus {value} is out of range: use at most 256"));
        }
        // In range 0..=MAX_MILLICPUS after the checks above, so the cast is exact.
        Self::from_millis(millis as u32)
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(self.0) / 1000.0)
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => n,
            NumOrText::Text(t) => t.trim().parse::<f64>().map_err(|_| {
                de::Error::custom(format!("invalid cpus {t:?}: use a number such as 0.5"))
            })?,
        };
        Cpus::from_f64(value).map_err(de::Error::custom)
    }
}

/// A duration in milliseconds, written as "500ms", "30s", "5m" or "1h".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    pub fn millis(self) -> u64 {
        self.0
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let bad =
            || format!("invalid duration {text:?}: use a number with ms, s, m or h, e.g. 30s");
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let mult = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let ms = n.checked_mul(mult).ok_or_else(bad)?;
        if ms == 0 || ms > 24 * 3_600_000 {
            return Err(format!(
                "duration {text:?} is out of range: use between 1ms and 24h"
            ));
        }
        Ok(Self(ms))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ms if ms % 3_600_000 == 0 => write!(f, "{}h", ms / 3_600_000),
            ms if ms % 60_000 == 0 => write!(f, "{}m", ms / 60_000),
            ms if ms % 1000 == 0 => write!(f, "{}s", ms / 1000),
            ms => write!(f, "{ms}ms"),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(de::Error::custom)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(f64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn memory_accepts_docker_units() {
        assert_eq!(Memory::parse("512m").unwrap().bytes(), 512 * MIB);
        assert_eq!(Memory::parse("1GiB").unwrap().bytes(), GIB);
        assert_eq!(Memory::parse("65536k").unwrap().bytes(), 64 * MIB);
        assert!(Memory::parse("1m").unwrap_err().contains("out of range"));
        assert!(Memory::parse("12x").unwrap_err().contains("unit"));
        assert!(Memory::parse("-5m").is_err());
        assert!(Memory::parse("99999999999999999999g").is_err());
    }

    #[test]
    fn cpus_accept_numbers_and_text() {
        let c: Cpus = serde_json::from_str("0.5").unwrap();
        assert_eq!(c.millis(), 500);
        let c: Cpus = serde_json::from_str("\"1.25\"").unwrap();
        assert_eq!(c.to_string(), "1.25");
        assert!(serde_json::from_str::<Cpus>("0").is_err());
        assert!(serde_json::from_str::<Cpus>("-1").is_err());
        assert!(serde_json::from_str::<Cpus>("1000").is_err());
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(Duration::parse("30s").unwrap().millis(), 30_000);
        assert_eq!(Duration::parse("250ms").unwrap().to_string(), "250ms");
        assert!(Duration::parse("30").is_err());
        assert!(Duration::parse("0s").is_err());
        assert!(Duration::parse("2d").is_err());
    }

    proptest! {
        #[test]
        fn memory_display_round_trips(bytes in MIN_MEMORY..MAX_MEMORY) {
            let m = Memory::from_bytes(bytes).unwrap();
            prop_assert_eq!(Memory::parse(&m.to_string()).unwrap(), m);
        }

        #[test]
        fn cpus_display_round_trips(millis in 1u32..=MAX_MILLICPUS) {
            let c = Cpus::from_millis(millis).unwrap();
            let back: Cpus = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            prop_assert_eq!(back, c);
        }
    }
}
