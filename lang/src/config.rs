//! `config = { name = value; ... }`: script settings, applied to the program before
//! checking. `max_strlen` sets how many bytes `str()` reads (NUL included) when the call
//! gives no length.

use crate::ast::{for_each_expr_mut, Expr, ExprKind, Program};
use crate::diagnostic::Diagnostic;
use crate::lexer::not_supported_yet;

/// The largest `max_strlen` a script may ask for.
pub const MAX_STRLEN_LIMIT: u64 = 200;

/// bpftrace's settings that probe does not implement yet.
const PLANNED: [&str; 12] = [
    "max_map_keys",
    "max_probes",
    "max_bpf_progs",
    "max_type_res_iterations",
    "missing_probes",
    "on_stack_limit",
    "perf_rb_pages",
    "print_maps_on_exit",
    "show_debug_info",
    "stack_mode",
    "str_trunc_trailer",
    "unstable_macro",
];

/// Applies the program's settings.
pub fn apply(program: &mut Program) -> Result<(), Vec<Diagnostic>> {
    let mut errors = vec![];
    let mut max_strlen = None;
    for (name, value) in &program.config {
        match name.name.as_str() {
            "max_strlen" => match value.kind {
                ExprKind::Int(n) if (2..=MAX_STRLEN_LIMIT).contains(&n) => max_strlen = Some(n),
                _ => errors.push(
                    Diagnostic::error(value.span, "max_strlen must be a number from 2 to 200")
                        .with_label("not in range")
                        .with_note("it counts the terminating NUL: 64 is the default"),
                ),
            },
            other if PLANNED.contains(&other) => errors.push(not_supported_yet(
                name.span,
                &format!("the setting `{other}`"),
            )),
            other => errors.push(
                Diagnostic::error(name.span, format!("unknown setting `{other}`"))
                    .with_label("not a setting")
                    .with_note("settings are bpftrace's config options, e.g. `max_strlen = 128`"),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if let Some(n) = max_strlen {
        for_each_expr_mut(program, &mut |e| {
            if let ExprKind::Call { name, args } = &mut e.kind {
                if name.name == "str" && args.len() == 1 {
                    args.push(Expr::new(ExprKind::Int(n - 1), name.span));
                }
            }
        });
    }
    Ok(())
}
