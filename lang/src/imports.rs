//! `import "file.bt";`: the other files of a script, read through a [`ScriptLoader`] and
//! merged in front of the file that imports them (so an imported `BEGIN` runs first).
//! Each file is read once; a file that imports itself, directly or not, is an error.

use crate::ast::Program;
use crate::diagnostic::Diagnostic;
use crate::parser::parse_at;
use crate::sources::Sources;

/// Where imported files come from.
pub trait ScriptLoader {
    /// The file that `path` names when the file called `importer` imports it: its name,
    /// which identifies it and is shown in diagnostics, and its text.
    fn load(&self, path: &str, importer: &str) -> Result<(String, String), String>;
}

/// No files to import (a script checked on its own).
pub struct NoImports;

impl ScriptLoader for NoImports {
    fn load(&self, _path: &str, _importer: &str) -> Result<(String, String), String> {
        Err("imports are not available here".into())
    }
}

/// Parses the script's main file and every file it imports, adding them to `sources`.
pub fn parse_script(
    sources: &mut Sources,
    loader: &dyn ScriptLoader,
) -> Result<Program, Vec<Diagnostic>> {
    let mut chain = vec![];
    let mut done = vec![sources.file(0).name.clone()];
    parse_file(0, sources, loader, &mut chain, &mut done)
}

/// Parses file `index` and, before it, the files it imports.
fn parse_file(
    index: usize,
    sources: &mut Sources,
    loader: &dyn ScriptLoader,
    chain: &mut Vec<String>,
    done: &mut Vec<String>,
) -> Result<Program, Vec<Diagnostic>> {
    let file = sources.file(index).clone();
    let program = parse_at(&file.text, file.base)?;
    chain.push(file.name.clone());
    let mut merged = Program::default();
    let mut errors = vec![];
    for import in &program.imports {
        match loader.load(&import.path, &file.name) {
            Err(why) => errors.push(
                Diagnostic::error(import.span, format!("cannot import `{}`", import.path))
                    .with_label(why)
                    .with_note("a path is relative to the directory of the file that imports it"),
            ),
            Ok((name, _)) if chain.contains(&name) => {
                let cycle = chain[chain.iter().position(|n| *n == name).expect("in chain")..]
                    .iter()
                    .chain([&name])
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" -> ");
                errors.push(
                    Diagnostic::error(import.span, format!("`{name}` imports itself"))
                        .with_label("this import closes a cycle")
                        .with_note(format!("remove one of the imports: {cycle}")),
                );
            }
            Ok((name, _)) if done.contains(&name) => {}
            Ok((name, text)) => {
                done.push(name.clone());
                let imported = sources.add(name, text);
                match parse_file(imported, sources, loader, chain, done) {
                    Ok(p) => merged.append(p),
                    Err(e) => errors.extend(e),
                }
            }
        }
    }
    chain.pop();
    if !errors.is_empty() {
        return Err(errors);
    }
    merged.append(program);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Files(HashMap<&'static str, &'static str>);

    impl ScriptLoader for Files {
        fn load(&self, path: &str, _importer: &str) -> Result<(String, String), String> {
            self.0
                .get(path)
                .map(|t| (path.to_string(), t.to_string()))
                .ok_or_else(|| "no such file".to_string())
        }
    }

    #[test]
    fn imported_items_come_first_and_each_file_once() {
        let files = Files(HashMap::from([
            (
                "a.bt",
                "import \"b.bt\"; macro one() { 1 } BEGIN { @a = 1; }",
            ),
            ("b.bt", "let @b = hash(2); BEGIN { @b[1] = 2; }"),
        ]));
        let mut sources = Sources::new("main.bt", "import \"a.bt\"; import \"b.bt\"; END { }");
        let p = parse_script(&mut sources, &files).unwrap();
        assert_eq!(sources.files().len(), 3);
        let points: Vec<&str> = p
            .probes
            .iter()
            .map(|p| p.attach_points[0].text.as_str())
            .collect();
        assert_eq!(points, ["BEGIN", "BEGIN", "END"]);
        assert_eq!(p.maps.len(), 1);
        assert_eq!(p.macros.len(), 1);
        // Spans point into the file they come from.
        let b = sources.file(2);
        assert_eq!(b.name, "b.bt");
        assert!(p.probes[0].span.start as usize >= b.base);
    }

    #[test]
    fn cycles_and_missing_files_are_errors() {
        let files = Files(HashMap::from([
            ("a.bt", "import \"main.bt\"; BEGIN { }"),
            ("main.bt", "import \"a.bt\";"),
        ]));
        let mut sources = Sources::new("main.bt", "import \"a.bt\"; import \"nope.bt\";");
        let errors = parse_script(&mut sources, &files).unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            ["`main.bt` imports itself", "cannot import `nope.bt`"]
        );
        assert_eq!(
            errors[0].notes,
            ["remove one of the imports: main.bt -> a.bt -> main.bt"]
        );
    }
}
