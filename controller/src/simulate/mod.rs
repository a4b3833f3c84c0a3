//! `controller simulate` (stub: see issue 7).

/// `controller simulate`: replay a users trace through the policy engine.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The controller config whose policies are simulated.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("not implemented yet")]
    NotImplemented,
}

pub fn run(_args: SimulateArgs) -> Result<(), SimulateError> {
    Err(SimulateError::NotImplemented)
}
