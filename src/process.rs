//! process_* metrics.
