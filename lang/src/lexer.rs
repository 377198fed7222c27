//! The lexer: logos for the tokens of the expression language, and a contextual layer on
//! top that knows where it is in a script (attach points, predicate, action block) so that
//! attach points are read raw and `<` ... `>` can delimit an action block.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use logos::Logos;

/// A token the grammar consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// An attach point as written: `tracepoint:syscalls:sys_enter_read`, `BEGIN`.
    AttachPoint(String),
    /// The `/` that opens a predicate.
    PredOpen,
    /// The `/` that closes a predicate.
    PredClose,
    /// `{`, or the `<` that opens an action block.
    LBrace,
    /// A `{` where an expression is expected: it opens a block expression.
    LBraceExpr,
    /// `}`, or the `>` that closes an action block.
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Question,
    Colon,
    Assign,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Shl,
    Shr,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Tilde,
    If,
    Else,
    While,
    Break,
    Continue,
    Return,
    Let,
    True,
    False,
    PlusPlus,
    MinusMinus,
    /// `+=`, `-=`, ... with the operator's token (`Tok::Plus` for `+=`).
    OpAssign(Box<Tok>),
    /// A name: a builtin or a function.
    Ident(String),
    /// A type name: `int8` ... `uint64`, `bool`, or `struct name`.
    TypeName(String),
    /// `unroll`.
    Unroll,
    /// `sizeof`.
    Sizeof,
    /// `offsetof`.
    Offsetof,
    /// `macro`.
    Macro,
    /// `import`.
    Import,
    /// `config`.
    Config,
    /// `for`.
    For,
    /// `.`
    Dot,
    /// `->`
    Arrow,
    /// `..` in `for ($i : a..b)`.
    DotDot,
    /// `@name` (the name without `@`; empty for `@`).
    Map(String),
    /// `$name` (the name without `$`).
    Var(String),
    /// `$1`, `$2`, ...
    Positional(u32),
    /// `$#`.
    ParamCount,
    Int(u64),
    /// A string literal, escapes decoded.
    Str(String),
    /// A C struct definition of the preamble, as written (`struct S { int a; }`).
    StructDef(String),
}

impl Tok {
    /// The operator of a compound assignment (`Tok::Plus` for `+=`).
    pub fn compound_op(&self) -> crate::ast::BinaryOp {
        use crate::ast::BinaryOp;
        match self {
            Tok::Plus => BinaryOp::Add,
            Tok::Minus => BinaryOp::Sub,
            Tok::Star => BinaryOp::Mul,
            Tok::Slash => BinaryOp::Div,
            Tok::Percent => BinaryOp::Mod,
            Tok::Amp => BinaryOp::BitAnd,
            Tok::Pipe => BinaryOp::BitOr,
            Tok::Caret => BinaryOp::BitXor,
            Tok::Shl => BinaryOp::Shl,
            _ => BinaryOp::Shr,
        }
    }

    /// The token as the user wrote it (or a description, for names and literals).
    pub fn describe(&self) -> String {
        let fixed = match self {
            Tok::AttachPoint(t) => return format!("attach point `{t}`"),
            Tok::Ident(n) | Tok::TypeName(n) => return format!("`{n}`"),
            Tok::Unroll => "unroll",
            Tok::Sizeof => "sizeof",
            Tok::Offsetof => "offsetof",
            Tok::Macro => "macro",
            Tok::Import => "import",
            Tok::Config => "config",
            Tok::For => "for",
            Tok::Dot => ".",
            Tok::Arrow => "->",
            Tok::DotDot => "..",
            Tok::Map(n) => return format!("`@{n}`"),
            Tok::Var(n) => return format!("`${n}`"),
            Tok::Positional(n) => return format!("`${n}`"),
            Tok::ParamCount => "$#",
            Tok::Int(v) => return format!("`{v}`"),
            Tok::Str(_) => return "string literal".into(),
            Tok::StructDef(_) => return "struct definition".into(),
            Tok::PredOpen | Tok::PredClose | Tok::Slash => "/",
            Tok::LBrace | Tok::LBraceExpr => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Question => "?",
            Tok::Colon => ":",
            Tok::Assign => "=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Caret => "^",
            Tok::Shl => "<<",
            Tok::Shr => ">>",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Tilde => "~",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::While => "while",
            Tok::Break => "break",
            Tok::Continue => "continue",
            Tok::Return => "return",
            Tok::Let => "let",
            Tok::True => "true",
            Tok::False => "false",
            Tok::PlusPlus => "++",
            Tok::MinusMinus => "--",
            Tok::OpAssign(op) => return format!("`{}=`", op.describe().trim_matches('`')),
        };
        format!("`{fixed}`")
    }
}

