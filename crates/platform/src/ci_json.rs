//! DIGIT's Java services bind JSON with Jackson's `ACCEPT_CASE_INSENSITIVE_PROPERTIES` and
//! ignore unknown fields; their clients send `RequestInfo` as well as `requestInfo`, and
//! numbers as strings (`"pageSize": "100"`). This module gives serde the same tolerance:
//! [`from_value`] deserializes a `serde_json::Value` into any `Deserialize` type, matching
//! struct field names without regard to letter case, at every depth, and coercing scalars the
//! way Jackson does (numeric strings to numbers, numbers and booleans to strings).
//!
//! It works on the struct field list serde hands to `deserialize_struct`, so types must not
//! rely on `#[serde(flatten)]` for fields that need case-insensitive matching.

use serde::Deserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// Deserialize `value` into `T`, matching field names case-insensitively.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(CiValue(value))
}

struct CiValue(Value);

impl CiValue {
    /// Jackson reads `"12"` as the number 12 for numeric fields.
    fn numeric(self) -> Value {
        match self.0 {
            Value::String(s) => match s.trim().parse::<serde_json::Number>() {
                Ok(n) => Value::Number(n),
                Err(_) => Value::String(s),
            },
            other => other,
        }
    }
}

macro_rules! numeric {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.numeric().$method(visitor)
        }
    )*};
}

macro_rules! delegate {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for CiValue {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(CiSeq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(CiMap::new(map, None)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(CiValue(other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(CiMap::new(map, Some(fields))),
            Value::Array(items) => visitor.visit_seq(CiSeq(items.into_iter())),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(CiSeq(items.into_iter())),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            other => other.deserialize_string(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) if s.eq_ignore_ascii_case("true") => visitor.visit_bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => visitor.visit_bool(false),
            other => other.deserialize_bool(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    numeric!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64
    );

    delegate!(
        deserialize_char,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_identifier,
        deserialize_ignored_any
    );
}

struct CiSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for CiSeq {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(CiValue(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct CiMap {
    entries: serde_json::map::IntoIter,
    pending: Option<Value>,
    fields: Option<&'static [&'static str]>,
    /// Field names already handed to serde: a second spelling of the same field
    /// (`RequestInfo` and `requestInfo`) is skipped instead of failing as a duplicate.
    seen: Vec<&'static str>,
}

impl CiMap {
    fn new(map: Map<String, Value>, fields: Option<&'static [&'static str]>) -> Self {
        CiMap {
            entries: map.into_iter(),
            pending: None,
            fields,
            seen: Vec::new(),
        }
    }
}

impl<'de> MapAccess<'de> for CiMap {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        for (key, value) in self.entries.by_ref() {
            let Some(fields) = self.fields else {
                self.pending = Some(value);
                return seed.deserialize(key.into_deserializer()).map(Some);
            };
            let matched = fields
                .iter()
                .find(|f| **f == key)
                .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(&key)));
            match matched {
                Some(field) if self.seen.contains(field) => continue,
                Some(field) => {
                    self.seen.push(field);
                    self.pending = Some(value);
                    let name: de::value::StrDeserializer<'_, serde_json::Error> =
                        field.into_deserializer();
                    return seed.deserialize(name).map(Some);
                }
                None => {
                    self.pending = Some(value);
                    return seed.deserialize(key.into_deserializer()).map(Some);
                }
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("value requested before key"))?;
        seed.deserialize(CiValue(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        page_size: Option<i64>,
        user_name: String,
        active: Option<bool>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Outer {
        #[serde(rename = "RequestInfo")]
        request_info: Inner,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn matches_fields_in_any_case_at_any_depth() {
        let v = json!({
            "requestInfo": {"PAGESIZE": "100", "username": 42, "Active": "true", "unknown": 1},
            "ITEMS": [{"userName": "a"}]
        });
        let out: Outer = from_value(v).unwrap();
        assert_eq!(out.request_info.page_size, Some(100));
        assert_eq!(out.request_info.user_name, "42");
        assert_eq!(out.request_info.active, Some(true));
        assert_eq!(out.items[0].user_name, "a");
    }

    #[test]
    fn a_second_spelling_of_a_field_is_ignored() {
        let v =
            json!({"RequestInfo": {"userName": "first"}, "requestInfo": {"userName": "second"}});
        let out: Outer = from_value(v).unwrap();
        assert_eq!(out.request_info.user_name, "first");
    }

    #[test]
    fn wrong_types_still_fail() {
        let v = json!({"RequestInfo": {"userName": "a", "pageSize": "abc"}});
        assert!(from_value::<Outer>(v).is_err());
    }
}
