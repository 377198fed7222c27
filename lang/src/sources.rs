//! The files of one script: the file given on the command line and the files it imports.
//! Each file has its own range of byte offsets, so a span says which file it is in.

/// One file of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// As shown in diagnostics: the path given, or `stdin` for `-e`.
    pub name: String,
    pub text: String,
    /// The offset of the file's first byte in spans.
    pub base: usize,
}

/// Every file of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// A script of one file.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Sources {
        Sources {
            files: vec![SourceFile {
                name: name.into(),
                text: text.into(),
                base: 0,
            }],
        }
    }

    /// Adds a file after the others; returns its index.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        let last = self.files.last().expect("a script has a file");
        let base = last.base + last.text.len() + 1;
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
            base,
        });
        self.files.len() - 1
    }

    /// File number `index` (0 is the main file).
    pub fn file(&self, index: usize) -> &SourceFile {
        &self.files[index]
    }

    /// Every file, the main one first.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The index of the file that holds byte offset `at`.
    pub fn index_of(&self, at: usize) -> usize {
        self.files.iter().rposition(|f| f.base <= at).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_has_its_own_offsets() {
        let mut s = Sources::new("main.bt", "abc");
        let lib = s.add("lib.bt", "defg");
        assert_eq!(s.file(lib).base, 4);
        assert_eq!(s.index_of(2), 0);
        assert_eq!(s.index_of(3), 0);
        assert_eq!(s.index_of(4), 1);
        assert_eq!(s.index_of(100), 1);
    }
}
