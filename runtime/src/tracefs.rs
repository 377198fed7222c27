//! tracefs: where tracepoints are listed. Mounted on demand, as bpftrace does.

use probe_lang::tracepoint::{parse_format, TracepointField, TracepointFormats};
use std::io;
use std::path::{Path, PathBuf};

/// Where tracefs belongs.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Makes sure tracefs is mounted at /sys/kernel/tracing, mounting it there if the
/// directory is empty.
pub fn ensure_mounted() -> io::Result<PathBuf> {
    let root = Path::new(TRACEFS);
    if root.join("events").is_dir() {
        return Ok(root.into());
    }
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let (src, target, fstype) = (c("tracefs"), c(TRACEFS), c("tracefs"));
    // SAFETY: mount(2) with valid strings and no data.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(root.into())
}

/// Tracepoint record layouts read from tracefs (mounted on first use).
pub struct TracefsFormats;

impl TracepointFormats for TracefsFormats {
    fn fields(&self, category: &str, event: &str) -> Result<Vec<TracepointField>, String> {
        let root = ensure_mounted().map_err(|e| format!("cannot mount tracefs: {e}"))?;
        let path = root
            .join("events")
            .join(category)
            .join(event)
            .join("format");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(parse_format(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err("tracepoint not found".into()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn kernel_functions(&self) -> Result<Vec<String>, String> {
        let root = ensure_mounted().map_err(|e| format!("cannot mount tracefs: {e}"))?;
        let path = root.join("available_filter_functions");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut all: Vec<String> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    fn list(&self) -> Result<Vec<(String, String)>, String> {
        let root = ensure_mounted().map_err(|e| format!("cannot mount tracefs: {e}"))?;
        let text =
            std::fs::read_to_string(root.join("available_events")).map_err(|e| e.to_string())?;
        let mut all: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(c, e)| (c.to_string(), e.to_string()))
            .collect();
        all.sort();
        Ok(all)
    }
}
