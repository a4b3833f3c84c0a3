//! `controller simulate`: the command. Reads the config(s) and the trace, runs the engine
//! (`fleetcore::simulate`: the SAME tick core the daemon runs, on a simulated clock) once per
//! config or baseline, and writes the summaries, the timelines and the charts
//! (`crate::simulate::charts`). This is the only part of the simulator that reads or
//! writes files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, ConfigError, Overrides};
use crate::simulate::{
    BuiltinParams, Model, ModelParams, Row, Run, ScoreParams, SimParams, Summary, Trace,
    TraceError, charts, simulate_model, to_text, trace,
};

/// `controller simulate`: replay a users trace through the step policies.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The controller config whose policies and group bounds are simulated
    /// [default: the built-in local config].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A CSV trace (`time,users` in seconds; loadgen's timeline.csv as is), or a built-in:
    /// ramp, spike, diurnal, sawtooth.
    #[arg(long)]
    pub trace: String,
    /// Another run side by side (repeatable): a config file, or a baseline on the same
    /// group, tick and trace: aws-target-tracking, hpa, native.
    #[arg(long)]
    pub compare: Vec<String>,
    /// Users one instance should serve: the scores' demand is users / this, and the
    /// aws-target-tracking and hpa baselines track it [default: the scale-out threshold
    /// when the scale-out metric is ConcurrentUsersPerInstance, else 50].
    #[arg(long)]
    pub target_users_per_instance: Option<f64>,
    /// SLO-minutes lost count the minutes with more users per serving instance than this
    /// [default: the target users per instance].
    #[arg(long)]
    pub slo_users_per_instance: Option<f64>,
    /// Print the summaries as JSON (an array, one per config) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write simulate.svg, simulate.png, summary.json, decisions.json and timeline CSVs here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Time from launch to in service.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub boot: Duration,
    /// Time a terminated instance drains before it is gone.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
    /// Overrides the policies' estimated instance warmup.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// A scale-out, scale-in, scale-out within this window is an oscillation.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub oscillation_window: Duration,
    /// Overrides the config's `tick`.
    #[arg(long)]
    pub tick: Option<String>,
    /// Overrides `group.min_size`.
    #[arg(long)]
    pub min_size: Option<u32>,
    /// Overrides `group.max_size`.
    #[arg(long)]
    pub max_size: Option<u32>,
    /// Built-in traces: the peak number of users.
    #[arg(long, default_value_t = 400)]
    pub peak: u64,
    /// Built-in traces: the length [default: ramp, spike 1h; sawtooth 2h; diurnal 24h].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Built-in traces: the time between points.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub resolution: Duration,
    /// Requests per second each user makes (for request and log rates).
    #[arg(long, default_value_t = 0.5)]
    pub requests_per_user: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error(
        "cannot read the trace {path} (neither a file nor a built-in: ramp, spike, diurnal, sawtooth)"
    )]
    ReadTrace {
        path: String,
        source: std::io::Error,
    },
    #[error("trace {path}")]
    Trace { path: String, source: TraceError },
    #[error("cannot write {path}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("chart: {0}")]
    Chart(#[from] chart::ChartError),
    #[error("--{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}

/// How a config's policies run: a config with `[policies] mode = "native"` (or `"stack"`)
/// is simulated as AWS would run its policies, any other by the controller's engine.
fn model_of(config: &Config) -> Model {
    if config.policies().mode().aws_decides() {
        Model::Native
    } else {
        Model::Controller
    }
}

/// Runs the simulation(s) and prints the summary to stdout.
pub fn run(args: SimulateArgs) -> Result<(), SimulateError> {
    let overrides = Overrides {
        tick: args.tick.clone(),
        min_size: args.min_size,
        max_size: args.max_size,
        ..Overrides::default()
    };
    let trace = load_trace(&args)?;
    let (label, first) = load_config(args.config.as_deref(), &overrides)?;
    let params = params_of(&args, &first)?;
    let mut configs = vec![(label, first.clone(), model_of(&first))];
    for other in &args.compare {
        let path = Path::new(other);
        let (mut label, config, model) = match Model::baseline(other) {
            Some(model) if !path.exists() => (other.clone(), configs[0].1.clone(), model),
            None if !path.exists() => {
                return Err(SimulateError::Flag {
                    flag: "compare",
                    message: format!(
                        "`{other}` is neither a config file nor a baseline ({})",
                        Model::BASELINES.join(", ")
                    ),
                });
            }
            _ => {
                let (label, config) = load_config(Some(path), &overrides)?;
                let model = model_of(&config);
                (label, config, model)
            }
        };
        let same = configs.iter().filter(|c| c.0 == label).count();
        if same > 0 {
            label.push_str(&format!(" ({})", same + 1));
        }
        configs.push((label, config, model));
    }
    // The runs are independent (and each deterministic): one thread each.
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = configs
            .iter()
            .map(|(label, config, model)| {
                let (trace, params) = (&trace, &params);
                s.spawn(move || simulate_model(label, config, *model, trace, params))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });
    let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).expect("summaries serialize")
        );
    } else {
        print!("{}", to_text(&summaries));
    }
    if let Some(dir) = &args.out {
        write_outputs(dir, &runs)?;
        if !args.json {
            println!("charts and data written to {}", dir.display());
        }
    }
    Ok(())
}

