//! Fallback rules: on an error the fallback gets the same arguments and the
//! error, and its result is returned; `on = rejections` leaves the body's
//! own errors alone; rejections arrive as the function's error type.

use std::sync::Mutex;
use std::time::Duration;

use resil::{circuit_breaker, fallback, rate_limit, registry, retry, timeout};

use crate::{Calls, Outcome, TestError};

#[derive(Debug, Clone, PartialEq)]
struct Request {
    id: u32,
}

async fn cached(key: &str, request: Request, error: TestError) -> Result<String, TestError> {
    Ok(format!("cached {key} #{} after {error}", request.id))
}

#[tokio::test(start_paused = true)]
async fn on_an_error_the_fallback_gets_the_arguments_and_the_error() {
    #[fallback(cached)]
    async fn fetch(key: &str, request: Request) -> Result<String, TestError> {
        // Consumes the owned argument: the fallback still gets its own copy.
        let Request { id } = request;
        if key == "down" {
            return Err(TestError::Upstream(id));
        }
        Ok(format!("fresh {key} #{id}"))
    }

    assert_eq!(fetch("up", Request { id: 1 }).await.unwrap(), "fresh up #1");
    assert_eq!(
        fetch("down", Request { id: 2 }).await.unwrap(),
        "cached down #2 after upstream failed (call 2)"
    );
}

struct Store {
    name: String,
    seen: Mutex<Vec<String>>,
}

impl Store {
    #[fallback(Self::stale)]
    async fn read(&self, key: &str, log: &mut Vec<String>) -> Result<String, TestError> {
        log.push(format!("read {key}"));
        Err(TestError::Upstream(0))
    }

    async fn stale(
        &self,
        key: &str,
        log: &mut Vec<String>,
        error: TestError,
    ) -> Result<String, TestError> {
        log.push(format!("stale {key}"));
        self.seen.lock().unwrap().push(error.to_string());
        Ok(format!("{}: stale {key}", self.name))
    }
}

#[tokio::test(start_paused = true)]
async fn a_method_fallback_gets_self_and_borrowed_arguments() {
    let store = Store {
        name: "store".into(),
        seen: Mutex::new(Vec::new()),
    };
    let mut log = Vec::new();
    assert_eq!(store.read("k", &mut log).await.unwrap(), "store: stale k");
    assert_eq!(log, ["read k", "stale k"]);
    assert_eq!(*store.seen.lock().unwrap(), ["upstream failed (call 0)"]);
}

async fn default_count(_outcome: Outcome, error: TestError) -> Result<u32, TestError> {
    match error {
        TestError::Resil(_) => Ok(0),
        other => Err(other),
    }
}

#[tokio::test(start_paused = true)]
async fn on_rejections_the_bodys_own_errors_pass_through() {
    static CALLS: Calls = Calls::new();
    #[fallback(default_count, on = rejections)]
    #[circuit_breaker(name = "fb-rejections", threshold = 2, timeout = 10s)]
    async fn count(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(CALLS.hit())
    }

    assert_eq!(count(Outcome::Ok).await, Ok(1));
    // Failures are the body's: the fallback stays out of it.
    assert_eq!(count(Outcome::Fail).await, Err(TestError::Upstream(2)));
    assert_eq!(count(Outcome::Fail).await, Err(TestError::Upstream(3)));
    // The breaker is open now: its rejection goes to the fallback.
    assert_eq!(count(Outcome::Ok).await, Ok(0));
    assert_eq!(CALLS.get(), 3, "an open breaker does not run the body");
}

