//! Attribute macros for [resil](https://docs.rs/resil): `#[retry]`,
//! `#[circuit_breaker]`, `#[bulkhead]`, `#[timeout]`, `#[rate_limit]` and
//! `#[fallback]`.
//!
//! Use them through the `resil` crate, which re-exports them next to the
//! runtime they expand to. The documentation of each attribute lists every
//! key it takes.
//!
//! # Stacking
//!
//! The attributes stack on one `async fn`; the first one listed is the
//! outermost layer:
//!
//! ```
//! use resil::{bulkhead, circuit_breaker, retry};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum FetchError {
//!     #[error(transparent)]
//!     Resil(#[from] resil::Error),
//!     #[error("not found")]
//!     NotFound,
//! }
//!
//! // Every attempt of the retry passes through the breaker, then the bulkhead.
//! #[retry(max = 3, initial = 10ms)]
//! #[circuit_breaker(name = "store", threshold = 5)]
//! #[bulkhead(name = "store", max = 10)]
//! async fn fetch(key: &str) -> Result<String, FetchError> {
//!     if key.is_empty() {
//!         return Err(FetchError::NotFound);
//!     }
//!     Ok(key.to_uppercase())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(fetch("a").await.unwrap(), "A");
//! # }
//! ```
//!
//! The outermost attribute expands the whole stack at once and leaves every
//! other attribute on the function as it was. Put the resil attributes above
//! attributes that rewrite the function themselves, such as `#[tokio::test]`.
//!
//! # What the function must look like
//!
//! - It is an `async fn` (free function or method, generic or not).
//! - It returns `Result<T, E>` (or an alias such as `io::Result<T>`) where
//!   `E: From<resil::Error>`, so that a rejection (open circuit, full
//!   bulkhead, retries exhausted) can be returned as your error type.
//! - Under `#[retry]`, every argument taken by value is cloned for each
//!   attempt, so it must be `Clone`. References, `impl Trait` arguments and
//!   `self` are used as they are.
//!
//! # Durations
//!
//! Keys that take a duration accept an integer or decimal number with a unit:
//! `10ns`, `250us`, `100ms`, `5s`, `1.5s`, `2m`, `1h`, or the same in a string,
//! `"100ms"`.
//!
//! # Common keys
//!
//! | key | value |
//! |---|---|
//! | `name` | The policy's name in the registry (`"payments"`). Functions that use the same name share one breaker or bulkhead. Default: the function's path, `module::path::function`. |
//! | `crate` | Path to the `resil` crate, when it is renamed in `Cargo.toml`: `crate = "::my_resil"`. Default: `::resil`. |
//!
//! # Declared policies
//!
//! Instead of settings, `#[circuit_breaker]`, `#[bulkhead]` and `#[retry]`
//! take the path of a policy declared once with `resil::policy!`; every
//! function that names it shares it. Next to the path only what the
//! function itself decides may be given (`ignore`, `retry_if`,
//! `retry_after`, `crate`). A path that does not exist, or names a policy of
//! another kind, is a compile error there.
//!
//! ```
//! use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker, circuit_breaker};
//!
//! resil::policy! {
//!     static LEDGER: DeclaredCircuitBreaker =
//!         DeclaredCircuitBreaker::new("ledger", CircuitBreakerConfig::DEFAULT.threshold(2));
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! enum LedgerError {
//!     #[error(transparent)]
//!     Resil(#[from] resil::Error),
//! }
//!
//! #[circuit_breaker(LEDGER)]
//! async fn post(entry: u64) -> Result<u64, LedgerError> {
//!     Ok(entry)
//! }
//!
//! // One breaker per tenant: one tenant's failures open only its own.
//! #[circuit_breaker(name = "reports", key = tenant, threshold = 3, max_keys = 500)]
//! async fn report(tenant: &str) -> Result<String, LedgerError> {
//!     Ok(format!("report for {tenant}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(post(7).await.unwrap(), 7);
//! assert_eq!(report("acme").await.unwrap(), "report for acme");
//! assert!(resil::registry().circuit_breaker("reports[acme]").is_ok());
//! # }
//! ```
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod check;
mod entry;
mod errors;
mod expand;
mod parse;

use parse::Kind;

/// Retries the function when it fails, with backoff between attempts.
///
/// | key | value | default |
/// |---|---|---|
/// | `max` | Total attempts, the first one included (integer ≥ 1). | `3` |
/// | `backoff` | How the delay grows: `exponential`, `linear`, `fibonacci` or `constant`. | `exponential` |
/// | `initial` | The delay before the first retry (duration > 0). | `100ms` |
/// | `max_delay` | The longest delay between attempts (duration ≥ `initial`). | `5s` |
/// | `multiplier` | Growth factor of `exponential` backoff (number ≥ 1.0; only with `exponential`). | `2.0` |
/// | `jitter` | Randomisation of each delay: `none`, `full`, `equal` or `decorrelated`. | `full` |
/// | `retry_if` | Path to a `fn(&E) -> bool` that picks which errors are retried. | every error |
/// | `retry_rejections` | Whether rejections by inner resil policies (open circuit, full bulkhead, exhausted rate limit) are retried (`true` or `false`). | `false` |
/// | `max_elapsed` | An overall deadline from the start of the first attempt (duration > 0): no wait is scheduled that would end past it, so no attempt starts after it. | none |
/// | `retry_after` | Path to a `fn(&E) -> Option<Duration>` that reads the wait an error asks for (a 429 or 503 with `Retry-After`). | none |
/// | `name` | The policy's name in the registry. | `module::path::function` |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// Arguments taken by value are cloned for each attempt, so they must be
/// `Clone`; borrowed arguments, `&self` and `&mut self` are used in place.
///
/// When an error says when to come back, and that is later than the
/// backoff's wait, the retry waits that long instead, even beyond
/// `max_delay` (the server knows when it will answer): the body's errors
/// through `retry_after`, an inner policy's rejection through its own
/// `resil::Error::retry_after()` (with `retry_rejections = true`). A wait
/// that would end past `max_elapsed` ends the retries instead, and the
/// caller gets the error, which still says when to come back.
///
/// ```
/// use resil::retry;
/// use std::time::Duration;
///
/// #[derive(Debug, thiserror::Error)]
/// enum HttpError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
///     #[error("429, retry after {0:?}")]
///     TooMany(Duration),
/// }
///
/// fn server_says(error: &HttpError) -> Option<Duration> {
///     match error {
///         HttpError::TooMany(wait) => Some(*wait),
///         _ => None,
///     }
/// }
///
/// #[retry(max = 5, initial = 10ms, max_elapsed = 1500ms, retry_after = server_says)]
/// async fn get(wait: u64) -> Result<(), HttpError> {
///     Err(HttpError::TooMany(Duration::from_secs(wait)))
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let started = tokio::time::Instant::now();
/// // "Come back in 5s" does not fit in the 1.5s budget: no retry at all.
/// assert!(get(5).await.is_err());
/// assert_eq!(started.elapsed(), Duration::ZERO);
/// // "Come back in 1s" fits once; a second wait would end at 2s, too late.
/// assert!(get(1).await.is_err());
/// assert_eq!(started.elapsed(), Duration::from_secs(1));
/// # }
/// ```
///
/// ```
/// use resil::retry;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// #[derive(Debug, thiserror::Error)]
/// enum ApiError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
///     #[error("try again")]
///     Busy,
///     #[error("bad request")]
///     BadRequest,
/// }
///
/// fn is_transient(error: &ApiError) -> bool {
///     matches!(error, ApiError::Busy)
/// }
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
///
/// #[retry(max = 4, backoff = exponential, initial = 1ms, max_delay = 10ms, jitter = none,
///         retry_if = is_transient)]
/// async fn flaky(request: String) -> Result<usize, ApiError> {
///     if request.is_empty() {
///         return Err(ApiError::BadRequest);
///     }
///     match CALLS.fetch_add(1, Ordering::SeqCst) {
///         0 | 1 => Err(ApiError::Busy),
///         _ => Ok(request.len()),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Fails twice, succeeds on the third attempt.
/// assert_eq!(flaky("hello".to_owned()).await.unwrap(), 5);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 3);
/// // `BadRequest` is not transient: no retry.
/// assert!(matches!(flaky(String::new()).await, Err(ApiError::BadRequest)));
/// # }
/// ```
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::Retry, args.into(), item.into()).into()
}

