//! probe-compiler