#[tokio::test(start_paused = true)]
async fn on_errors_rejections_reach_the_fallback_as_the_functions_error() {
    static SEEN: Mutex<Vec<TestError>> = Mutex::new(Vec::new());
    async fn remember(_outcome: Outcome, error: TestError) -> Result<u32, TestError> {
        SEEN.lock().unwrap().push(error);
        Ok(99)
    }
    #[fallback(remember, on = errors)]
    #[circuit_breaker(name = "fb-errors", threshold = 1, timeout = 10s)]
    async fn count(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(7)
    }

    assert_eq!(count(Outcome::Fail).await, Ok(99));
    assert_eq!(count(Outcome::Ok).await, Ok(99));
    let seen = SEEN.lock().unwrap();
    assert_eq!(seen[0], TestError::Upstream(7));
    assert!(
        matches!(&seen[1], TestError::Resil(resil::Error::CircuitOpen { policy, .. }) if policy == "fb-errors"),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_fallbacks_own_error_is_returned() {
    #[fallback(default_count)]
    async fn count(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(5)
    }

    // `default_count` answers rejections only and hands other errors back.
    assert_eq!(count(Outcome::Fail).await, Err(TestError::Upstream(5)));
    assert_eq!(count(Outcome::Ok).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_above_the_fallback_sees_the_fallbacks_answer() {
    #[circuit_breaker(name = "fb-inside", threshold = 1)]
    #[fallback(default_count)]
    #[rate_limit(name = "fb-inside", rate = 1, per = 1h)]
    async fn count(outcome: Outcome) -> Result<u32, TestError> {
        outcome.into_result(1)
    }

    assert_eq!(count(Outcome::Ok).await, Ok(1));
    // Rate limited: the fallback answers, so the breaker sees a success.
    assert_eq!(count(Outcome::Ok).await, Ok(0));
    let breaker = registry().circuit_breaker("fb-inside").unwrap().snapshot();
    assert_eq!((breaker.successes, breaker.failures), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn above_a_retry_it_answers_once_the_attempts_run_out() {
    static CALLS: Calls = Calls::new();
    /// Not `Clone`: the retry below keeps the original for the fallback.
    #[derive(Debug)]
    struct Ticket(u32);
    async fn give_up(ticket: &Ticket, error: TestError) -> Result<u32, TestError> {
        assert_eq!(error, TestError::Upstream(3));
        Ok(ticket.0 + 1000)
    }
    async fn give_up_owned(ticket: Request, error: TestError) -> Result<u32, TestError> {
        assert_eq!(error, TestError::Upstream(6));
        Ok(ticket.id + 2000)
    }
    #[fallback(give_up)]
    #[retry(max = 3, initial = 1ms)]
    async fn call(ticket: &Ticket) -> Result<u32, TestError> {
        let _ = ticket;
        Err(TestError::Upstream(CALLS.hit()))
    }
    #[fallback(give_up_owned)]
    #[retry(max = 3, initial = 1ms)]
    async fn call_owned(ticket: Request) -> Result<u32, TestError> {
        let _moved: Request = ticket;
        Err(TestError::Upstream(CALLS.hit()))
    }

    assert_eq!(call(&Ticket(1)).await, Ok(1001));
    assert_eq!(call_owned(Request { id: 2 }).await, Ok(2002));
    assert_eq!(CALLS.get(), 6);
}

#[tokio::test(start_paused = true)]
async fn below_a_retry_it_answers_each_attempt() {
    static CALLS: Calls = Calls::new();
    static FALLBACKS: Calls = Calls::new();
    async fn count_fallbacks(_request: Request, error: TestError) -> Result<u32, TestError> {
        FALLBACKS.hit();
        Err(error)
    }
    #[retry(max = 3, initial = 1ms)]
    #[fallback(count_fallbacks)]
    async fn call(request: Request) -> Result<u32, TestError> {
        let _moved: Request = request;
        Err(TestError::Upstream(CALLS.hit()))
    }

    assert_eq!(call(Request { id: 0 }).await, Err(TestError::Upstream(3)));
    assert_eq!((CALLS.get(), FALLBACKS.get()), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn it_answers_a_timeout() {
    async fn quick(_delay: Duration, error: TestError) -> Result<u32, TestError> {
        assert!(matches!(
            error,
            TestError::Resil(resil::Error::Timeout { .. })
        ));
        Ok(0)
    }
    #[fallback(quick)]
    #[timeout(100ms)]
    async fn call(delay: Duration) -> Result<u32, TestError> {
        tokio::time::sleep(delay).await;
        Ok(1)
    }

    assert_eq!(call(Duration::from_millis(10)).await, Ok(1));
    assert_eq!(call(Duration::from_secs(10)).await, Ok(0));
}
