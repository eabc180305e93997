//! Reconnect delays: exponential, capped, with jitter so that hosts that
//! failed together do not retry in lockstep.

use std::time::Duration;

pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay, drawn from [ceiling/2, ceiling].
    pub fn next_delay(&mut self) -> Duration {
        let d = delay(self.base, self.cap, self.attempt, fastrand::f64());
        self.attempt = self.attempt.saturating_add(1);
        d
    }
}

/// `unit` in [0, 1) picks the point between half and all of the ceiling.
pub fn delay(base: Duration, cap: Duration, attempt: u32, unit: f64) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(cap);
    ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let (b, c) = (Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(delay(b, c, 0, 1.0), Duration::from_secs(1));
        assert_eq!(delay(b, c, 3, 1.0), Duration::from_secs(8));
        assert_eq!(delay(b, c, 10, 1.0), c);
        assert_eq!(delay(b, c, 40, 0.0), c / 2);
        assert_eq!(delay(b, c, 0, 0.0), Duration::from_millis(500));
    }
}
