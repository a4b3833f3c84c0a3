//! `controller policies render`: the config's policies and alarms as a CloudFormation
//! template (the rendering itself is `native::render`, pure).

/// `controller policies …`.
#[derive(Debug, Clone, clap::Args)]
pub struct PoliciesArgs {
    #[command(subcommand)]
    pub command: PoliciesCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PoliciesCommand {
    /// Print the config's policies and alarms as a CloudFormation template (YAML) to deploy
    /// beside the fleet stack (infra/README.md).
    Render {
        /// The TOML config (see controller/examples/).
        #[arg(long, env = "HELLOFLEET_CONFIG")]
        config: std::path::PathBuf,
    },
}

/// Runs `controller policies …`: the text to print. The config must load and its policies
/// pass the native checks (what AWS would refuse), whatever its `mode`.
pub fn run(args: &PoliciesArgs) -> Result<String, crate::config::ConfigError> {
    let PoliciesCommand::Render { config } = &args.command;
    let c = crate::config::Config::load(config, &crate::config::Overrides::default())?;
    crate::native::validate_native(c.group().name(), c.policies()).map_err(|e| {
        crate::config::ConfigError::Invalid {
            message: e.to_string(),
            field: e.path,
        }
    })?;
    Ok(crate::native::render::render(
        c.group().name(),
        c.metrics().namespace(),
        c.policies(),
    ))
}
