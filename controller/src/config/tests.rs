use super::*;
use fleetcore::policy::PolicyMode;

const MINIMAL: &str = "[group]\nmin_size = 1\nmax_size = 4\n";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &Overrides::default())
}

/// `text` must be refused with an error naming `field` and containing `needle`.
fn check_bad(text: &str, field: &str, needle: &str) {
    let err = parse(text).expect_err(text);
    let msg = err.to_string();
    assert!(msg.contains(field), "{msg:?} should name {field}");
    assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
}

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_shipped_examples_parse() {
    let local = parse(&example("local.toml")).unwrap();
    assert_eq!(local.provider.kind(), ProviderKind::Local);
    assert_eq!(
        local.policies,
        Policies::local_default(),
        "local.toml spells out the defaults"
    );
    assert_eq!(local.group.desired_capacity(), Some(1));
    assert!(!local.metrics.publish);

    let aws = parse(&example("aws.toml")).unwrap();
    assert_eq!(
        aws.provider,
        ProviderConfig::Aws(AwsSettings {
            region: Some("us-east-1".into()),
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(4),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 3,
        })
    );
    assert_eq!(aws.tick, Duration::from_secs(10));
    assert!(aws.metrics.publish);
    assert_eq!(aws.reports.stale_after, Duration::from_secs(5));
}

