//! Durations as people write them (`100ms`, `5s`, `2m`), for messages,
//! snapshots and configuration.

use std::time::Duration;

use serde::Serializer;

/// Formats a duration in the largest unit that keeps it whole: `60s`,
/// `100ms`, `1500ms`, `250us`.
pub(crate) fn display(d: Duration) -> String {
    let nanos = d.as_nanos();
    const UNITS: [(u128, &str); 5] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (size, unit) in UNITS {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// Longer than this reads as "over 100 years": a saturated wait (an open
/// period of `Duration::MAX`, say) is not a number of milliseconds anyone
/// should read.
const FOR_PEOPLE_CAP: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Like [`display`], rounded up to whole milliseconds first, and at least
/// one: what a person reading "retry after ..." wants, never an earlier time
/// than the real one, and never "0s" beside a `Retry-After` header that
/// says 1 (a half-open breaker with every trial slot taken refuses with no
/// wait of its own).
pub(crate) fn display_for_people(d: Duration) -> String {
    if d > FOR_PEOPLE_CAP {
        return "over 100 years".to_owned();
    }
    let millis = d.as_nanos().div_ceil(1_000_000).max(1);
    display(Duration::from_millis(
        u64::try_from(millis).unwrap_or(u64::MAX),
    ))
}

pub(crate) fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&display(*d))
}

/// [`serialize`] for an optional duration: `null` when absent.
pub(crate) fn serialize_option<S: Serializer>(
    d: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serializer.serialize_str(&display(*d)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_largest_whole_unit() {
        assert_eq!(display(Duration::from_secs(60)), "1m");
        assert_eq!(display(Duration::from_secs(5)), "5s");
        assert_eq!(display(Duration::from_millis(100)), "100ms");
        assert_eq!(display(Duration::from_millis(1500)), "1500ms");
        assert_eq!(display(Duration::from_micros(250)), "250us");
        assert_eq!(display(Duration::from_nanos(7)), "7ns");
        assert_eq!(display(Duration::ZERO), "0s");
        assert_eq!(display(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn messages_never_say_zero_or_a_saturated_number() {
        assert_eq!(display_for_people(Duration::ZERO), "1ms");
        assert_eq!(display_for_people(Duration::from_nanos(1)), "1ms");
        assert_eq!(display_for_people(Duration::MAX), "over 100 years");
        assert_eq!(
            display_for_people(Duration::from_millis(u64::MAX)),
            "over 100 years"
        );
        assert_ne!(display_for_people(FOR_PEOPLE_CAP), "over 100 years");
    }

    #[test]
    fn messages_round_up_to_whole_milliseconds() {
        assert_eq!(display_for_people(Duration::from_micros(913_422)), "914ms");
        assert_eq!(display_for_people(Duration::from_secs(30)), "30s");
        assert_eq!(display_for_people(Duration::from_nanos(1)), "1ms");
    }
}
