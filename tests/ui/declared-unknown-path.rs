use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker, circuit_breaker};

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
    static PAYMENTS: DeclaredCircuitBreaker =
        DeclaredCircuitBreaker::new("payments", CircuitBreakerConfig::DEFAULT);
}

#[circuit_breaker(PAYMNTS)]
async fn charge() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
