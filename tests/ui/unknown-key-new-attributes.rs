use resil::{fallback, rate_limit, timeout};

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

async fn cached(_error: MyError) -> Result<u32, MyError> {
    Ok(0)
}

#[timeout(2s, retries = 3)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[rate_limit(rate = 10, max = 3)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

#[fallback(cached, name = "cache")]
async fn load() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
