//! Values as configuration documents and environment variables give them,
//! and the typed settings they are read into.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};

use crate::retry::{Backoff, Jitter};

/// One setting's value as a document or variable gives it, before it is read
/// as the setting's type.
///
/// Environment variables are always strings, so every setting also accepts
/// its value written as a string (`"3"`, `"0.5"`, `"true"`). Durations are
/// strings with a unit (`"250us"`, `"100ms"`, `"5s"`, `"2m"`, `"1h"`), and
/// optional settings accept `"off"`.
///
/// ```
/// use resil::config::Value;
///
/// assert_eq!(Value::from(3), Value::Int(3));
/// assert_eq!(Value::from("100ms").to_string(), "\"100ms\"");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A string.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

macro_rules! from_int {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Value {
            fn from(value: $ty) -> Self {
                Value::Int(i64::from(value))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Str(value)
    }
}

impl From<Duration> for Value {
    fn from(value: Duration) -> Self {
        Value::Str(crate::duration::display(value))
    }
}

/// A node of a configuration document: a value, or a table of nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Value(Value),
    Table(Vec<(String, Node)>),
    /// Anything else (a list, a null), named for the error message.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table, a number, a string or a boolean")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Value(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Value(Value::Int(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Value(match i64::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Float(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Value(Value::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Value(Value::Str(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Value(Value::Str(v)))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other("an empty value"))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other("an empty value"))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Node::Other("a list"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Table(entries))
    }
}

/// A type a setting is read into.
pub(crate) trait Setting: Sized {
    /// Reads a value, or says what was expected instead.
    fn read(value: &Value) -> Result<Self, String>;
    /// The value that reads back as `self`.
    fn write(&self) -> Value;
}

fn found(value: &Value) -> String {
    match value {
        Value::Bool(b) => format!("`{b}`"),
        Value::Int(n) => format!("the integer {n}"),
        Value::Float(x) => format!("the number {x:?}"),
        Value::Str(s) => format!("the string {s:?}"),
    }
}

