//! The hellofleet load generator (skeleton; see issue 4).
