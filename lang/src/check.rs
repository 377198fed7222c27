//! The type checker: resolves attach points, types every expression, unifies each map's
//! key and value types across the whole script, and reports every error it finds.

use crate::ast::*;
use crate::attach::AttachKind;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::structs::{NoStructTypes, StructDef, StructTypes};
use crate::symbols::{FunctionSymbols, NoSymbols};
use crate::tracepoint::{glob_match, NoTracepoints, TracepointField, TracepointFormats};
use crate::types::Type;
use std::collections::HashMap;

/// What the checker needs to know about builtins; `probe-stdlib` implements it.
pub trait Builtins {
    /// The type of builtin variable `name` in a probe attached to `kind`: `None` if there
    /// is no such variable, `Some(Err(why))` if this kind of probe does not have it.
    fn variable(&self, name: &str, kind: &AttachKind) -> Option<Result<Type, String>>;
    /// True for builtin variables read from the probe's context (`arg0`, `retval`), which
    /// the body of a `for` over a map cannot reach.
    fn reads_context(&self, name: &str) -> bool;
    /// True for functions whose first argument names a map (`delete(@m[k])`,
    /// `clear(@m)`) instead of reading it; their other arguments are that map's key.
    fn takes_map(&self, name: &str) -> bool;
    /// True for functions whose first argument, when it is a map without a key, names the
    /// whole map (`print(@m)`); their other arguments are ordinary values.
    fn takes_whole_map(&self, name: &str) -> bool;
    /// True for functions whose arguments are words and literals that the function reads
    /// itself (`kstack(perf, 5)`), not expressions to type.
    fn untyped_arguments(&self, name: &str) -> bool;
    /// The standard library's macros, as script source (`macro assert($c, $m) { ... }`).
    fn macros(&self) -> Vec<&'static str>;
    /// The source of an expression that builtin variable `name` stands for, when it is
    /// written in the language itself (`ppid`: `curtask->real_parent->tgid`).
    fn expansion(&self, name: &str) -> Option<&'static str>;
    /// True for functions that change the system (`system`, `signal`): they need
    /// `--unsafe`.
    fn is_unsafe(&self, name: &str) -> bool;
    /// True for names of bpftrace's builtins that probe does not implement yet.
    fn planned(&self, name: &str) -> bool;
    /// Checks a call of builtin function `name` whose arguments are already typed and
    /// returns its type; `None` if there is no such function.
    fn check_call(
        &self,
        name: &Ident,
        args: &[Expr],
        span: Span,
    ) -> Option<Result<Type, Diagnostic>>;
}

/// A map as the whole script uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct MapInfo {
    /// The name with its `@`, as printed (`@`, `@bytes`).
    pub name: String,
    /// The key's parts, empty for a map without key.
    pub key: Vec<Type>,
    /// The value's type.
    pub value: Type,
    /// Where the map is first assigned.
    pub span: Span,
    /// The kind and size a `let @name = kind(n);` declaration gave it.
    pub declared: Option<(MapKind, u32)>,
}

/// The BPF map kinds a declaration can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Hash,
    LruHash,
    PerCpuHash,
    PerCpuLruHash,
    /// Indexed by an integer from 0 to its size, or without a key (index 0).
    PerCpuArray,
}

impl MapKind {
    /// True for kinds that keep a value per CPU (aggregations need them).
    pub fn per_cpu(self) -> bool {
        matches!(
            self,
            MapKind::PerCpuHash | MapKind::PerCpuLruHash | MapKind::PerCpuArray
        )
    }
}

/// A probe with its resolved attach points.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedProbe {
    /// Where it attaches: wildcards expanded, each with the attach point it came from.
    pub points: Vec<ResolvedAttach>,
    pub probe: Probe,
    /// Bytes of the probe's context record the program may read (tracepoint records).
    pub ctx_size: u32,
    /// The type of each scratch variable, indexed by the `binding` of the statement that
    /// declares it: the widest value it is assigned, so its storage holds all of them.
    pub var_types: Vec<Type>,
}

/// One place a probe attaches, after wildcards are expanded.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedAttach {
    pub kind: AttachKind,
    /// As written, or as expanded from a wildcard.
    pub text: String,
    /// The attach point in the script it comes from.
    pub span: Span,
}

/// A script that passed the checker: every expression carries its type.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedProgram {
    pub probes: Vec<CheckedProbe>,
    /// Every map, sorted by name.
    pub maps: Vec<MapInfo>,
    /// The script's `config` settings.
    pub settings: crate::config::Settings,
    /// The process `-p` traces, if any.
    pub pid: Option<u32>,
}

/// What the checker knows of the world outside the script.
pub struct Environment<'a> {
    /// The positional parameters `$1`, `$2`, ...
    pub params: &'a [String],
    /// The layouts of tracepoint records, for `args`.
    pub tracepoints: &'a dyn TracepointFormats,
    /// The layouts of kernel structs, for `->` through pointers.
    pub structs: &'a dyn StructTypes,
    /// The functions of user-space binaries, for uprobe wildcards.
    pub symbols: &'a dyn FunctionSymbols,
    /// Attach kprobes as fentry probes (the kernel has no kprobes but has trampolines).
    pub kprobes_as_fentry: bool,
    /// The process `-p` traces: probes that fire in any process fire only in it.
    pub pid: Option<u32>,
    /// `--unsafe`: functions that change the system (`system`, `signal`) may be called.
    pub unsafe_allowed: bool,
}

/// Checks a parsed program on its own: no positional parameters, no tracepoint formats.
pub fn check(program: Program, builtins: &dyn Builtins) -> Result<CheckedProgram, Vec<Diagnostic>> {
    check_in(
        program,
        builtins,
        &Environment {
            params: &[],
            tracepoints: &NoTracepoints,
            structs: &NoStructTypes,
            symbols: &NoSymbols,
            kprobes_as_fentry: false,
            pid: None,
            unsafe_allowed: false,
        },
    )
}