/// Stops calling the function while it keeps failing, and fails fast with
/// `resil::Error` instead.
///
/// The breaker opens after `threshold` consecutive failures, or, with
/// `failure_rate`, when that share of the last `window` calls failed (once at
/// least `min_calls` were made). After `open_for` it lets `half_open_max` trial
/// calls through; `success_threshold` successes in a row close it again.
///
/// | key | value | default |
/// |---|---|---|
/// | `name` | The breaker's name in the registry; functions naming the same breaker share it. | `module::path::function` |
/// | `threshold` | Consecutive failures that open the breaker (integer ≥ 1). | `5` |
/// | `failure_rate` | Share of failed calls in the window that opens it (number in (0, 1], e.g. `0.5`). | off |
/// | `window` | The window the rates look at: a number of recent calls (integer from 1 to 8192), or a duration (at least `1s`) for the calls of that last stretch of time; only with `failure_rate` or `slow_call`. | `10` |
/// | `min_calls` | Calls needed in the window before a rate applies (integer ≥ 1, at most a count `window`). | `window`; `10` with a time window |
/// | `slow_call` | Calls that take longer than this are slow, even when they succeed (duration > 0). | off |
/// | `slow_rate` | Share of slow calls in the window that opens the breaker (number in (0, 1]; only with `slow_call`). | `1.0` |
/// | `open_for` | How long the breaker stays open before a trial call (duration > 0). Also accepted as `timeout`, its older name (give one of the two), as in files and the environment. | `60s` |
/// | `half_open_max` | Trial calls let through while half-open (integer ≥ 1). | `1` |
/// | `success_threshold` | Successful trial calls that close the breaker (integer ≥ 1). | `2` |
/// | `ignore` | Path to a `fn(&E) -> bool`; errors it returns `true` for do not count as failures. | none ignored |
/// | `key` | An argument of the function (`Hash + Eq + Display`): one breaker per distinct value, registered as `name[value]`. | one breaker |
/// | `max_keys` | With `key`: breakers kept at most; the least recently used goes first (integer ≥ 1). | `1000` |
/// | `key_ttl` | With `key`: a key unused this long is dropped when a new key needs room (duration > 0). | none |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// A count window (`window = 100`) keeps one bit per call. A time window
/// (`window = 60s`) keeps 64 buckets of `window / 64`, so it slides in steps
/// of under a second for windows up to 64s, and takes 1.5 KiB whatever its
/// length. With `slow_call`, every call is timed and a slow one is recorded
/// as slow, whether it succeeded or failed; a slow half-open trial re-opens
/// the breaker. Without `slow_call` or a time window, a closed breaker never
/// reads the clock.
///
/// ```
/// use resil::circuit_breaker;
/// use std::time::Duration;
///
/// #[derive(Debug, thiserror::Error)]
/// enum SearchError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
/// }
///
/// // Open when, over the last minute and once 4 calls were seen, half of
/// // them took longer than 1s.
/// #[circuit_breaker(name = "search", slow_call = 1s, slow_rate = 0.5, window = 60s, min_calls = 4)]
/// async fn search(delay_ms: u64) -> Result<u64, SearchError> {
///     tokio::time::sleep(Duration::from_millis(delay_ms)).await;
///     Ok(delay_ms)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// for delay in [10, 2_000, 20, 3_000] {
///     assert!(search(delay).await.is_ok(), "slow calls still answer");
/// }
/// assert!(matches!(search(10).await, Err(SearchError::Resil(_))));
/// # }
/// ```
///
/// ```
/// use resil::circuit_breaker;
///
/// #[derive(Debug, thiserror::Error)]
/// enum DbError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
///     #[error("connection lost")]
///     Connection,
///     #[error("no such row")]
///     NotFound,
/// }
///
/// // A missing row is an answer, not a sign that the database is down.
/// fn is_not_found(error: &DbError) -> bool {
///     matches!(error, DbError::NotFound)
/// }
///
/// #[circuit_breaker(name = "db", threshold = 2, open_for = 30s, ignore = is_not_found)]
/// async fn query(id: u32) -> Result<String, DbError> {
///     match id {
///         0 => Err(DbError::Connection),
///         1 => Err(DbError::NotFound),
///         _ => Ok(format!("row {id}")),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(query(7).await.unwrap(), "row 7");
/// for _ in 0..3 {
///     assert!(matches!(query(1).await, Err(DbError::NotFound))); // ignored
/// }
/// assert!(matches!(query(0).await, Err(DbError::Connection)));
/// assert!(matches!(query(0).await, Err(DbError::Connection)));
/// // Two failures in a row: the breaker is open and rejects the call.
/// assert!(matches!(query(7).await, Err(DbError::Resil(_))));
/// # }
/// ```
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}

