//! The one wall clock the crate reads: tokens count seconds; throttling and the client layer
//! milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as JWT NumericDates count them.
pub(crate) fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