/// Checks a parsed program in `env`. Returns every error found, not just the first.
pub fn check_in(
    mut program: Program,
    builtins: &dyn Builtins,
    env: &Environment,
) -> Result<CheckedProgram, Vec<Diagnostic>> {
    if !program.imports.is_empty() {
        return Err(program
            .imports
            .iter()
            .map(|i| {
                Diagnostic::error(i.span, format!("cannot import `{}` here", i.path))
                    .with_label("imports are read only when running a script file")
                    .with_note("merge the imported file's text into this script")
            })
            .collect());
    }
    crate::params::substitute(&mut program, env.params)?;
    let settings = crate::config::apply(&mut program)?;
    let structs = crate::cstruct::define(&program.structs, env.structs)?;
    let stdlib_macros: Vec<Macro> = builtins
        .macros()
        .into_iter()
        .flat_map(|source| {
            crate::parser::parse(source)
                .expect("the standard library's macros parse")
                .macros
        })
        .collect();
    crate::macros::expand(&mut program, &stdlib_macros)?;
    let mut cx = Checker {
        builtins,
        maps: HashMap::new(),
        scopes: vec![],
        bindings: vec![],
        loops: 0,
        map_loops: 0,
        decl_scope: 0,
        kinds: vec![],
        args: None,
        used_fields: vec![],
        structs: &structs,
        struct_defs: HashMap::new(),
        unsafe_allowed: env.unsafe_allowed,
        assigning: None,
        errors: vec![],
    };
    // Map types are inferred from assignments, so walk twice: the first pass learns map
    // types from every assignment, the second checks reads against them.
    for pass in 0..2 {
        let mut scratch = program.clone();
        cx.errors.clear();
        let mut probes = vec![];
        for mut probe in scratch.probes.drain(..) {
            let mut points = vec![];
            for ap in &probe.attach_points {
                match AttachKind::parse(&ap.text, ap.span) {
                    Ok(kind) if kind.is_wildcard() => match expand(&kind, ap, env) {
                        Ok(found) => points.extend(found),
                        Err(e) => cx.errors.push(e),
                    },
                    Ok(kind) => points.push(ResolvedAttach {
                        kind,
                        text: ap.text.clone(),
                        span: ap.span,
                    }),
                    Err(e) => cx.errors.push(e),
                }
            }
            // A USDT probe is every note of that name: one place each.
            let mut resolved = vec![];
            for p in points {
                match &p.kind {
                    AttachKind::Usdt { .. } => match usdt_places(&p, env.symbols) {
                        Ok(places) => resolved.extend(places),
                        Err(e) => cx.errors.push(e),
                    },
                    _ => resolved.push(p),
                }
            }
            let mut points = resolved;
            let mut fentry_args = None;
            for p in &mut points {
                // Without kprobes, a kprobe becomes an fentry probe where the kernel has them.
                if let (
                    true,
                    AttachKind::Kprobe {
                        function,
                        ret,
                        offset: 0,
                    },
                ) = (env.kprobes_as_fentry, &p.kind)
                {
                    p.kind = AttachKind::Fentry {
                        function: function.clone(),
                        ret: *ret,
                        nargs: 0,
                    };
                }
                if let AttachKind::Fentry {
                    function, nargs, ..
                } = &mut p.kind
                {
                    match fentry_fields(structs.kernel, function, p.span) {
                        Ok((n, fields)) => {
                            *nargs = n;
                            fentry_args.get_or_insert(Ok(fields));
                        }
                        Err(e) => cx.errors.push(e),
                    }
                }
            }
            let kinds: Vec<&AttachKind> = points.iter().map(|p| &p.kind).collect();
            cx.kinds = kinds.iter().map(|k| (*k).clone()).collect();
            cx.args = kinds
                .iter()
                .find_map(|k| match *k {
                    AttachKind::Tracepoint { category, event } => Some(
                        env.tracepoints
                            .fields(category, event)
                            .map_err(|e| format!("{category}:{event}: {e}")),
                    ),
                    _ => None,
                })
                .or(fentry_args);
            let ctx_size = match &cx.args {
                Some(Ok(fields))
                    if !kinds.iter().any(|k| matches!(k, AttachKind::Fentry { .. })) =>
                {
                    fields
                        .iter()
                        .map(|f| f.offset + if f.data_loc { 4 } else { f.ty.size() })
                        .max()
                        .unwrap_or(0)
                }
                _ => kinds.iter().map(|k| k.context_size()).min().unwrap_or(0),
            };
            cx.scopes = vec![HashMap::new()];
            cx.bindings.clear();
            if let Some(p) = &mut probe.predicate {
                cx.expr(p);
                cx.expect_condition(p);
            }
            cx.used_fields.clear();
            cx.block(&mut probe.body);
            cx.same_args_everywhere(&kinds, env.tracepoints);
            probes.push(CheckedProbe {
                points,
                probe,
                ctx_size,
                var_types: cx
                    .bindings
                    .drain(..)
                    .map(Option::unwrap_or_default)
                    .collect(),
            });
        }
        if pass == 1 {
            if !cx.errors.is_empty() {
                cx.errors.sort_by_key(|d| (d.span.start, d.span.end));
                cx.errors.dedup();
                return Err(cx.errors);
            }
            cx.declarations(&program.maps);
            if !cx.errors.is_empty() {
                cx.errors.sort_by_key(|d| (d.span.start, d.span.end));
                return Err(cx.errors);
            }
            let mut maps: Vec<MapInfo> = cx.maps.into_values().collect();
            maps.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(d) = too_many_probes(&probes, &settings) {
                return Err(vec![d]);
            }
            return Ok(CheckedProgram {
                probes,
                maps,
                settings,
                pid: env.pid,
            });
        }
    }
    unreachable!("the loop returns in its second pass")
}

/// The places of a `usdt:` attach point: each note of the binary with that name (and
/// provider, if given).
fn usdt_places(
    point: &ResolvedAttach,
    symbols: &dyn FunctionSymbols,
) -> Result<Vec<ResolvedAttach>, Diagnostic> {
    let AttachKind::Usdt {
        binary,
        provider,
        name,
        ..
    } = &point.kind
    else {
        unreachable!("a usdt attach point")
    };
    let probes = symbols.usdt_probes(binary).map_err(|why| {
        Diagnostic::error(
            point.span,
            format!("cannot read the USDT probes of {binary}"),
        )
        .with_label(why)
        .with_note("give the path of an ELF binary or library, or a program in PATH")
    })?;
    let places: Vec<ResolvedAttach> = probes
        .into_iter()
        .filter(|p| p.name == *name && provider.as_ref().is_none_or(|want| *want == p.provider))
        .map(|p| {
            let kind = AttachKind::Usdt {
                binary: binary.clone(),
                provider: provider.clone(),
                name: name.clone(),
                probe: Some(Box::new(p)),
            };
            ResolvedAttach {
                text: point.text.clone(),
                kind,
                span: point.span,
            }
        })
        .collect();
    if places.is_empty() {
        return Err(
            Diagnostic::error(point.span, format!("no USDT probe `{name}` in {binary}"))
                .with_label("no such note")
                .with_note(format!("probe -l 'usdt:{binary}:*' lists its USDT probes")),
        );
    }
    Ok(places)
}

/// The parameters of kernel function `function` as the fields of an fentry probe's `args`
/// (each a 64-bit slot of the context), and how many there are.
fn fentry_fields(
    types: &dyn StructTypes,
    function: &str,
    span: Span,
) -> Result<(u32, Vec<TracepointField>), Diagnostic> {
    let proto =
        match types.function(function) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(Diagnostic::error(
                span,
                format!("no kernel function `{function}`"),
            )
            .with_label("not in the kernel's BTF")
            .with_note("fentry attaches to functions of /sys/kernel/btf/vmlinux; check the name")),
            Err(why) => {
                return Err(Diagnostic::error(
                    span,
                    format!("cannot read the type of `{function}`"),
                )
                .with_label(why)
                .with_note("fentry needs the kernel's BTF (CONFIG_DEBUG_INFO_BTF)"))
            }
        };
    let fields = proto
        .params
        .iter()
        .enumerate()
        .filter_map(|(i, (name, ty))| {
            Some(TracepointField {
                name: name.clone(),
                offset: 8 * i as u32,
                ty: ty.clone().ok()?,
                data_loc: false,
            })
        })
        .collect();
    Ok((proto.params.len() as u32, fields))
}

/// The error for a script that attaches to more places than `max_probes` or needs more
/// programs than `max_bpf_progs` allow (each attach point is a program).
fn too_many_probes(
    probes: &[CheckedProbe],
    settings: &crate::config::Settings,
) -> Option<Diagnostic> {
    let count = probes.iter().map(|p| p.points.len()).sum::<usize>();
    let (limit, name) = [
        (settings.max_probes, "max_probes"),
        (settings.max_bpf_progs, "max_bpf_progs"),
    ]
    .into_iter()
    .min()?;
    if count <= limit as usize {
        return None;
    }
    let widest = probes.iter().max_by_key(|p| p.points.len())?;
    let first = widest.points.first()?;
    Some(
        Diagnostic::error(
            first.span,
            format!("the script attaches to {count} places, more than {name} = {limit}"),
        )
        .with_label(format!("{} of them here", widest.points.len()))
        .with_note(format!(
            "narrow the wildcards, or raise the limit: `config = {{ {name} = {count} }}`"
        )),
    )
}

