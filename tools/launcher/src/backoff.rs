//! Restart delays: a capped doubling that forgets old crashes once a service has
//! stayed up for a while.

use std::time::Duration;

/// How long to wait before restarting a service that exited unexpectedly.
///
/// The delay starts at `initial`, doubles after every crash up to `max`, and goes back
/// to `initial` once a run lasted at least `reset_after`. Doubling keeps a service that
/// fails at once (missing model, port taken) from spinning a core; the reset keeps a
/// service that crashes once a day from waiting the full cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The delay before the first restart.
    pub initial: Duration,
    /// The most the delay ever grows to.
    pub max: Duration,
    /// A run at least this long counts as healthy and resets the delay.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    /// 0.5 s doubling to a 30 s cap, reset after 60 s up.
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// The running state of a [`BackoffPolicy`] for one service.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    next: Duration,
}

impl Backoff {
    /// A fresh backoff whose first delay is `policy.initial`.
    pub fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            next: policy.initial,
        }
    }

    /// The delay to wait after a run that lasted `uptime`, advancing the state.
    pub fn delay_after(&mut self, uptime: Duration) -> Duration {
        if uptime >= self.policy.reset_after {
            self.next = self.policy.initial;
        }
        let delay = self.next.min(self.policy.max);
        self.next = delay.saturating_mul(2).min(self.policy.max);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets_after_a_long_run() {
        let mut backoff = Backoff::new(BackoffPolicy::default());
        let quick = Duration::from_secs(1);
        let delays: Vec<f64> = (0..9)
            .map(|_| backoff.delay_after(quick).as_secs_f64())
            .collect();
        assert_eq!(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(
            backoff.delay_after(Duration::from_secs(60)),
            Duration::from_millis(500)
        );
        assert_eq!(backoff.delay_after(quick), Duration::from_secs(1));
    }
}
