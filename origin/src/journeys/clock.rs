//! The time journeys and the outbox run on, injected: the system clock in
//! production, a clock tests set in `slotwise serve --test-clock`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Unix seconds now.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> u64;
    /// Sets the time; false when this clock cannot be set (the system clock).
    fn set(&self, _now: u64) -> bool {
        false
    }
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        crate::channels::now_unix()
    }
}

/// A clock that stands still until set. It starts at 0 (1970): until a test sets
/// it, nothing is due and no trigger is recent, so a restarted replica does nothing
/// on a time of its own before the test gives it the shared one.
#[derive(Debug)]
pub struct TestClock(AtomicU64);

impl TestClock {
    /// A clock at 0.
    pub fn new() -> TestClock {
        TestClock(AtomicU64::new(0))
    }
}

impl Default for TestClock {
    fn default() -> TestClock {
        TestClock::new()
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, now: u64) -> bool {
        self.0.store(now, Ordering::SeqCst);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_stands_still_until_set() {
        let c = TestClock::new();
        assert_eq!(c.now(), 0);
        assert!(c.set(1_800_000_000));
        assert_eq!(c.now(), 1_800_000_000);
        assert!(!SystemClock.set(1));
    }
}
