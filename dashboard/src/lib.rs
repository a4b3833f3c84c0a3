//! The hellofleet dashboard (skeleton; see issue 5).
