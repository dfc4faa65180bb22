use resil::{BulkheadConfig, DeclaredBulkhead, bulkhead};

#[derive(Debug)]
pub enum MyError {
    Resil(resil::Error),
}

impl From<resil::Error> for MyError {
    fn from(error: resil::Error) -> Self {
        Self::Resil(error)
    }
}

resil::policy! {
    static SEARCH: DeclaredBulkhead = DeclaredBulkhead::new("search", BulkheadConfig::DEFAULT);
}

// The settings belong in the declaration.
#[bulkhead(SEARCH, max = 3)]
async fn search() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