#[test]
fn every_example_line_is_commented() {
    for name in ["local.toml", "aws.toml"] {
        let text = example(name);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let l = line.trim();
            let is_field = !l.is_empty() && !l.starts_with('#') && !l.starts_with('[');
            let steps_field = lines[..i]
                .iter()
                .rev()
                .find(|p| p.trim().starts_with('['))
                .is_some_and(|p| p.contains("steps"));
            if is_field && !steps_field {
                assert!(
                    i > 0 && lines[i - 1].trim().starts_with('#'),
                    "{name}:{}: `{l}` has no comment above it",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn defaults_fill_a_minimal_file() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.group.name(), "hellofleet");
    assert_eq!(c.tick, Duration::from_secs(5));
    assert_eq!(c.api.listen, "127.0.0.1:9090".parse().unwrap());
    assert_eq!(c.provider, ProviderConfig::Local(LocalSettings::default()));
    assert_eq!(c.policies, Policies::local_default());
    assert_eq!(c.reports.stale_after, Duration::from_secs(3));
    assert_eq!(c.metrics.namespace, "HelloFleet");
    assert!(!c.metrics.publish);
}

#[test]
fn local_default_is_valid_and_matches_the_brief() {
    let c = Config::local_default();
    assert_eq!((c.group.min_size(), c.group.max_size()), (1, 10));
    // Valid by construction; building them again from their raw form agrees.
    assert_eq!(Policies::new(c.policies.to_raw()), Ok(c.policies));
}

#[test]
fn bad_configs_name_the_field() {
    check_bad(
        "[group]\nmin_size = 5\nmax_size = 3\n",
        "group.max_size",
        "group.max_size (3) is below group.min_size (5)",
    );
    check_bad(
        "[group]\nmin_size = 0\nmax_size = 0\n",
        "group.max_size",
        "at least 1",
    );
    check_bad(
        "[group]\nmin_size = 1\nmax_size = 3\ndesired_capacity = 7\n",
        "group.desired_capacity",
        "outside",
    );
    check_bad(
        &format!("tick = \"fast\"\n{MINIMAL}"),
        "tick",
        "not a duration",
    );
    check_bad(&format!("tick = \"10ms\"\n{MINIMAL}"), "tick", "outside");
    check_bad(
        &format!("{MINIMAL}[api]\nlisten = \"localhost\"\n"),
        "api.listen",
        "not an address",
    );
    check_bad(
        &format!("{MINIMAL}[metrics]\nnamespace = \"AWS/EC2\"\n"),
        "metrics.namespace",
        "reserved",
    );
    check_bad(
        &format!("{MINIMAL}[metrics]\nnamespace = \"a b\"\n"),
        "metrics.namespace",
        "must be",
    );
    check_bad(
        &format!("{MINIMAL}[reports]\ninterval = \"2s\"\nstale_after = \"1s\"\n"),
        "reports.stale_after",
        "shorter than reports.interval",
    );
    check_bad(
        &format!("{MINIMAL}[history]\ndecisions = 0\n"),
        "history.decisions",
        "outside",
    );
    check_bad(
        &format!("{MINIMAL}[aws]\nregion = \"us-east-1\"\n"),
        "aws",
        "provider is \"local\"",
    );
    check_bad(
        &format!("provider = \"aws\"\n{MINIMAL}[local]\n"),
        "local",
        "provider is \"aws\"",
    );
    check_bad(
        &format!("provider = \"aws\"\n{MINIMAL}[aws]\nregion = \"Mars 1\"\n"),
        "aws.region",
        "not a region",
    );
    for (aws, field, message) in [
        (
            "attempt_timeout = \"soon\"",
            "aws.attempt_timeout",
            "not a duration",
        ),
        (
            "connect_timeout = \"10ms\"",
            "aws.connect_timeout",
            "outside [50ms, 5m]",
        ),
        (
            "operation_timeout = \"1h\"",
            "aws.operation_timeout",
            "outside [50ms, 5m]",
        ),
        (
            "connect_timeout = \"3s\"\nattempt_timeout = \"1s\"",
            "aws.attempt_timeout",
            "shorter than aws.connect_timeout",
        ),
        (
            "attempt_timeout = \"3s\"\noperation_timeout = \"1s\"",
            "aws.operation_timeout",
            "shorter than aws.attempt_timeout",
        ),
        ("max_attempts = 0", "aws.max_attempts", "outside [1, 10]"),
    ] {
        check_bad(
            &format!("provider = \"aws\"\n{MINIMAL}[aws]\n{aws}\n"),
            field,
            message,
        );
    }
    // A tick longer than the alarm period: periods without datapoints.
    check_bad(
        &format!("tick = \"10s\"\n{MINIMAL}"),
        "policies.scale_out.alarm.period_secs",
        "shorter than the tick",
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_refused_with_their_name() {
    check_bad(
        &format!("{MINIMAL}max_sise = 3\n"),
        "max_sise",
        "unknown field",
    );
    check_bad(
        &format!("provider = \"aws\"\n{MINIMAL}[aws]\nendpoint = \"http://x\"\n"),
        "endpoint",
        "unknown field",
    );
    check_bad(
        "provider = \"gcp\"\n[group]\nmin_size = 1\nmax_size = 2\n",
        "provider",
        "gcp",
    );
    check_bad("[group]\nmin_size = -1\nmax_size = 2\n", "min_size", "");
    check_bad("[group]\nmax_size = 2\n", "min_size", "missing field");
}

#[test]
fn policy_errors_keep_the_policy_engine_field_path() {
    let mut text = example("local.toml");
    text = text.replace("threshold = 20\n", "threshold = 60\n");
    let err = parse(&text).unwrap_err();
    assert_eq!(
        err.field(),
        Some("policies.scale_in.alarm.threshold"),
        "{err}"
    );
}

#[test]
fn cli_overrides_win_and_are_validated_like_the_file() {
    let o = Overrides {
        provider: Some(ProviderKind::Aws),
        group_name: Some("web".into()),
        max_size: Some(8),
        tick: Some("2s".into()),
        listen: Some("127.0.0.1:0".into()),
        namespace: Some("Test".into()),
        publish: Some(false),
        region: Some("eu-west-1".into()),
        ..Overrides::default()
    };
    let text = format!("tick = \"5s\"\n{MINIMAL}[reports]\nkey_env = \"HELLOFLEET_REPORT_KEY\"\n");
    let c = Config::from_toml(&text, "t", &o).unwrap();
    assert_eq!(c.group.name(), "web");
    assert_eq!(c.group.max_size(), 8);
    assert_eq!(c.tick, Duration::from_secs(2));
    assert_eq!(c.metrics.namespace, "Test");
    assert!(!c.metrics.publish);
    assert_eq!(
        c.provider,
        ProviderConfig::Aws(AwsSettings {
            region: Some("eu-west-1".into()),
            ..AwsSettings::default()
        })
    );

    let o = Overrides {
        min_size: Some(9),
        ..Overrides::default()
    };
    let err = Config::from_toml(MINIMAL, "t", &o).unwrap_err();
    assert_eq!(err.field(), Some("group.max_size"));
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err = Config::load(
        Path::new("/nonexistent/hellofleet.toml"),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/hellofleet.toml"),
        "{err}"
    );
}

#[test]
fn report_signing_fields_are_checked_and_named() {
    let c = parse(MINIMAL).unwrap();
    assert!(c.reports.require_signature);
    assert_eq!(c.reports.max_clock_skew, Duration::from_secs(30));
    assert_eq!(c.api.header_timeout, Duration::from_secs(10));
    assert_eq!(c.api.max_connections, 1_024);
    let r = |body: &str| format!("{MINIMAL}[reports]\n{body}\n");
    check_bad(
        &r("key_file = \"/k\"\nkey_env = \"K\""),
        "reports.key_env",
        "not both",
    );
    check_bad(
        &r("key_env = \"A=B\""),
        "reports.key_env",
        "not an environment",
    );
    check_bad(&r("key_file = \"\""), "reports.key_file", "empty");
    check_bad(
        &r("max_clock_skew = \"0s\""),
        "reports.max_clock_skew",
        "outside",
    );
    // Without key_file / key_env the aws provider has no key: `controller run` refuses to
    // start (ReportsConfig::check_key, after Config::load_report_key), naming reports.key_file.
    let aws = parse(&format!("provider = \"aws\"\n{MINIMAL}"))
        .unwrap()
        .load_report_key()
        .unwrap();
    let e = aws.reports.check_key().unwrap_err();
    assert_eq!(e.field(), Some("reports.key_file"));
    let open = parse(&format!(
        "provider = \"aws\"\n{}",
        r("require_signature = false")
    ))
    .unwrap();
    assert!(!open.reports.require_signature);
    check_bad(
        &format!("{MINIMAL}[api]\nheader_timeout = \"1h\""),
        "api.header_timeout",
        "outside",
    );
    check_bad(
        &format!("{MINIMAL}[api]\nmax_connections = 1"),
        "api.max_connections",
        "outside",
    );
}

#[test]
fn the_key_is_read_from_the_named_file_and_must_be_long_enough() {
    let dir = std::env::temp_dir().join(format!("hf-cfg-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("k");
    let text = |p: &std::path::Path| {
        format!(
            "{MINIMAL}[reports]\nkey_file = {:?}\n",
            p.display().to_string()
        )
    };
    std::fs::write(&path, "short\n").unwrap();
    let c = parse(&text(&path)).unwrap();
    let e = c.clone().load_report_key().unwrap_err();
    assert_eq!(e.field(), Some("reports.key_file"));
    assert!(e.to_string().contains("at least 32"), "{e}");
    std::fs::write(&path, format!("{}\n", "k".repeat(48))).unwrap();
    let c = c.load_report_key().unwrap();
    assert_eq!(
        c.reports.key,
        Some(proto::sign::ReportKey::from_text(&"k".repeat(48)).unwrap())
    );
    let missing = parse(&text(&dir.join("absent"))).unwrap();
    let e = missing.load_report_key().unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn native_mode_is_refused_where_aws_would_refuse_it_naming_the_field() {
    let aws = example("aws.toml");
    let native = aws.replace("mode = \"controller\"", "mode = \"native\"");
    assert_ne!(aws, native);
    let c = parse(&native).unwrap();
    assert_eq!(c.policies.mode(), PolicyMode::Native);
    assert_eq!(parse(&aws).unwrap().policies.mode(), PolicyMode::Controller);
    check_bad(
        &native.replace("period_secs = 10", "period_secs = 20"),
        "policies.scale_out.alarm.period_secs",
        "10, 30 or a multiple of 60",
    );
    check_bad(
        &native.replace("publish = true", "publish = false"),
        "policies.mode",
        "metrics.publish",
    );
    let local = example("local.toml").replace("mode = \"controller\"", "mode = \"native\"");
    check_bad(&local, "policies.mode", "provider = \"aws\"");
    check_bad(
        &native.replace("name = \"scale-in\"", "name = \"scale-out\""),
        "policies.scale_in.name",
        "scale-out",
    );
    check_bad(
        &native.replace("mode = \"native\"", "mode = \"aws\""),
        "mode",
        "controller",
    );
    let stack = aws.replace("mode = \"controller\"", "mode = \"stack\"");
    assert_eq!(parse(&stack).unwrap().policies.mode(), PolicyMode::Stack);
    check_bad(
        &stack.replace("period_secs = 10", "period_secs = 45"),
        "policies.scale_out.alarm.period_secs",
        "multiple of 60",
    );
    // Controller mode keeps its own rules only: a 20 s period is fine there.
    assert!(parse(&aws.replace("period_secs = 10", "period_secs = 20")).is_ok());
}

#[test]
fn the_lease_section() {
    let aws = parse(&example("aws.toml")).unwrap();
    assert_eq!(
        aws.lease,
        Some(LeaseSettings {
            table: "hellofleet-lease".into(),
            key: "hellofleet".into(),
            ttl: Duration::from_secs(30),
            holder: None,
        })
    );
    // Defaults: the group's name as the key, six ticks.
    let base =
        "provider = \"aws\"\ntick = \"5s\"\n[group]\nname = \"web\"\nmin_size = 1\nmax_size = 4\n";
    let c = parse(&format!("{base}[lease]\ntable = \"web-lease\"\n")).unwrap();
    let l = c.lease.unwrap();
    assert_eq!((l.key.as_str(), l.ttl), ("web", Duration::from_secs(30)));
    assert_eq!(parse(base).unwrap().lease, None, "no section, no lease");
    for (lease, field, needle) in [
        ("", "lease.table", "missing"),
        (
            "table = \"a b\"",
            "lease.table",
            "not a DynamoDB table name",
        ),
        ("table = \"ab\"", "lease.table", "not a DynamoDB table name"),
        ("table = \"t-1\"\nttl = \"10s\"", "lease.ttl", "outside"),
        ("table = \"t-1\"\nttl = \"11m\"", "lease.ttl", "outside"),
        ("table = \"t-1\"\nttl = \"soon\"", "lease.ttl", ""),
        ("table = \"t-1\"\nkey = \"\"", "lease.key", "1 to 1024"),
        ("table = \"t-1\"\nholder = \"\"", "lease.holder", "1 to 256"),
    ] {
        check_bad(&format!("{base}[lease]\n{lease}\n"), field, needle);
    }
    check_bad(
        &format!("{MINIMAL}[lease]\ntable = \"t-1\"\n"),
        "lease",
        "provider is \"local\"",
    );
    let e = parse(&format!("{base}[lease]\ntable = \"t-1\"\nttable = \"x\"\n")).unwrap_err();
    assert!(e.to_string().contains("ttable"), "{e}");
}

#[test]
fn lookahead_is_off_by_default_and_parsed_and_checked_when_given() {
    let local = parse(&example("local.toml")).unwrap();
    assert_eq!(local.policies.lookahead(), None, "off by default");
    for name in ["local.toml", "aws.toml"] {
        let on = example(name)
            .replace("# [policies.lookahead]", "[policies.lookahead]")
            .replace("# window_secs = 60", "window_secs = 60")
            .replace("# horizon_secs = 40", "horizon_secs = 40")
            .replace("# max_growth = 2", "max_growth = 2");
        let c = parse(&on).unwrap();
        assert_eq!(
            c.policies.lookahead(),
            Some(&fleetcore::policy::Lookahead {
                window_secs: 60.0,
                horizon_secs: Some(40.0),
                max_growth: 2.0,
            }),
            "{name}"
        );
        let bad = on.replace("window_secs = 60", "window_secs = 0");
        let err = parse(&bad).unwrap_err();
        assert_eq!(err.field(), Some("policies.lookahead.window_secs"), "{err}");
        let typo = on.replace("window_secs = 60", "window = 60");
        assert!(parse(&typo).unwrap_err().to_string().contains("window"));
    }
    let minimal = parse("[group]\nmin_size = 1\nmax_size = 2\n[policies.lookahead]\n");
    assert!(minimal.is_err(), "a [policies] table needs its policies");
}

#[test]
fn policies_read_from_toml_and_refuse_unknown_fields() {
    let doc = r#"
        [scale_out]
        name = "scale-out"
        adjustment_type = "PercentChangeInCapacity"
        min_adjustment_magnitude = 1
        estimated_instance_warmup_secs = 10
        alarm = { metric = "ConcurrentUsersPerInstance", statistic = "Average", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = 5 }
        steps = [ { lower_bound = 0, upper_bound = 15, scaling_adjustment = 20 },
                  { lower_bound = 15, scaling_adjustment = 50 } ]
        [scale_in]
        name = "scale-in"
        adjustment_type = "ChangeInCapacity"
        alarm = { metric = "ConcurrentUsersPerInstance", threshold = 20, comparison = "LessThanOrEqualToThreshold", period_secs = 5, evaluation_periods = 3 }
        steps = [ { upper_bound = 0, scaling_adjustment = -1 } ]
    "#;
    let f: PoliciesFile = toml::from_str(doc).expect("parses");
    let p = Policies::try_from(f).expect("valid");
    assert_eq!(p.scale_in().alarm().datapoints_needed(), 3);
    assert_eq!(p.scale_out().steps()[1].upper_bound, None);
    let typo = doc.replace("min_adjustment_magnitude", "min_adjustment_magnitud");
    let e = toml::from_str::<PoliciesFile>(&typo).expect_err("unknown field");
    assert!(e.to_string().contains("min_adjustment_magnitud"), "{e}");
    // Round trip through TOML: the core's policies serialise as their raw form.
    let back: PoliciesFile =
        toml::from_str(&toml::to_string(&p).expect("serialises")).expect("parses");
    assert_eq!(Policies::try_from(back).expect("valid"), p);
}

#[test]
fn the_local_section_is_validated_with_the_rest_and_up_flags_win() {
    check_bad(
        &format!("{MINIMAL}[local]\nboot_timeout = \"0s\"\n"),
        "local.boot_timeout",
        "outside",
    );
    let o = Overrides {
        local: LocalOverrides {
            api_port: Some(18_000),
            data_dir: Some("/tmp/x".into()),
            strategy: Some(Strategy::RoundRobin),
        },
        ..Overrides::default()
    };
    // The flag replaces an unusable file value before anything is validated.
    let text = format!("{MINIMAL}[local]\nbalancer = \"localhost\"\n");
    let c = Config::from_toml(&text, "t", &o).unwrap();
    let ProviderConfig::Local(l) = c.provider else {
        panic!("local provider")
    };
    assert_eq!(l.balancer, "127.0.0.1:18000".parse().unwrap());
    assert_eq!(l.data_dir, std::path::PathBuf::from("/tmp/x"));
    assert_eq!(l.strategy, Strategy::RoundRobin);
    assert_eq!(
        l.boot_timeout,
        Duration::from_secs(30),
        "the rest keep their defaults"
    );
}
