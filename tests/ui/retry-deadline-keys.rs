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

#[retry(max_elapsed = 0s, retry_after = "soon")]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[retry(max_elapsed = 10)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
