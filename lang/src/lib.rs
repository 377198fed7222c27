//! probe-lang: the probe language from source text to a checked syntax tree.

pub mod ast;
pub mod attach;
pub mod check;
pub mod config;
pub mod cstruct;
pub mod diagnostic;
pub mod imports;
pub mod lexer;
pub mod macros;
pub mod params;
pub mod parser;
pub mod signals;
pub mod sources;
pub mod span;
pub mod structs;
pub mod symbols;
pub mod syscalls;
pub mod tracepoint;
pub mod types;

pub use attach::AttachKind;
pub use check::{
    check, check_in, Builtins, CheckedProgram, Environment, MapInfo, MapKind, ResolvedAttach,
};
pub use diagnostic::Diagnostic;
pub use parser::parse;
pub use span::Span;
