//! The shapes of function the attributes must expand for: free functions,
//! every kind of receiver, generics, `impl Trait` arguments, visibilities,
//! early `return`, `?`, and borrowed and owned arguments under `#[retry]`.
//! Each test calls the expanded function and checks what it returns.

use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use resil::{bulkhead, circuit_breaker, retry};

// For `crate = "::renamed"`: a crate-root `extern crate` joins the extern
// prelude, like a dependency renamed in Cargo.toml.
extern crate resil as renamed;

#[derive(Debug, PartialEq, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Resil(#[from] resil::Error),
    #[error("transient failure")]
    Transient,
    #[error("permanent failure")]
    Permanent,
    #[error("parse failure")]
    Parse,
}

fn is_transient(error: &AppError) -> bool {
    matches!(error, AppError::Transient)
}

fn is_permanent(error: &AppError) -> bool {
    matches!(error, AppError::Permanent)
}

/// Fails with `Transient` until it has been called `failures` times.
fn flaky(calls: &AtomicU32, failures: u32) -> Result<u32, AppError> {
    let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if call <= failures {
        Err(AppError::Transient)
    } else {
        Ok(call)
    }
}

// ---- free functions -------------------------------------------------------

static FREE_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 3, initial = 1ms, jitter = none)]
async fn free_fn(a: u32, b: u32) -> Result<u32, AppError> {
    flaky(&FREE_CALLS, 2)?;
    Ok(a + b)
}

#[tokio::test(start_paused = true)]
async fn free_function_is_retried() {
    assert_eq!(free_fn(2, 3).await, Ok(5));
    assert_eq!(FREE_CALLS.load(Ordering::SeqCst), 3);
}

static EXHAUSTED_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 2, initial = 1ms)]
async fn always_fails() -> Result<(), AppError> {
    EXHAUSTED_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Transient)
}

#[tokio::test(start_paused = true)]
async fn exhausted_retry_returns_the_last_error() {
    assert_eq!(always_fails().await, Err(AppError::Transient));
    assert_eq!(EXHAUSTED_CALLS.load(Ordering::SeqCst), 2);
}

// ---- receivers --------------------------------------------------------------

struct Client {
    base: String,
    calls: AtomicU32,
}

impl Client {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            calls: AtomicU32::new(0),
        }
    }

    #[retry(max = 3, initial = 1ms, retry_if = is_transient)]
    async fn by_ref(&self, path: &str) -> Result<String, AppError> {
        flaky(&self.calls, 1)?;
        Ok(format!("{}/{path}", self.base))
    }

    #[circuit_breaker(name = "expansion-by-mut")]
    async fn by_mut(&mut self, suffix: String) -> Result<usize, AppError> {
        self.base.push_str(&suffix);
        Ok(self.base.len())
    }

    #[bulkhead(name = "expansion-by-value")]
    async fn by_value(self) -> Result<String, AppError> {
        Ok(self.base)
    }

    #[bulkhead(name = "expansion-boxed")]
    async fn boxed(self: Box<Self>) -> Result<String, AppError> {
        Ok(self.base.to_uppercase())
    }
}

struct Counter {
    attempts: u32,
    log: Vec<String>,
}

impl Counter {
    #[retry(max = 4, initial = 1ms, jitter = none)]
    async fn bump(&mut self, label: String) -> Result<u32, AppError> {
        self.attempts += 1;
        self.log.push(label);
        if self.attempts < 3 {
            return Err(AppError::Transient);
        }
        Ok(self.attempts)
    }

    #[retry(max = 2, initial = 1ms)]
    async fn peek(self) -> Result<u32, AppError> {
        Ok(self.attempts)
    }
}

