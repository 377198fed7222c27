//! probe-runtime
