//! The syntax tree. Every node carries the [`Span`] of the source it came from.

use crate::span::Span;
use crate::types::Type;

/// A whole script: its probes in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// Map declarations (`let @name = hash(1024);`), before or between the probes.
    pub maps: Vec<MapDecl>,
    /// Macros (`macro name($a, @b) { ... }`), expanded before checking.
    pub macros: Vec<Macro>,
    /// Settings of `config = { name = value; ... }` blocks.
    pub config: Vec<(Ident, Expr)>,
    /// C struct definitions (`struct S { int a; }`), in source order.
    pub structs: Vec<StructDecl>,
    /// `import "file.bt";`: other script files, merged in before checking.
    pub imports: Vec<Import>,
    /// The probes, in source order.
    pub probes: Vec<Probe>,
}

/// `import "path";`: another script file whose macros, maps, structs, settings and probes
/// join this one's.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    /// As written: relative to the importing file's directory, or absolute.
    pub path: String,
    pub span: Span,
}

/// A C struct definition of the preamble: its text, laid out by `cstruct` before checking.
#[derive(Clone, Debug, PartialEq)]
pub struct StructDecl {
    /// `struct name { ... }` as written.
    pub text: String,
    pub span: Span,
}

impl Program {
    /// Adds the items of `other` after this program's (its imports excepted).
    pub fn append(&mut self, other: Program) {
        self.maps.extend(other.maps);
        self.macros.extend(other.macros);
        self.config.extend(other.config);
        self.structs.extend(other.structs);
        self.probes.extend(other.probes);
    }
}

/// `macro name($var, @map) { ... }`: a body whose calls are replaced by it, with the
/// parameters replaced by the call's arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Macro {
    /// The name calls use.
    pub name: Ident,
    /// `$x` parameters take any expression, `@m` parameters a map.
    pub params: Vec<MacroParam>,
    /// What a call is replaced by.
    pub body: Block,
    /// Where it is in the source.
    pub span: Span,
}

/// A macro parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum MacroParam {
    /// A `$name` parameter: any expression.
    Var(Ident),
    /// An `@name` parameter: a map.
    Map(Ident),
}

/// `let @name = kind(max_entries);`: the BPF map kind and size of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDecl {
    /// The map, without its `@`.
    pub name: Ident,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`.
    pub kind: Ident,
    /// How many entries the map holds at most.
    pub max_entries: u64,
    /// Where it is in the source.
    pub span: Span,
}

/// `attach_point, attach_point /predicate/ { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// Where the probe attaches, as written.
    pub attach_points: Vec<AttachPoint>,
    /// The `/condition/` that must hold for the body to run.
    pub predicate: Option<Expr>,
    /// The statements that run when the probe fires.
    pub body: Block,
    /// Where it is in the source.
    pub span: Span,
}

/// One attach point as written (`tracepoint:syscalls:sys_enter_read`, `BEGIN`, ...).
/// Its meaning is resolved by the checker.
#[derive(Clone, Debug, PartialEq)]
pub struct AttachPoint {
    /// The attach point exactly as written.
    pub text: String,
    /// Where it is in the source.
    pub span: Span,
}

/// `{ stmt; stmt; ... }` (or the same between `<` and `>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements, in order.
    pub stmts: Vec<Stmt>,
    /// Where it is in the source.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What the statement does.
    pub kind: StmtKind,
    /// Where it is in the source.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect: `printf(...)`, `exit()`.
    Expr(Expr),
    /// `@name[keys] = value`.
    AssignMap { map: MapAccess, value: Expr },
    /// `$name = value`.
    AssignVar {
        var: Ident,
        value: Expr,
        /// The variable this assignment declares, numbered by the checker: `None` when the
        /// variable already exists (and from the parser).
        binding: Option<u32>,
    },
    /// `if (cond) { ... } else { ... }`; `else if` nests another `If` in `otherwise`.
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// `target op= value` (`@x += 1`, `$n <<= 2`).
    CompoundAssign {
        target: Target,
        op: BinaryOp,
        value: Expr,
    },
    /// `let $name;`, `let $name = value;`, `let $name: type = value;`: a variable scoped to
    /// the enclosing block.
    Let {
        var: Ident,
        ty: Option<Ident>,
        value: Option<Expr>,
        /// The variable declared, numbered by the checker (`None` from the parser).
        binding: Option<u32>,
    },
    /// `while (cond) { ... }`.
    While { cond: Expr, body: Block },
    /// `break`: leaves the innermost loop.
    Break,
    /// `continue`: starts the innermost loop's next iteration.
    Continue,
    /// `return` or `return value`: ends the probe (the value is what the program returns,
    /// which decides a `test:` probe's outcome).
    Return(Option<Expr>),
    /// `{ ... }`: a nested block, with its own scope for `let`.
    Block(Block),
    /// `for ($var : start..end) { ... }`: `$var` takes each value from `start` up to, not
    /// including, `end` (evaluated once).
    For {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
    },
    /// `for ($kv : @map) { ... }`: the body runs once per element of the map, `$kv` holding
    /// `(key, value)` (the key a tuple when the map has several).
    ForMap { var: Ident, map: Ident, body: Block },
    /// `unroll(count) { ... }`: the body repeated `count` times.
    Unroll { count: u64, body: Block },
}

