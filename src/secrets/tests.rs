//! Tests of sealing, opening, key parsing, rotation and redacted Debug output.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jiff::Timestamp;

use super::*;
use crate::ids::{SecretName, UserId};

fn u(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn n(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

fn sealed(key: &SecretKey, user: &str, name: &str, value: &str) -> Sealed {
    let now = Timestamp::now();
    let meta = SealMeta {
        version: new_version(),
        created_at: now,
        updated_at: now,
        expires_at: None,
    };
    seal(
        key,
        &u(user),
        &n(name),
        &SecretValue::new(value.into()).unwrap(),
        meta,
    )
}

#[test]
fn a_sealed_secret_opens_to_its_value() {
    let key = SecretKey::generate();
    let s = sealed(&key, "u1", "github.token", "ghp_secret");
    assert_eq!(
        open(&key, &u("u1"), &n("github.token"), &s)
            .unwrap()
            .expose(),
        "ghp_secret"
    );
    assert!(!s.ciphertext.contains("ghp_secret"));
    let again = sealed(&key, "u1", "github.token", "ghp_secret");
    assert_ne!(again.nonce, s.nonce, "a fresh nonce every time");
    assert_ne!(again.ciphertext, s.ciphertext);
}

#[test]
fn one_flipped_byte_fails_authentication_naming_user_and_secret_only() {
    let key = SecretKey::generate();
    let mut s = sealed(&key, "u1", "db.password", "hunter2");
    let mut bytes = STANDARD.decode(&s.ciphertext).unwrap();
    bytes[0] ^= 1;
    s.ciphertext = STANDARD.encode(bytes);
    let err = open(&key, &u("u1"), &n("db.password"), &s).unwrap_err();
    assert_eq!(
        err,
        SecretError::Authentication {
            user: u("u1"),
            name: n("db.password")
        }
    );
    let text = err.to_string();
    assert!(
        text.starts_with("secret db.password of user u1 failed authentication"),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
}

#[test]
fn a_ciphertext_moved_to_another_user_or_name_is_refused() {
    let key = SecretKey::generate();
    let s = sealed(&key, "u1", "db.password", "hunter2");
    assert!(matches!(
        open(&key, &u("u2"), &n("db.password"), &s),
        Err(SecretError::Authentication { .. })
    ));
    assert!(matches!(
        open(&key, &u("u1"), &n("db.other"), &s),
        Err(SecretError::Authentication { .. })
    ));
}

#[test]
fn the_wrong_key_is_named() {
    let (a, b) = (SecretKey::generate(), SecretKey::generate());
    let s = sealed(&a, "u1", "x", "v");
    let err = open(&b, &u("u1"), &n("x"), &s).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "is sealed with key {}, not with the current key {}",
            a.id(),
            b.id()
        )),
        "{err}"
    );
}

#[test]
fn keys_parse_from_base64_and_hex_only() {
    let key = SecretKey::generate();
    let b64 = key.to_base64();
    assert_eq!(SecretKey::parse(&b64).unwrap().id(), key.id());
    assert_eq!(
        SecretKey::parse(b64.trim_end_matches('=')).unwrap().id(),
        key.id()
    );
    assert_eq!(
        SecretKey::parse(&format!("  {}\n", *b64)).unwrap().id(),
        key.id()
    );
    let hex_text = hex::encode(*key.bytes);
    assert_eq!(SecretKey::parse(&hex_text).unwrap().id(), key.id());
    assert_eq!(
        SecretKey::parse(&hex_text.to_uppercase()).unwrap().id(),
        key.id()
    );
    for bad in [
        "",
        "short",
        &hex_text[..62],
        &STANDARD.encode([1u8; 16]),
        "not base64 at all!!",
        &"z".repeat(64),
    ] {
        let e = SecretKey::parse(bad).unwrap_err().to_string();
        assert!(e.starts_with("the secret key must be 32 bytes written as base64 (44 characters) or hex (64 characters)"), "{bad}: {e}");
    }
}

