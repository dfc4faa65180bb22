use resil::circuit_breaker;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[circuit_breaker(threshold = 3)]
async fn fetch() -> (u32, Option<MyError>) {
    (1, None)
}

fn main() {}
