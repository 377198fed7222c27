//! probe-stdlib