/// Limits how many calls of the function run at once.
///
/// Calls over `max` wait in a queue of `queue` places for at most `wait`;
/// when the queue is full, or the wait runs out, the call is rejected with
/// `resil::Error`.
///
/// | key | value | default |
/// |---|---|---|
/// | `max` | Calls running at once (integer ≥ 1). | `10` |
/// | `queue` | Calls that may wait for a place (integer ≥ 0). | `0` |
/// | `wait` | How long a queued call waits at most (duration > 0; only with `queue`). | `1s` |
/// | `name` | The bulkhead's name in the registry; functions naming the same bulkhead share it. | `module::path::function` |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// ```
/// use resil::bulkhead;
/// use std::time::Duration;
///
/// #[derive(Debug, thiserror::Error)]
/// enum RenderError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
/// }
///
/// #[bulkhead(name = "renderer", max = 1, queue = 0)]
/// async fn render(page: u32) -> Result<u32, RenderError> {
///     tokio::time::sleep(Duration::from_millis(50)).await;
///     Ok(page)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Only one render at a time and no queue: the second call is rejected.
/// let (first, second) = tokio::join!(render(1), render(2));
/// assert_eq!(first.unwrap(), 1);
/// assert!(matches!(second, Err(RenderError::Resil(_))));
/// # }
/// ```
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::Bulkhead, args.into(), item.into()).into()
}

