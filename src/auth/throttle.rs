//! Slowing down password guessing: after too many failed sign-ins for one
//! address within a window, further attempts are refused (HTTP 429) until
//! the oldest failure leaves the window — even with the right password, so
//! a guesser learns nothing from the refusal.
//!
//! Kept in memory, per process: failed attempts are not events (nothing
//! happened to any aggregate, and an attacker must not be able to grow the
//! log). A restart forgets them; several processes each count their own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Failures allowed per address within [`WINDOW_MINUTES`].
pub const MAX_FAILURES: usize = 5;
pub const WINDOW_MINUTES: i64 = 15;
/// Addresses tracked at most; beyond, entries whose failures all left the
/// window are dropped first, then the map starts over.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl SignInThrottle {
    /// `Err(seconds to wait)` when `key` has too many recent failures.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), i64> {
        let Ok(mut failures) = self.failures.lock() else {
            return Ok(());
        };
        let Some(times) = failures.get_mut(key) else {
            return Ok(());
        };
        prune(times, now);
        if times.len() >= MAX_FAILURES {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = (oldest + Duration::minutes(WINDOW_MINUTES) - now).num_seconds();
            return Err(wait.max(1));
        }
        Ok(())
    }

    pub fn failed(&self, key: &str, now: DateTime<Utc>) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED && !failures.contains_key(key) {
            failures.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let times = failures.entry(key.to_owned()).or_default();
        prune(times, now);
        times.push_back(now);
    }

    pub fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}

fn prune(times: &mut VecDeque<DateTime<Utc>>, now: DateTime<Utc>) {
    while times
        .front()
        .is_some_and(|t| *t + Duration::minutes(WINDOW_MINUTES) <= now)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_failures_lock_the_address_for_the_rest_of_the_window() {
        let throttle = SignInThrottle::default();
        let start = Utc::now();
        for i in 0..MAX_FAILURES {
            assert!(throttle.check("a@x", start).is_ok());
            throttle.failed("a@x", start + Duration::seconds(i as i64));
        }
        let wait = throttle
            .check("a@x", start + Duration::minutes(1))
            .unwrap_err();
        assert!((13 * 60..=14 * 60).contains(&wait), "{wait}");
        assert!(throttle.check("b@x", start).is_ok());
        assert!(throttle
            .check(
                "a@x",
                start + Duration::minutes(WINDOW_MINUTES) + Duration::seconds(5)
            )
            .is_ok());
        throttle.succeeded("a@x");
        assert!(throttle.check("a@x", start + Duration::minutes(1)).is_ok());
    }
}
