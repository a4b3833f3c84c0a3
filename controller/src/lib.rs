//! The hellofleet control plane (skeleton; see issue 3).

pub mod provider;
