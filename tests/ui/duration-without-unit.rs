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

#[circuit_breaker(open_for = 60)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
