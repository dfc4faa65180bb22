use resil::{fallback, timeout};

#[derive(Debug)]
pub struct PlainError;

async fn cached(_error: PlainError) -> Result<u32, PlainError> {
    Ok(0)
}

#[fallback(cached)]
#[timeout(1s)]
async fn fetch() -> Result<u32, PlainError> {
    Ok(1)
}

fn main() {}
