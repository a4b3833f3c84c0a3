//! One load test from start to reports: goose and the reporter side by side, then the CSV,
//! the chart (SVG and PNG), goose's HTML and JSON reports, and the SLO verdicts.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::recorder::Recorder;
use crate::reporter;
use crate::slo::{Summary, Verdict};
use crate::status::HttpStatus;
use crate::timeline::{self, Row};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("goose: {0}")]
    Goose(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("chart: {0}")]
    Chart(#[from] chart::ChartError),
}

/// The files a run writes.
#[derive(Debug, Clone)]
pub struct Paths {
    pub html: PathBuf,
    pub json: PathBuf,
    pub svg: PathBuf,
    pub png: PathBuf,
    pub csv: PathBuf,
}

impl Paths {
    pub fn new(config: &Config) -> Paths {
        let d = &config.out_dir;
        Paths {
            html: d.join("report.html"),
            json: d.join("report.json"),
            svg: d.join("chart.svg"),
            png: d.join("chart.png"),
            csv: config.csv.clone(),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub summary: Summary,
    /// Empty when no SLO was given.
    pub verdicts: Vec<Verdict>,
    pub paths: Paths,
}

impl Outcome {
    pub fn slo_met(&self) -> bool {
        self.verdicts.iter().all(|v| v.pass)
    }
}

fn create_dir(path: &std::path::Path) -> Result<(), RunError> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|source| RunError::Create {
        path: path.display().to_string(),
        source,
    })
}

fn write(path: &std::path::Path, text: &str) -> Result<(), RunError> {
    std::fs::write(path, text).map_err(|source| RunError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Runs the load test until its plan ends or `shutdown` is cancelled (SIGTERM, SIGINT; goose
/// also stops on SIGINT itself), then writes every report. Step lines go to stdout as they come.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<Outcome, RunError> {
    let paths = Paths::new(&config);
    create_dir(&config.out_dir)?;
    if let Some(parent) = paths.csv.parent() {
        create_dir(parent)?;
    }
    let recorder = Recorder::new(config.plan.interval);
    let done = CancellationToken::new();
    // Cancelled by a signal (`shutdown`) or at a ramp's --duration.
    let stop = shutdown.child_token();

    // A stop request (SIGTERM) ends goose the way its own Ctrl-C handler does. goose clears
    // the killswitch when its load test starts (after building its first users), so a stop
    // that comes before then is repeated until goose has returned.
    let stopper = tokio::spawn({
        let (stop, done) = (stop.clone(), done.clone());
        async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = done.cancelled() => return,
            }
            while !done.is_cancelled() {
                goose::trigger_killswitch("stop requested (signal or --duration)");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = done.cancelled() => {}
                }
            }
        }
    });
    let status = config
        .controller
        .as_deref()
        .map(|url| HttpStatus::new(url, Duration::from_secs(2)));
    let reporter = tokio::spawn(reporter::run(
        recorder.clone(),
        config.plan.clone(),
        status,
        done.clone(),
        |row: &Row| println!("{}", row.line()),
    ));

    // A ramp grows through goose's telnet Controller on a free loopback port.
    let telnet_port = match config.plan.ramp {
        Some(_) => Some(crate::grow::free_port().map_err(|source| RunError::Create {
            path: "a loopback port for goose's controller".into(),
            source,
        })?),
        None => None,
    };
    let grower = config.plan.ramp.zip(telnet_port).map(|(ramp, port)| {
        tokio::spawn(crate::grow::drive(
            recorder.clone(),
            ramp,
            port,
            stop.clone(),
            done.clone(),
        ))
    });
    match config.plan.ramp {
        Some(r) => tracing::info!(
            host = %config.host,
            "starting ramp: {} users, {} more every {}, up to {} (the ceiling is {}: each user is built when it is due)",
            r.start,
            r.step,
            humantime::format_duration(r.every),
            r.max,
            crate::plan::MAX_USERS
        ),
        None => tracing::info!(
            host = %config.host,
            "starting {}: up to {} users at once, {} in all (goose builds them before it starts; at most {})",
            config.profile.as_str(),
            config.plan.peak_users(),
            config.plan.total_users(),
            crate::plan::MAX_USERS
        ),
    }
    let result =
        crate::attack::execute(&config, recorder, &[&paths.html, &paths.json], telnet_port).await;
    done.cancel();
    let _ = stopper.await;
    if let Some(g) = grower {
        let _ = g.await;
    }
    let observed = reporter.await.unwrap_or_default();
    // A goose error (a bad option, an unreachable report path) still ends the run here, but
    // only after whatever was observed is kept below.
    let goose_error = result.err().map(|e| RunError::Goose(e.to_string()));

    let percentiles = config
        .slo
        .as_ref()
        .map(|s| s.percentiles())
        .unwrap_or_default();
    let summary = timeline::summary(&observed.total, observed.elapsed, &percentiles);
    write(&paths.csv, &timeline::to_csv(&observed.rows))?;
    let charts = timeline::charts(config.profile.as_str(), &observed.rows);
    write(&paths.svg, &chart::stack_to_svg(&charts))?;
    if let Some(e) = goose_error {
        return Err(e);
    }
    chart::stack_to_png(&charts, &paths.png)?;
    let verdicts = config
        .slo
        .as_ref()
        .map(|slo| slo.evaluate(&summary))
        .unwrap_or_default();
    Ok(Outcome {
        rows: observed.rows,
        summary,
        verdicts,
        paths,
    })
}
