//! A program for uprobe tests: `probe-test-target N [MS]` calls `probe_target_add(i, 10)`
//! for `i` in `0..N` (waiting MS milliseconds before each call), then
//! `probe_target_greet("hello")`; they are not inlined, so that uprobes on them fire a
//! known number of times with known arguments.

use std::ffi::{c_char, CStr};
use std::hint::black_box;

/// Adds its arguments.
#[no_mangle]
#[inline(never)]
pub extern "C" fn probe_target_add(a: u64, b: u64) -> u64 {
    black_box(a) + black_box(b)
}

/// Returns the length of a C string.
#[no_mangle]
#[inline(never)]
pub extern "C" fn probe_target_greet(name: *const c_char) -> u64 {
    // SAFETY: callers pass a NUL-terminated string.
    unsafe { CStr::from_ptr(black_box(name)) }.to_bytes().len() as u64
}

fn main() {
    let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse::<u64>().ok());
    let (n, pause) = (arg(1).unwrap_or(1), arg(2).unwrap_or(0));
    let mut sum = 0;
    for i in 0..n {
        std::thread::sleep(std::time::Duration::from_millis(pause));
        sum += probe_target_add(i, 10);
    }
    let greeting = c"hello";
    sum += probe_target_greet(greeting.as_ptr());
    // Nothing printed: the tests compare the tracer's output alone.
    black_box(sum);
}
