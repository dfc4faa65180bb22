use resil::timeout;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[timeout(2)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[timeout(duration = 1.5)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