/// Something that can be assigned: a map element or a scratch variable.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A map element `@m[k]`.
    Map(MapAccess),
    /// A scratch variable `$x`.
    Var(Ident),
}

impl Target {
    /// Where the target is written.
    pub fn span(&self) -> Span {
        match self {
            Target::Map(m) => m.span,
            Target::Var(v) => v.span,
        }
    }
}

/// A name with its span (`comm`, `$x`, `@map` without their sigils).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name, without sigil.
    pub name: String,
    /// Where it is in the source.
    pub span: Span,
}

/// `@name[k1, k2]`; `name` is empty for the anonymous map `@`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapAccess {
    /// The map, without its `@` (empty for `@`).
    pub name: Ident,
    /// The key parts between the brackets (none for a map without key).
    pub keys: Vec<Expr>,
    /// Where it is in the source.
    pub span: Span,
}

/// An expression. `ty` is [`Type::Unknown`] until the checker fills it in.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the expression computes.
    pub kind: ExprKind,
    /// Where it is in the source.
    pub span: Span,
    /// Its type, filled in by the checker.
    pub ty: Type,
}

impl Expr {
    /// The value of an expression known when compiling (literals, `sizeof`, `offsetof`
    /// and operators on them, after checking), if it is one.
    pub fn constant(&self) -> Option<i128> {
        let v = match &self.kind {
            ExprKind::Int(v) => i128::from(*v),
            ExprKind::Bool(b) => i128::from(*b),
            ExprKind::SizeOf { size, .. } | ExprKind::SizeOfStruct { size, .. } => {
                i128::from(*size)
            }
            ExprKind::OffsetOf { offset, .. } => i128::from(*offset),
            ExprKind::Unary { op, expr } => {
                let x = expr.constant()?;
                match op {
                    UnaryOp::Neg => -x,
                    UnaryOp::Not => i128::from(x == 0),
                    UnaryOp::BitNot => !x,
                    UnaryOp::Deref | UnaryOp::AddrOf => return None,
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.constant()?, rhs.constant()?);
                match op {
                    BinaryOp::Add => a.checked_add(b)?,
                    BinaryOp::Sub => a.checked_sub(b)?,
                    BinaryOp::Mul => a.checked_mul(b)?,
                    BinaryOp::Div => a.checked_div(b)?,
                    BinaryOp::Mod => a.checked_rem(b)?,
                    BinaryOp::BitAnd => a & b,
                    BinaryOp::BitOr => a | b,
                    BinaryOp::BitXor => a ^ b,
                    BinaryOp::Shl => a.checked_shl(u32::try_from(b).ok()?)?,
                    BinaryOp::Shr => a.checked_shr(u32::try_from(b).ok()?)?,
                    BinaryOp::Eq => i128::from(a == b),
                    BinaryOp::Ne => i128::from(a != b),
                    BinaryOp::Lt => i128::from(a < b),
                    BinaryOp::Le => i128::from(a <= b),
                    BinaryOp::Gt => i128::from(a > b),
                    BinaryOp::Ge => i128::from(a >= b),
                    BinaryOp::And => i128::from(a != 0 && b != 0),
                    BinaryOp::Or => i128::from(a != 0 || b != 0),
                }
            }
            _ => return None,
        };
        Some(v)
    }

    /// The expressions directly inside this one (for a block expression, its value: its
    /// statements are walked as a block).
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Map(m)
            | ExprKind::IncDec {
                target: Target::Map(m),
                ..
            } => m.keys.iter_mut().collect(),
            ExprKind::Call { args: v, .. } | ExprKind::Tuple(v) => v.iter_mut().collect(),
            ExprKind::Unary { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::SizeOf { expr, .. }
            | ExprKind::Field { base: expr, .. }
            | ExprKind::TupleIndex { tuple: expr, .. }
            | ExprKind::Block { value: expr, .. } => vec![&mut **expr],
            ExprKind::Binary { lhs, rhs, .. } => vec![&mut **lhs, &mut **rhs],
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => vec![&mut **cond, &mut **then, &mut **otherwise],
            ExprKind::IncDec {
                target: Target::Var(_),
                ..
            }
            | ExprKind::SizeOfStruct { .. }
            | ExprKind::OffsetOf { .. }
            | ExprKind::Int(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Builtin(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_)
            | ExprKind::ParamCount => vec![],
        }
    }

