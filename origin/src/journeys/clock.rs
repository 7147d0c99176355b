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

/// A clock that stands still until set (it starts at the system time).
#[derive(Debug)]
pub struct TestClock(AtomicU64);

impl TestClock {
    /// A clock at the current system time.
    pub fn new() -> TestClock {
        TestClock(AtomicU64::new(crate::channels::now_unix()))
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
        let t = c.now();
        assert!(c.set(t + 3600));
        assert_eq!(c.now(), t + 3600);
        assert!(!SystemClock.set(1));
    }
}
