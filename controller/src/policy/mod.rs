//! The step-scaling policy engine (pure). Being written: see issue 3.
