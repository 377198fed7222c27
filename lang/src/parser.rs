//! `parse`: lexes and parses a script, turning the grammar's errors into diagnostics that
//! say what was found and what was expected in the script's own words.

use crate::ast::Program;
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Tok};
use crate::span::Span;
use lalrpop_util::{lalrpop_mod, ParseError};

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused)]
    grammar
);

/// Parses a whole script.
pub fn parse(source: &str) -> Result<Program, Vec<Diagnostic>> {
    parse_at(source, 0)
}

/// Parses one file of a script, its spans starting at `base` (see `Sources`).
pub fn parse_at(source: &str, base: usize) -> Result<Program, Vec<Diagnostic>> {
    let tokens: Vec<_> = lexer::lex(source)
        .map_err(|d| vec![d.shifted(base)])?
        .into_iter()
        .map(|(l, t, r)| (l + base, t, r + base))
        .collect();
    let opens: Vec<usize> = tokens
        .iter()
        .filter(|(_, t, _)| *t == Tok::LBrace)
        .map(|(l, _, _)| *l)
        .collect();
    let mut recovered = vec![];
    let result = grammar::ProgramParser::new()
        .parse(&mut recovered, tokens.into_iter().map(Ok::<_, Diagnostic>));
    let mut errors: Vec<Diagnostic> = recovered
        .into_iter()
        .map(|r| convert(r.error, source, base, &opens))
        .collect();
    match result {
        Ok(program) if errors.is_empty() => Ok(program),
        Ok(_) => {
            errors.sort_by_key(|d| (d.span.start, d.span.end));
            Err(errors)
        }
        Err(e) => {
            errors.push(convert(e, source, base, &opens));
            errors.sort_by_key(|d| (d.span.start, d.span.end));
            errors.dedup();
            Err(errors)
        }
    }
}

/// How a terminal of the grammar is spelled for the user.
fn spell(terminal: &str) -> String {
    let t = terminal.trim_matches('"');
    match t {
        "attach point" => "an attach point".into(),
        "predicate /" => "a predicate `/.../`".into(),
        "/ predicate" => "`/`".into(),
        "identifier" => "a name".into(),
        "type" => "a type".into(),
        "positional parameter" => "a positional parameter".into(),
        "map" => "a map".into(),
        "variable" => "a variable".into(),
        "integer" => "an integer".into(),
        "string" => "a string".into(),
        other => format!("`{other}`"),
    }
}

/// Says what the parser expected: "an expression" when any expression could start here,
/// else the list of tokens.
fn expected_text(expected: &[String]) -> String {
    let starts_expr = ["\"integer\"", "\"identifier\"", "\"(\""]
        .iter()
        .all(|t| expected.iter().any(|e| e == t));
    if starts_expr && expected.len() > 6 {
        return if expected.iter().any(|e| e == "\"}\"") {
            "expected a statement or `}`".into()
        } else {
            "expected an expression".into()
        };
    }
    const OPERATORS: [&str; 19] = [
        "?", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", "<=", ">", ">=",
        "&&", "||",
    ];
    let is_operator = |e: &String| OPERATORS.contains(&e.trim_matches('"'));
    let mut words: Vec<String> = expected
        .iter()
        .filter(|e| !is_operator(e))
        .map(|e| spell(e))
        .collect();
    if expected.iter().filter(|e| is_operator(e)).count() > 3 {
        words.push("an operator".into());
    }
    words.dedup();
    match words.len() {
        0 => "not expected here".into(),
        1 => format!("expected {}", words[0]),
        _ => {
            let last = words.pop().expect("two or more");
            format!("expected {} or {last}", words.join(", "))
        }
    }
}

fn convert(
    e: ParseError<usize, Tok, Diagnostic>,
    source: &str,
    base: usize,
    opens: &[usize],
) -> Diagnostic {
    match e {
        ParseError::User { error } => error,
        ParseError::InvalidToken { location } => {
            Diagnostic::error(Span::new(location, location + 1), "invalid token")
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let location = location.saturating_sub(base);
            let at = source.trim_end().len().max(location.min(source.len()));
            let at = at.min(source.len());
            let mut d = Diagnostic::error(
                Span::new(base + at.saturating_sub(1), base + at),
                "unexpected end of input",
            )
            .with_label(expected_text(&expected));
            if expected.iter().any(|e| e == "\"}\"") {
                if let Some(open) = opens.last() {
                    d = d.with_related(Span::new(*open, *open + 1), "this block is not closed");
                }
                d = d.with_note("close every block with `}` (or `>` for a block opened with `<`)");
            }
            d
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let mut d =
                Diagnostic::error(Span::new(l, r), format!("unexpected {}", tok.describe()))
                    .with_label(expected_text(&expected));
            let starts_statement =
                matches!(tok, Tok::Map(_) | Tok::Var(_) | Tok::Ident(_) | Tok::If);
            if expected.iter().any(|e| e == "\";\"") && starts_statement {
                d = d.with_note("separate statements with `;`");
            }
            let expects = |t: &str| expected.iter().any(|e| e.trim_matches('"') == t);
            if tok == Tok::RBrace && expects("let") && !expects("}") {
                d = d.with_note(
                    "a block used as a value ends with the value, without `;`: `{ let $a = 1; $a }`",
                );
            }
            if tok == Tok::Gt && expected.iter().any(|e| e == "\"}\"") {
                d = d.with_note("`>` closes only a block opened with `<`; close this one with `}`");
            }
            d
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::error(Span::new(l, r), format!("unexpected {}", tok.describe()))
                .with_label("nothing more was expected here")
        }
    }
}
