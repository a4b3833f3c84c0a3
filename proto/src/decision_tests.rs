use super::*;
use crate::DecisionRecord;

/// `value` serialises as the JSON string `wire` and reads back from it.
fn check<T>(value: T, wire: &str)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug + fmt::Display,
{
    let json = format!("\"{wire}\"");
    assert_eq!(serde_json::to_string(&value).unwrap(), json, "{value:?}");
    assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value, "{wire}");
    assert_eq!(value.to_string(), wire);
}

#[test]
fn every_variant_is_the_string_it_was_on_the_wire() {
    // The strings of the code before the enums: policy/decision.rs, the daemon's
    // provider_error and native_mode records, native/history.rs's AWS events.
    let table = [
        (Reason::Scaled, "scaled"),
        (Reason::OutOfBounds, "out_of_bounds"),
        (Reason::WithinBand, "within_band"),
        (Reason::NotEnoughDatapoints, "not_enough_datapoints"),
        (Reason::WarmingUp, "warming_up"),
        (Reason::AtMax, "at_max"),
        (Reason::AtMin, "at_min"),
        (Reason::ZeroAdjustment, "zero_adjustment"),
        (Reason::AlreadyAtTarget, "already_at_target"),
        (Reason::NoStep, "no_step"),
        (Reason::StaleData, "stale_data"),
        (Reason::Settling, "settling"),
        (Reason::NoData, "no_data"),
        (Reason::ProviderError, "provider_error"),
        (Reason::NativeMode, "native_mode"),
        (Reason::AwsActivity, "aws_activity"),
        (Reason::AlarmOk, "alarm_ok"),
        (Reason::AlarmAlarm, "alarm_alarm"),
        (Reason::AlarmInsufficientData, "alarm_insufficient_data"),
    ];
    assert_eq!(
        table.len(),
        Reason::NAMED.len(),
        "a named reason is missing here"
    );
    for (reason, wire) in table {
        check(reason, wire);
        assert_eq!(Reason::parse(wire), Ok(reason));
    }
    for (action, wire) in [
        (Action::ScaleOut, "scale_out"),
        (Action::ScaleIn, "scale_in"),
        (Action::None, "none"),
    ] {
        check(action, wire);
    }
    for (source, wire) in [
        (DecisionSource::Controller, "controller"),
        (DecisionSource::Aws, "aws"),
    ] {
        check(source, wire);
    }
}

#[test]
fn an_unknown_reason_is_kept_verbatim_and_a_non_code_is_an_error() {
    let newer = Reason::parse("predicted_peak").unwrap();
    assert!(matches!(newer, Reason::Other(_)), "{newer:?}");
    check(newer, "predicted_peak");
    let longest = "x".repeat(ReasonCode::MAX_LEN);
    check(Reason::parse(&longest).unwrap(), &longest);

    let too_long = "x".repeat(ReasonCode::MAX_LEN + 1);
    for bad in ["", "two words", "é", too_long.as_str()] {
        assert_eq!(Reason::parse(bad), Err(ReasonError(bad.into())));
        let e = serde_json::from_str::<Reason>(&format!("{bad:?}")).unwrap_err();
        assert!(e.to_string().contains("is not a decision reason"), "{e}");
    }
}

#[test]
fn an_unknown_action_or_source_is_an_error_naming_the_expected_values() {
    let e = serde_json::from_str::<Action>("\"replace\"").unwrap_err();
    assert!(e.to_string().contains("scale_out"), "{e}");
    let e = serde_json::from_str::<DecisionSource>("\"gcp\"").unwrap_err();
    assert!(e.to_string().contains("controller"), "{e}");
}

#[test]
fn alarm_states_read_as_their_reasons() {
    assert_eq!(Reason::alarm(Some("OK")), Reason::AlarmOk);
    assert_eq!(Reason::alarm(Some("ALARM")), Reason::AlarmAlarm);
    assert_eq!(
        Reason::alarm(Some("INSUFFICIENT_DATA")),
        Reason::AlarmInsufficientData
    );
    assert_eq!(Reason::alarm(None), "alarm_unknown");
    assert_eq!(Reason::alarm(Some("Standby")), "alarm_standby");
    assert_eq!(Reason::alarm(Some("NOT A STATE")), "alarm_unknown");
}

#[test]
fn a_record_is_the_json_it_was() {
    let old = r#"{"at_ms":1,"tick":2,"action":"scale_out","policy":"out","metric":"ConcurrentUsers","metric_value":60.0,"threshold":50.0,"step":null,"capacity_before":1,"capacity_after":2,"reason":"scaled","explanation":"x","applied":true,"source":"aws"}"#;
    let d: DecisionRecord = serde_json::from_str(old).unwrap();
    assert_eq!(
        (d.action, d.reason, d.source),
        (Action::ScaleOut, Reason::Scaled, DecisionSource::Aws)
    );
    assert_eq!(serde_json::to_string(&d).unwrap(), old);
}