#[tokio::test(start_paused = true)]
async fn ref_self_method() {
    let client = Client::new("https://example.invalid");
    assert_eq!(
        client.by_ref("a").await,
        Ok("https://example.invalid/a".to_owned())
    );
    assert_eq!(client.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn mut_self_method_under_retry() {
    let mut counter = Counter {
        attempts: 0,
        log: Vec::new(),
    };
    // Each attempt gets its own clone of the owned `label`.
    assert_eq!(counter.bump("x".to_owned()).await, Ok(3));
    assert_eq!(counter.log, ["x", "x", "x"]);
}

#[tokio::test]
async fn mut_self_and_value_self_methods() {
    let mut client = Client::new("base");
    assert_eq!(client.by_mut("-more".to_owned()).await, Ok(9));
    assert_eq!(client.by_value().await, Ok("base-more".to_owned()));
    let boxed = Box::new(Client::new("boxed"));
    assert_eq!(boxed.boxed().await, Ok("BOXED".to_owned()));
    let counter = Counter {
        attempts: 7,
        log: Vec::new(),
    };
    assert_eq!(counter.peek().await, Ok(7));
}

// ---- generics and `impl Trait` ----------------------------------------------

#[retry(max = 2, initial = 1ms)]
async fn parse_all<T, S>(inputs: Vec<S>) -> Result<Vec<T>, AppError>
where
    T: FromStr,
    S: AsRef<str> + Clone,
{
    inputs
        .iter()
        .map(|s| s.as_ref().parse().map_err(|_| AppError::Parse))
        .collect()
}

#[circuit_breaker(name = "expansion-generic-error")]
async fn generic_error<E: From<resil::Error>>(value: u8) -> Result<u8, E> {
    Ok(value)
}

#[retry(max = 3, initial = 1ms)]
async fn call_with(f: impl Fn(u32) -> u32, value: u32) -> Result<u32, AppError> {
    Ok(f(value))
}

#[retry(max = 2, initial = 1ms)]
async fn run_future<F>(make: impl Fn() -> F) -> Result<u32, AppError>
where
    F: Future<Output = u32>,
{
    Ok(make().await)
}

#[bulkhead(name = "expansion-impl-return")]
async fn impl_return(value: u32) -> Result<impl Display, AppError> {
    Ok(value * 2)
}

#[tokio::test(start_paused = true)]
async fn generic_functions() {
    assert_eq!(parse_all::<u8, _>(vec!["1", "2"]).await, Ok(vec![1, 2]));
    assert_eq!(
        parse_all::<u8, _>(vec!["1".to_owned(), "x".to_owned()]).await,
        Err(AppError::Parse)
    );
    assert_eq!(generic_error::<AppError>(4).await, Ok(4));
}

#[tokio::test(start_paused = true)]
async fn impl_trait_arguments_and_return() {
    let offset = 10;
    assert_eq!(call_with(|x| x + offset, 5).await, Ok(15));
    assert_eq!(run_future(|| async { 42 }).await, Ok(42));
    assert_eq!(impl_return(21).await.unwrap().to_string(), "42");
}

// ---- visibility, attributes, early return, `?` ------------------------------

mod inner {
    use super::AppError;
    use resil::retry;

    /// Documented, and other attributes stay on the function.
    #[retry(max = 2, initial = 1ms)]
    #[must_use = "a future does nothing unless awaited"]
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) async fn crate_visible(text: String) -> Result<usize, AppError> {
        Ok(text.len())
    }
}

static EARLY_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 5, initial = 1ms, retry_if = is_transient)]
async fn early_return(input: &str) -> Result<u32, AppError> {
    EARLY_CALLS.fetch_add(1, Ordering::SeqCst);
    if input.is_empty() {
        return Err(AppError::Permanent);
    }
    if input == "zero" {
        return Ok(0);
    }
    let number: u32 = input.parse().map_err(|_| AppError::Parse)?;
    Ok(number + 1)
}

#[tokio::test(start_paused = true)]
async fn visibility_early_return_and_question_mark() {
    assert_eq!(inner::crate_visible("four".to_owned()).await, Ok(4));
    assert_eq!(early_return("zero").await, Ok(0));
    assert_eq!(early_return("41").await, Ok(42));
    assert_eq!(early_return("x").await, Err(AppError::Parse));
    // Neither `Permanent` nor `Parse` is retried: one call each.
    assert_eq!(early_return("").await, Err(AppError::Permanent));
    assert_eq!(EARLY_CALLS.load(Ordering::SeqCst), 4);
}

// ---- arguments under retry --------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct Request {
    id: u32,
}

/// Consumes its owned argument on every attempt.
fn send(request: Request, calls: &AtomicU32) -> Result<u32, AppError> {
    flaky(calls, 2).map(|_| request.id)
}

static OWNED_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 3, initial = 1ms)]
async fn owned_args(
    request: Request,
    mut extra: Vec<u32>,
    (left, right): (u32, String),
) -> Result<u32, AppError> {
    extra.push(left);
    let id = send(request, &OWNED_CALLS)?;
    Ok(id + extra.iter().sum::<u32>() + right.len() as u32)
}

