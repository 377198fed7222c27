//! C struct definitions in a script's preamble (`struct S { int a; char name[16]; }`):
//! parsed and laid out as C does on x86-64 (each field at its natural alignment, the size
//! rounded to the largest), so that casts and `->` can use them like kernel structs.

use crate::ast::StructDecl;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::structs::{StructDef, StructField, StructTypes};
use crate::types::Type;

/// Struct layouts: the script's own first, then the kernel's.
pub struct ScriptStructs<'a> {
    pub defined: Vec<StructDef>,
    pub kernel: &'a dyn StructTypes,
}

impl StructTypes for ScriptStructs<'_> {
    fn lookup(&self, name: &str) -> Result<Option<StructDef>, String> {
        match self.defined.iter().find(|s| s.name == name) {
            Some(s) => Ok(Some(s.clone())),
            None => self.kernel.lookup(name),
        }
    }

    fn function(&self, name: &str) -> Result<Option<crate::structs::FunctionProto>, String> {
        self.kernel.function(name)
    }
}

/// Lays out every struct the script defines, each able to use those before it and the
/// kernel's.
pub fn define<'a>(
    decls: &[StructDecl],
    kernel: &'a dyn StructTypes,
) -> Result<ScriptStructs<'a>, Vec<Diagnostic>> {
    let mut structs = ScriptStructs {
        defined: vec![],
        kernel,
    };
    let mut errors = vec![];
    for d in decls {
        match layout(d, &structs) {
            Ok(def) => structs.defined.push(def),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(structs)
    } else {
        Err(errors)
    }
}

/// One word or punctuation mark of the definition, with its byte range in the script.
#[derive(Clone, Debug, PartialEq)]
struct Word {
    text: String,
    span: Span,
}

/// Splits the definition into words, numbers and punctuation, skipping comments.
fn words(decl: &StructDecl) -> Vec<Word> {
    let text = &decl.text;
    let base = decl.span.start as usize;
    let mut out = vec![];
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '/' && text[i..].starts_with("//") {
            while chars.next_if(|&(_, c)| c != '\n').is_some() {}
            continue;
        }
        if c == '/' && text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(text.len(), |e| i + 2 + e + 2);
            while chars.next_if(|&(j, _)| j < end).is_some() {}
            continue;
        }
        let mut end = i + c.len_utf8();
        if c.is_ascii_alphanumeric() || c == '_' {
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_ascii_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
        }
        out.push(Word {
            text: text[i..end].to_string(),
            span: Span::new(base + i, base + end),
        });
    }
    out
}

/// A field's type before arrays: its probe type (or why it cannot be read), size and
/// alignment.
struct Base {
    ty: Result<Type, String>,
    size: u32,
    align: u32,
}

fn int(bits: u8, signed: bool) -> Base {
    Base {
        ty: Ok(Type::Int { bits, signed }),
        size: u32::from(bits) / 8,
        align: u32::from(bits) / 8,
    }
}

/// Integer types spelled as one name (`u32`, `uint64_t`, `size_t`, ...).
fn named_int(name: &str) -> Option<Base> {
    Some(match name {
        "u8" | "__u8" | "uint8_t" | "uint8" => int(8, false),
        "s8" | "__s8" | "int8_t" | "int8" => int(8, true),
        "u16" | "__u16" | "uint16_t" | "uint16" => int(16, false),
        "s16" | "__s16" | "int16_t" | "int16" => int(16, true),
        "u32" | "__u32" | "uint32_t" | "uint32" => int(32, false),
        "s32" | "__s32" | "int32_t" | "int32" | "pid_t" => int(32, true),
        "u64" | "__u64" | "uint64_t" | "uint64" | "size_t" => int(64, false),
        "s64" | "__s64" | "int64_t" | "int64" | "ssize_t" => int(64, true),
        "bool" | "_Bool" => Base {
            ty: Ok(Type::Bool),
            size: 1,
            align: 1,
        },
        _ => return None,
    })
}

