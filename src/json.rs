//! A JSON object as its members in order, read as `JSON.parse` reads one: a repeated key keeps
//! its first place and its last value. Request bodies and the h3 session object have a handful
//! of keys: a list searched in place costs less than the hash map (an `IndexMap` with SipHash
//! keys) a `serde_json::Value` object builds.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// An object's members, in order, each key once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Members<V>(Vec<(String, V)>);

impl<V> Members<V> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`'s value: in its place if it has one, else last.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key, value)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(String, V)> {
        self.0.iter()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Members<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Object<V> {
            type Value = Members<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<V>, A::Error> {
                let mut members = Members::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    members.insert(key, value);
                }
                Ok(members)
            }
        }
        deserializer.deserialize_map(Object(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let members: Members<Value> =
            serde_json::from_str(r#"{"a":1,"b":2,"a":3,"c":{"a":4}}"#).unwrap();
        let read: Vec<_> = members
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        assert_eq!(
            read,
            [("a", json!(3)), ("b", json!(2)), ("c", json!({"a": 4}))]
        );
        assert_eq!(members.get("b"), Some(&json!(2)));
        assert!(!members.contains_key("d"));
        for not_an_object in ["[]", "1", "null", "\"a\""] {
            assert!(serde_json::from_str::<Members<Value>>(not_an_object).is_err());
        }
    }
}
