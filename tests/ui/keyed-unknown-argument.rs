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

#[circuit_breaker(key = tenant, threshold = 3)]
async fn charge(tenant_id: &str, cents: u64) -> Result<u64, MyError> {
    let _ = tenant_id;
    Ok(cents)
}

fn main() {}
