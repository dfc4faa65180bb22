use resil::{DeclaredRetry, RetryConfig, circuit_breaker};

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

resil::policy! {
    static FETCH: DeclaredRetry = DeclaredRetry::new("fetch", RetryConfig::DEFAULT);
}

// A retry policy given to a circuit breaker.
#[circuit_breaker(FETCH)]
async fn charge() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
