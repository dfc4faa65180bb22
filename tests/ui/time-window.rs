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

#[circuit_breaker(failure_rate = 0.5, window = 500ms)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[circuit_breaker(window = 60s)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

#[circuit_breaker(failure_rate = 0.5, window = 60)]
async fn count() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
