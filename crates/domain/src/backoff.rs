//! The one retry schedule of the service: exponential backoff with full jitter, a cap, and a
//! deadline. Each wait is uniform in [0, min(cap, base * 2^attempt)], so that many clients retrying
//! together spread out instead of hitting DynamoDB or SQS in step; no wait runs past the deadline.
//! The drain, the reader's `BatchGetItem` and the queue's `SendMessageBatch` all retry with it.

use std::time::{Duration, Instant};

use rand::Rng;

/// The shape of a schedule; [`Backoff::until`] starts one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// The largest ceiling any wait may have.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(25),
            cap: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait before retry number `attempt` (0 for the first).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap)
    }

    /// A wait drawn uniformly from [0, ceiling(attempt)].
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_micros() as u64;
        Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling))
    }

    /// A schedule that gives up rather than wait past `deadline`.
    pub fn until(self, deadline: Instant) -> Retries {
        Retries {
            backoff: self,
            deadline,
            attempt: 0,
        }
    }
}

/// One caller's retries under a [`Backoff`].
#[derive(Debug, Clone)]
pub struct Retries {
    backoff: Backoff,
    deadline: Instant,
    attempt: u32,
}

impl Retries {
    /// How long to wait before the next try, or `None` when that wait would end at or past the
    /// deadline: then the caller gives up and reports what is left.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.backoff.delay(self.attempt);
        if Instant::now() + delay >= self.deadline {
            return None;
        }
        self.attempt += 1;
        Some(delay)
    }

    /// Retries granted so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(100),
        };
        let ceilings: Vec<u128> = (0..6).map(|a| p.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, vec![10, 20, 40, 80, 100, 100]);
        assert_eq!(p.ceiling(1000), Duration::from_millis(100));
    }

    #[test]
    fn delays_stay_within_the_ceiling() {
        let p = Backoff::default();
        for attempt in 0..10 {
            assert!(p.delay(attempt) <= p.ceiling(attempt));
        }
    }

    #[test]
    fn no_wait_runs_past_the_deadline() {
        let backoff = Backoff {
            base: Duration::from_millis(40),
            cap: Duration::from_millis(40),
        };
        // A deadline already passed grants nothing.
        assert_eq!(backoff.until(Instant::now()).next_delay(), None);
        // A far deadline grants waits within the ceiling, and counts them.
        let mut retries = backoff.until(Instant::now() + Duration::from_secs(60));
        for _ in 0..5 {
            assert!(retries.next_delay().unwrap() <= Duration::from_millis(40));
        }
        assert_eq!(retries.attempts(), 5);
        // A deadline shorter than any wait the ceiling allows is never overrun.
        let deadline = Instant::now() + Duration::from_millis(5);
        let mut retries = backoff.until(deadline);
        while let Some(delay) = retries.next_delay() {
            assert!(Instant::now() + delay < deadline);
            std::thread::sleep(delay);
        }
    }
}
