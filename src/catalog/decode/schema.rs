//! The field names a model type expects, read from its own serde derive, so a decoder's
//! list of known keys is the model's and cannot drift from it.
//!
//! A derived `Deserialize` hands its field names to `deserialize_struct`. `Walk` is a
//! deserializer that follows a path of keys through structs, maps and options, and notes
//! the names it is handed where the path ends. It reads no input.

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;

/// Field names as serde's derive spells them (after any `rename`).
pub type Fields = &'static [&'static str];

/// The fields of the struct at `path` inside `T`, through struct fields, map values and
/// options; `None` when no struct is there (a map, a list, a plain value, an unknown key).
pub fn fields_at<'de, T: Deserialize<'de>>(path: &[String]) -> Option<Fields> {
    let found = Cell::new(None);
    // The walk always ends in an error, where it found the struct or where the path led
    // nowhere; only what it noted on the way matters.
    let _ = T::deserialize(Walk {
        path,
        found: &found,
    });
    found.get()
}

#[derive(Clone, Copy)]
struct Walk<'a> {
    path: &'a [String],
    found: &'a Cell<Option<Fields>>,
}

fn stop<T>() -> Result<T, de::value::Error> {
    Err(de::Error::custom("walk ends here"))
}

impl<'de> Deserializer<'de> for Walk<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        stop()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: Fields,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if self.path.is_empty() {
            self.found.set(Some(fields));
            return stop();
        }
        self.deserialize_map(visitor)
    }

    /// Steps into the value under the path's next key, as a one-entry mapping.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.path.split_first() {
            Some((key, rest)) => visitor.visit_map(Step {
                key: Some(key),
                value: Walk {
                    path: rest,
                    found: self.found,
                },
            }),
            None => stop(),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

/// A mapping with the one key the walk follows.
struct Step<'a> {
    key: Option<&'a String>,
    value: Walk<'a>,
}

impl<'de> MapAccess<'de> for Step<'_> {
    type Error = de::value::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.key.take() {
            Some(key) => seed.deserialize(key.as_str().into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        seed.deserialize(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Catalog, ServerDef};

    fn at(path: &[&str]) -> Option<Fields> {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        fields_at::<ServerDef>(&path)
    }

    #[test]
    fn the_field_names_come_from_the_model() {
        let top = at(&[]).unwrap();
        assert_eq!(top[..3], ["id", "display_name", "description"]);
        assert!(top.contains(&"writable_rootfs"));
        assert_eq!(at(&["resources"]), Some(&["memory", "cpus", "pids"][..]));
        assert_eq!(fields_at::<Catalog>(&[]).unwrap()[0], "version");
    }

    #[test]
    fn the_walk_goes_through_options_and_map_values_and_honours_renames() {
        assert_eq!(at(&["health_check"]).unwrap()[0], "type");
        assert_eq!(
            at(&["parameters", "any-name"]),
            Some(&["description", "default", "required", "type"][..])
        );
    }

    #[test]
    fn maps_lists_values_and_unknown_keys_have_no_fields() {
        assert_eq!(at(&["env"]), None);
        assert_eq!(at(&["secrets"]), None);
        assert_eq!(at(&["image"]), None);
        assert_eq!(at(&["resources", "memory"]), None);
        assert_eq!(at(&["transprot"]), None);
    }
}
