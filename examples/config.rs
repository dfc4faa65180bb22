//! Policies declared in one module, overridden by a configuration file and
//! the environment, printed before the first call, then changed while the
//! program runs.
//!
//! ```text
//! cargo run --example config
//! RESIL_PAYMENTS_THRESHOLD=2 cargo run --example config
//! ```

use std::time::Duration;

use resil::config::Layer;
use resil::{bulkhead, circuit_breaker, registry, retry};

/// Every named policy of the program, in one place.
mod policies {
    use std::time::Duration;

    use resil::{
        BulkheadConfig, CircuitBreakerConfig, DeclaredBulkhead, DeclaredCircuitBreaker,
        DeclaredRetry, RetryConfig,
    };

    /// What every breaker starts from.
    const BASE: CircuitBreakerConfig = CircuitBreakerConfig::DEFAULT
        .open_for(Duration::from_secs(60))
        .success_threshold(1);

    resil::policy! {
        /// Card payments: shared by `charge` and `refund`.
        pub static PAYMENTS: DeclaredCircuitBreaker =
            DeclaredCircuitBreaker::new("payments", BASE.threshold(5));
        /// The PDF renderer can take only a few jobs at once.
        pub static PDF: DeclaredBulkhead =
            DeclaredBulkhead::new("pdf-render", BulkheadConfig::DEFAULT.max_concurrent(4));
        /// Calls to the upstream API.
        pub static UPSTREAM: DeclaredRetry = DeclaredRetry::new(
            "upstream",
            RetryConfig::DEFAULT.initial(Duration::from_millis(100)),
        );
    }
}

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error(transparent)]
    Resil(#[from] resil::Error),
    #[error("the bank declined")]
    Declined,
}

#[retry(policies::UPSTREAM)]
#[circuit_breaker(policies::PAYMENTS)]
async fn charge(cents: u64) -> Result<u64, AppError> {
    if cents > 10_000 {
        return Err(AppError::Declined);
    }
    Ok(cents)
}

#[circuit_breaker(policies::PAYMENTS)]
async fn refund(cents: u64) -> Result<u64, AppError> {
    Ok(cents)
}

#[bulkhead(policies::PDF)]
async fn render(pages: u32) -> Result<u32, AppError> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(pages)
}

/// One breaker per tenant, so one tenant's outage opens only its own.
#[circuit_breaker(name = "tenants", key = tenant, threshold = 2)]
async fn tenant_report(tenant: &str) -> Result<String, AppError> {
    Ok(format!("report for {tenant}"))
}

fn print_configuration(title: &str) {
    println!("{title}");
    for policy in registry().configuration() {
        println!("  {policy}");
    }
}

#[tokio::main]
async fn main() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/resil.toml");
    // Every policy above is known already: no call has been made.
    println!(
        "{} policies declared; loading {file} and RESIL_* variables",
        registry().policies().len()
    );
    if let Err(error) = resil::config::load_file(file) {
        eprintln!("{error}");
        std::process::exit(1);
    }
    if let Err(error) = resil::config::load_env() {
        eprintln!("{error}");
        std::process::exit(1);
    }
    print_configuration(
        "Settings in force before the first call (origin in brackets when not code):",
    );

    println!();
    println!(
        "charge(2500) = {:?}",
        charge(2_500).await.map_err(|e| e.to_string())
    );
    println!(
        "refund(500) = {:?}",
        refund(500).await.map_err(|e| e.to_string())
    );
    println!(
        "render(3) = {:?}",
        render(3).await.map_err(|e| e.to_string())
    );
    println!(
        "tenant_report(\"acme\") = {:?}",
        tenant_report("acme").await.map_err(|e| e.to_string())
    );

    // A bad change is refused whole, naming what is wrong.
    let refused = registry().reconfigure_circuit_breaker("payments", |c| c.threshold(0));
    println!();
    println!("refused: {}", refused.unwrap_err());
    // A good one keeps the breaker's counters.
    registry()
        .reconfigure_circuit_breaker("payments", |c| c.threshold(10))
        .expect("a valid change");
    let payments = registry().circuit_breaker("payments").expect("declared");
    let threshold = registry()
        .configuration()
        .into_iter()
        .find(|p| p.name == "payments")
        .and_then(|p| p.settings.into_iter().find(|s| s.key == "threshold"))
        .expect("listed");
    assert_eq!(threshold.layer, Layer::Runtime);
    println!(
        "payments now: threshold {} (set at {}), {} successful calls so far",
        threshold.value,
        threshold.layer,
        payments.snapshot().successes
    );
}
