//! The hooks through which `probe-stdlib` plugs builtins into the compiler and the runtime.

use crate::ir::VReg;
use crate::lower::{LowerCx, Value};
use probe_lang::ast::{Expr, Ident};
use probe_lang::types::Aggregation;
use probe_lang::{Diagnostic, Span};

/// Lowering of builtin variables, functions and aggregations to IR.
pub trait BuiltinLowering {
    /// Emits the code that reads builtin variable `name`.
    fn lower_variable(&self, name: &Ident, cx: &mut LowerCx) -> Result<Value, Diagnostic>;
    /// Emits a call of builtin function `name`; `None` when it has no value.
    fn lower_call(
        &self,
        name: &Ident,
        args: &[Expr],
        span: Span,
        cx: &mut LowerCx,
    ) -> Result<Option<Value>, Diagnostic>;
    /// Emits the update of aggregation `agg`: `value` points to this CPU's value in the map.
    fn lower_aggregation(
        &self,
        name: &Ident,
        agg: Aggregation,
        args: &[Expr],
        value: VReg,
        cx: &mut LowerCx,
    ) -> Result<(), Diagnostic>;
}

/// One decoded argument of an event record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgValue {
    Int { value: u64, signed: bool },
    Str(Vec<u8>),
    Tuple(Vec<ArgValue>),
}

/// Printing of values that only the builtin that made them knows how to print.
pub trait BuiltinFormat {
    /// Renders `printf`'s output.
    fn printf(&self, format: &str, args: &[ArgValue]) -> String;
    /// Merges the per-CPU values of an aggregation, divides what it shows by `div` (as
    /// `print(@m, top, div)` asks) and renders the result.
    fn aggregation(&self, agg: Aggregation, per_cpu: &[&[u8]], div: u64) -> RenderedAggregation;
}

/// An aggregation's merged value, as printed and as map entries are sorted by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedAggregation {
    /// What bpftrace orders the entries of a map by: the value, the average, or the
    /// histogram's total count.
    pub order: i128,
    /// The text after `@m[key]: `; for histograms, lines of buckets.
    pub text: String,
    /// The same as a JSON value, as bpftrace's `-f json` writes it.
    pub json: String,
    /// Histograms start on the line after the key and end with an empty line.
    pub multiline: bool,
}

/// Everything the compiler and the runtime need from the standard library.
pub trait Stdlib: probe_lang::Builtins + BuiltinLowering + BuiltinFormat {}
impl<T: probe_lang::Builtins + BuiltinLowering + BuiltinFormat> Stdlib for T {}