/// The raw tokens of the expression language.
#[derive(Logos, Clone, Debug, PartialEq)]
enum Raw {
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token("?")]
    Question,
    #[token(":")]
    Colon,
    #[token("=")]
    Assign,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
    #[token("~")]
    Tilde,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("let")]
    Let,
    #[token("unroll")]
    Unroll,
    #[token("sizeof")]
    Sizeof,
    #[token("macro")]
    Macro,
    #[token("import")]
    Import,
    #[token("config")]
    Config,
    #[regex("u?int(8|16|32|64)|bool", priority = 10)]
    TypeName,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    #[regex(r"(\+|-|\*|/|%|&|\||\^|<<|>>)=")]
    OpAssign,
    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex("@[A-Za-z0-9_]*")]
    Map,
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*")]
    Var,
    #[regex(r"\$[0-9]+")]
    Positional,
    #[token("$#")]
    ParamCount,
    #[regex("[0-9][0-9A-Za-z_]*")]
    Int,
    #[token("\"")]
    Quote,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("for")]
    For,
    #[token("->")]
    Arrow,
}

/// Where the lexer is in the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Expecting an attach point (or the end of input).
    AttachPoint,
    /// After an attach point: `,`, a predicate or the block.
    AfterAttachPoint,
    /// Inside `/.../`, with the depth of open parentheses.
    Predicate(u32),
    /// After the predicate: the block.
    AfterPredicate,
    /// Inside an action block.
    Block,
    /// Inside a top-level `let @map = kind(size);` (up to its `;`) or `macro name(...) {...}`
    /// (up to its closing brace).
    Declaration,
}

/// How an open block was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opener {
    Brace,
    Angle,
}

/// A token with its byte offsets.
pub type Spanned = (usize, Tok, usize);

