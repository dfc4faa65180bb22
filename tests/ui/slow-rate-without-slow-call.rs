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

#[circuit_breaker(failure_rate = 0.5, slow_rate = 0.8)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
