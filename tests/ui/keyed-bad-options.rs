use resil::circuit_breaker;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[circuit_breaker(max_keys = 100, key_ttl = 10m)]
async fn without_key(tenant: &str) -> Result<u64, MyError> {
    let _ = tenant;
    Ok(1)
}

#[circuit_breaker(key = tenant, max_keys = 0, key_ttl = 600)]
async fn bad_values(tenant: &str) -> Result<u64, MyError> {
    let _ = tenant;
    Ok(1)
}

#[resil::bulkhead(key = tenant)]
async fn not_a_breaker(tenant: &str) -> Result<u64, MyError> {
    let _ = tenant;
    Ok(1)
}

fn main() {}
