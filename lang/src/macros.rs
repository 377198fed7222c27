//! Macros: `macro name($x, @m) { ... }`. Each call is replaced by the macro's body with the
//! parameters replaced by the arguments: an expression macro (a body that is one
//! expression) where a value is wanted, a statement macro where a statement stands.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use std::collections::HashMap;

/// How deep macros may call macros (a deeper chain is taken to be recursion).
const MAX_DEPTH: u32 = 16;

/// Replaces every macro call of the program by the macro's body. `builtin` are the
/// standard library's macros (written in the language, like `assert`): the script's own
/// macros of the same name win, and an expanded builtin's code takes the call's span, so
/// that errors in it point at the call.
pub fn expand(program: &mut Program, builtin: &[Macro]) -> Result<(), Vec<Diagnostic>> {
    let mut errors = vec![];
    let mut macros: HashMap<String, Macro> = HashMap::new();
    let mut builtin_names = std::collections::HashSet::new();
    for m in builtin {
        let overridden = program
            .macros
            .iter()
            .any(|own| own.name.name == m.name.name);
        if !overridden {
            macros.insert(m.name.name.clone(), m.clone());
            builtin_names.insert(m.name.name.clone());
        }
    }
    for m in &program.macros {
        if let Some(first) = macros
            .insert(m.name.name.clone(), m.clone())
            .filter(|f| !builtin_names.contains(&f.name.name))
        {
            errors.push(
                Diagnostic::error(
                    m.name.span,
                    format!("macro `{}` is defined twice", m.name.name),
                )
                .with_label("second definition")
                .with_related(first.name.span, "first definition"),
            );
        }
    }
    if macros.is_empty() {
        return Ok(());
    }
    let mut cx = Expander {
        macros,
        builtin: builtin_names,
        errors,
    };
    for probe in &mut program.probes {
        if let Some(p) = &mut probe.predicate {
            cx.expr(p, 0);
        }
        cx.block(&mut probe.body, 0);
    }
    if cx.errors.is_empty() {
        Ok(())
    } else {
        Err(cx.errors)
    }
}

struct Expander {
    macros: HashMap<String, Macro>,
    /// The names of the standard library's macros in `macros`.
    builtin: std::collections::HashSet<String>,
    errors: Vec<Diagnostic>,
}

impl Expander {
    fn block(&mut self, b: &mut Block, depth: u32) {
        for s in &mut b.stmts {
            self.stmt(s, depth);
        }
    }