/// Cuts the call short after a fixed time and fails it with
/// `resil::Error::Timeout`.
///
/// The duration is the only required value, written alone or as a key:
/// `#[timeout(2s)]`, `#[timeout(duration = 2s, name = "lookup")]`. When it
/// runs out, the call's future is dropped (cancelled), so every layer below
/// gives back what it held.
///
/// | key | value | default |
/// |---|---|---|
/// | `duration` | How long the call may run (duration > 0); may be written first without the key. | required |
/// | `name` | The timeout's name in the registry, for its counters (`calls`, `timeouts`). | `module::path::function` |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// The timeout reaches the layers above it as the function's own error
/// (`E::from(resil::Error::Timeout { .. })`), as if the body had returned
/// it: a `#[circuit_breaker]` above counts it as a failure, a `#[retry]`
/// above retries it (if `retry_if` agrees) and a `#[fallback]` above answers
/// it. Below a retry it bounds each attempt; above a retry it bounds all of
/// them, waits included.
///
/// ```
/// use resil::{retry, timeout};
/// use std::time::Duration;
///
/// #[derive(Debug, thiserror::Error)]
/// enum LookupError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
/// }
///
/// // Each attempt gets 50ms; three attempts in all.
/// #[retry(max = 3, initial = 10ms, jitter = none)]
/// #[timeout(50ms)]
/// async fn lookup(delay_ms: u64) -> Result<u64, LookupError> {
///     tokio::time::sleep(Duration::from_millis(delay_ms)).await;
///     Ok(delay_ms)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(lookup(10).await.unwrap(), 10);
/// assert!(matches!(
///     lookup(500).await,
///     Err(LookupError::Resil(resil::Error::Timeout { .. }))
/// ));
/// # }
/// ```
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::Timeout, args.into(), item.into()).into()
}

