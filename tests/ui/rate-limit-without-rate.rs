use resil::rate_limit;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[rate_limit(per = 1s, burst = 5)]
async fn fetch() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
