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

#[circuit_breaker(threshold = 3, open_for = 10s, threshold = 4)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