    fn stmt(&mut self, s: &mut Stmt, depth: u32) {
        // A call of a statement macro used as a statement becomes a block.
        if let StmtKind::Expr(Expr {
            kind: ExprKind::Call { name, args },
            span,
            ..
        }) = &s.kind
        {
            if let Some(m) = self.macros.get(&name.name) {
                if !is_expression_macro(m) {
                    if let Some(mut body) = self.instantiate(&m.clone(), args, *span, depth) {
                        self.block(&mut body, depth + 1);
                        s.kind = StmtKind::Block(body);
                    }
                    return;
                }
            }
        }
        match &mut s.kind {
            StmtKind::Expr(e) | StmtKind::AssignVar { value: e, .. } => self.expr(e, depth),
            StmtKind::AssignMap { map, value } => {
                map.keys.iter_mut().for_each(|k| self.expr(k, depth));
                self.expr(value, depth);
            }
            StmtKind::CompoundAssign { target, value, .. } => {
                if let Target::Map(m) = target {
                    m.keys.iter_mut().for_each(|k| self.expr(k, depth));
                }
                self.expr(value, depth);
            }
            StmtKind::Let { value, .. } => {
                if let Some(v) = value {
                    self.expr(v, depth);
                }
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, depth);
                self.block(then, depth);
                if let Some(o) = otherwise {
                    self.block(o, depth);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond, depth);
                self.block(body, depth);
            }
            StmtKind::For {
                start, end, body, ..
            } => {
                self.expr(start, depth);
                self.expr(end, depth);
                self.block(body, depth);
            }
            StmtKind::Block(b)
            | StmtKind::Unroll { body: b, .. }
            | StmtKind::ForMap { body: b, .. } => self.block(b, depth),
            StmtKind::Return(Some(e)) => self.expr(e, depth),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
        }
    }

    fn expr(&mut self, e: &mut Expr, depth: u32) {
        if let ExprKind::Block { block, .. } = &mut e.kind {
            self.block(block, depth);
        }
        // Arguments first, so that `f(g(1))` passes g's expansion to f.
        for child in e.children_mut() {
            self.expr(child, depth);
        }
        if let ExprKind::Call { name, args } = &e.kind {
            if let Some(m) = self.macros.get(&name.name).cloned() {
                *e = self.expand_call(&m, &args.clone(), e.span, depth);
            }
        }
    }

    /// The expression an expression macro's call stands for (an integer 0 after an error).
    fn expand_call(&mut self, m: &Macro, args: &[Expr], span: Span, depth: u32) -> Expr {
        let fallback = Expr::new(ExprKind::Int(0), span);
        if !is_expression_macro(m) {
            let d = Diagnostic::error(
                span,
                format!("macro `{}` has statements, so it has no value", m.name.name),
            )
            .with_label("used as a value here")
            .with_note("call it as a statement, or end its body with one expression");
            self.errors.push(if self.builtin.contains(&m.name.name) {
                d
            } else {
                d.with_related(m.name.span, "defined here")
            });
            return fallback;
        }
        let Some(body) = self.instantiate(m, args, span, depth) else {
            return fallback;
        };
        let StmtKind::Expr(mut e) = body.stmts.into_iter().next().expect("one statement").kind
        else {
            unreachable!("an expression macro")
        };
        self.expr(&mut e, depth + 1);
        e
    }

    /// The macro's body with its parameters replaced by `args`.
    fn instantiate(&mut self, m: &Macro, args: &[Expr], span: Span, depth: u32) -> Option<Block> {
        if depth >= MAX_DEPTH {
            self.errors.push(
                Diagnostic::error(span, format!("macro `{}` expands too deeply", m.name.name))
                    .with_label("expanded here")
                    .with_note("a macro may not call itself, directly or through others"),
            );
            return None;
        }
        if args.len() != m.params.len() {
            let d = Diagnostic::error(
                span,
                format!(
                    "macro `{}` takes {} arguments, {} given",
                    m.name.name,
                    m.params.len(),
                    args.len()
                ),
            )
            .with_label("in this call");
            // A standard library macro's definition is not in the script.
            self.errors.push(if self.builtin.contains(&m.name.name) {
                d.with_note("probe --help-builtins shows how to call it")
            } else {
                d.with_related(m.name.span, "defined here")
            });
            return None;
        }
        let mut vars: HashMap<String, Expr> = HashMap::new();
        let mut maps: HashMap<String, String> = HashMap::new();
        for (p, a) in m.params.iter().zip(args) {
            match (p, &a.kind) {
                (MacroParam::Var(v), _) => {
                    vars.insert(v.name.clone(), a.clone());
                }
                (MacroParam::Map(p), ExprKind::Map(arg)) if arg.keys.is_empty() => {
                    maps.insert(p.name.clone(), arg.name.name.clone());
                }
                (MacroParam::Map(p), _) => {
                    self.errors.push(
                        Diagnostic::error(a.span, format!("@{} takes a map", p.name))
                            .with_label("not a map")
                            .with_note("pass a whole map: `@name`"),
                    );
                    return None;
                }
            }
        }
        let mut body = m.body.clone();
        if self.builtin.contains(&m.name.name) {
            respan(&mut body, span);
        }
        let mut ok = true;
        let renames = Renames {
            vars: &vars,
            maps: &maps,
        };
        renames.targets(&mut body, &mut |name, span| {
            ok = false;
            self.errors.push(
                Diagnostic::error(
                    span,
                    format!("${name} is a macro parameter bound to an expression"),
                )
                .with_label("cannot be assigned")
                .with_note("pass a variable to assign it"),
            );
        });
        if !ok {
            return None;
        }
        block_mut(&mut body, &mut |x| match &mut x.kind {
            ExprKind::Var(v) => {
                if let Some(arg) = vars.get(&v.name) {
                    *x = arg.clone();
                }
            }
            ExprKind::Map(a) => {
                if let Some(to) = maps.get(&a.name.name) {
                    a.name.name = to.clone();
                }
            }
            _ => {}
        });
        Some(body)
    }
}

