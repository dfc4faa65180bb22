//! Changing a live breaker's settings.

use super::sliding::Window;
use super::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{ConfigError, PolicyKind};
use crate::route::Route;

/// Where a registered breaker's [`reconfigure`](CircuitBreaker::reconfigure) goes:
/// through the registry, as a run-time layer (see `crate::route`).
pub(crate) static ROUTE: Route<CircuitBreaker, CircuitBreakerConfig> = Route::new();

impl CircuitBreaker {
    /// Replaces the settings while the breaker runs, keeping its state,
    /// failure streak, window and counters. Invalid settings are an error
    /// and change nothing.
    ///
    /// A breaker that is already open keeps the deadline it was given; a
    /// new `timeout` applies from the next time it opens. The failure-rate
    /// window is allocated when the breaker is built, so `window` cannot
    /// change afterwards (`window`, `time_window`, and whether `slow_call`
    /// is set with a count window), and `failure_rate` or `slow_call`
    /// cannot be turned on in a breaker built without a window: set those in
    /// code, or in configuration loaded before the first call (see
    /// [`crate::config`]).
    ///
    /// A breaker the [`registry()`](crate::registry()) holds changes
    /// through it, as a run-time layer: `registry().configuration()`
    /// reports the change, which changes to other settings and to lower
    /// layers (a file, the environment) leave in force, and an
    /// error is the registry's ([`ConfigError::NotApplied`]). A breaker built
    /// with `new` changes alone.
    ///
    /// ```
    /// use resil::{CircuitBreaker, CircuitBreakerConfig};
    ///
    /// let breaker = CircuitBreaker::new("reconfigure-doc", CircuitBreakerConfig::DEFAULT).unwrap();
    /// breaker.reconfigure(breaker.config().threshold(2)).unwrap();
    /// assert_eq!(breaker.config().threshold, 2);
    /// assert!(breaker.reconfigure(breaker.config().threshold(0)).is_err());
    /// assert_eq!(breaker.config().threshold, 2);
    /// ```
    pub fn reconfigure(&self, config: CircuitBreakerConfig) -> Result<(), ConfigError> {
        if let Some(routed) = ROUTE.take(self, &config) {
            return routed;
        }
        self.reconfigure_in_place(config)
    }

    /// The change itself, made on this breaker alone: the registry calls it
    /// once a run-time layer's change is checked, and
    /// [`reconfigure`](Self::reconfigure) for a breaker it does not hold.
    pub(crate) fn reconfigure_in_place(
        &self,
        config: CircuitBreakerConfig,
    ) -> Result<(), ConfigError> {
        self.check_reconfigure(&config)?;
        self.config.store(&config);
        tracing::info!(target: "resil", policy = %self.name, ?config, "circuit breaker reconfigured");
        Ok(())
    }

    /// Whether [`reconfigure`](Self::reconfigure) would accept `config`.
    pub(crate) fn check_reconfigure(
        &self,
        config: &CircuitBreakerConfig,
    ) -> Result<(), ConfigError> {
        config.validate(self.name.as_str())?;
        let fixed = |key, reason: String| {
            Err(ConfigError::InvalidValue {
                kind: PolicyKind::CircuitBreaker,
                policy: self.name.to_string(),
                key,
                reason,
            })
        };
        const WHERE: &str =
            "set it in code, or in configuration loaded before the breaker's first call";
        let built = self.config.load();
        match &self.window {
            None if config.has_window() => fixed(
                if config.failure_rate.is_some() {
                    "failure_rate"
                } else {
                    "slow_call"
                },
                format!(
                    "cannot be turned on while the breaker runs: it was built without a window of recent calls; {WHERE}"
                ),
            ),
            Some(Window::Count(_)) if config.time_window.is_some() => fixed(
                "time_window",
                format!(
                    "cannot change while the breaker runs (it counts the last {} calls); {WHERE}",
                    built.window
                ),
            ),
            Some(Window::Count(_)) if built.window != config.window => fixed(
                "window",
                format!(
                    "cannot change while the breaker runs (it is {}, not {}): its window is allocated when it is built; {WHERE}",
                    built.window, config.window
                ),
            ),
            Some(Window::Count(_)) if built.slow_call.is_some() != config.slow_call.is_some() => {
                fixed(
                    "slow_call",
                    format!(
                        "cannot be turned on or off while the breaker runs: its window is allocated when it is built; {WHERE}"
                    ),
                )
            }
            Some(Window::Time(_)) if built.time_window != config.time_window => fixed(
                "time_window",
                format!(
                    "cannot change while the breaker runs (it is {}): its window is allocated when it is built; {WHERE}",
                    built
                        .time_window
                        .map_or("off".to_owned(), crate::duration::display)
                ),
            ),
            _ => Ok(()),
        }
    }
}