/// The places a wildcard attach point names: tracepoints in tracefs order, a binary's
/// functions in name order.
fn expand(
    kind: &AttachKind,
    ap: &AttachPoint,
    env: &Environment,
) -> Result<Vec<ResolvedAttach>, Diagnostic> {
    let cannot = |why: String| {
        Diagnostic::error(ap.span, "cannot expand this wildcard")
            .with_label(why)
            .with_note("write the name in full, or check that what it names exists")
    };
    let (kinds, what, note): (Vec<AttachKind>, &str, &str) = match kind {
        AttachKind::Tracepoint { category, event } => (
            env.tracepoints
                .list()
                .map_err(cannot)?
                .into_iter()
                .filter(|(c, e)| glob_match(category, c) && glob_match(event, e))
                .map(|(category, event)| AttachKind::Tracepoint { category, event })
                .collect(),
            "tracepoint",
            "probe -l lists the tracepoints (/sys/kernel/tracing/available_events)",
        ),
        AttachKind::Uprobe {
            binary,
            function,
            offset,
            ret,
        } => (
            env.symbols
                .functions(binary)
                .map_err(cannot)?
                .into_iter()
                .filter(|f| glob_match(function, f))
                .map(|f| AttachKind::Uprobe {
                    binary: binary.clone(),
                    function: f,
                    offset: *offset,
                    ret: *ret,
                })
                .collect(),
            "function",
            "probe -l 'uprobe:BINARY:*' lists a binary's functions",
        ),
        AttachKind::Kprobe { function, ret, .. } | AttachKind::Fentry { function, ret, .. } => (
            env.tracepoints
                .kernel_functions()
                .map_err(cannot)?
                .into_iter()
                .filter(|f| glob_match(function, f))
                .map(|f| match kind {
                    AttachKind::Kprobe { offset, .. } => AttachKind::Kprobe {
                        function: f,
                        offset: *offset,
                        ret: *ret,
                    },
                    _ => AttachKind::Fentry {
                        function: f,
                        ret: *ret,
                        nargs: 0,
                    },
                })
                .collect(),
            "kernel function",
            "probe -l 'kprobe:*' lists the kernel's functions",
        ),
        _ => unreachable!("only tracepoints, kprobes, fentry and uprobes have wildcards"),
    };
    if kinds.is_empty() {
        return Err(
            Diagnostic::error(ap.span, format!("no {what} matches `{}`", ap.text))
                .with_label("matches nothing")
                .with_note(note),
        );
    }
    Ok(kinds
        .into_iter()
        .map(|kind| ResolvedAttach {
            text: kind.text(),
            kind,
            span: ap.span,
        })
        .collect())
}

struct Checker<'a> {
    builtins: &'a dyn Builtins,
    maps: HashMap<String, MapInfo>,
    /// Scratch variables by name, innermost scope last, as indexes into `bindings`.
    scopes: Vec<HashMap<String, u32>>,
    /// The type of each variable of the probe; `None` for a `let $x;` not yet typed.
    bindings: Vec<Option<Type>>,
    /// The scope where a variable assigned without `let` is declared: the probe's, or the
    /// body of the innermost `for` over a map (which runs as a function of its own).
    decl_scope: usize,
    /// How many `for` loops over maps enclose the statement being checked.
    map_loops: u32,
    /// Where the probe being checked attaches.
    kinds: Vec<AttachKind>,
    loops: u32,
    /// The fields of `args` in the probe being checked (`None` outside tracepoints).
    args: Option<Result<Vec<TracepointField>, String>>,
    /// The fields of `args` the probe reads, with where.
    used_fields: Vec<(TracepointField, Span)>,
    structs: &'a dyn StructTypes,
    /// Struct layouts looked up so far.
    struct_defs: HashMap<String, StructDef>,
    /// `--unsafe` was given.
    unsafe_allowed: bool,
    /// The map whose assignment's value is being checked.
    assigning: Option<String>,
    errors: Vec<Diagnostic>,
}

/// The expression a builtin written in the language stands for, every span at the use
/// (so that errors point there).
fn expand_builtin(source: &str, at: Span) -> Expr {
    let wrapped = format!("BEGIN {{ {source}; }}");
    let mut program = crate::parser::parse(&wrapped).expect("builtin sources parse");
    let stmt = program.probes.remove(0).body.stmts.remove(0);
    let StmtKind::Expr(mut e) = stmt.kind else {
        unreachable!("a builtin's source is one expression")
    };
    crate::ast::expr_mut(&mut e, &mut |x| {
        x.span = at;
        match &mut x.kind {
            ExprKind::Field { field, .. } => field.span = at,
            ExprKind::Builtin(id) | ExprKind::Var(id) => id.span = at,
            _ => {}
        }
    });
    e
}

/// The name of a map as printed, with its `@`.
pub fn map_display_name(name: &Ident) -> String {
    format!("@{}", name.name)
}

