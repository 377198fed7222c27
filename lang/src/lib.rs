//! probe-lang: the probe language from source text to a checked syntax tree.

pub mod ast;
pub mod span;
pub mod types;

pub use span::Span;
