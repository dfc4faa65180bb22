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

#[derive(Debug)]
pub struct Request {
    pub id: u32,
}

#[retry(max = 3)]
async fn fetch(label: String, request: Request) -> Result<u32, MyError> {
    Ok(request.id + label.len() as u32)
}

fn main() {}