/// Reads the definition's words.
struct Parser<'w> {
    words: &'w [Word],
    at: usize,
    /// Where the definition ends, for errors at its end.
    end: Span,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.words.get(self.at).map(|w| w.text.as_str())
    }

    fn span(&self) -> Span {
        self.words.get(self.at).map_or(self.end, |w| w.span)
    }

    fn next(&mut self) -> Option<&Word> {
        let w = self.words.get(self.at);
        self.at += 1;
        w
    }

    fn expect(&mut self, text: &str, what: &str) -> Result<Span, Diagnostic> {
        match self.words.get(self.at) {
            Some(w) if w.text == text => {
                self.at += 1;
                Ok(w.span)
            }
            _ => Err(Diagnostic::error(self.span(), format!("expected `{text}`"))
                .with_label(what.to_string())
                .with_note("fields are written as in C: `int count; char name[16];`")),
        }
    }

    fn name(&mut self, what: &str) -> Result<Word, Diagnostic> {
        match self.words.get(self.at) {
            Some(w)
                if w.text
                    .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') =>
            {
                self.at += 1;
                Ok(w.clone())
            }
            _ => Err(Diagnostic::error(self.span(), format!("expected {what}"))
                .with_label("here")
                .with_note("fields are written as in C: `int count; char name[16];`")),
        }
    }
}

/// The type specifier of a field: `unsigned long`, `u32`, `struct other`, ...
fn base_type(p: &mut Parser, structs: &dyn StructTypes) -> Result<(Base, Span), Diagnostic> {
    let start = p.span();
    while matches!(p.peek(), Some("const" | "volatile")) {
        p.next();
    }
    if let Some(kind @ ("struct" | "union" | "enum")) = p.peek() {
        let kind = kind.to_string();
        p.next();
        let name = p.name(&format!("a {kind} name"))?;
        let span = start.to(name.span);
        if kind == "enum" {
            return Ok((int(32, false), span));
        }
        // By value, the struct must be known now; behind a pointer it need not be.
        let base = match structs.lookup(&name.text) {
            Ok(Some(def)) => Base {
                ty: Ok(Type::Struct(name.text.clone())),
                size: def.size,
                align: def.size.clamp(1, 8).next_power_of_two().min(8),
            },
            _ => Base {
                ty: Ok(Type::Struct(name.text.clone())),
                size: 0,
                align: 1,
            },
        };
        return Ok((base, span));
    }
    if p.peek() == Some("void") {
        let w = p.next().expect("peeked");
        return Ok((
            Base {
                ty: Err("a void value".into()),
                size: 0,
                align: 1,
            },
            w.span,
        ));
    }
    let mut signed = None;
    let mut words = vec![];
    let mut end = start;
    while let Some(w) = p.peek() {
        match w {
            "signed" | "unsigned" => signed = Some(w == "signed"),
            "char" | "short" | "int" | "long" => words.push(w.to_string()),
            _ => break,
        }
        end = p.next().expect("peeked").span;
    }
    if signed.is_none() && words.is_empty() {
        let w = p.name("a type")?;
        return match named_int(&w.text) {
            Some(b) => Ok((b, w.span)),
            None => Err(
                Diagnostic::error(w.span, format!("unknown type `{}`", w.text))
                    .with_label("not a C type probe knows")
                    .with_note(
                        "use char, short, int, long (signed or unsigned), u8...u64, \
                     uint8_t...uint64_t, bool, pointers, or struct types",
                    ),
            ),
        };
    }
    let signed = signed.unwrap_or(true);
    let longs = words.iter().filter(|w| *w == "long").count();
    let bits = if words.iter().any(|w| w == "char") {
        8
    } else if words.iter().any(|w| w == "short") {
        16
    } else if longs > 0 {
        64
    } else {
        32
    };
    Ok((int(bits, signed), start.to(end)))
}

