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

async fn no_error_argument(key: &str) -> Result<u32, MyError> {
    Ok(key.len() as u32)
}

fn not_async(_key: &str, _error: MyError) -> Result<u32, MyError> {
    Ok(0)
}

async fn other_type(_key: &str, _error: MyError) -> Result<String, MyError> {
    Ok(String::new())
}

#[fallback(no_error_argument)]
async fn fetch(key: &str) -> Result<u32, MyError> {
    Ok(key.len() as u32)
}

#[fallback(not_async)]
async fn store(key: &str) -> Result<u32, MyError> {
    Ok(key.len() as u32)
}

#[fallback(other_type)]
async fn load(key: &str) -> Result<u32, MyError> {
    Ok(key.len() as u32)
}

fn main() {}