/// Gives every statement and expression of `b` the span `at`.
fn respan(b: &mut Block, at: Span) {
    block_mut(b, &mut |x| {
        x.span = at;
        match &mut x.kind {
            ExprKind::Var(id) | ExprKind::Builtin(id) | ExprKind::Call { name: id, .. } => {
                id.span = at
            }
            ExprKind::Field { field, .. } => field.span = at,
            ExprKind::Map(m) => m.span = at,
            _ => {}
        }
    });
    for s in &mut b.stmts {
        s.span = at;
        match &mut s.kind {
            StmtKind::If {
                then, otherwise, ..
            } => {
                respan(then, at);
                if let Some(o) = otherwise {
                    respan(o, at);
                }
            }
            StmtKind::While { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Block(body)
            | StmtKind::Unroll { body, .. }
            | StmtKind::ForMap { body, .. } => respan(body, at),
            _ => {}
        }
    }
}

/// True if the macro's body is a single expression.
fn is_expression_macro(m: &Macro) -> bool {
    matches!(
        m.body.stmts.as_slice(),
        [Stmt {
            kind: StmtKind::Expr(_),
            ..
        }]
    )
}

/// The renaming of a macro call: `$param`s bound to variables and `@param`s to maps.
struct Renames<'a> {
    vars: &'a HashMap<String, Expr>,
    maps: &'a HashMap<String, String>,
}

impl Renames<'_> {
    /// A variable `$param` takes the name of the variable bound to it; a parameter bound to
    /// another expression cannot be assigned, which is reported through `bad`.
    fn var(&self, id: &mut Ident, bad: &mut dyn FnMut(&str, Span)) {
        if let Some(arg) = self.vars.get(&id.name) {
            match &arg.kind {
                ExprKind::Var(to) => id.name = to.name.clone(),
                _ => bad(&id.name, id.span),
            }
        }
    }

    /// A map `@param` takes the name of the map bound to it.
    fn map(&self, name: &mut String) {
        if let Some(to) = self.maps.get(name) {
            *name = to.clone();
        }
    }

    /// The targets of assignments in `b`'s statements, nested blocks included.
    fn statements(&self, b: &mut Block, bad: &mut dyn FnMut(&str, Span)) {
        for s in &mut b.stmts {
            match &mut s.kind {
                StmtKind::AssignVar { var: v, .. }
                | StmtKind::CompoundAssign {
                    target: Target::Var(v),
                    ..
                } => self.var(v, bad),
                StmtKind::AssignMap { map: m, .. }
                | StmtKind::CompoundAssign {
                    target: Target::Map(m),
                    ..
                } => self.map(&mut m.name.name),
                StmtKind::If {
                    then, otherwise, ..
                } => {
                    self.statements(then, bad);
                    if let Some(o) = otherwise {
                        self.statements(o, bad);
                    }
                }
                StmtKind::ForMap { map: m, body, .. } => {
                    self.map(&mut m.name);
                    self.statements(body, bad);
                }
                StmtKind::While { body, .. }
                | StmtKind::For { body, .. }
                | StmtKind::Unroll { body, .. }
                | StmtKind::Block(body) => self.statements(body, bad),
                _ => {}
            }
        }
    }

    /// Every assigned variable and map of `b`: its statements' targets, and `++`/`--` in
    /// expressions at any depth (block expressions' statements included).
    fn targets(&self, b: &mut Block, bad: &mut dyn FnMut(&str, Span)) {
        self.statements(b, bad);
        block_mut(b, &mut |x| match &mut x.kind {
            ExprKind::IncDec { target, .. } => match target {
                Target::Var(v) => self.var(v, bad),
                Target::Map(m) => self.map(&mut m.name.name),
            },
            ExprKind::Block { block, .. } => self.statements(block, bad),
            _ => {}
        });
    }
}