impl Checker<'_> {
    fn block(&mut self, block: &mut Block) {
        self.scopes.push(HashMap::new());
        for stmt in &mut block.stmts {
            self.stmt(stmt);
        }
        self.scopes.pop();
    }

    /// The type of `&e`: a pointer, for a place in kernel memory (a struct field read
    /// through a pointer, or `*p`).
    fn address_of(&mut self, e: &Expr) -> Type {
        let in_kernel = match &e.kind {
            ExprKind::Field { base, .. } => {
                !matches!(&base.kind, ExprKind::Builtin(b) if b.name == "args")
            }
            ExprKind::Unary {
                op: UnaryOp::Deref, ..
            } => true,
            _ => false,
        };
        if !in_kernel {
            self.errors.push(crate::lexer::not_supported_yet(
                e.span,
                "`&` of anything but a struct field or `*pointer`",
            ));
            return Type::Unknown;
        }
        Type::Ptr(Box::new(e.ty.clone()))
    }

    /// Builtin variable `name` in every place the probe attaches: its type, or why one of
    /// them does not have it.
    fn builtin_variable(&self, name: &str) -> Option<Result<Type, String>> {
        if self.map_loops > 0 && self.builtins.reads_context(name) {
            return Some(Err(
                "the body of `for` over a map runs without the probe's context: copy it to a \
                 variable before the loop"
                    .into(),
            ));
        }
        // One program per place: the type must hold the value in each (the widest string).
        let mut found: Option<Type> = None;
        for kind in &self.kinds {
            match self.builtins.variable(name, kind)? {
                Err(why) => return Some(Err(why)),
                Ok(t) => found = Some(found.and_then(|f| unify(&f, &t)).unwrap_or(t)),
            }
        }
        match found {
            Some(t) => Some(Ok(t)),
            // A probe always has a place; be safe for the checker's own tests.
            None => self.builtins.variable(name, &AttachKind::Begin),
        }
    }

    /// The type of `$kv` in `for ($kv : @map)`: `(key, value)`, the key a tuple when the map
    /// has several.
    fn map_element(&mut self, map: &Ident) -> Type {
        let name = map_display_name(map);
        let Some(info) = self.maps.get(&name) else {
            self.errors.push(
                Diagnostic::error(map.span, format!("{name} is never assigned"))
                    .with_label("no such map")
                    .with_note(format!(
                        "assign it somewhere in the script: `{name}[key] = ...;`"
                    )),
            );
            return Type::Unknown;
        };
        if info.key.is_empty() {
            self.errors.push(
                Diagnostic::error(map.span, format!("{name} has no keys to iterate over"))
                    .with_label("a map without keys holds one value")
                    .with_related(info.span, "assigned without a key here")
                    .with_note(format!("read the value directly: `{name}`")),
            );
            return Type::Unknown;
        }
        if let Type::Agg(_) = info.value {
            self.errors.push(crate::lexer::not_supported_yet(
                map.span,
                &format!(
                    "`for` over a map of aggregations ({name} holds {})",
                    info.value
                ),
            ));
            return Type::Unknown;
        }
        let key = match info.key.as_slice() {
            [one] => one.clone(),
            many => Type::Tuple(many.to_vec()),
        };
        Type::Tuple(vec![key, info.value.clone()])
    }

    /// The type of the variable in the innermost scope that has it.
    fn var_mut(&mut self, name: &str) -> Option<&mut Option<Type>> {
        let b = self.scopes.iter().rev().find_map(|s| s.get(name))?;
        Some(&mut self.bindings[*b as usize])
    }

    /// Declares variable `name` in scope `scope` (0: the whole probe); returns its number.
    fn bind(&mut self, scope: usize, name: &str, ty: Option<Type>) -> u32 {
        let b = self.bindings.len() as u32;
        self.bindings.push(ty);
        self.scopes[scope].insert(name.to_string(), b);
        b
    }

    /// Checks `$var = value`; a variable not declared with `let` belongs to the whole probe,
    /// and the assignment that declares it gets its number in `binding`.
    fn assign_var(&mut self, var: &Ident, value: &Expr, binding: &mut Option<u32>) {
        let bad = if let Type::Agg(_) = value.ty {
            Some(aggregation_outside_assignment(value))
        } else if value.ty == Type::Void {
            Some(no_value(value))
        } else if let Type::Struct(_) | Type::Array { .. } = value.ty {
            Some(struct_value(value))
        } else {
            None
        };
        // A value in error still declares the variable, so that its uses are not errors too.
        let ty = if bad.is_some() {
            Type::Unknown
        } else {
            value.ty.clone()
        };
        self.errors.extend(bad);
        match self.var_mut(&var.name) {
            Some(Some(Type::Unknown)) => {}
            Some(Some(_)) if ty == Type::Unknown => {}
            Some(Some(old)) => match unify(old, &ty) {
                Some(t) => {
                    *old = if matches!(old, Type::Int { .. }) {
                        old.clone()
                    } else {
                        t
                    }
                }
                None => {
                    let old = old.clone();
                    self.errors.push(
                        Diagnostic::error(value.span, format!("type mismatch for ${}", var.name))
                            .with_label(format!("this is {}", value.ty))
                            .with_note(format!("${} holds values of type {old}", var.name)),
                    );
                }
            },
            Some(slot @ None) => *slot = Some(ty),
            None => *binding = Some(self.bind(self.decl_scope, &var.name, Some(ty))),
        }
    }

    /// Applies `let @m = kind(n);` declarations to the maps the script uses.
    fn declarations(&mut self, decls: &[MapDecl]) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for d in decls {
            let name = map_display_name(&d.name);
            if let Some(first) = seen.insert(name.clone(), d.span) {
                self.errors.push(
                    Diagnostic::error(d.span, format!("{name} is declared twice"))
                        .with_label("second declaration")
                        .with_related(first, "first declaration"),
                );
                continue;
            }
            let kind = match d.kind.name.as_str() {
                "hash" => MapKind::Hash,
                "lruhash" => MapKind::LruHash,
                "percpuhash" => MapKind::PerCpuHash,
                "percpulruhash" => MapKind::PerCpuLruHash,
                "percpuarray" => MapKind::PerCpuArray,
                other => {
                    self.errors.push(
                        Diagnostic::error(d.kind.span, format!("unknown map kind `{other}`"))
                            .with_label("not a map kind")
                            .with_note("map kinds are hash, lruhash, percpuhash, percpulruhash and percpuarray"),
                    );
                    continue;
                }
            };
            let Some(size) = u32::try_from(d.max_entries)
                .ok()
                .filter(|n| (1..=1 << 24).contains(n))
            else {
                self.errors.push(
                    Diagnostic::error(
                        d.span,
                        format!("{name} cannot hold {} entries", d.max_entries),
                    )
                    .with_label("size out of range")
                    .with_note("a map holds from 1 to 16777216 entries"),
                );
                continue;
            };
            let Some(info) = self.maps.get_mut(&name) else {
                self.errors.push(
                    Diagnostic::error(d.span, format!("{name} is declared but never assigned"))
                        .with_label("unused declaration")
                        .with_note("remove it, or assign the map in a probe"),
                );
                continue;
            };
            if kind == MapKind::PerCpuArray
                && !matches!(info.key.as_slice(), [] | [Type::Int { .. }])
            {
                let key = info
                    .key
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                self.errors.push(
                    Diagnostic::error(d.kind.span, format!("{name} cannot be a percpuarray"))
                        .with_label("an array is indexed by one integer")
                        .with_related(info.span, format!("its key is [{key}]"))
                        .with_note("declare it as percpuhash, or index it by an integer"),
                );
                continue;
            }
            let aggregation = matches!(info.value, Type::Agg(_));
            if aggregation != kind.per_cpu() {
                let (want, why) = if aggregation {
                    (
                        "percpuhash, percpulruhash or percpuarray",
                        "it holds an aggregation, which keeps a value per CPU",
                    )
                } else {
                    (
                        "hash or lruhash",
                        "it holds plain values, which probes read back",
                    )
                };
                self.errors.push(
                    Diagnostic::error(d.kind.span, format!("{name} must be a {want}"))
                        .with_label(format!("`{}` does not fit", d.kind.name))
                        .with_related(info.span, why)
                        .with_note(format!("declare it as {want}")),
                );
                continue;
            }
            info.declared = Some((kind, size));
        }
    }

    /// One program serves every tracepoint of a probe, so each field it reads must have the
    /// same offset and type in all of them.
    fn same_args_everywhere(&mut self, kinds: &[&AttachKind], tracepoints: &dyn TracepointFormats) {
        if self.used_fields.is_empty() {
            return;
        }
        for kind in kinds.iter().skip(1) {
            let AttachKind::Tracepoint { category, event } = kind else {
                continue;
            };
            let Ok(fields) = tracepoints.fields(category, event) else {
                continue;
            };
            for (used, span) in &self.used_fields {
                if !fields.contains(used) {
                    self.errors.push(
                        Diagnostic::error(
                            *span,
                            format!(
                                "args.{} differs in tracepoint:{category}:{event}",
                                used.name
                            ),
                        )
                        .with_label("not the same field in every tracepoint of this probe")
                        .with_note("split the probe, one per tracepoint layout"),
                    );
                    return;
                }
            }
        }
    }

    /// The layout of `struct name`, named at `span`; reports it when there is none.
    fn struct_def(&mut self, name: &str, span: Span) -> Option<StructDef> {
        if let Some(def) = self.struct_defs.get(name) {
            return Some(def.clone());
        }
        match self.structs.lookup(name) {
            Ok(Some(def)) => {
                self.struct_defs.insert(name.to_string(), def.clone());
                Some(def)
            }
            Ok(None) => {
                self.errors.push(
                    Diagnostic::error(span, format!("unknown struct `{name}`"))
                        .with_label("no struct of this name in the kernel's types")
                        .with_note(
                            "kernel structs come from /sys/kernel/btf/vmlinux; check the spelling",
                        ),
                );
                None
            }
            Err(why) => {
                self.errors.push(
                    Diagnostic::error(span, format!("cannot look up struct `{name}`"))
                        .with_label(why)
                        .with_note("probe reads kernel structs from /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)"),
                );
                None
            }
        }
    }

    /// The field `name` of `struct def`, reported at `span` when there is none or it
    /// cannot be read.
    fn struct_field(&mut self, def: &StructDef, name: &Ident) -> Option<(u32, Type)> {
        let Some(f) = def.field(&name.name) else {
            let similar = crate::diagnostic::similar_names(
                &name.name,
                def.fields.iter().map(|f| f.name.as_str()),
            );
            let note = if similar.is_empty() {
                "probe -lv does not list structs yet; bpftool btf dump file /sys/kernel/btf/vmlinux does".to_string()
            } else {
                format!("did you mean: {}?", similar.join(", "))
            };
            self.errors.push(
                Diagnostic::error(
                    name.span,
                    format!("struct {} has no field `{}`", def.name, name.name),
                )
                .with_label("no such field")
                .with_note(note),
            );
            return None;
        };
        match &f.ty {
            Ok(t) => Some((f.offset, t.clone())),
            Err(why) => {
                self.errors.push(crate::lexer::not_supported_yet(
                    name.span,
                    &format!("reading {why} (`{}` of struct {})", name.name, def.name),
                ));
                None
            }
        }
    }

    /// Checks `base->field` (or `base.field`) on a struct or a pointer to one.
    fn struct_member(&mut self, base: &Expr, field: &Ident, offset: &mut u32) -> Type {
        let name = match &base.ty {
            Type::Struct(n) => n.clone(),
            Type::Ptr(to) if matches!(**to, Type::Struct(_)) => {
                let Type::Struct(n) = &**to else {
                    unreachable!("a struct")
                };
                n.clone()
            }
            t => {
                self.errors.push(
                    Diagnostic::error(base.span, format!("{t} has no fields"))
                        .with_label(format!("`.{}` needs a struct or a pointer to one", field.name))
                        .with_note("cast a kernel address to a struct pointer first: `((struct task_struct *)addr)->pid`"),
                );
                return Type::Unknown;
            }
        };
        let Some(def) = self.struct_def(&name, base.span) else {
            return Type::Unknown;
        };
        match self.struct_field(&def, field) {
            Some((off, ty)) => {
                *offset = off;
                ty
            }
            None => Type::Unknown,
        }
    }

    /// Checks `args.field` in a tracepoint probe, or a struct field, and records the
    /// field's offset.
    fn field(
        &mut self,
        base: &mut Expr,
        field: &Ident,
        offset: &mut u32,
        data_loc: &mut bool,
    ) -> Type {
        if !matches!(&base.kind, ExprKind::Builtin(b) if b.name == "args") {
            self.expr(base);
            if base.ty == Type::Unknown {
                return Type::Unknown;
            }
            return self.struct_member(base, field, offset);
        }
        if self.map_loops > 0 {
            self.errors.push(
                Diagnostic::error(base.span, "`args` cannot be read inside `for` over a map")
                    .with_label("the loop body runs as a callback, without the probe's context")
                    .with_note(format!(
                        "copy the field to a variable before the loop: `$f = args.{};`",
                        field.name
                    )),
            );
            return Type::Unknown;
        }
        let fields = match &self.args {
            Some(Ok(fields)) => fields,
            Some(Err(why)) => {
                let why = why.clone();
                self.errors.push(
                    Diagnostic::error(base.span, "cannot read this tracepoint's format")
                        .with_label(why)
                        .with_note(
                            "args come from /sys/kernel/tracing/events/<category>/<event>/format",
                        ),
                );
                return Type::Unknown;
            }
            None => {
                self.errors.push(
                    Diagnostic::error(base.span, "`args` is only available in tracepoint and fentry probes")
                        .with_label("not in a tracepoint or fentry probe")
                        .with_note("use args in a probe attached to tracepoint:category:event or fentry:function"),
                );
                return Type::Unknown;
            }
        };
        match fields.iter().find(|f| f.name == field.name) {
            Some(f) => {
                *offset = f.offset;
                *data_loc = f.data_loc;
                let f = f.clone();
                self.used_fields.push((f.clone(), field.span));
                f.ty
            }
            None => {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                self.errors.push(
                    Diagnostic::error(field.span, format!("`args` has no field `{}`", field.name))
                        .with_label("no such field")
                        .with_note(format!("its fields are: {}", names.join(", "))),
                );
                Type::Unknown
            }
        }
    }

    /// Checks the map named by the first argument of a map function, and its key: either
    /// inside the brackets (`delete(@m[k])`) or as the other arguments (`delete(@m, k)`).
    fn map_argument(&mut self, args: &mut [Expr]) -> bool {
        let Some((first, rest)) = args.split_first_mut() else {
            return true;
        };
        let ExprKind::Map(m) = &mut first.kind else {
            self.errors.push(
                Diagnostic::error(first.span, "expected a map")
                    .with_label("not a map")
                    .with_note("this function works on a map: write `@name` or `@name[key]`"),
            );
            return false;
        };
        for k in m.keys.iter_mut().chain(rest.iter_mut()) {
            self.expr(k);
        }
        first.ty = Type::Void;
        let name = map_display_name(&m.name);
        if !self.maps.contains_key(&name) {
            self.errors.push(
                Diagnostic::error(m.span, format!("{name} is never assigned"))
                    .with_label("no such map")
                    .with_note(format!(
                        "assign it somewhere in the script: `{name} = ...;`"
                    )),
            );
            return false;
        }
        let keys: Vec<&Expr> = if m.keys.is_empty() {
            rest.iter().collect()
        } else {
            m.keys.iter().collect()
        };
        if keys.is_empty() {
            return true;
        }
        let span = keys[0].span.to(keys[keys.len() - 1].span);
        match self.key_layout(&keys) {
            Some(key) => self.fit_key(&name, &key, span),
            None => false,
        }
    }

    /// The key layout of `keys`: one type per key, a lone tuple standing for its elements
    /// (`@m[$t]` is `@m[1, "a"]` when `$t = (1, "a")`); `None` when a key is in error.
    fn key_layout(&mut self, keys: &[&Expr]) -> Option<Vec<Type>> {
        if keys.iter().any(|k| k.ty == Type::Unknown) {
            return None;
        }
        for k in keys {
            if !(k.ty.is_scalar()
                || matches!(k.ty, Type::Str { .. } | Type::Tuple(_) | Type::Printed(_)))
            {
                self.errors.push(
                    Diagnostic::error(k.span, format!("a map key cannot be of type {}", k.ty))
                        .with_label("used as a key here")
                        .with_note("map keys are integers, strings or tuples of them"),
                );
                return None;
            }
        }
        Some(match keys {
            [k] if matches!(k.ty, Type::Tuple(_)) => {
                let Type::Tuple(elems) = storage_type(&k.ty) else {
                    unreachable!("a tuple")
                };
                elems
            }
            _ => keys.iter().map(|k| storage_type(&k.ty)).collect(),
        })
    }

    /// Checks that `key`, used at `span`, has the key types of map `name` (which exists), and
    /// widens them to hold it.
    fn fit_key(&mut self, name: &str, key: &[Type], span: Span) -> bool {
        let info = self.maps.get_mut(name).expect("the map exists");
        let unified: Option<Vec<Type>> = (info.key.len() == key.len())
            .then(|| info.key.iter().zip(key).map(|(a, b)| unify(a, b)).collect())
            .flatten();
        match unified {
            Some(widened) => {
                info.key = widened;
                true
            }
            None => {
                let show = |k: &[Type]| {
                    k.iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let (first, old) = (info.span, show(&info.key));
                self.errors.push(
                    Diagnostic::error(span, format!("{name} is used with two different key types"))
                        .with_label(format!("key here is [{}]", show(key)))
                        .with_related(first, format!("key here is [{old}]"))
                        .with_note("every use of a map must have the same key types"),
                );
                false
            }
        }
    }

    /// Checks the target of `++`, `--` or `op=`: an integer variable or map value (a map
    /// used this way for the first time holds integers).
    fn int_target(&mut self, target: &mut Target, span: Span) -> Type {
        match target {
            Target::Var(v) => match self.var_mut(&v.name) {
                Some(Some(t)) if t.is_scalar() => t.clone(),
                Some(Some(t)) => {
                    let t = t.clone();
                    self.errors.push(
                        Diagnostic::error(v.span, format!("${} is {t}, not an integer", v.name))
                            .with_label("cannot be incremented or combined arithmetically"),
                    );
                    Type::Unknown
                }
                _ => {
                    self.errors.push(
                        Diagnostic::error(v.span, format!("undefined variable ${}", v.name))
                            .with_label("used here before any assignment")
                            .with_note(format!("assign it first: `${} = 0;`", v.name)),
                    );
                    Type::Unknown
                }
            },
            Target::Map(m) => {
                for k in &mut m.keys {
                    self.expr(k);
                }
                let name = map_display_name(&m.name);
                if self.maps.contains_key(&name) {
                    let keys: Vec<&Expr> = m.keys.iter().collect();
                    match self.key_layout(&keys) {
                        Some(key) if self.fit_key(&name, &key, m.span) => {}
                        _ => return Type::Unknown,
                    }
                }
                match self.maps.get(&name).map(|i| i.value.clone()) {
                    Some(t @ Type::Int { .. }) => t,
                    Some(t) => {
                        self.errors.push(
                            Diagnostic::error(m.span, format!("{name} holds {t}, not integers"))
                                .with_label("cannot be incremented or combined arithmetically"),
                        );
                        Type::Unknown
                    }
                    None => {
                        let zero = Expr {
                            kind: ExprKind::Int(0),
                            span,
                            ty: Type::I64,
                        };
                        self.assign_map(m, &zero);
                        Type::I64
                    }
                }
            }
        }
    }

    fn stmt(&mut self, stmt: &mut Stmt) {
        match &mut stmt.kind {
            StmtKind::Expr(e) => {
                self.expr(e);
                if let Type::Agg(_) = e.ty {
                    self.errors.push(aggregation_outside_assignment(e));
                }
            }
            StmtKind::AssignMap { map, value } => {
                self.assigning = Some(map_display_name(&map.name));
                self.expr(value);
                self.assigning = None;
                for k in &mut map.keys {
                    self.expr(k);
                }
                self.assign_map(map, value);
            }
            StmtKind::AssignVar {
                var,
                value,
                binding,
            } => {
                self.expr(value);
                *binding = None;
                self.assign_var(var, value, binding);
            }
            StmtKind::Let {
                var,
                ty,
                value,
                binding,
            } => {
                let declared = match ty {
                    None => None,
                    Some(name) => match parse_type_name(&name.name) {
                        Some(t) => Some(t),
                        None => {
                            self.errors.push(
                                Diagnostic::error(name.span, format!("unknown type `{}`", name.name))
                                    .with_label("not a type")
                                    .with_note("types are int8, int16, int32, int64, uint8, uint16, uint32, uint64 and bool"),
                            );
                            Some(Type::Unknown)
                        }
                    },
                };
                if let Some(value) = value {
                    self.expr(value);
                }
                let innermost = self.scopes.len() - 1;
                *binding = Some(self.bind(innermost, &var.name, declared));
                if let Some(value) = value {
                    self.assign_var(var, value, &mut None);
                }
            }
            StmtKind::CompoundAssign { target, op, value } => {
                self.expr(value);
                let op = *op;
                if value.ty != Type::Unknown && !value.ty.is_scalar() {
                    self.errors.push(
                        operand_error(value, "an integer")
                            .with_note(format!("`{}=` needs integers on both sides", op.symbol())),
                    );
                    return;
                }
                self.int_target(target, stmt.span);
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.expect_condition(cond);
                self.loops += 1;
                self.block(body);
                self.loops -= 1;
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                for bound in [&mut *start, &mut *end] {
                    self.expr(bound);
                    if bound.ty != Type::Unknown && !bound.ty.is_scalar() {
                        self.errors.push(
                            operand_error(bound, "an integer")
                                .with_note("a range runs over integers: `for ($i : 0..10)`"),
                        );
                    }
                }
                self.scopes.push(HashMap::new());
                let innermost = self.scopes.len() - 1;
                self.bind(innermost, &var.name, Some(Type::I64));
                self.loops += 1;
                self.block(body);
                self.loops -= 1;
                self.scopes.pop();
            }
            StmtKind::ForMap { var, map, body } => {
                let kv = self.map_element(map);
                self.scopes.push(HashMap::new());
                let innermost = self.scopes.len() - 1;
                self.bind(innermost, &var.name, Some(kv));
                let outer = std::mem::replace(&mut self.decl_scope, innermost);
                self.loops += 1;
                self.map_loops += 1;
                self.block(body);
                self.loops -= 1;
                self.map_loops -= 1;
                self.decl_scope = outer;
                self.scopes.pop();
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loops == 0 {
                    let word = if stmt.kind == StmtKind::Break {
                        "break"
                    } else {
                        "continue"
                    };
                    self.errors.push(
                        Diagnostic::error(stmt.span, format!("`{word}` outside a loop"))
                            .with_label("not inside `while` or `for`")
                            .with_note(format!("`{word}` only makes sense in the body of a loop")),
                    );
                }
            }
            StmtKind::Return(value) => {
                if let Some(v) = value {
                    self.expr(v);
                    if v.ty != Type::Unknown && !v.ty.is_scalar() {
                        self.errors.push(
                            operand_error(v, "an integer")
                                .with_note("a probe returns an integer: `return 1;`"),
                        );
                    }
                }
            }
            StmtKind::Block(b) => self.block(b),
            StmtKind::Unroll { count, body } => {
                if !(1..=100).contains(count) {
                    self.errors.push(
                        Diagnostic::error(
                            stmt.span,
                            format!("unroll count {count} is out of range"),
                        )
                        .with_label("here")
                        .with_note(
                            "unroll takes a count from 1 to 100; use while for longer loops",
                        ),
                    );
                }
                self.block(body);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.expect_condition(cond);
                self.block(then);
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
        }
    }

    fn assign_map(&mut self, map: &MapAccess, value: &Expr) {
        if value.ty == Type::Void {
            self.errors.push(no_value(value));
            return;
        }
        if let Type::Struct(_) | Type::Array { .. } = value.ty {
            self.errors.push(struct_value(value));
            return;
        }
        if value.ty == Type::Unknown {
            return;
        }
        let keys: Vec<&Expr> = map.keys.iter().collect();
        let Some(key) = self.key_layout(&keys) else {
            return;
        };
        let value_ty = storage_type(&value.ty);
        let name = map_display_name(&map.name);
        if !self.maps.contains_key(&name) {
            self.maps.insert(
                name.clone(),
                MapInfo {
                    name,
                    key,
                    value: value_ty,
                    span: map.span,
                    declared: None,
                },
            );
            return;
        }
        if !self.fit_key(&name, &key, map.span) {
            return;
        }
        let info = self.maps.get_mut(&name).expect("the map exists");
        let first = info.span;
        match unify(&info.value, &value_ty) {
            Some(t) => info.value = t,
            None => {
                let old = info.value.clone();
                self.errors.push(
                    Diagnostic::error(
                        value.span,
                        format!("{name} is assigned values of two different types"),
                    )
                    .with_label(format!("this is {value_ty}"))
                    .with_related(first, format!("this is {old}"))
                    .with_note("every assignment to a map must have the same value type"),
                );
            }
        }
    }

    fn expect_condition(&mut self, e: &Expr) {
        if !(e.ty.is_scalar() || e.ty == Type::Unknown) {
            self.errors.push(
                Diagnostic::error(
                    e.span,
                    format!("a condition must be an integer or boolean, not {}", e.ty),
                )
                .with_label("used as a condition here"),
            );
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        if let ExprKind::Builtin(id) = &e.kind {
            if let Some(source) = self.builtins.expansion(&id.name) {
                *e = expand_builtin(source, e.span);
            }
        }
        e.ty = self.infer(e);
    }

    fn infer(&mut self, e: &mut Expr) -> Type {
        let span = e.span;
        match &mut e.kind {
            ExprKind::Int(v) => {
                if *v > i64::MAX as u64 {
                    Type::U64
                } else {
                    Type::I64
                }
            }
            ExprKind::Str(s) => Type::Str {
                len: s.len() as u32 + 1,
            },
            ExprKind::Builtin(id) if id.name == "args" => {
                self.errors.push(
                    Diagnostic::error(id.span, "`args` is a record: use one of its fields")
                        .with_label("a whole record")
                        .with_note(
                            "write `args.fieldname` (probe -lv lists a tracepoint's fields)",
                        ),
                );
                Type::Unknown
            }
            ExprKind::Field {
                base,
                field,
                offset,
                data_loc,
            } => self.field(base, field, offset, data_loc),
            ExprKind::Block { block, value } => {
                self.scopes.push(HashMap::new());
                for stmt in &mut block.stmts {
                    self.stmt(stmt);
                }
                self.expr(value);
                self.scopes.pop();
                value.ty.clone()
            }
            ExprKind::SizeOfStruct { ty, size } => {
                let name = ty.name.trim_start_matches("struct ").to_string();
                if let Some(def) = self.struct_def(&name, ty.span) {
                    *size = u64::from(def.size);
                }
                Type::U64
            }
            ExprKind::OffsetOf { ty, fields, offset } => {
                let mut name = ty.name.trim_start_matches("struct ").to_string();
                let mut span = ty.span;
                *offset = 0;
                for f in fields.iter() {
                    let Some(def) = self.struct_def(&name, span) else {
                        return Type::Unknown;
                    };
                    let Some((off, t)) = self.struct_field(&def, f) else {
                        return Type::Unknown;
                    };
                    *offset += u64::from(off);
                    span = f.span;
                    name = match t {
                        Type::Struct(n) => n,
                        _ => String::new(),
                    };
                }
                Type::U64
            }
            ExprKind::SizeOf { expr, size } => {
                self.expr(expr);
                *size = u64::from(expr.ty.size());
                if matches!(expr.ty, Type::Void | Type::Agg(_)) {
                    self.errors.push(
                        Diagnostic::error(expr.span, format!("{} has no size", expr.ty))
                            .with_label("not a value"),
                    );
                }
                Type::U64
            }
            ExprKind::Tuple(elems) => {
                let mut types = vec![];
                for x in elems.iter_mut() {
                    self.expr(x);
                    match &x.ty {
                        Type::Unknown => return Type::Unknown,
                        t if t.is_scalar()
                            || matches!(
                                t,
                                Type::Str { .. } | Type::Tuple(_) | Type::Printed(_)
                            ) =>
                        {
                            types.push(storage_type(t))
                        }
                        t => {
                            self.errors.push(
                                Diagnostic::error(x.span, format!("a tuple cannot hold {t}"))
                                    .with_label("not an integer, a string or a tuple"),
                            );
                            return Type::Unknown;
                        }
                    }
                }
                Type::Tuple(types)
            }
            ExprKind::TupleIndex { tuple, index } => {
                self.expr(tuple);
                match &tuple.ty {
                    Type::Unknown => Type::Unknown,
                    Type::Tuple(elems) => match elems.get(*index as usize) {
                        Some(t) => t.clone(),
                        None => {
                            self.errors.push(
                                Diagnostic::error(
                                    span,
                                    format!("tuple index {index} is out of range"),
                                )
                                .with_label(format!("this tuple has {} elements", elems.len())),
                            );
                            Type::Unknown
                        }
                    },
                    t => {
                        self.errors.push(
                            Diagnostic::error(tuple.span, format!("expected a tuple, found {t}"))
                                .with_label("only tuples have elements `.0`, `.1`, ..."),
                        );
                        Type::Unknown
                    }
                }
            }
            ExprKind::Builtin(id) => match self.builtin_variable(&id.name) {
                Some(Ok(t)) => t,
                Some(Err(why)) => {
                    self.errors.push(
                        Diagnostic::error(id.span, format!("`{}` is not available here", id.name))
                            .with_label("not in this kind of probe")
                            .with_note(why),
                    );
                    Type::Unknown
                }
                None if self.builtins.planned(&id.name) => {
                    self.errors.push(crate::lexer::not_supported_yet(
                        id.span,
                        &format!("the builtin `{}`", id.name),
                    ));
                    Type::Unknown
                }
                None => {
                    self.errors.push(
                        Diagnostic::error(id.span, format!("unknown identifier `{}`", id.name))
                            .with_label("not a builtin variable")
                            .with_note("scratch variables start with `$`, maps with `@`"),
                    );
                    Type::Unknown
                }
            },
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Positional(_) | ExprKind::ParamCount => Type::I64,
            ExprKind::IncDec { target, .. } => self.int_target(target, span),
            ExprKind::Var(id) => match self.var_mut(&id.name) {
                Some(Some(t)) => t.clone(),
                _ => {
                    self.errors.push(
                        Diagnostic::error(id.span, format!("undefined variable ${}", id.name))
                            .with_label("used here before any assignment")
                            .with_note(format!(
                                "assign it first in this probe: `${} = ...;`",
                                id.name
                            )),
                    );
                    Type::Unknown
                }
            },
            ExprKind::Map(m) => {
                for k in &mut m.keys {
                    self.expr(k);
                }
                let name = map_display_name(&m.name);
                match self.maps.get(&name) {
                    // `@n = @n + 1` as the only assignment: an integer, zero until set.
                    None if self.assigning.as_ref() == Some(&name) => Type::I64,
                    None => {
                        self.errors.push(
                            Diagnostic::error(m.span, format!("{name} is read but never assigned"))
                                .with_label("read here")
                                .with_note(format!(
                                    "assign it somewhere in the script: `{name} = ...;`"
                                )),
                        );
                        Type::Unknown
                    }
                    Some(_) => {
                        let keys: Vec<&Expr> = m.keys.iter().collect();
                        match self.key_layout(&keys) {
                            Some(key) if self.fit_key(&name, &key, m.span) => {}
                            _ => return Type::Unknown,
                        }
                        let info = &self.maps[&name];
                        if let Type::Agg(_) = info.value {
                            self.errors.push(
                                Diagnostic::error(m.span, format!("reading the aggregation {name} in a probe is not supported yet"))
                                    .with_label("read here")
                                    .with_note("aggregations are printed when tracing ends, or with print()"),
                            );
                            return Type::Unknown;
                        }
                        info.value.clone()
                    }
                }
            }
            ExprKind::Call { name, args } => {
                if self.builtins.is_unsafe(&name.name) && !self.unsafe_allowed {
                    self.errors.push(
                        Diagnostic::error(name.span, format!("{}() is unsafe", name.name))
                            .with_label("changes the system it traces")
                            .with_note("run probe with --unsafe to allow it"),
                    );
                    return Type::Unknown;
                }
                let whole_map = matches!(args.first().map(|a| &a.kind), Some(ExprKind::Map(m)) if m.keys.is_empty());
                if self.builtins.takes_map(&name.name) {
                    if !self.map_argument(args) {
                        return Type::Unknown;
                    }
                } else if self.builtins.untyped_arguments(&name.name) {
                    // The function reads its arguments itself.
                } else if whole_map && self.builtins.takes_whole_map(&name.name) {
                    if !self.map_argument(&mut args[..1]) {
                        return Type::Unknown;
                    }
                    for a in args[1..].iter_mut() {
                        self.expr(a);
                    }
                } else {
                    for a in args.iter_mut() {
                        self.expr(a);
                    }
                }
                if !self.builtins.untyped_arguments(&name.name)
                    && args.iter().any(|a| a.ty == Type::Unknown)
                {
                    return Type::Unknown;
                }
                match self.builtins.check_call(name, args, span) {
                    Some(Ok(t)) => t,
                    Some(Err(d)) => {
                        self.errors.push(d);
                        Type::Unknown
                    }
                    None if self.builtins.planned(&name.name) => {
                        self.errors.push(crate::lexer::not_supported_yet(
                            name.span,
                            &format!("the function `{}()`", name.name),
                        ));
                        Type::Unknown
                    }
                    None => {
                        self.errors.push(
                            Diagnostic::error(
                                name.span,
                                format!("unknown function `{}`", name.name),
                            )
                            .with_label("not a builtin function"),
                        );
                        Type::Unknown
                    }
                }
            }
            ExprKind::Cast { ty, pointer, expr } => {
                self.expr(expr);
                let target = match ty.name.strip_prefix("struct ") {
                    Some(name) => {
                        if !*pointer {
                            self.errors.push(
                                Diagnostic::error(ty.span, format!("cannot cast to {}", ty.name))
                                    .with_label("a struct is not a value")
                                    .with_note(format!("cast to a pointer: `({} *)addr`", ty.name)),
                            );
                            return Type::Unknown;
                        }
                        if self.struct_def(name, ty.span).is_none() {
                            return Type::Unknown;
                        }
                        Type::Struct(name.to_string())
                    }
                    None => parse_type_name(&ty.name).unwrap_or(Type::I64),
                };
                let target = if *pointer {
                    Type::Ptr(Box::new(target))
                } else {
                    target
                };
                if expr.ty == Type::Unknown {
                    return target;
                }
                if !expr.ty.is_scalar() {
                    self.errors.push(
                        operand_error(expr, "an integer")
                            .with_note(format!("only integers can be cast to {}", ty.name)),
                    );
                }
                target
            }
            ExprKind::Unary { op, expr } => {
                self.expr(expr);
                if expr.ty == Type::Unknown {
                    return Type::Unknown;
                }
                if *op == UnaryOp::AddrOf {
                    return self.address_of(expr);
                }
                if !expr.ty.is_scalar() {
                    self.errors.push(operand_error(expr, "an integer"));
                    return Type::Unknown;
                }
                match (op, &expr.ty) {
                    (UnaryOp::Deref, Type::Ptr(to)) => (**to).clone(),
                    (UnaryOp::Deref, t) => {
                        self.errors.push(
                            Diagnostic::error(expr.span, format!("cannot dereference {t}"))
                                .with_label("not a pointer")
                                .with_note("cast it to a pointer first: `*(uint32 *)addr`"),
                        );
                        Type::Unknown
                    }
                    (UnaryOp::Not, _) => Type::Bool,
                    (UnaryOp::Neg, _) => Type::I64,
                    (UnaryOp::BitNot, t) => int_of(t),
                    (UnaryOp::AddrOf, _) => unreachable!("handled above"),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(lhs);
                self.expr(rhs);
                if lhs.ty == Type::Unknown || rhs.ty == Type::Unknown {
                    return Type::Unknown;
                }
                let op = *op;
                if let (Type::Str { .. }, Type::Str { .. }) = (&lhs.ty, &rhs.ty) {
                    if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                        return Type::Bool;
                    }
                    self.errors.push(
                        Diagnostic::error(
                            span,
                            format!("operator `{}` cannot be applied to strings", op.symbol()),
                        )
                        .with_label("both operands are strings")
                        .with_note("strings can be compared with `==` and `!=`"),
                    );
                    return Type::Unknown;
                }
                for side in [&**lhs, &**rhs] {
                    if !side.ty.is_scalar() {
                        self.errors
                            .push(operand_error(side, "an integer").with_note(format!(
                                "operator `{}` needs integers on both sides",
                                op.symbol()
                            )));
                        return Type::Unknown;
                    }
                }
                match (op, &lhs.ty, &rhs.ty) {
                    (BinaryOp::Add | BinaryOp::Sub, p @ Type::Ptr(_), _) => return p.clone(),
                    (BinaryOp::Add, _, p @ Type::Ptr(_)) => return p.clone(),
                    _ => {}
                }
                match op {
                    BinaryOp::And | BinaryOp::Or => Type::Bool,
                    o if o.is_comparison() => Type::Bool,
                    _ => arith_type(op, lhs, rhs),
                }
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.expect_condition(cond);
                self.expr(then);
                self.expr(otherwise);
                if then.ty == Type::Unknown || otherwise.ty == Type::Unknown {
                    return Type::Unknown;
                }
                match unify(&then.ty, &otherwise.ty) {
                    Some(
                        t @ (Type::Int { .. }
                        | Type::Bool
                        | Type::Str { .. }
                        | Type::Tuple(_)
                        | Type::Printed(_)),
                    ) => t,
                    _ => {
                        self.errors.push(
                            Diagnostic::error(
                                otherwise.span,
                                "the branches of `?:` have different types",
                            )
                            .with_label(format!("this is {}", otherwise.ty))
                            .with_related(then.span, format!("this is {}", then.ty)),
                        );
                        Type::Unknown
                    }
                }
            }
        }
    }
}

fn aggregation_outside_assignment(e: &Expr) -> Diagnostic {
    Diagnostic::error(e.span, "an aggregation can only be assigned to a map")
        .with_label("aggregation used here")
        .with_note("write it as `@name[key] = count();`")
}

fn no_value(e: &Expr) -> Diagnostic {
    Diagnostic::error(e.span, "this expression has no value").with_label("returns nothing")
}

fn operand_error(e: &Expr, expected: &str) -> Diagnostic {
    Diagnostic::error(e.span, format!("expected {expected}, found {}", e.ty))
        .with_label(format!("this is {}", e.ty))
}

/// The type a `let` declaration names.
pub fn parse_type_name(name: &str) -> Option<Type> {
    let int = |bits, signed| Some(Type::Int { bits, signed });
    match name {
        "int8" => int(8, true),
        "int16" => int(16, true),
        "int32" => int(32, true),
        "int64" => int(64, true),
        "uint8" => int(8, false),
        "uint16" => int(16, false),
        "uint32" => int(32, false),
        "uint64" => int(64, false),
        "bool" => Some(Type::Bool),
        _ => None,
    }
}

/// The error for a whole struct used as a value.
fn struct_value(e: &Expr) -> Diagnostic {
    let d = Diagnostic::error(
        e.span,
        format!("{} cannot be stored or printed whole", e.ty),
    );
    if let Type::Array { .. } = e.ty {
        return d
            .with_label("a whole array")
            .with_note("pass it to a function that takes arrays, such as ntop()");
    }
    d.with_label("a whole struct")
        .with_note("read one of its fields: `->field`")
}

/// Integers widen to 64 bits when stored in maps; booleans are stored as integers.
fn storage_type(t: &Type) -> Type {
    match t {
        Type::Ptr(_) => Type::U64,
        Type::Tuple(elems) => Type::Tuple(elems.iter().map(storage_type).collect()),
        Type::Int { signed, .. } => Type::Int {
            bits: 64,
            signed: *signed,
        },
        Type::Bool => Type::U64,
        other => other.clone(),
    }
}

fn int_of(t: &Type) -> Type {
    match t {
        Type::Bool | Type::Ptr(_) => Type::U64,
        t => t.clone(),
    }
}

/// The type of an arithmetic result, as bpftrace types it: 64 bits wide; signed if either
/// operand is (a non-negative literal takes the other operand's sign), always for `-`, and
/// as the left operand for shifts.
fn arith_type(op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Type {
    let signed = |e: &Expr| matches!(e.ty, Type::Int { signed: true, .. });
    let literal = |e: &Expr| matches!(e.kind, ExprKind::Int(_));
    let (l, r) = match (literal(lhs), literal(rhs)) {
        (true, false) => (signed(rhs), signed(rhs)),
        (false, true) => (signed(lhs), signed(lhs)),
        (true, true) => (false, false),
        (false, false) => (signed(lhs), signed(rhs)),
    };
    let signed = match op {
        BinaryOp::Shl | BinaryOp::Shr => l,
        BinaryOp::Sub => true,
        _ => l || r,
    };
    Type::Int { bits: 64, signed }
}

/// The type that holds values of both `a` and `b`, if there is one.
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Int { bits: x, signed: s }, Type::Int { bits: y, .. }) => Some(Type::Int {
            bits: *x.max(y),
            signed: *s,
        }),
        (Type::Bool, Type::Bool) => Some(Type::Bool),
        (Type::Bool, t @ Type::Int { .. }) | (t @ Type::Int { .. }, Type::Bool) => Some(t.clone()),
        (Type::Str { len: x }, Type::Str { len: y }) => Some(Type::Str { len: *x.max(y) }),
        (Type::Agg(x), Type::Agg(y)) => x.unify(*y).map(Type::Agg),
        (Type::Printed(x), Type::Printed(y)) if x == y => Some(Type::Printed(*x)),
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .map(|(a, b)| unify(a, b))
            .collect::<Option<Vec<_>>>()
            .map(Type::Tuple),
        _ => None,
    }
}
