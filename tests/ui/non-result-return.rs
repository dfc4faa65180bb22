use resil::retry;

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

#[retry(max = 3)]
async fn fetch() -> Option<u32> {
    Some(1)
}

fn main() {}
