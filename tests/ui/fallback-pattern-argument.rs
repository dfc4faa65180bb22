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

async fn cached(_pair: (u8, u8), _error: MyError) -> Result<u32, MyError> {
    Ok(0)
}

#[fallback(cached)]
async fn fetch((a, b): (u8, u8)) -> Result<u32, MyError> {
    Ok(u32::from(a + b))
}

fn main() {}
