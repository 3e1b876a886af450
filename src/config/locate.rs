//! Finding the line of a key after the document has parsed.
//!
//! Some mistakes only show once the whole file is read: a duplicate target
//! name, an unset `password_env` variable, a contradiction between two keys.
//! They must still name their line (docs/configuration.md), but serde_norway exposes a
//! position only on errors. So we ask it for one: walk the same text again
//! with the same parser and fail on purpose at the key we want; the error
//! carries the key's position. Using the parser that read the file (rather
//! than a second YAML library) means both always agree on what the document
//! is, anchors and merge keys included. It runs only when reporting an error.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{KeyPath, Seg};

/// The message of the deliberate error; anything else means "not found".
const FOUND: &str = "ftp_exporter-config-locate-found";

/// The 1-based line of the key at `path` (or of the value, for a list item);
/// `None` if the path is not in the document.
pub(crate) fn line_of(text: &str, path: &KeyPath) -> Option<usize> {
    find(text, path, 0)
}

/// The line where the last key of `path` appears a second time in its
/// mapping (serde reports a repeated key at the mapping, not at the repeat).
pub(crate) fn line_of_repeat(text: &str, path: &KeyPath) -> Option<usize> {
    find(text, path, 1)
}

fn find(text: &str, path: &KeyPath, skip: usize) -> Option<usize> {
    let de = serde_norway::Deserializer::from_str(text);
    let skip = Cell::new(skip);
    match (Walk { rest: &path.0, skip: &skip }).deserialize(de) {
        Ok(()) => None,
        Err(e) if e.to_string().contains(FOUND) => {
            e.location().map(|l| super::error::line_at(text, l.index()))
        }
        Err(_) => None,
    }
}

/// Walks down `rest`; at its end, fails with [`FOUND`].
struct Walk<'p> {
    rest: &'p [Seg],
    /// Matches of the last key to pass over before failing.
    skip: &'p Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    // Reached the end of the path on a value: its own position is the answer.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (want, rest) = match self.rest.split_first() {
            None => return Err(de::Error::custom(FOUND)),
            Some((Seg::Index(i), rest)) => (*i, rest),
            Some((Seg::Key(_), _)) => return Ok(()),
        };
        let mut i = 0;
        while i < want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
        seq.next_element_seed(Walk { rest, skip: self.skip })?;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (want, rest) = match self.rest.split_first() {
            None => return Err(de::Error::custom(FOUND)),
            Some((Seg::Key(k), rest)) => (k.as_str(), rest),
            Some((Seg::Index(_), _)) => return Ok(()),
        };
        // The last step fails on the key itself, so the line is the key's
        // even when its value is a block starting on the next line.
        let last = rest.is_empty();
        while let Some(found) = map.next_key_seed(Key { want, last, skip: self.skip })? {
            if found {
                return map.next_value_seed(Walk { rest, skip: self.skip });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

impl Walk<'_> {
    fn scalar<E: de::Error>(self) -> Result<(), E> {
        if self.rest.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

/// A map key: `true` if it is the one wanted (or fails there if `last`).
struct Key<'a> {
    want: &'a str,
    last: bool,
    skip: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key != self.want {
            return Ok(false);
        }
        if !self.last {
            return Ok(true);
        }
        match self.skip.get() {
            0 => Err(E::custom(FOUND)),
            n => {
                self.skip.set(n - 1);
                Ok(false)
            }
        }
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
defaults:
  interval: 10s
targets:
  - name: a
    address: x
  - name: b
    check:
      list: /in
    labels: {env: prod}
";

    fn at(p: KeyPath) -> Option<usize> {
        line_of(DOC, &p)
    }

    #[test]
    fn finds_keys_items_and_nested_values() {
        let t = KeyPath::root().key("targets");
        assert_eq!(at(KeyPath::root().key("defaults").key("interval")), Some(2));
        assert_eq!(at(t.clone()), Some(3));
        assert_eq!(at(t.index(0)), Some(4));
        assert_eq!(at(t.index(1).key("name")), Some(6));
        assert_eq!(at(t.index(1).key("check")), Some(7));
        assert_eq!(at(t.index(1).key("check").key("list")), Some(8));
        assert_eq!(at(t.index(1).key("labels").key("env")), Some(9));
    }

    #[test]
    fn finds_a_repeated_key() {
        let text = "a:\n  b: 1\n  c: 2\n  b: 3\n";
        let b = KeyPath::root().key("a").key("b");
        assert_eq!(line_of(text, &b), Some(2));
        assert_eq!(line_of_repeat(text, &b), Some(4));
        assert_eq!(line_of_repeat(text, &KeyPath::root().key("a").key("c")), None);
    }

    #[test]
    fn missing_paths_have_no_line() {
        let t = KeyPath::root().key("targets");
        assert_eq!(at(t.index(5)), None);
        assert_eq!(at(t.index(0).key("check")), None);
        assert_eq!(at(KeyPath::root().key("defaults").index(0)), None);
    }
}
