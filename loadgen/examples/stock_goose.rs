//! Stock goose 0.19 for `bench/loadgen.sh`: one transaction, `GET /hello`, goose's own
//! client (one reqwest client per user) and its own command line, e.g.
//! `stock_goose --host http://127.0.0.1:8080 --users 64 --increase-rate 1000 --run-time 10s`.

use goose::prelude::*;

async fn hello(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/hello").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("hello").register_transaction(transaction!(hello)))
        .execute()
        .await?;
    Ok(())
}
