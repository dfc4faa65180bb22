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

#[fallback]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

#[fallback(on = rejections)]
async fn store() -> Result<u32, MyError> {
    Ok(1)
}

#[fallback("cached")]
async fn quoted() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
