//! `controller simulate --compare`: baselines by name beside a config, the scores side by
//! side, and lookahead in the tick core. Driven through the real binary where it matters.

use std::process::Command;

use controller::config::{Config, Overrides};
use controller::simulate::{BuiltinParams, Model, SimParams, Trace, simulate, simulate_model};

fn controller() -> Command {
    Command::new(env!("CARGO_BIN_EXE_controller"))
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let out = controller()
        .args(["simulate", "--json"])
        .args(args)
        .output()
        .expect("controller runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON summaries")
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn compare_runs_every_baseline_by_name_on_the_same_trace() {
    let s = run_json(&[
        "--trace",
        "ramp",
        "--max-size",
        "20",
        "--compare",
        "native",
        "--compare",
        "hpa",
        "--compare",
        "aws-target-tracking",
    ]);
    let runs = s.as_array().expect("an array");
    let models: Vec<&str> = runs.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(
        models,
        ["controller", "native", "hpa", "aws-target-tracking"]
    );
    for r in runs {
        assert_eq!(r["trace"], "ramp");
        assert!(f(&r["scores"]["instance_hours"]) > 0.0, "{r}");
        assert!(f(&r["scores"]["first_breach_s"]) > 0.0, "{r}");
    }
    let theta_u = |k: usize| f(&runs[k]["scores"]["theta_u"]);
    assert!(theta_u(0) < theta_u(2) && theta_u(0) < theta_u(3), "{s:#}");
    // Native mode evaluates alarms on 10 s period ends: it reacts later than the tick.
    let decided = |k: usize| f(&runs[k]["scores"]["reaction_decided_s"]);
    assert!(decided(1) > decided(0), "{s:#}");
}

#[test]
fn the_text_summary_shows_the_scores_and_reaction_side_by_side() {
    let out = controller()
        .args(["simulate", "--trace", "spike", "--compare", "native"])
        .args(["--slo-users-per-instance", "60"])
        .output()
        .expect("controller runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for needle in [
        "θU under-provisioning accuracy",
        "SLO-minutes lost (> 60 users/instance)",
        "reaction: breach → desired raised",
        "reaction: breach → capacity added",
        "native",
    ] {
        assert!(text.contains(needle), "no `{needle}` in\n{text}");
    }
}

#[test]
fn an_unknown_compare_name_is_a_clear_error() {
    let out = controller()
        .args(["simulate", "--trace", "ramp", "--compare", "k8s"])
        .output()
        .expect("controller runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "`k8s` is neither a config file nor a baseline (aws-target-tracking, hpa, native)"
        ),
        "{err}"
    );
    let out = controller()
        .args([
            "simulate",
            "--trace",
            "ramp",
            "--slo-users-per-instance",
            "0",
        ])
        .output()
        .expect("controller runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slo-users-per-instance"));
}

fn config(extra: &str) -> Config {
    let text = format!("tick = \"5s\"\n[group]\nmin_size = 1\nmax_size = 40\n{extra}");
    Config::from_toml(&text, "test", &Overrides::default()).expect("valid test config")
}

/// `config("")` with a lookahead, as the simulator's core reads it.
fn with_lookahead() -> fleetcore::CoreConfig {
    let mut c = fleetcore::CoreConfig::from(&config(""));
    c.policies = c
        .policies
        .changed(|p| {
            p.lookahead = Some(fleetcore::policy::Lookahead {
                window_secs: 60.0,
                horizon_secs: Some(40.0),
                max_growth: 2.0,
            })
        })
        .expect("valid");
    c
}

#[test]
fn lookahead_runs_in_the_tick_core_and_cuts_under_provisioning_on_a_ramp() {
    let trace = Trace::builtin("ramp", BuiltinParams::default()).expect("ramp");
    let p = SimParams::default();
    let plain = simulate("plain", &config(""), &trace, &p);
    let ahead = simulate("ahead", with_lookahead(), &trace, &p);
    let (a, b) = (plain.summary.scores, ahead.summary.scores);
    assert!(b.theta_u < a.theta_u, "{a:?}\n{b:?}");
    assert!(b.slo_minutes_lost <= a.slo_minutes_lost, "{a:?}\n{b:?}");
    let explained: Vec<_> = ahead
        .actions
        .iter()
        .filter(|d| d.explanation.starts_with("lookahead:"))
        .collect();
    assert!(!explained.is_empty(), "no lookahead decision");
    assert!(explained.iter().all(|d| d.action == "scale_out"));
    assert!(explained[0].explanation.contains("users rising"));
    // The native model is AWS running the policies: no lookahead there.
    let native = simulate_model("native", with_lookahead(), Model::Native, &trace, &p);
    assert!(
        native
            .actions
            .iter()
            .all(|d| !d.explanation.contains("lookahead"))
    );
}

/// A config with `[policies] mode = "native"` is simulated as AWS runs its policies (the
/// same model as `--compare native`), the same file in controller mode by the engine.
#[test]
fn a_native_mode_config_runs_the_native_model() {
    let dir = std::env::temp_dir().join(format!("hf-sim-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let aws =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/aws.toml")).unwrap();
    let native = aws.replace("mode = \"controller\"", "mode = \"native\"");
    assert_ne!(aws, native, "aws.toml names its mode");
    let (a, n) = (dir.join("controller.toml"), dir.join("native.toml"));
    std::fs::write(&a, &aws).unwrap();
    std::fs::write(&n, &native).unwrap();
    let s = run_json(&[
        "--trace",
        "spike",
        "--config",
        a.to_str().unwrap(),
        "--compare",
        n.to_str().unwrap(),
        "--compare",
        "native",
    ]);
    let runs = s.as_array().expect("an array");
    let models: Vec<&str> = runs.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["controller", "native", "native"], "{s:#}");
    // The file in native mode and `--compare native` on the controller-mode file: one model.
    assert_eq!(runs[1]["scores"], runs[2]["scores"], "{s:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}
