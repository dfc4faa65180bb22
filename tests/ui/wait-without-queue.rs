use resil::bulkhead;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[bulkhead(max = 4, wait = 5s)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
