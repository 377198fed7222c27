//! Tracepoint `args`: the fields of a tracepoint's record, as its tracefs `format` file
//! describes them.

use crate::types::Type;

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointField {
    pub name: String,
    /// Byte offset in the record.
    pub offset: u32,
    /// An integer (pointers are `uint64`), a string for `char name[N]`, or `int8 *` for a
    /// `__data_loc` field.
    pub ty: Type,
    /// A `__data_loc` field: a u32 whose low 16 bits are the offset of the data in the
    /// record (its high 16 bits the length); the field's value is the data's address.
    pub data_loc: bool,
}

/// Where the checker finds tracepoint record layouts (tracefs on a live system).
pub trait TracepointFormats {
    /// The fields of `category:event` without the `common_` header, or why there are none.
    fn fields(&self, category: &str, event: &str) -> Result<Vec<TracepointField>, String>;
    /// Every tracepoint as `(category, event)`, for wildcards in attach points.
    fn list(&self) -> Result<Vec<(String, String)>, String>;

    /// The kernel functions kprobes and fentry can attach to, for wildcards.
    fn kernel_functions(&self) -> Result<Vec<String>, String> {
        Err("the kernel's functions are not available here".into())
    }
}

/// No tracepoint information, for checking without a kernel.
pub struct NoTracepoints;

impl TracepointFormats for NoTracepoints {
    fn fields(&self, _: &str, _: &str) -> Result<Vec<TracepointField>, String> {
        Err("tracepoint formats are not available here".into())
    }

    fn list(&self) -> Result<Vec<(String, String)>, String> {
        Err("the list of tracepoints is not available here".into())
    }
}

/// True if `text` matches `pattern`, where `*` matches any run of characters and `?` any
/// one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer matching with backtracking to the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The C declarations of a tracepoint's own fields (`common_` ones left out) as its
/// format file writes them: `unsigned int fd`, `char * buf`.
pub fn field_declarations(format: &str) -> Vec<String> {
    format
        .lines()
        .filter_map(|l| l.trim().strip_prefix("field:"))
        .filter_map(|rest| rest.split(';').next())
        .map(str::trim)
        .filter(|decl| {
            let name = decl.rsplit([' ', '*']).next().unwrap_or("");
            !name.split('[').next().unwrap_or("").starts_with("common_")
        })
        .map(str::to_string)
        .collect()
}

/// Parses a tracefs `format` file. Fields the language cannot express yet (arrays other
/// than `char[N]`) are left out.
pub fn parse_format(text: &str) -> Vec<TracepointField> {
    let mut out = vec![];
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("field:") else {
            continue;
        };
        let mut decl = "";
        let (mut offset, mut size, mut signed) = (None, None, false);
        for part in rest.split(';').map(str::trim) {
            if let Some(v) = part.strip_prefix("offset:") {
                offset = v.parse::<u32>().ok();
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.parse::<u32>().ok();
            } else if let Some(v) = part.strip_prefix("signed:") {
                signed = v == "1";
            } else if decl.is_empty() {
                decl = part;
            }
        }
        let (Some(offset), Some(size)) = (offset, size) else {
            continue;
        };
        let data_loc = decl.starts_with("__data_loc");
        // `__data_loc char[] name` names the field last; `char name[16]` before the `[`.
        let (decl, array) = match decl.split_once('[') {
            Some((d, _)) if !data_loc => (d.trim(), true),
            _ => (decl, false),
        };
        let Some(name) = decl.rsplit([' ', '*']).next().filter(|n| !n.is_empty()) else {
            continue;
        };
        if name.starts_with("common_") {
            continue;
        }
        let ty = if data_loc {
            Type::Ptr(Box::new(Type::Int {
                bits: 8,
                signed: true,
            }))
        } else if array && decl.contains("char") {
            Type::Str { len: size }
        } else if array {
            // An array of integers: its element width from the declared type.
            let Some(elem) = element_bytes(decl).filter(|b| size % b == 0) else {
                continue;
            };
            Type::Array {
                elem: Box::new(Type::Int {
                    bits: (elem * 8) as u8,
                    signed,
                }),
                len: size / elem,
            }
        } else if matches!(size, 1 | 2 | 4 | 8) {
            Type::Int {
                bits: (size * 8) as u8,
                signed,
            }
        } else {
            continue;
        };
        out.push(TracepointField {
            name: name.to_string(),
            offset,
            ty,
            data_loc,
        });
    }
    out
}

/// The width of the integer type a field declaration starts with (`__u8 saddr`).
fn element_bytes(decl: &str) -> Option<u32> {
    let ty = decl.rsplit_once(' ').map_or(decl, |(t, _)| t);
    match ty.trim_start_matches("unsigned ").trim() {
        "u8" | "__u8" | "s8" | "__s8" | "u_char" | "uint8_t" | "int8_t" => Some(1),
        "u16" | "__u16" | "s16" | "__s16" | "short" | "uint16_t" | "int16_t" | "__be16"
        | "__le16" => Some(2),
        "u32" | "__u32" | "s32" | "__s32" | "int" | "uint32_t" | "int32_t" | "__be32"
        | "__le32" => Some(4),
        "u64" | "__u64" | "s64" | "__s64" | "long" | "uint64_t" | "int64_t" | "__be64"
        | "__le64" => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("sys_enter_*", "sys_enter_read"));
        assert!(glob_match("*", ""));
        assert!(glob_match("sys_*_read", "sys_enter_read"));
        assert!(glob_match("sys_enter_read?", "sys_enter_readv"));
        assert!(!glob_match("sys_enter_read?", "sys_enter_read"));
        assert!(!glob_match("sys_exit_*", "sys_enter_read"));
        assert!(glob_match("*get*pid", "sys_enter_getppid"));
    }

    #[test]
    fn declarations_leave_out_the_common_fields() {
        let text = "format:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:char * buf;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;\n";
        assert_eq!(
            field_declarations(text),
            ["unsigned int fd", "char * buf", "char comm[16]"]
        );
    }

    #[test]
    fn reads_a_format_file() {
        let text = "name: sched_switch\nID: 372\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:const char * filename;\toffset:32;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;\n\nprint fmt: \"...\"\n";
        assert_eq!(
            parse_format(text),
            vec![
                TracepointField {
                    name: "prev_comm".into(),
                    offset: 8,
                    ty: Type::Str { len: 16 },
                    data_loc: false,
                },
                TracepointField {
                    name: "prev_pid".into(),
                    offset: 24,
                    ty: Type::Int {
                        bits: 32,
                        signed: true
                    },
                    data_loc: false,
                },
                TracepointField {
                    name: "filename".into(),
                    offset: 32,
                    ty: Type::Int {
                        bits: 64,
                        signed: false
                    },
                    data_loc: false,
                },
                TracepointField {
                    name: "name".into(),
                    offset: 40,
                    ty: Type::Ptr(Box::new(Type::Int {
                        bits: 8,
                        signed: true
                    })),
                    data_loc: true,
                },
            ]
        );
    }
}
