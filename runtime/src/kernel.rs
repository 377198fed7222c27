//! What the running kernel supports.

use std::path::Path;

/// True if the kernel can create kprobes (CONFIG_KPROBES).
pub fn kprobes_supported() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || Path::new(crate::tracefs::TRACEFS)
            .join("kprobe_events")
            .exists()
}