/// Answers a failed call with another function's result: a cached value, a
/// default, a degraded answer.
///
/// `#[fallback(path::to::function)]` names an `async fn` that takes the
/// function's arguments in the same order (`self` included for a method,
/// `Self::cached` names an associated function), then the error, and returns
/// the same `Result<T, E>`:
///
/// ```text
/// async fn price(&self, item: &str, region: Region) -> Result<Price, ShopError>
/// async fn cached_price(&self, item: &str, region: Region, error: ShopError) -> Result<Price, ShopError>
/// ```
///
/// Borrowed arguments reach the fallback as they are. Arguments taken by
/// value are cloned before the call (the body may consume them), so they
/// must be `Clone`, unless a `#[retry]` sits below the `#[fallback]`: the
/// retry already leaves the originals alone. Each argument must be a plain
/// name, not a pattern.
///
/// | key | value | default |
/// |---|---|---|
/// | `path` | The fallback function; may be written first without the key. | required |
/// | `on` | Which errors it answers: `errors` (every error: the body's own, timeouts, and every rejection by the policies below), or `rejections` (only refusals by the policies below: open circuit, full bulkhead, exhausted rate limit). | `errors` |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// A rejection reaches the fallback as `E` (through `From<resil::Error>`).
/// The fallback's own error is returned as it is. Like the other
/// attributes, its place in the stack matters: above a `#[circuit_breaker]`
/// it answers the breaker's rejections; below a `#[retry]` it answers each
/// attempt (and the retry sees only the fallback's result).
///
/// ```
/// use resil::{circuit_breaker, fallback};
///
/// #[derive(Debug, thiserror::Error)]
/// enum PriceError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
///     #[error("pricing service down")]
///     Down,
/// }
///
/// async fn list_price(item: &str, _error: PriceError) -> Result<u32, PriceError> {
///     Ok(item.len() as u32 * 100)
/// }
///
/// #[fallback(list_price, on = rejections)]
/// #[circuit_breaker(name = "pricing", threshold = 1)]
/// async fn price(item: &str) -> Result<u32, PriceError> {
///     if item == "broken" {
///         return Err(PriceError::Down);
///     }
///     Ok(42)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(price("tea").await.unwrap(), 42);
/// // The body's own error is not a rejection: it comes back as it is...
/// assert!(matches!(price("broken").await, Err(PriceError::Down)));
/// // ...and opened the breaker, whose rejections the fallback answers.
/// assert_eq!(price("tea").await.unwrap(), 300);
/// # }
/// ```
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::Fallback, args.into(), item.into()).into()
}

/// Allows at most `rate` calls `per` period, in bursts of up to `burst`.
///
/// A call over the limit waits for its turn if that comes within `wait`,
/// and is otherwise rejected at once with `resil::Error::RateLimited`,
/// whose `retry_after` says when quota will be free (HTTP 429). Turns are
/// served in the order callers asked. Functions that name the same rate
/// limiter share its quota.
///
/// | key | value | default |
/// |---|---|---|
/// | `rate` | Calls allowed per `per` (integer ≥ 1). | required |
/// | `per` | The period (duration > 0). | `1s` |
/// | `burst` | Calls that may go at once after a quiet spell (integer ≥ 1). | `rate` |
/// | `wait` | The longest a call waits for its turn (duration > 0). | no wait |
/// | `name` | The rate limiter's name in the registry; functions naming the same one share it. | `module::path::function` |
/// | `crate` | Path to the `resil` crate if renamed. | `"::resil"` |
///
/// ```
/// use resil::rate_limit;
///
/// #[derive(Debug, thiserror::Error)]
/// enum SendError {
///     #[error(transparent)]
///     Resil(#[from] resil::Error),
/// }
///
/// #[rate_limit(name = "sms", rate = 10, per = 1s, burst = 2)]
/// async fn send_sms(to: &str) -> Result<(), SendError> {
///     let _ = to;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert!(send_sms("a").await.is_ok());
/// assert!(send_sms("b").await.is_ok());
/// // The burst is spent; the next turn comes in 100ms.
/// match send_sms("c").await {
///     Err(SendError::Resil(rejection)) => {
///         assert_eq!(rejection.retry_after(), Some(std::time::Duration::from_millis(100)));
///         assert_eq!(rejection.http_status(), 429);
///     }
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[proc_macro_attribute]
pub fn rate_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::attribute(Kind::RateLimit, args.into(), item.into()).into()
}
