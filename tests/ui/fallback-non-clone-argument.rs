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

pub struct Ticket(u32);

async fn cached(_ticket: Ticket, _error: MyError) -> Result<u32, MyError> {
    Ok(0)
}

#[fallback(cached)]
async fn fetch(ticket: Ticket) -> Result<u32, MyError> {
    Ok(ticket.0)
}

fn main() {}
