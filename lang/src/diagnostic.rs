//! Errors about the script, rendered with codespan-reporting: file, line, column, a caret
//! under the span, and a note that says what to do.

use crate::span::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
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

    /// The same diagnostic about a file whose spans start `by` bytes further.
    pub fn shifted(mut self, by: usize) -> Diagnostic {
        let shift = |s: Span| Span::new(s.start as usize + by, s.end as usize + by);
        self.span = shift(self.span);
        for (s, _) in &mut self.related {
            *s = shift(*s);
        }
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
    render_sources(
        diagnostics,
        &crate::sources::Sources::new(file_name, source),
    )
}

/// Renders diagnostics about a script of several files, each label in its own file.
pub fn render_sources(diagnostics: &[Diagnostic], sources: &crate::sources::Sources) -> String {
    let mut files = SimpleFiles::new();
    for f in sources.files() {
        files.add(f.name.as_str(), f.text.as_str());
    }
    let label = |span: Span| {
        let index = sources.index_of(span.start as usize);
        (index, clamp(span, sources.file(index)))
    };
    let config = term::Config::default();
    let mut out = NoColor::new(Vec::new());
    for d in diagnostics {
        let (file, range) = label(d.span);
        let mut labels = vec![Label::primary(file, range).with_message(&d.label)];
        labels.extend(d.related.iter().map(|(s, l)| {
            let (file, range) = label(*s);
            Label::secondary(file, range).with_message(l)
        }));
        let cs = CsDiagnostic::error()
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(d.notes.clone());
        term::emit_to_write_style(&mut out, &config, &files, &cs).expect("render to memory");
    }
    String::from_utf8(out.into_inner()).expect("codespan writes UTF-8")
}

/// Keeps a span inside its file so that rendering never fails; returns the range in it.
fn clamp(span: Span, file: &crate::sources::SourceFile) -> std::ops::Range<usize> {
    let len = file.text.len();
    let end = (span.end as usize).saturating_sub(file.base).min(len);
    let start = (span.start as usize).saturating_sub(file.base).min(end);
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
