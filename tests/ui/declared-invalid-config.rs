use resil::{CircuitBreakerConfig, DeclaredCircuitBreaker};

resil::policy! {
    static PAYMENTS: DeclaredCircuitBreaker =
        DeclaredCircuitBreaker::new("payments", CircuitBreakerConfig::DEFAULT.failure_rate(1.5));
}

fn main() {}
