//! The runtime behind `resil`'s attribute macros: the policy state
//! machines, the global registry, the error type and events.
//!
//! Depend on `resil`, which re-exports all of this; this crate exists so the
//! macros and the runtime can be built apart.
//!
//! # Design
//!
//! - **One `static` per call site.** Each annotated function gets a `static`
//!   per policy that resolves its named policy from the [`registry()`] on the
//!   first call and keeps a direct reference, so no call looks a name up.
//! - **State in atomics.** A circuit breaker's whole state machine is one
//!   `AtomicU64` (state, generation, and the failure streak, open deadline
//!   or trial counts), changed only by compare-and-swap; a bulkhead's running
//!   and waiting counts share another. Closed-path calls and free-capacity
//!   bulkhead calls take no lock and allocate nothing. See the
//!   [`circuit_breaker`] and [`bulkhead`] module docs for the layouts.
//! - **Policies in place, not wrapped.** The code the macros generate runs
//!   each policy's entry and exit as statements around the body, in the
//!   function's own future: the body's `Result<T, E>` passes every layer
//!   unchanged, a refusal becomes `E` where it happens and jumps straight to
//!   the nearest retry, fallback or timeout. Each entry has a synchronous
//!   fast path (`try_enter`) and a cold async one. Nothing else lives across
//!   the body's await: state kept there, even unused, costs every call
//!   (measured at several nanoseconds per word). Results are matched and
//!   moved, never lent to an out-of-line function: a borrowed result stays
//!   in memory and is copied out on every call.
//! - **Guards settle every call.** A permit records the outcome when told;
//!   dropped during a panic it counts a failure, dropped otherwise (the
//!   future was cancelled) it gives its slot back. Nothing leaks whichever
//!   way a call ends.
//! - **Observability off the hot path.** Metrics (feature `metrics`) are
//!   read from the policies' own atomics at scrape time, or counted at
//!   events that are rare by nature (transitions, retries, queued waits);
//!   callbacks run on their own thread; the tracing span around each attempt
//!   exists only when a subscriber records it (otherwise the cost is a
//!   cached interest check, and the body is awaited bare). Counters bumped
//!   on every call (breaker successes and rejections, retry successes,
//!   bulkhead admissions) are per-thread, without a locked instruction. See [`health`], [`http`] and, with their
//!   features, `metrics` and `tower`.
//! - **Known from start-up.** Each call site's `static` and each declared
//!   policy ([`policy!`]) registers itself in a link-time list (`linkme`)
//!   that the first [`registry()`] walks; a policy's state is built on its
//!   first call or look-up, with the settings [`config`] gives it then.
//! - **Settings that change while calls run.** Each setting is its own
//!   atomic, read on the hot path with one plain load; a change
//!   ([`Registry::reconfigure`]) is checked whole and stored under a
//!   sequence lock, and keeps the policy's state.
//! - **Layers, policies as leaves.** Modules import only downwards:
//!   primitives, then hooks that know no policy (events, metric hooks,
//!   fault injection, live settings, health status), then the policies,
//!   then the registry, then what reads it (configuration, health report,
//!   metrics publishing, call sites), then the macro support and adapters.
//!   A policy that must tell something above it calls a hook below it.
//!   `ARCHITECTURE.md` at the repository root draws the layers and says
//!   which file holds what.
//! - **Time from `tokio::time`.** Deadlines and backoff use
//!   `tokio::time::Instant` and `tokio::time::sleep`, so a test with a paused
//!   clock drives them deterministically. The one exception is a shortcut:
//!   an open breaker far from its deadline rejects on the coarse monotonic
//!   clock, which is used only while `tokio::time` is seen to run on the
//!   real clock (see `clock.rs`).
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]

// The modules by layer, bottom up (ARCHITECTURE.md draws them): each
// imports only modules of its own or lower layers, and the shared
// `module-cycles` tool checks that no import cycle forms.

// 1. Primitives.
mod clock;
mod counter;
mod duration;
mod error;
mod origin;
mod sync;

// 2. Hooks the policies call, knowing no policy.
#[cfg(feature = "chaos")]
pub mod chaos;
pub mod events;
mod live;
#[cfg(feature = "metrics")]
mod meter;
mod outcome;
mod route;
mod span;
mod status;
mod switch;

// 3. The policies, each a leaf.
pub mod bulkhead;
pub mod circuit_breaker;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

// 4. The registry and the configuration schema.
mod registry;
mod schema;

// 5. What reads or changes the registry.
pub mod config;
mod declared;
pub mod health;
#[cfg(feature = "metrics")]
pub mod metrics;
mod site;

// 6. Edges: support for generated code, and adapters.
pub mod http;
mod private;
#[cfg(feature = "tower")]
pub mod tower;

pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit, BulkheadSnapshot};
pub use circuit_breaker::{
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerSnapshot, CircuitPermit, CircuitState,
    StateChange,
};
pub use config::routes::registry;
pub use declared::{Declared, DeclaredBulkhead, DeclaredCircuitBreaker, DeclaredRetry};
pub use error::{ConfigError, Error, PolicyKind, PolicyName};
pub use rate_limit::{RateLimiter, RateLimiterConfig, RateLimiterSnapshot};
pub use registry::DEFAULT_MAX_KEYS;
pub use registry::{PolicyId, Registry, Snapshot};
#[allow(deprecated)]
pub use retry::RetryPolicy;
pub use retry::{Backoff, Jitter, Retry, RetryConfig, RetryRun, RetrySnapshot, RetryStep};
#[allow(deprecated)]
pub use timeout::TimeoutPolicy;
pub use timeout::{Timeout, TimeoutConfig, TimeoutSnapshot};

/// Support for the code the macros generate. Not a public API: it may change
/// in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
