//! `config = { name = value; ... }`: script settings (bpftrace's config variables), read
//! before checking. `max_strlen` sets how many bytes `str()` reads (NUL included) when the
//! call gives no length; the others become [`Settings`] for the compiler and the runtime.
//! A name may be spelled as bpftrace's environment variable (`BPFTRACE_MAX_MAP_KEYS`).

use crate::ast::{for_each_expr_mut, Expr, ExprKind, Program};
use crate::diagnostic::Diagnostic;
use crate::lexer::not_supported_yet;

/// The largest `max_strlen` a script may ask for.
pub const MAX_STRLEN_LIMIT: u64 = 200;

/// The licenses the kernel accepts for programs that call GPL-only helpers.
const LICENSES: [&str; 6] = [
    "GPL",
    "GPL v2",
    "GPL and additional rights",
    "Dual BSD/GPL",
    "Dual MIT/GPL",
    "Dual MPL/GPL",
];

/// bpftrace's settings that probe does not implement yet.
const PLANNED: [&str; 13] = [
    "cache_user_symbols",
    "cpp_demangle",
    "lazy_symbolication",
    "log_size",
    "max_cat_bytes",
    "max_type_res_iterations",
    "on_stack_limit",
    "show_debug_info",
    "stack_mode",
    "str_trunc_trailer",
    "unstable_macro",
    "unstable_map_decl",
    "unstable_tseries",
];

/// What to do with a probe that cannot attach (`missing_probes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingProbes {
    /// Stop with an error (the default).
    Error,
    /// Print a warning and trace with the other probes.
    Warn,
    /// Trace with the other probes.
    Ignore,
}

/// The settings of a script, with bpftrace's defaults for those it does not set.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Elements a map holds unless it is declared with a size (`max_map_keys`).
    pub max_map_keys: u32,
    /// Print the maps when tracing ends (`print_maps_on_exit`).
    pub print_maps_on_exit: bool,
    /// Pages of 4 KiB in the ring buffer, a power of two (`perf_rb_pages`).
    pub perf_rb_pages: u32,
    /// The license the programs are loaded under (`license`).
    pub license: String,
    /// The most places probes may attach to, wildcards expanded (`max_probes`).
    pub max_probes: u32,
    /// The most BPF programs the script may need (`max_bpf_progs`).
    pub max_bpf_progs: u32,
    /// What to do when a probe cannot attach (`missing_probes`).
    pub missing_probes: MissingProbes,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_map_keys: 4096,
            print_maps_on_exit: true,
            perf_rb_pages: 256,
            license: "GPL".into(),
            max_probes: 1024,
            max_bpf_progs: 1024,
            missing_probes: MissingProbes::Error,
        }
    }
}

/// A whole number from `min` to `max`, or an error saying so.
fn number(name: &str, value: &Expr, min: u64, max: u64) -> Result<u64, Diagnostic> {
    match value.kind {
        ExprKind::Int(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Diagnostic::error(
            value.span,
            format!("{name} must be a number from {min} to {max}"),
        )
        .with_label("not in range")),
    }
}

/// `true` or `false`.
fn boolean(name: &str, value: &Expr) -> Result<bool, Diagnostic> {
    match value.kind {
        ExprKind::Bool(b) => Ok(b),
        ExprKind::Int(n @ (0 | 1)) => Ok(n == 1),
        _ => Err(
            Diagnostic::error(value.span, format!("{name} must be true or false"))
                .with_label("not a boolean"),
        ),
    }
}

/// A word (`warn`) or a string (`"GPL"`).
fn word(value: &Expr) -> Option<&str> {
    match &value.kind {
        ExprKind::Str(s) => Some(s),
        ExprKind::Builtin(id) | ExprKind::Var(id) => Some(&id.name),
        _ => None,
    }
}

/// Reads the program's settings and applies `max_strlen`.
pub fn apply(program: &mut Program) -> Result<Settings, Vec<Diagnostic>> {
    let mut errors = vec![];
    let mut settings = Settings::default();
    let mut max_strlen = None;
    for (name, value) in &program.config {
        let key = name.name.to_ascii_lowercase();
        let key = key.strip_prefix("bpftrace_").unwrap_or(&key);
        let result = match key {
            "max_strlen" => number("max_strlen", value, 2, MAX_STRLEN_LIMIT)
                .map(|n| max_strlen = Some(n))
                .map_err(|d| d.with_note("it counts the terminating NUL: 64 is the default")),
            "max_map_keys" => number(key, value, 1, 1 << 24)
                .map(|n| settings.max_map_keys = n as u32)
                .map_err(|d| d.with_note("maps not declared with a size hold 4096 elements")),
            "print_maps_on_exit" => boolean(key, value)
                .map(|b| settings.print_maps_on_exit = b)
                .map_err(|d| d.with_note("`print_maps_on_exit = false` keeps the maps quiet")),
            "perf_rb_pages" => match number(key, value, 1, 1 << 16) {
                Ok(n) if n.is_power_of_two() => {
                    settings.perf_rb_pages = n as u32;
                    Ok(())
                }
                Ok(_) => Err(
                    Diagnostic::error(value.span, "perf_rb_pages must be a power of two")
                        .with_label("not a power of two")
                        .with_note(
                            "the ring buffer's size is a power of two pages, e.g. 64 or 512",
                        ),
                ),
                Err(d) => Err(d.with_note("the default is 256 pages (1 MiB)")),
            },
            "license" => match word(value) {
                Some(l) if LICENSES.contains(&l) => {
                    settings.license = l.to_string();
                    Ok(())
                }
                _ => Err(
                    Diagnostic::error(value.span, "license must be GPL-compatible")
                        .with_label(
                            "the kernel refuses the helpers probe uses under other licenses",
                        )
                        .with_note(format!("accepted: \"{}\"", LICENSES.join("\", \""))),
                ),
            },
            "max_probes" | "max_bpf_progs" => number(key, value, 1, 1 << 20).map(|n| {
                if key == "max_probes" {
                    settings.max_probes = n as u32
                } else {
                    settings.max_bpf_progs = n as u32
                }
            }),
            "missing_probes" => {
                let mode = match word(value) {
                    Some("error") => Some(MissingProbes::Error),
                    Some("warn") => Some(MissingProbes::Warn),
                    Some("ignore") => Some(MissingProbes::Ignore),
                    _ => None,
                };
                match mode {
                    Some(m) => {
                        settings.missing_probes = m;
                        Ok(())
                    }
                    None => Err(Diagnostic::error(
                        value.span,
                        "missing_probes must be error, warn or ignore",
                    )
                    .with_label("not one of them")
                    .with_note("`missing_probes = warn` traces with the probes that attach")),
                }
            }
            other if PLANNED.contains(&other) => Err(not_supported_yet(
                name.span,
                &format!("the setting `{other}`"),
            )),
            other => Err(
                Diagnostic::error(name.span, format!("unknown setting `{other}`"))
                    .with_label("not a setting")
                    .with_note("settings are bpftrace's config options, e.g. `max_strlen = 128`"),
            ),
        };
        errors.extend(result.err());
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
    Ok(settings)
}
