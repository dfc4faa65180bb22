use resil::{bulkhead, circuit_breaker, retry};

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[retry(maxx = 3, backoff = quadratic)]
#[circuit_breaker(open_for = 60, threshold = 0)]
#[bulkhead(max = "10")]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
