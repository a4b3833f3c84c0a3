//! Table and property tests of the policy engine.
