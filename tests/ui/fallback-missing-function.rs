use resil::fallback;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[fallback(no_such_function)]
async fn fetch(key: &str) -> Result<u32, MyError> {
    Ok(key.len() as u32)
}

fn main() {}
