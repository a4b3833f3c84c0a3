//! `controller simulate`: the engine is the pure core's (`fleetcore::simulate`, re-exported
//! here so the old paths keep working), the command is [`crate::cmd::simulate`] (also
//! re-exported), and [`charts`] turns runs into `chart` data (SVG and PNG are rendered by
//! the `chart` crate, which the core does not depend on).

pub mod charts;
pub mod text;

pub use crate::cmd::simulate::{SimulateArgs, SimulateError, load_config, run, timeline_csv};
pub use fleetcore::simulate::*;
pub use text::to_text;
