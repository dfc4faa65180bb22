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

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Tenant(u32);

// `Tenant` has no `Display`, which names each tenant's breaker.
#[circuit_breaker(key = tenant, threshold = 3)]
async fn charge(tenant: Tenant, cents: u64) -> Result<u64, MyError> {
    let _ = tenant;
    Ok(cents)
}

fn main() {}
