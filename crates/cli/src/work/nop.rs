//! NOP round trips.
