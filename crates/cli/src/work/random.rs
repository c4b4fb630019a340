//! Random reads.
