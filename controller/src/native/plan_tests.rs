//! Table tests of `wanted` and `diff`.

use super::*;
use fleetcore::policy::{Policies, PolicyMode};

const GROUP: &str = "web";

fn native() -> Policies {
    crate::native::test_policies().with_mode(PolicyMode::Native)
}

fn want() -> Wanted {
    wanted(GROUP, "HelloFleet", &native())
}

/// `wanted` as it would come back from AWS, policy ARNs `arn:<name>`.
fn present_as_wanted() -> Present {
    let w = want();
    Present {
        policies: w
            .policies
            .iter()
            .map(|p| PresentPolicy {
                spec: p.clone(),
                arn: format!("arn:{}", p.name),
            })
            .collect(),
        alarms: w
            .alarms
            .iter()
            .map(|a| PresentAlarm {
                spec: a.clone(),
                actions: vec![format!("arn:{}", a.policy)],
            })
            .collect(),
    }
}

fn foreign_alarm(name: &str, description: &str) -> PresentAlarm {
    let mut spec = want().alarms[0].clone();
    spec.name = name.into();
    spec.description = description.into();
    PresentAlarm {
        spec,
        actions: vec![],
    }
}

#[test]
fn wanted_maps_every_field_of_the_toml() {
    let w = want();
    assert_eq!(w.policies.len(), 2);
    let out = &w.policies[0];
    assert_eq!(out.name, "hellofleet-web-scale-out");
    assert_eq!(out.adjustment_type, "PercentChangeInCapacity");
    assert_eq!(out.min_adjustment_magnitude, Some(1));
    assert_eq!(out.estimated_instance_warmup, Some(10));
    assert_eq!(out.metric_aggregation_type, "Average");
    assert_eq!(
        out.steps,
        vec![
            StepSpec {
                lower: Some(0.0),
                upper: Some(15.0),
                adjustment: 20
            },
            StepSpec {
                lower: Some(15.0),
                upper: Some(40.0),
                adjustment: 50
            },
            StepSpec {
                lower: Some(40.0),
                upper: None,
                adjustment: 100
            },
        ]
    );
    let alarm_in = &w.alarms[1];
    assert_eq!(alarm_in.name, "hellofleet-web-scale-in");
    assert_eq!(alarm_in.policy, "hellofleet-web-scale-in");
    assert_eq!(alarm_in.metric, "ConcurrentUsersPerInstance");
    assert_eq!(alarm_in.namespace, "HelloFleet");
    assert_eq!(alarm_in.group, "web");
    assert_eq!(alarm_in.comparison, "LessThanOrEqualToThreshold");
    assert_eq!((alarm_in.threshold, alarm_in.period), (20.0, 10));
    assert_eq!(
        (alarm_in.evaluation_periods, alarm_in.datapoints_to_alarm),
        (3, 3)
    );
    assert_eq!(alarm_in.treat_missing_data, "notBreaching");
    assert!(owns_alarm(GROUP, alarm_in));
}

#[test]
fn controller_and_stack_modes_want_nothing() {
    assert_eq!(
        wanted(GROUP, "HelloFleet", &Policies::local_default()),
        Wanted::default()
    );
    let stack = native().with_mode(PolicyMode::Stack);
    assert_eq!(wanted(GROUP, "HelloFleet", &stack), Wanted::default());
}

#[test]
fn diff_table() {
    let w = want();
    let names = |v: &[PolicySpec]| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let anames = |v: &[AlarmSpec]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    let all = vec![
        "hellofleet-web-scale-out".to_string(),
        "hellofleet-web-scale-in".to_string(),
    ];

    // Nothing there: everything put.
    let plan = diff(GROUP, &w, &Present::default());
    assert_eq!(names(&plan.put_policies), all);
    assert_eq!(anames(&plan.put_alarms), all);
    assert!(plan.delete_alarms.is_empty() && plan.delete_policies.is_empty());

    // All there, as wanted: nothing to do.
    assert!(diff(GROUP, &w, &present_as_wanted()).is_empty());

    // A threshold changed in the file: that alarm only.
    let mut p = present_as_wanted();
    p.alarms[0].spec.threshold = 60.0;
    let plan = diff(GROUP, &w, &p);
    assert!(plan.put_policies.is_empty());
    assert_eq!(anames(&plan.put_alarms), vec![all[0].clone()]);

    // A step changed: that policy, and its alarm after it (the ARN comes from the put).
    let mut p = present_as_wanted();
    p.policies[1].spec.steps[0].adjustment = -2;
    let plan = diff(GROUP, &w, &p);
    assert_eq!(names(&plan.put_policies), vec![all[1].clone()]);
    assert_eq!(anames(&plan.put_alarms), vec![all[1].clone()]);

    // An alarm acting on something else too: put back.
    let mut p = present_as_wanted();
    p.alarms[1].actions.push("arn:sns:someone".into());
    assert_eq!(
        anames(&diff(GROUP, &w, &p).put_alarms),
        vec![all[1].clone()]
    );

    // Back to controller mode: ours deleted, alarms first; someone else's kept.
    let mut p = present_as_wanted();
    p.policies.push(PresentPolicy {
        spec: PolicySpec {
            name: "by-hand".into(),
            ..w.policies[0].clone()
        },
        arn: "arn:by-hand".into(),
    });
    p.alarms.push(foreign_alarm(
        "hellofleet-web-by-hand",
        "mine, not the controller's",
    ));
    p.alarms.push(foreign_alarm(
        "hellofleet-web-2-scale-out",
        &crate::native::owner_description("web-2"),
    ));
    let plan = diff(GROUP, &Wanted::default(), &p);
    assert!(plan.put_policies.is_empty() && plan.put_alarms.is_empty());
    assert_eq!(plan.delete_alarms, all);
    assert_eq!(plan.delete_policies, all);

    // A policy renamed in the file: the new one put, the old one and its alarm deleted.
    let policies = native()
        .changed(|p| p.scale_in.name = "shrink".into())
        .expect("valid");
    let plan = diff(
        GROUP,
        &wanted(GROUP, "HelloFleet", &policies),
        &present_as_wanted(),
    );
    assert_eq!(
        names(&plan.put_policies),
        vec!["hellofleet-web-shrink".to_string()]
    );
    assert_eq!(
        anames(&plan.put_alarms),
        vec!["hellofleet-web-shrink".to_string()]
    );
    assert_eq!(plan.delete_alarms, vec![all[1].clone()]);
    assert_eq!(plan.delete_policies, vec![all[1].clone()]);
    assert_eq!(
        plan.summary(),
        "put 1 policies, 1 alarms; delete 1 alarms, 1 policies"
    );
}

#[test]
fn steps_compare_in_any_order() {
    let shuffled = sorted_steps(vec![
        StepSpec {
            lower: Some(40.0),
            upper: None,
            adjustment: 100,
        },
        StepSpec {
            lower: Some(0.0),
            upper: Some(15.0),
            adjustment: 20,
        },
        StepSpec {
            lower: Some(15.0),
            upper: Some(40.0),
            adjustment: 50,
        },
    ]);
    assert_eq!(shuffled, want().policies[0].steps);
}