impl Setting for u32 {
    fn read(value: &Value) -> Result<Self, String> {
        let expected = || {
            format!(
                "expected a whole number from 0 to {}, found {}",
                u32::MAX,
                found(value)
            )
        };
        match value {
            Value::Int(n) => u32::try_from(*n).map_err(|_| expected()),
            Value::Str(s) => s.trim().parse().map_err(|_| expected()),
            _ => Err(expected()),
        }
    }
    fn write(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl Setting for f64 {
    fn read(value: &Value) -> Result<Self, String> {
        let expected = || format!("expected a number, found {}", found(value));
        match value {
            Value::Int(n) => Ok(*n as f64),
            Value::Float(x) => Ok(*x),
            Value::Str(s) => s.trim().parse().map_err(|_| expected()),
            Value::Bool(_) => Err(expected()),
        }
    }
    fn write(&self) -> Value {
        Value::Float(*self)
    }
}

impl Setting for bool {
    fn read(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            other => Err(format!(
                "expected `true` or `false`, found {}",
                found(other)
            )),
        }
    }
    fn write(&self) -> Value {
        Value::Bool(*self)
    }
}

impl Setting for Duration {
    fn read(value: &Value) -> Result<Self, String> {
        match value {
            Value::Str(s) => {
                parse_duration(s).map_err(|why| format!("{why}, found {}", found(value)))
            }
            Value::Int(_) | Value::Float(_) => Err(format!(
                "expected a duration with a unit, like \"{value}ms\" or \"{value}s\", found {}",
                found(value)
            )),
            Value::Bool(_) => Err(format!(
                "expected a duration like \"100ms\" or \"5s\", found {}",
                found(value)
            )),
        }
    }
    fn write(&self) -> Value {
        Value::from(*self)
    }
}

impl<T: Setting> Setting for Option<T> {
    fn read(value: &Value) -> Result<Self, String> {
        match value {
            Value::Str(s) if s.trim().eq_ignore_ascii_case("off") => Ok(None),
            other => T::read(other)
                .map(Some)
                .map_err(|why| format!("{why} (or \"off\")")),
        }
    }
    fn write(&self) -> Value {
        match self {
            Some(value) => value.write(),
            None => Value::Str("off".to_owned()),
        }
    }
}

/// A choice out of fixed words, like `backoff = "linear"`.
fn choose<T: Copy + PartialEq>(value: &Value, choices: &[(&str, T)]) -> Result<T, String> {
    if let Value::Str(s) = value
        && let Some((_, choice)) = choices.iter().find(|(word, _)| s.trim() == *word)
    {
        return Ok(*choice);
    }
    let words: Vec<String> = choices
        .iter()
        .map(|(word, _)| format!("\"{word}\""))
        .collect();
    Err(format!(
        "expected one of {}, found {}",
        words.join(", "),
        found(value)
    ))
}

fn word<T: Copy + PartialEq>(value: T, choices: &[(&'static str, T)]) -> Value {
    let word = choices
        .iter()
        .find(|(_, choice)| *choice == value)
        .map_or("", |(word, _)| *word);
    Value::Str(word.to_owned())
}

const BACKOFFS: &[(&str, Backoff)] = &[
    ("exponential", Backoff::Exponential),
    ("linear", Backoff::Linear),
    ("fibonacci", Backoff::Fibonacci),
    ("constant", Backoff::Constant),
];

const JITTERS: &[(&str, Jitter)] = &[
    ("none", Jitter::None),
    ("full", Jitter::Full),
    ("equal", Jitter::Equal),
    ("decorrelated", Jitter::Decorrelated),
];

impl Setting for Backoff {
    fn read(value: &Value) -> Result<Self, String> {
        choose(value, BACKOFFS)
    }
    fn write(&self) -> Value {
        word(*self, BACKOFFS)
    }
}

impl Setting for Jitter {
    fn read(value: &Value) -> Result<Self, String> {
        choose(value, JITTERS)
    }
    fn write(&self) -> Value {
        word(*self, JITTERS)
    }
}

/// Reads `"250us"`, `"100ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"10ns"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    const UNITS: &str = "expected a duration with a unit: ns, us, ms, s, m or h (like \"100ms\")";
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3_600e9,
        _ => return Err(UNITS),
    };
    if number.is_empty() {
        return Err(UNITS);
    }
    if !number.contains('.')
        && let Ok(whole) = number.parse::<u64>()
    {
        let nanos = u128::from(whole) * nanos_per_unit as u128;
        return u64::try_from(nanos)
            .map(Duration::from_nanos)
            .map_err(|_| "expected a duration shorter than 584 years");
    }
    let amount: f64 = number.parse().map_err(|_| UNITS)?;
    let nanos = (amount * nanos_per_unit).round();
    if !(0.0..=u64::MAX as f64).contains(&nanos) {
        return Err("expected a duration shorter than 584 years");
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Values serialize as what they hold, for the configuration report.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::Str(s) => serializer.serialize_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["100", "ms", "1.2.3s", "5 parsecs", "-1s", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_read_what_they_write() {
        for d in [
            Duration::from_nanos(7),
            Duration::from_millis(1500),
            Duration::from_secs(60),
        ] {
            assert_eq!(Duration::read(&d.write()), Ok(d));
        }
        assert_eq!(<Option<f64>>::read(&None::<f64>.write()), Ok(None));
        assert_eq!(<Option<f64>>::read(&Some(0.5).write()), Ok(Some(0.5)));
        for backoff in [Backoff::Linear, Backoff::Constant] {
            assert_eq!(Backoff::read(&backoff.write()), Ok(backoff));
        }
        assert_eq!(u32::read(&Value::from("12")), Ok(12));
        assert_eq!(bool::read(&Value::from("FALSE")), Ok(false));
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        assert_eq!(
            u32::read(&Value::from(-1)),
            Err("expected a whole number from 0 to 4294967295, found the integer -1".to_owned())
        );
        assert_eq!(
            Duration::read(&Value::from(30)),
            Err(
                "expected a duration with a unit, like \"30ms\" or \"30s\", found the integer 30"
                    .to_owned()
            )
        );
        assert_eq!(
            Jitter::read(&Value::from("ful")),
            Err("expected one of \"none\", \"full\", \"equal\", \"decorrelated\", found the string \"ful\"".to_owned())
        );
        assert_eq!(
            <Option<f64>>::read(&Value::from(true)),
            Err("expected a number, found `true` (or \"off\")".to_owned())
        );
    }
}