    /// A new, not yet typed expression.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span,
            ty: Type::Unknown,
        }
    }
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(u64),
    /// `true` or `false`.
    Bool(bool),
    /// `++x`, `x++`, `--x`, `x--`: `delta` is 1 or -1; the value is the new one when
    /// `prefix`, the old one otherwise.
    IncDec {
        target: Target,
        delta: i64,
        prefix: bool,
    },
    /// A string literal, escapes already decoded.
    Str(String),
    /// A builtin variable: `comm`, `pid`, ...
    Builtin(Ident),
    /// A scratch variable `$name`.
    Var(Ident),
    /// A positional parameter `$1`, `$2`, ... (replaced by its value before checking).
    Positional(u32),
    /// `$#`: how many positional parameters were given.
    ParamCount,
    /// A map read `@name[keys]`.
    Map(MapAccess),
    /// A function call `name(args)`.
    Call { name: Ident, args: Vec<Expr> },
    /// `base.field` or `base->field` (tracepoint `args`, or a struct through a pointer);
    /// `offset` is the field's byte offset, which the checker fills in, and `data_loc` says
    /// it is a tracepoint's `__data_loc` field, whose value is the address of its data.
    Field {
        base: Box<Expr>,
        field: Ident,
        offset: u32,
        data_loc: bool,
    },
    /// `sizeof(expr)`: the bytes a value of that type takes; `size` is filled in by the
    /// checker.
    SizeOf { expr: Box<Expr>, size: u64 },
    /// `sizeof(struct name)`; `size` is filled in by the checker.
    SizeOfStruct { ty: Ident, size: u64 },
    /// `offsetof(struct name, field.field...)`; `offset` is filled in by the checker.
    OffsetOf {
        ty: Ident,
        fields: Vec<Ident>,
        offset: u64,
    },
    /// `(a, b, ...)`.
    Tuple(Vec<Expr>),
    /// `{ statements; value }`: the statements run in a scope of their own, then the
    /// value is the block's.
    Block { block: Block, value: Box<Expr> },
    /// `t.0`: an element of a tuple.
    TupleIndex { tuple: Box<Expr>, index: u32 },
    /// `(type)e`: an integer converted to another width or signedness.
    Cast {
        ty: Ident,
        pointer: bool,
        expr: Box<Expr>,
    },
    /// `-e`, `!e`, `~e`.
    Unary { op: UnaryOp, expr: Box<Expr> },
    /// `a op b`.
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `cond ? a : b`.
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
    /// `~e`
    BitNot,
    /// `*p`: the value a pointer points to.
    Deref,
    /// `&e`: the kernel address of a struct field or of what a pointer points to.
    AddrOf,
}

/// Binary operators, in C's meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`, short-circuit
    And,
    /// `||`, short-circuit
    Or,
}

impl BinaryOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            And => "&&",
            Or => "||",
        }
    }

    /// True for the comparisons, whose result is a boolean.
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
}

/// Calls `f` on every expression of the program, children before their parent.
pub fn for_each_expr_mut(program: &mut Program, f: &mut dyn FnMut(&mut Expr)) {
    for p in &mut program.probes {
        if let Some(e) = &mut p.predicate {
            expr_mut(e, f);
        }
        block_mut(&mut p.body, f);
    }
}

/// Calls `f` on every expression of a block, children before their parent.
pub fn block_mut(b: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    for s in &mut b.stmts {
        match &mut s.kind {
            StmtKind::Expr(e) | StmtKind::AssignVar { value: e, .. } => expr_mut(e, f),
            StmtKind::AssignMap { map, value } => {
                map.keys.iter_mut().for_each(|k| expr_mut(k, f));
                expr_mut(value, f);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                expr_mut(cond, f);
                block_mut(then, f);
                if let Some(o) = otherwise {
                    block_mut(o, f);
                }
            }
            StmtKind::CompoundAssign { target, value, .. } => {
                target_mut(target, f);
                expr_mut(value, f);
            }
            StmtKind::Let { value, .. } => {
                if let Some(v) = value {
                    expr_mut(v, f);
                }
            }
            StmtKind::While { cond, body } => {
                expr_mut(cond, f);
                block_mut(body, f);
            }
            StmtKind::For {
                start, end, body, ..
            } => {
                expr_mut(start, f);
                expr_mut(end, f);
                block_mut(body, f);
            }
            StmtKind::Block(b)
            | StmtKind::Unroll { body: b, .. }
            | StmtKind::ForMap { body: b, .. } => block_mut(b, f),
            StmtKind::Return(Some(e)) => expr_mut(e, f),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
        }
    }
}

fn target_mut(t: &mut Target, f: &mut dyn FnMut(&mut Expr)) {
    if let Target::Map(m) = t {
        m.keys.iter_mut().for_each(|k| expr_mut(k, f));
    }
}

/// Calls `f` on `e` and every expression inside it, children before their parent.
pub fn expr_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    if let ExprKind::Block { block, .. } = &mut e.kind {
        block_mut(block, f);
    }
    for child in e.children_mut() {
        expr_mut(child, f);
    }
    f(e);
}

/// A top-level item of a script, as the grammar reads them.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `config = { ... }`.
    Config(Vec<(Ident, Expr)>),
    /// `let @m = kind(n);`.
    Map(MapDecl),
    /// `macro name(...) { ... }`.
    Macro(Macro),
    /// `struct name { ... }`.
    Struct(StructDecl),
    /// `import "path";`.
    Import(Import),
    /// A probe.
    Probe(Probe),
}
