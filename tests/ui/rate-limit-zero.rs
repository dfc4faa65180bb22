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

#[rate_limit(rate = 0, burst = 0)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[rate_limit(rate = 10, per = 0s, wait = 0ms)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
