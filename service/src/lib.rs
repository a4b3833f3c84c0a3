//! The hellofleet API instance (skeleton; see issue 2).