#[test]
fn nothing_secret_is_printed_by_debug() {
    let key = SecretKey::generate();
    let value = SecretValue::new("hunter2".into()).unwrap();
    let s = sealed(&key, "u1", "x", "hunter2");
    let shown = format!("{key:?} {value:?} {s:?}");
    assert!(!shown.contains("hunter2"));
    assert!(!shown.contains(key.to_base64().as_str()));
    assert!(!shown.contains(&s.ciphertext));
    assert_eq!(format!("{value:?}"), "SecretValue(<redacted>)");
}

#[test]
fn values_are_checked() {
    assert!(SecretValue::new(String::new()).is_err());
    assert!(SecretValue::new("a\0b".into()).is_err());
    assert!(SecretValue::new("x".repeat(MAX_VALUE_BYTES + 1)).is_err());
}

#[test]
fn an_interrupted_rotation_leaves_every_secret_readable_by_its_key_id() {
    let (old, new) = (SecretKey::generate(), SecretKey::generate());
    let ring = KeyRing::new(old.clone()).with(new.clone());
    let names: Vec<(String, String)> = (0..6)
        .map(|i| (format!("u{i}"), format!("s.{i}")))
        .collect();
    let original: Vec<Sealed> = names
        .iter()
        .map(|(user, name)| sealed(&old, user, name, &format!("value-{name}")))
        .collect();
    // Stop after each possible number of re-sealed secrets, then finish the rotation.
    for stop in 0..=names.len() {
        let mut state = original.clone();
        for (i, (user, name)) in names.iter().enumerate().take(stop) {
            state[i] = reseal(&ring, &new, &u(user), &n(name), &state[i]).unwrap();
        }
        for (i, (user, name)) in names.iter().enumerate() {
            assert_eq!(
                ring.open(&u(user), &n(name), &state[i]).unwrap().expose(),
                format!("value-{name}")
            );
        }
        for (i, (user, name)) in names.iter().enumerate() {
            state[i] = reseal(&ring, &new, &u(user), &n(name), &state[i]).unwrap();
            assert_eq!(
                open(&new, &u(user), &n(name), &state[i]).unwrap().expose(),
                format!("value-{name}")
            );
            assert_eq!(
                state[i].version, original[i].version,
                "re-sealing keeps the version"
            );
        }
    }
}

#[test]
fn a_secret_sealed_before_key_ids_opens_with_whichever_key_sealed_it() {
    let (old, new) = (SecretKey::generate(), SecretKey::generate());
    let mut legacy = sealed(&old, "u1", "a.token", "v");
    legacy.key_id = String::new();
    let json = serde_json::to_value(&legacy).unwrap();
    let mut json = json.as_object().unwrap().clone();
    json.remove("key_id");
    let legacy: Sealed = serde_json::from_value(json.into()).unwrap();
    let ring = KeyRing::new(new.clone()).with(old.clone());
    assert_eq!(
        ring.open(&u("u1"), &n("a.token"), &legacy)
            .unwrap()
            .expose(),
        "v"
    );
    let resealed = reseal(&ring, &new, &u("u1"), &n("a.token"), &legacy).unwrap();
    assert_eq!(resealed.key_id, new.id());
    let without = KeyRing::new(new);
    assert!(matches!(
        without.open(&u("u1"), &n("a.token"), &legacy),
        Err(SecretError::Authentication { .. })
    ));
}

#[test]
fn a_key_the_ring_lacks_is_named() {
    let (old, new) = (SecretKey::generate(), SecretKey::generate());
    let s = sealed(&old, "u1", "a.token", "v");
    let err = KeyRing::new(new.clone())
        .open(&u("u1"), &n("a.token"), &s)
        .unwrap_err();
    assert_eq!(
        err,
        SecretError::WrongKey {
            user: u("u1"),
            name: n("a.token"),
            sealed_with: old.id().into(),
            current: new.id().into(),
        }
    );
}
