//! The controller's one wall clock: [`now_ms`], Unix milliseconds. The daemon, the AWS
//! provider and the local group all read time here (the pure core never does: time is its
//! argument).

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time, Unix milliseconds (0 before the epoch).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
