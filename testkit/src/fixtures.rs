//! Fixtures shared by the crates' tests.

/// The tests' step policies on users per instance, as TOML to append to a controller
/// config: scale out +1 when at or above 50 for one `period_secs` period; scale in −1 after
/// `scale_in_periods` periods at or below 5. (The controller's unit tests pin their own
/// `native::test_policies`, a Rust value in its source, for the native mode's mapping.)
pub fn step_policies(period_secs: f64, scale_in_periods: u32) -> String {
    format!(
        r#"
[policies.scale_out]
name = "out"
adjustment_type = "ChangeInCapacity"
alarm = {{ metric = "ConcurrentUsersPerInstance", threshold = 50, comparison = "GreaterThanOrEqualToThreshold", period_secs = {period_secs} }}
steps = [{{ lower_bound = 0, scaling_adjustment = 1 }}]
[policies.scale_in]
name = "in"
adjustment_type = "ChangeInCapacity"
alarm = {{ metric = "ConcurrentUsersPerInstance", threshold = 5, comparison = "LessThanOrEqualToThreshold", period_secs = {period_secs}, evaluation_periods = {scale_in_periods} }}
steps = [{{ upper_bound = 0, scaling_adjustment = -1 }}]
"#
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn periods_are_written_as_toml_numbers() {
        let p = super::step_policies(0.2, 5);
        assert!(p.contains("period_secs = 0.2 }"), "{p}");
        assert!(
            p.contains("period_secs = 0.2, evaluation_periods = 5 }"),
            "{p}"
        );
        assert!(super::step_policies(30.0, 1).contains("period_secs = 30,"));
    }
}
