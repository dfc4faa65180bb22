use resil::retry;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[retry(backoff = linear, multiplier = 3.0)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
