//! The moto set-up the controller's AWS tests share: an SDK config for a moto endpoint
//! (fixed test credentials, us-east-1) and an Auto Scaling group made from a launch
//! configuration, as `controller run` finds one.
#![allow(dead_code)]

use aws_sdk_autoscaling::config::Credentials;

/// The SDK configuration for moto (or a proxy in front of it) at `endpoint`.
pub async fn sdk_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// The SDK configuration for `moto`.
pub async fn sdk(moto: &testkit::Moto) -> aws_config::SdkConfig {
    sdk_at(&moto.endpoint()).await
}

/// A launch configuration and the group `name` (min, max, desired) in zone us-east-1a.
pub async fn create_group(
    sdk: &aws_config::SdkConfig,
    name: &str,
    (min, max, desired): (i32, i32, i32),
) -> aws_sdk_autoscaling::Client {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    let lc = format!("{name}-lc");
    asg.create_launch_configuration()
        .launch_configuration_name(&lc)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await
        .expect("CreateLaunchConfiguration");
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&lc)
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a")
        .send()
        .await
        .expect("CreateAutoScalingGroup");
    asg
}

/// The group's desired capacity as moto holds it.
pub async fn desired_capacity(asg: &aws_sdk_autoscaling::Client, name: &str) -> i32 {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("DescribeAutoScalingGroups");
    out.auto_scaling_groups()[0].desired_capacity().unwrap()
}