fn params_of(args: &SimulateArgs, config: &Config) -> Result<SimParams, SimulateError> {
    if !(args.requests_per_user.is_finite() && args.requests_per_user >= 0.0) {
        return Err(SimulateError::Flag {
            flag: "requests-per-user",
            message: format!("{} is not a rate >= 0", args.requests_per_user),
        });
    }
    let positive = |flag: &'static str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(SimulateError::Flag {
                flag,
                message: format!("{v} is not a number of users > 0"),
            })
        }
    };
    let alarm = config.policies().scale_out().alarm();
    let default_target = match alarm.metric {
        fleetcore::policy::MetricName::ConcurrentUsersPerInstance => alarm.threshold,
        _ => 50.0,
    };
    let target = positive(
        "target-users-per-instance",
        args.target_users_per_instance.unwrap_or(default_target),
    )?;
    let slo = positive(
        "slo-users-per-instance",
        args.slo_users_per_instance.unwrap_or(target),
    )?;
    Ok(SimParams {
        model: ModelParams {
            boot_ms: args.boot.as_millis() as u64,
            drain_ms: args.drain.as_millis() as u64,
            requests_per_user: args.requests_per_user,
            ..ModelParams::default()
        },
        warmup_ms: args.warmup.map(|w| w.as_millis() as u64),
        oscillation_window_ms: args.oscillation_window.as_millis() as u64,
        score: ScoreParams {
            target_users_per_instance: target,
            slo_users_per_instance: slo,
        },
    })
}

/// `(label, config)`: the file's stem, or `local-default` without a file.
pub fn load_config(
    path: Option<&Path>,
    overrides: &Overrides,
) -> Result<(String, Config), SimulateError> {
    match path {
        Some(p) => {
            let label = p
                .file_stem()
                .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into());
            Ok((label, Config::load(p, overrides)?))
        }
        None => {
            let d = Config::local_default();
            let text = format!(
                "[group]\nname = {:?}\nmin_size = {}\nmax_size = {}\n",
                d.group().name(),
                d.group().min_size(),
                d.group().max_size()
            );
            let config = Config::from_toml(&text, "the built-in local config", overrides)?;
            // The defaults' desired capacity where the (overridden) sizes allow it, else none.
            let config = match d.group().desired_capacity() {
                Some(c) => config
                    .clone()
                    .with_desired_capacity(c)
                    .unwrap_or_else(|_| config.without_desired_capacity()),
                None => config.without_desired_capacity(),
            };
            Ok(("local-default".into(), config))
        }
    }
}

fn load_trace(args: &SimulateArgs) -> Result<Trace, SimulateError> {
    let name = args.trace.as_str();
    if trace::BUILTINS.contains(&name) {
        let p = BuiltinParams {
            duration_ms: args.duration.map(|d| d.as_millis() as u64),
            peak: args.peak,
            resolution_ms: args.resolution.as_millis() as u64,
        };
        return Trace::builtin(name, p).map_err(|source| SimulateError::Trace {
            path: name.into(),
            source,
        });
    }
    let text = std::fs::read_to_string(name).map_err(|source| SimulateError::ReadTrace {
        path: name.into(),
        source,
    })?;
    let label = Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |s| s.to_string_lossy().into());
    Trace::parse_csv(&label, &text).map_err(|source| SimulateError::Trace {
        path: name.into(),
        source,
    })
}

fn write_outputs(dir: &Path, runs: &[Run]) -> Result<(), SimulateError> {
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| SimulateError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| SimulateError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let refs: Vec<&Run> = runs.iter().collect();
    let charts = charts::charts(&refs);
    write("simulate.svg", chart::stack_to_svg(&charts).as_bytes())?;
    chart::stack_to_png(&charts, dir.join("simulate.png"))?;
    let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
    write(
        "summary.json",
        serde_json::to_string_pretty(&summaries)
            .expect("serializes")
            .as_bytes(),
    )?;
    let decisions: Vec<_> = runs
        .iter()
        .map(|r| serde_json::json!({ "config": r.label, "decisions": r.actions }))
        .collect();
    write(
        "decisions.json",
        serde_json::to_string_pretty(&decisions)
            .expect("serializes")
            .as_bytes(),
    )?;
    for (k, run) in runs.iter().enumerate() {
        let name = if k == 0 {
            "timeline.csv".to_string()
        } else {
            format!("timeline-{}.csv", k + 1)
        };
        write(&name, timeline_csv(&run.rows).as_bytes())?;
    }
    Ok(())
}

/// One line per tick: `time_s,users,desired,in_service,pending,running,users_per_instance,metric,action,reason`.
pub fn timeline_csv(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "time_s,users,desired,in_service,pending,running,users_per_instance,metric,action,reason\n",
    );
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.3}"));
    for r in rows {
        let _ = writeln!(
            out,
            "{:.3},{},{},{},{},{},{},{},{},{}",
            r.t_ms as f64 / 1000.0,
            r.users,
            r.desired,
            r.in_service,
            r.pending,
            r.running,
            opt(r.users_per_instance),
            opt(r.metric),
            r.action.as_str(),
            r.reason.as_str()
        );
    }
    out
}
