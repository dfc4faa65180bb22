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

async fn cached(_error: MyError) -> Result<u32, MyError> {
    Ok(0)
}

#[fallback(cached, on = timeouts)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
