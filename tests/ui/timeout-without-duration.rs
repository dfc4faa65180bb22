use resil::{retry, timeout};

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[timeout]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[retry]
#[timeout(name = "lookup")]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

#[timeout(2s, 3s)]
async fn twice() -> Result<u32, MyError> {
    Ok(1)
}

#[timeout(2s, duration = 3s)]
async fn again() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
