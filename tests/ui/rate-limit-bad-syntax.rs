use resil::rate_limit;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[rate_limit(rate = "100/s", per = 1, burst = 2.5)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[rate_limit(rate = 100 / 1s)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

#[rate_limit(rate = 2000000000, per = 1s)]
async fn flood() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
