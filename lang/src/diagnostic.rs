//! Errors about the script, rendered with codespan-reporting: file, line, column, a caret
//! under the span, and a note that says what to do.

use crate::span::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor};

/// One error about the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The headline: what is wrong.
    pub message: String,
    /// Where it is wrong.
    pub span: Span,
    /// Text shown under the caret.
    pub label: String,
    /// Other places that explain the error (an earlier use, a declaration).
    pub related: Vec<(Span, String)>,
    /// What the user can do about it.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span` with the headline `message` and no label.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            label: String::new(),
            related: vec![],
            notes: vec![],
        }
    }

    /// Sets the text under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds another place, with what it shows.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    /// Adds a note telling the user what to do.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}

/// Renders diagnostics as plain text, the way the CLI prints them.
pub fn render(diagnostics: &[Diagnostic], file_name: &str, source: &str) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut out = NoColor::new(Vec::new());
    for d in diagnostics {
        let mut labels = vec![Label::primary((), clamp(d.span, source)).with_message(&d.label)];
        labels.extend(
            d.related
                .iter()
                .map(|(s, l)| Label::secondary((), clamp(*s, source)).with_message(l)),
        );
        let cs = CsDiagnostic::error()
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(d.notes.clone());
        term::emit_to_write_style(&mut out, &config, &file, &cs).expect("render to memory");
    }
    String::from_utf8(out.into_inner()).expect("codespan writes UTF-8")
}

/// Keeps a span inside the source so that rendering never fails.
fn clamp(span: Span, source: &str) -> std::ops::Range<usize> {
    let end = (span.end as usize).min(source.len());
    let start = (span.start as usize).min(end);
    start..end
}

/// Up to five of `candidates` that look like a misspelling of `name`: within a few edits
/// of it, or starting with it; closest first.
pub fn similar_names<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = name.len() / 3 + 1;
    let mut found: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let d = edit_distance(name, c);
            (d <= limit || c.starts_with(name)).then_some((d, c))
        })
        .collect();
    found.sort();
    found.dedup();
    found.into_iter().take(5).map(|(_, c)| c).collect()
}

/// Levenshtein distance between `a` and `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_names_are_close_or_extend_the_name() {
        let fields = [
            "pid",
            "tgid",
            "pid_links",
            "comm",
            "faults_disabled_mapping",
        ];
        assert_eq!(
            similar_names("pi", fields.into_iter()),
            ["pid", "pid_links"]
        );
        assert_eq!(similar_names("tgdi", fields.into_iter()), ["tgid"]);
        assert!(similar_names("zzzz", fields.into_iter()).is_empty());
    }
}
