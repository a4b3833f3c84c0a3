//! controller's integration tests, one binary (every extra test binary re-links the workspace).

mod aws_faults;
mod aws_faults_support;
mod aws_lease;
mod aws_moto;
mod aws_native;
mod daemon_api;
mod daemon_budget;
mod daemon_conns;
mod daemon_lease;
mod daemon_run;
mod daemon_support;
mod dashboard_browser;
mod local_balancer;
mod local_books;
mod local_cli;
mod local_e2e;
mod local_faults;
mod local_group;
mod local_no_aws;
mod local_ramp;
mod local_support;
mod local_trust;
mod moto_group;
mod simulate;
mod simulate_compare;
mod simulate_live;
