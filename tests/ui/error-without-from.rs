use resil::retry;

#[derive(Debug)]
pub struct PlainError;

#[retry(max = 3)]
async fn fetch() -> Result<u32, PlainError> {
    Ok(1)
}

fn main() {}
