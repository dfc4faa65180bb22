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

#[circuit_breaker(slow_call = 2s, slow_rate = 1.5)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[circuit_breaker(slow_call = 0s, slow_rate = 0)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