/// Lexes a whole script.
pub fn lex(src: &str) -> Result<Vec<Spanned>, Diagnostic> {
    Lexer {
        src,
        pos: 0,
        mode: Mode::AttachPoint,
        blocks: vec![],
        decl_depth: 0,
        out: vec![],
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    mode: Mode,
    blocks: Vec<(Opener, usize)>,
    /// Braces open inside a top-level declaration.
    decl_depth: u32,
    out: Vec<Spanned>,
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Spanned>, Diagnostic> {
        if self.src.starts_with("#!") {
            self.pos = self.src.find('\n').unwrap_or(self.src.len());
        }
        loop {
            self.skip_trivia()?;
            if self.pos >= self.src.len() {
                return Ok(self.out);
            }
            match self.mode {
                Mode::AttachPoint if self.src[self.pos..].starts_with("#include") => {
                    // C headers are not read; type information comes from BTF.
                    self.pos = self.src[self.pos..]
                        .find('\n')
                        .map_or(self.src.len(), |n| self.pos + n);
                }
                Mode::AttachPoint
                    if ["let", "macro", "config", "import"].iter().any(|w| {
                        self.src[self.pos..].starts_with(w)
                            && self.src[self.pos + w.len()..]
                                .starts_with(|c: char| c.is_whitespace())
                    }) =>
                {
                    self.decl_depth = 0;
                    self.mode = Mode::Declaration;
                    self.token()?;
                }
                Mode::AttachPoint
                    if self.src[self.pos..].starts_with("struct")
                        && self.src[self.pos + 6..].starts_with(|c: char| c.is_whitespace()) =>
                {
                    self.struct_definition()?;
                }
                Mode::AttachPoint => self.attach_point()?,
                Mode::AfterAttachPoint | Mode::AfterPredicate => {
                    let c = self.src.as_bytes()[self.pos];
                    match c {
                        b',' if self.mode == Mode::AfterAttachPoint => {
                            self.push(self.pos, Tok::Comma, self.pos + 1);
                            self.mode = Mode::AttachPoint;
                        }
                        b'/' if self.mode == Mode::AfterAttachPoint => {
                            self.push(self.pos, Tok::PredOpen, self.pos + 1);
                            self.mode = Mode::Predicate(0);
                        }
                        b'{' | b'<' => {
                            let opener = if c == b'{' {
                                Opener::Brace
                            } else {
                                Opener::Angle
                            };
                            self.blocks.push((opener, self.pos));
                            self.push(self.pos, Tok::LBrace, self.pos + 1);
                            self.mode = Mode::Block;
                        }
                        _ => {
                            let word = self.src[self.pos..]
                                .find(|c: char| !(c.is_alphanumeric() || c == '_'));
                            let end = match word {
                                Some(0) | None if self.pos < self.src.len() => {
                                    self.char_end(self.pos)
                                }
                                Some(n) => self.pos + n,
                                None => self.src.len(),
                            };
                            let what = if self.mode == Mode::AfterAttachPoint {
                                "expected `,`, a predicate `/.../` or an action block `{ ... }` after the attach point"
                            } else {
                                "expected an action block `{ ... }` after the predicate"
                            };
                            return Err(Diagnostic::error(
                                Span::new(self.pos, end),
                                format!("unexpected `{}`", &self.src[self.pos..end]),
                            )
                            .with_label(what)
                            .with_note(
                                "a probe is written `kind:target /predicate/ { statements }`",
                            ));
                        }
                    }
                    self.pos += 1;
                }
                Mode::Predicate(_) | Mode::Block | Mode::Declaration => self.token()?,
            }
        }
    }

    /// True after a token that an expression must follow (`=`, `(`, `,`, an operator): a
    /// `{` there opens a block expression, not a nested block statement.
    fn expression_expected(&self) -> bool {
        matches!(
            self.out.last(),
            Some((
                _,
                Tok::Assign
                    | Tok::OpAssign(_)
                    | Tok::LParen
                    | Tok::LBracket
                    | Tok::Comma
                    | Tok::Question
                    | Tok::Colon
                    | Tok::Plus
                    | Tok::Minus
                    | Tok::Star
                    | Tok::Slash
                    | Tok::Percent
                    | Tok::Amp
                    | Tok::Pipe
                    | Tok::Caret
                    | Tok::Shl
                    | Tok::Shr
                    | Tok::EqEq
                    | Tok::Ne
                    | Tok::Lt
                    | Tok::Le
                    | Tok::Gt
                    | Tok::Ge
                    | Tok::AndAnd
                    | Tok::OrOr
                    | Tok::Bang
                    | Tok::Tilde,
                _
            ))
        )
    }

    fn push(&mut self, start: usize, tok: Tok, end: usize) {
        self.out.push((start, tok, end));
    }

    fn char_end(&self, at: usize) -> usize {
        at + self.src[at..].chars().next().map_or(1, char::len_utf8)
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), Diagnostic> {
        let b = self.src.as_bytes();
        loop {
            while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if b[self.pos..].starts_with(b"//") {
                self.pos = self.src[self.pos..]
                    .find('\n')
                    .map_or(b.len(), |n| self.pos + n);
            } else if b[self.pos..].starts_with(b"/*") {
                match self.src[self.pos + 2..].find("*/") {
                    Some(n) => self.pos += n + 4,
                    None => {
                        return Err(Diagnostic::error(
                            Span::new(self.pos, self.pos + 2),
                            "unterminated comment",
                        )
                        .with_label("this comment is never closed")
                        .with_note("close it with `*/`"))
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    fn attach_point(&mut self) -> Result<(), Diagnostic> {
        let start = self.pos;
        let b = self.src.as_bytes();
        let mut end = start;
        while end < b.len() && !b[end].is_ascii_whitespace() && !matches!(b[end], b',' | b'{') {
            end += 1;
        }
        if end == start || !(b[start].is_ascii_alphabetic() || b[start] == b'_') {
            let e = self.char_end(start);
            if b[start] == b'}' {
                return Err(Diagnostic::error(Span::new(start, e), "unexpected `}`")
                    .with_label("no block is open here")
                    .with_note("remove it, or check that every `{` before it is closed once"));
            }
            return Err(Diagnostic::error(Span::new(start, e), format!("unexpected `{}`", &self.src[start..e]))
                .with_label("expected an attach point")
                .with_note("a probe starts with where it attaches, e.g. `tracepoint:syscalls:sys_enter_read` or `BEGIN`"));
        }
        let text = &self.src[start..end];
        let word = &text[..text
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len())];
        if NOT_YET_KEYWORDS.contains(&word) {
            return Err(not_supported_yet(
                Span::new(start, start + word.len()),
                &format!("`{word}`"),
            ));
        }
        self.push(start, Tok::AttachPoint(text.to_string()), end);
        self.pos = end;
        self.mode = Mode::AfterAttachPoint;
        Ok(())
    }

    /// A C struct definition in the preamble, `struct name { ... }` with an optional `;`:
    /// one token holding its text, which `cstruct` parses.
    fn struct_definition(&mut self) -> Result<(), Diagnostic> {
        let start = self.pos;
        let Some(open) = self.src[start..].find(['{', ';']).map(|i| start + i) else {
            return Err(
                Diagnostic::error(Span::new(start, start + 6), "a struct without a body")
                    .with_label("expected `{` and the fields")
                    .with_note("define it as in C: `struct name { int field; }`"),
            );
        };
        if self.src.as_bytes()[open] == b';' {
            return Err(
                Diagnostic::error(Span::new(start, open + 1), "a struct without a body")
                    .with_label("a declaration only")
                    .with_note("kernel structs need no declaration: they come from BTF"),
            );
        }
        let mut depth = 0;
        let mut end = None;
        for (i, c) in self.src[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(mut end) = end else {
            return Err(
                Diagnostic::error(Span::new(open, open + 1), "unclosed struct definition")
                    .with_label("this `{` is never closed")
                    .with_note("close the struct with `}`"),
            );
        };
        let text = self.src[start..end].to_string();
        let rest = &self.src[end..];
        let after = rest.len() - rest.trim_start().len();
        if rest.trim_start().starts_with(';') {
            end += after + 1;
        }
        self.push(start, Tok::StructDef(text), end);
        self.pos = end;
        Ok(())
    }

    /// `struct name` in an expression (`(struct task_struct *)p`, `sizeof(struct x)`): one
    /// type-name token `struct name`.
    fn struct_type(&mut self, start: usize, keyword_end: usize) -> Result<(), Diagnostic> {
        let after = &self.src[keyword_end..];
        let name_start = keyword_end + (after.len() - after.trim_start().len());
        let name_len = self.src[name_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.src.len() - name_start);
        let name = &self.src[name_start..name_start + name_len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Diagnostic::error(
                Span::new(start, keyword_end),
                "`struct` without a name",
            )
            .with_label("expected a struct name after this")
            .with_note("name the kernel struct: `(struct task_struct *)ptr`"));
        }
        let end = name_start + name_len;
        self.push(start, Tok::TypeName(format!("struct {name}")), end);
        self.pos = end;
        Ok(())
    }

    /// True if nothing but whitespace and comments follows `at`.
    fn only_trivia_after(&self, at: usize) -> bool {
        let mut probe = Lexer {
            src: self.src,
            pos: at,
            mode: self.mode,
            blocks: vec![],
            decl_depth: 0,
            out: vec![],
        };
        probe.skip_trivia().is_ok() && probe.pos >= self.src.len()
    }

    fn token(&mut self) -> Result<(), Diagnostic> {
        let rest = &self.src[self.pos..];
        let mut lx = Raw::lexer(rest);
        let start = self.pos;
        let Some(raw) = lx.next() else { return Ok(()) };
        let end = start + lx.span().end;
        let text = &rest[..lx.span().end];
        let raw = match raw {
            Ok(r) => r,
            Err(()) => {
                let e = self.char_end(start);
                return Err(Diagnostic::error(
                    Span::new(start, e),
                    format!("unexpected character `{}`", &self.src[start..e]),
                )
                .with_label("not part of any token"));
            }
        };
        let tok = match raw {
            Raw::Quote => return self.string(start),
            Raw::LBrace if self.mode == Mode::Declaration => {
                self.decl_depth += 1;
                Tok::LBrace
            }
            Raw::RBrace if self.mode == Mode::Declaration => {
                self.decl_depth = self.decl_depth.saturating_sub(1);
                if self.decl_depth == 0 {
                    self.mode = Mode::AttachPoint;
                }
                Tok::RBrace
            }
            Raw::Dot => Tok::Dot,
            Raw::Arrow => Tok::Arrow,
            Raw::Ident if text == "struct" => return self.struct_type(start, end),
            Raw::Ident if text == "offsetof" => Tok::Offsetof,
            Raw::Ident if NOT_YET_KEYWORDS.contains(&text) => {
                return Err(not_supported_yet(Span::new(start, end), &format!("`{text}`")))
            }
            Raw::LBrace if self.mode == Mode::Block => {
                self.blocks.push((Opener::Brace, start));
                if self.expression_expected() {
                    Tok::LBraceExpr
                } else {
                    Tok::LBrace
                }
            }
            Raw::RBrace if self.mode == Mode::Block => match self.blocks.last() {
                Some((Opener::Brace, _)) => {
                    self.blocks.pop();
                    if self.blocks.is_empty() {
                        self.mode = Mode::AttachPoint;
                    }
                    Tok::RBrace
                }
                Some((Opener::Angle, open)) => {
                    return Err(Diagnostic::error(Span::new(start, end), "unexpected `}`")
                        .with_label("this block was opened with `<`")
                        .with_related(Span::new(*open, *open + 1), "opened here")
                        .with_note("close a block opened with `<` with `>`"));
                }
                None => unreachable!("Block mode has an open block"),
            },
            Raw::Gt if self.closes_angle_block(end) => {
                self.blocks.pop();
                if self.blocks.is_empty() {
                    self.mode = Mode::AttachPoint;
                }
                Tok::RBrace
            }
            Raw::Slash => match self.mode {
                Mode::Predicate(0) => {
                    self.pos = end;
                    self.push(start, Tok::PredClose, end);
                    self.mode = Mode::AfterPredicate;
                    return Ok(());
                }
                _ => Tok::Slash,
            },
            Raw::LParen => {
                if let Mode::Predicate(d) = self.mode {
                    self.mode = Mode::Predicate(d + 1);
                }
                Tok::LParen
            }
            Raw::RParen => {
                if let Mode::Predicate(d) = self.mode {
                    self.mode = Mode::Predicate(d.saturating_sub(1));
                }
                Tok::RParen
            }
            Raw::LBrace => Tok::LBrace,
            Raw::RBrace => Tok::RBrace,
            Raw::LBracket => Tok::LBracket,
            Raw::RBracket => Tok::RBracket,
            Raw::Comma => Tok::Comma,
            Raw::Semi => {
                if self.mode == Mode::Declaration && self.decl_depth == 0 {
                    self.mode = Mode::AttachPoint;
                }
                Tok::Semi
            }
            Raw::Question => Tok::Question,
            Raw::Colon => Tok::Colon,
            Raw::Assign => Tok::Assign,
            Raw::Plus => Tok::Plus,
            Raw::Minus => Tok::Minus,
            Raw::Star => Tok::Star,
            Raw::Percent => Tok::Percent,
            Raw::Amp => Tok::Amp,
            Raw::Pipe => Tok::Pipe,
            Raw::Caret => Tok::Caret,
            Raw::Shl => Tok::Shl,
            Raw::Shr => Tok::Shr,
            Raw::EqEq => Tok::EqEq,
            Raw::Ne => Tok::Ne,
            Raw::Lt => Tok::Lt,
            Raw::Le => Tok::Le,
            Raw::Gt => Tok::Gt,
            Raw::Ge => Tok::Ge,
            Raw::AndAnd => Tok::AndAnd,
            Raw::OrOr => Tok::OrOr,
            Raw::Bang => Tok::Bang,
            Raw::Tilde => Tok::Tilde,
            Raw::If => Tok::If,
            Raw::Else => Tok::Else,
            Raw::While => Tok::While,
            Raw::Break => Tok::Break,
            Raw::Continue => Tok::Continue,
            Raw::Return => Tok::Return,
            Raw::Let => Tok::Let,
            Raw::Unroll => Tok::Unroll,
            Raw::Sizeof => Tok::Sizeof,
            Raw::Macro => Tok::Macro,
            Raw::Import => Tok::Import,
            Raw::Config => Tok::Config,
            Raw::For => Tok::For,
            Raw::DotDot => Tok::DotDot,
            Raw::TypeName => Tok::TypeName(text.to_string()),
            Raw::True => Tok::True,
            Raw::False => Tok::False,
            Raw::PlusPlus => Tok::PlusPlus,
            Raw::MinusMinus => Tok::MinusMinus,
            Raw::OpAssign => Tok::OpAssign(Box::new(match &text[..text.len() - 1] {
                "+" => Tok::Plus,
                "-" => Tok::Minus,
                "*" => Tok::Star,
                "/" => Tok::Slash,
                "%" => Tok::Percent,
                "&" => Tok::Amp,
                "|" => Tok::Pipe,
                "^" => Tok::Caret,
                "<<" => Tok::Shl,
                _ => Tok::Shr,
            })),
            Raw::Ident => Tok::Ident(text.to_string()),
            Raw::Map => Tok::Map(text[1..].to_string()),
            Raw::Var => Tok::Var(text[1..].to_string()),
            Raw::ParamCount => Tok::ParamCount,
            Raw::Positional => Tok::Positional(text[1..].parse().map_err(|_| {
                Diagnostic::error(Span::new(start, end), format!("invalid positional parameter `{text}`"))
                    .with_label("too large")
            })?),
            Raw::Int => Tok::Int(parse_int(text).ok_or_else(|| {
                Diagnostic::error(Span::new(start, end), format!("invalid integer `{text}`"))
                    .with_label("not an integer that fits in 64 bits")
                    .with_note("integers are decimal `42`, hex `0x2a`, octal `052`, with optional `_`, a C suffix (`u`, `ul`, ...), an exponent `4e2` or a duration (`ns`, `us`, `ms`, `s`)")
            })?),
        };
        self.push(start, tok, end);
        self.pos = end;
        Ok(())
    }

    /// A `>` closes an action block opened with `<` where a statement may begin (at the
    /// start of the block, after `;`, after a `}`) or as the last token of the input.
    fn closes_angle_block(&self, end: usize) -> bool {
        if self.mode != Mode::Block || !matches!(self.blocks.last(), Some((Opener::Angle, _))) {
            return false;
        }
        let at_statement_start = matches!(
            self.out.last(),
            Some((_, Tok::LBrace | Tok::Semi | Tok::RBrace, _))
        );
        at_statement_start || self.only_trivia_after(end)
    }

    fn string(&mut self, start: usize) -> Result<(), Diagnostic> {
        let mut value = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            let at = start + 1 + i;
            match c {
                '"' => {
                    self.push(start, Tok::Str(value), at + 1);
                    self.pos = at + 1;
                    return Ok(());
                }
                '\n' => break,
                '\\' => {
                    let (_, e) = chars.next().ok_or_else(|| unterminated(start))?;
                    value.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '"' => '"',
                        '\\' => '\\',
                        'x' => {
                            let hex: String = chars.clone().take(2).map(|(_, c)| c).collect();
                            let v = (hex.len() == 2)
                                .then(|| u8::from_str_radix(&hex, 16).ok())
                                .flatten()
                                .ok_or_else(|| {
                                    Diagnostic::error(
                                        Span::new(at, at + 2 + hex.len()),
                                        "invalid escape `\\x`",
                                    )
                                    .with_label("expected two hex digits")
                                    .with_note("write a byte as `\\x41`")
                                })?;
                            chars.nth(1);
                            char::from(v)
                        }
                        '0'..='7' => {
                            let mut v = e.to_digit(8).expect("octal digit");
                            for _ in 0..2 {
                                match chars.clone().next() {
                                    Some((_, d @ '0'..='7')) => {
                                        v = v * 8 + d.to_digit(8).expect("octal digit");
                                        chars.next();
                                    }
                                    _ => break,
                                }
                            }
                            char::from(v as u8)
                        }
                        other => {
                            let len = other.len_utf8();
                            return Err(Diagnostic::error(
                                Span::new(at, at + 1 + len),
                                format!("unknown escape `\\{other}`"),
                            )
                            .with_label("not an escape sequence")
                            .with_note(
                                "escapes are \\n \\t \\r \\\" \\\\, \\xNN and octal \\NNN",
                            ));
                        }
                    });
                }
                c => value.push(c),
            }
        }
        Err(unterminated(start))
    }
}

/// Words of bpftrace's language that probe does not implement yet.
const NOT_YET_KEYWORDS: [&str; 5] = ["config", "struct", "union", "enum", "typeof"];

/// The error for a construct of bpftrace's language that probe does not implement yet.
pub fn not_supported_yet(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(span, format!("{what} is not supported yet"))
        .with_label("not supported yet")
        .with_note("the README's Language section lists what probe supports today")
}

fn unterminated(start: usize) -> Diagnostic {
    Diagnostic::error(Span::new(start, start + 1), "unterminated string")
        .with_label("this string is never closed")
        .with_note("close it with `\"` on the same line")
}

/// Integer literals: decimal, hex `0x1f`, octal `017`, `_` separators, C suffixes
/// (`u`, `l`, `ul`, `ll`, `ull`), scientific `2e3`, and durations (`ns`, `us`, `ms`, `s`,
/// in nanoseconds).
fn parse_int(text: &str) -> Option<u64> {
    let t = text.replace('_', "");
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex.trim_end_matches(['u', 'U', 'l', 'L']), 16).ok();
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    let value: u64 = if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(digits, 8).ok()?
    } else {
        digits.parse().ok()?
    };
    let scale: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" | "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu" => 1,
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        e if e.starts_with('e') => 10u64.checked_pow(e[1..].parse().ok()?)?,
        _ => return None,
    };
    value.checked_mul(scale)
}