/// Lays out one definition.
fn layout(decl: &StructDecl, structs: &dyn StructTypes) -> Result<StructDef, Diagnostic> {
    let words = words(decl);
    let end = Span::new(decl.span.end as usize - 1, decl.span.end as usize);
    let mut p = Parser {
        words: &words,
        at: 0,
        end,
    };
    p.expect("struct", "a definition starts with `struct`")?;
    let name = p.name("the struct's name")?;
    p.expect("{", "the fields follow in braces")?;
    let mut fields: Vec<StructField> = vec![];
    let mut offset = 0u32;
    let mut max_align = 1;
    while p.peek() != Some("}") {
        if p.peek().is_none() {
            return Err(Diagnostic::error(end, "unclosed struct definition")
                .with_label("expected `}`")
                .with_note("close the struct with `}`"));
        }
        let (base, base_span) = base_type(&mut p, structs)?;
        loop {
            let mut pointer = false;
            while p.peek() == Some("*") {
                p.next();
                pointer = true;
            }
            let field = p.name("a field name")?;
            let mut count = None;
            if p.peek() == Some("[") {
                p.next();
                let at = p.span();
                let n = p.next().cloned();
                let n = n
                    .as_ref()
                    .and_then(|w| w.text.parse::<u32>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        Diagnostic::error(at, "expected an array length")
                            .with_label("a positive number")
                            .with_note("arrays have a fixed length: `char name[16];`")
                    })?;
                p.expect("]", "the array length ends with `]`")?;
                count = Some(n);
            }
            let (ty, size, align) = if pointer {
                let to = match &base.ty {
                    Ok(t @ (Type::Struct(_) | Type::Int { .. })) => t.clone(),
                    _ => Type::U64,
                };
                (Ok(Type::Ptr(Box::new(to))), 8, 8)
            } else {
                if let (Ok(Type::Struct(s)), 0) = (&base.ty, base.size) {
                    return Err(
                        Diagnostic::error(base_span, format!("unknown struct `{s}`"))
                            .with_label("its size is needed here")
                            .with_note("define it above this struct, or use a pointer to it"),
                    );
                }
                (base.ty.clone(), base.size, base.align)
            };
            let (ty, size) = match count {
                None => (ty, size),
                Some(n) => match ty {
                    Ok(Type::Int { bits: 8, .. }) => (Ok(Type::Str { len: n }), n),
                    _ => (Err("an array other than char[N]".into()), size * n),
                },
            };
            if size == 0 {
                return Err(Diagnostic::error(base_span, "a field without a size")
                    .with_label("`void` is only a pointer's target")
                    .with_note("write `void *field;`"));
            }
            if fields.iter().any(|f| f.name == field.text) {
                return Err(Diagnostic::error(
                    field.span,
                    format!("duplicate field `{}`", field.text),
                )
                .with_label("defined twice in this struct")
                .with_note("give each field its own name"));
            }
            offset = offset.div_ceil(align) * align;
            fields.push(StructField {
                name: field.text.clone(),
                offset,
                ty,
            });
            offset += size;
            max_align = max_align.max(align);
            if p.peek() == Some(",") {
                p.next();
                continue;
            }
            break;
        }
        p.expect(";", "each field ends with `;`")?;
    }
    p.next();
    if let Some(w) = p.words.get(p.at) {
        return Err(
            Diagnostic::error(w.span, "unexpected text after the struct")
                .with_label("after the closing `}`")
                .with_note("a definition ends with `}` (or `};`)"),
        );
    }
    Ok(StructDef {
        name: name.text,
        size: offset.div_ceil(max_align) * max_align,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structs::NoStructTypes;

    fn lay(text: &str) -> Result<StructDef, Diagnostic> {
        let decl = StructDecl {
            text: text.into(),
            span: Span::new(0, text.len()),
        };
        layout(&decl, &NoStructTypes)
    }

    #[test]
    fn fields_take_their_natural_alignment() {
        let s = lay(
            "struct S { char c; int i; char *p; short a, b; char name[5]; unsigned long long x; }",
        )
        .unwrap();
        let offsets: Vec<(&str, u32)> = s
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(
            offsets,
            [
                ("c", 0),
                ("i", 4),
                ("p", 8),
                ("a", 16),
                ("b", 18),
                ("name", 20),
                ("x", 32)
            ]
        );
        assert_eq!(s.size, 40);
        assert_eq!(s.fields[5].ty, Ok(Type::Str { len: 5 }));
        assert_eq!(
            s.fields[1].ty,
            Ok(Type::Int {
                bits: 32,
                signed: true
            })
        );
    }

    #[test]
    fn the_size_rounds_up_to_the_widest_alignment() {
        assert_eq!(lay("struct T { u64 a; u8 b; }").unwrap().size, 16);
        assert_eq!(lay("struct T { u16 a; u8 b; } ").unwrap().size, 4);
        assert_eq!(lay("struct T { /* c */ u8 b; // x\n }").unwrap().size, 1);
    }

    #[test]
    fn errors_point_at_the_field() {
        let e = lay("struct S { float f; }").unwrap_err();
        assert_eq!(e.message, "unknown type `float`");
        assert_eq!(e.span, Span::new(11, 16));
        assert_eq!(
            lay("struct S { int a }").unwrap_err().message,
            "expected `;`"
        );
        assert_eq!(
            lay("struct S { int a; int a; }").unwrap_err().message,
            "duplicate field `a`"
        );
        assert_eq!(
            lay("struct S { struct Q q; }").unwrap_err().message,
            "unknown struct `Q`"
        );
    }
}
