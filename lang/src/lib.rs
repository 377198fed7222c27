//! probe-lang: the probe language from source text to a checked syntax tree.

pub mod ast;
pub mod diagnostic;
pub mod span;
pub mod types;

pub use diagnostic::Diagnostic;
pub use span::Span;