#[retry(max = 3, initial = 1ms, jitter = none)]
async fn borrowed_args(
    text: &str,
    out: &mut Vec<String>,
    calls: &AtomicU32,
) -> Result<usize, AppError> {
    out.push(text.to_owned());
    flaky(calls, 2)?;
    Ok(out.len())
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_cloned_per_attempt() {
    let result = owned_args(Request { id: 100 }, vec![1], (2, "abc".to_owned())).await;
    // Every attempt starts from the caller's values: `extra` is [1, 2], not
    // [1, 2, 2, 2].
    assert_eq!(result, Ok(100 + 3 + 3));
    assert_eq!(OWNED_CALLS.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn borrowed_arguments_are_reborrowed_per_attempt() {
    let calls = AtomicU32::new(0);
    let mut out = Vec::new();
    assert_eq!(borrowed_args("hi", &mut out, &calls).await, Ok(3));
    assert_eq!(out, ["hi", "hi", "hi"]);
}

// ---- stacks, names, crate override --------------------------------------------

static STACK_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 3, backoff = exponential, initial = 1ms, max_delay = 5ms, jitter = full)]
#[circuit_breaker(name = "expansion-stack", threshold = 5, timeout = 60s, ignore = is_permanent)]
#[bulkhead(name = "expansion-stack", max = 10, queue = 5, wait = 5s)]
async fn stacked(client: &Client, request: Request) -> Result<String, AppError> {
    flaky(&STACK_CALLS, 1)?;
    Ok(format!("{}#{}", client.base, request.id))
}

#[resil::retry(max = 2, initial = 1ms, crate = "::renamed")]
#[renamed::bulkhead(name = "expansion-renamed", crate = "::renamed")]
async fn renamed_crate(value: u32) -> Result<u32, AppError> {
    Ok(value)
}

#[tokio::test(start_paused = true)]
async fn stacked_policies() {
    let client = Client::new("svc");
    assert_eq!(
        stacked(&client, Request { id: 7 }).await,
        Ok("svc#7".to_owned())
    );
    assert_eq!(STACK_CALLS.load(Ordering::SeqCst), 2);
    let registry = resil::registry();
    assert!(registry.circuit_breaker("expansion-stack").is_ok());
    assert!(registry.bulkhead("expansion-stack").is_ok());
    assert_eq!(renamed_crate(9).await, Ok(9));
    assert!(registry.bulkhead("expansion-renamed").is_ok());
}

#[bulkhead(max = 1)]
async fn default_name() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn default_name_is_the_function_path() {
    default_name().await.unwrap();
    assert!(
        resil::registry()
            .bulkhead("expansion::default_name")
            .is_ok()
    );
}

// ---- other attribute macros in the stack --------------------------------------

static TRACED_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(max = 2, initial = 1ms)]
#[tracing::instrument(skip_all)]
#[bulkhead(name = "expansion-traced-inner")]
async fn traced_inside(request: Request) -> Result<u32, AppError> {
    flaky(&TRACED_CALLS, 1)?;
    Ok(request.id)
}

#[tracing::instrument(skip(client))]
#[circuit_breaker(name = "expansion-traced-outer")]
async fn traced_outside(client: &Client, id: u32) -> Result<String, AppError> {
    Ok(format!("{}:{id}", client.base))
}

#[tokio::test(start_paused = true)]
async fn other_attribute_macros_are_kept() {
    assert_eq!(traced_inside(Request { id: 3 }).await, Ok(3));
    assert_eq!(TRACED_CALLS.load(Ordering::SeqCst), 2);
    let client = Client::new("t");
    assert_eq!(traced_outside(&client, 1).await, Ok("t:1".to_owned()));
}

// ---- errors without `Debug`, and `Send` futures -------------------------------

struct Opaque;

impl From<resil::Error> for Opaque {
    fn from(_: resil::Error) -> Self {
        Opaque
    }
}

#[retry(max = 2, initial = 1ms)]
async fn opaque_error(fail: bool) -> Result<u8, Opaque> {
    if fail { Err(Opaque) } else { Ok(1) }
}

#[tokio::test(start_paused = true)]
async fn error_without_debug() {
    assert!(matches!(opaque_error(false).await, Ok(1)));
    assert!(matches!(opaque_error(true).await, Err(Opaque)));
}

#[test]
fn futures_are_send() {
    fn assert_send<F: Future + Send>(_: F) {}
    let client = Client::new("svc");
    assert_send(stacked(&client, Request { id: 1 }));
    assert_send(client.by_ref("x"));
    assert_send(owned_args(Request { id: 1 }, vec![], (1, String::new())));
}
