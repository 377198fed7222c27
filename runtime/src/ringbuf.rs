//! The BPF ring buffer that carries events to userspace.

use libbpf_sys as sys;
use std::io;
use std::os::fd::RawFd;

type Callback = Box<dyn FnMut(&[u8])>;

/// A ring buffer reader calling a closure for each record.
pub struct RingBuffer {
    rb: *mut sys::ring_buffer,
    _callback: Box<Callback>,
}

unsafe extern "C" fn on_record(
    ctx: *mut libc::c_void,
    data: *mut libc::c_void,
    size: sys::size_t,
) -> libc::c_int {
    // SAFETY: ctx is the boxed callback registered in `new`, alive as long as the ring
    // buffer; data points to `size` readable bytes for the duration of the call.
    unsafe {
        let cb = &mut *(ctx as *mut Callback);
        cb(std::slice::from_raw_parts(data as *const u8, size as usize));
    }
    0
}

impl RingBuffer {
    /// Reads the ring buffer map `map_fd`, handing each record to `callback`.
    pub fn new(map_fd: RawFd, callback: impl FnMut(&[u8]) + 'static) -> io::Result<RingBuffer> {
        let mut cb: Box<Callback> = Box::new(Box::new(callback));
        let ctx = &mut *cb as *mut Callback as *mut libc::c_void;
        // SAFETY: the callback box outlives the ring buffer (both dropped together).
        let rb = unsafe { sys::ring_buffer__new(map_fd, Some(on_record), ctx, std::ptr::null()) };
        if rb.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(RingBuffer { rb, _callback: cb })
    }

    /// Waits up to `timeout_ms` for records and handles them; an interrupted wait is not an
    /// error.
    pub fn poll(&mut self, timeout_ms: i32) -> io::Result<usize> {
        // SAFETY: a valid ring buffer.
        let n = unsafe { sys::ring_buffer__poll(self.rb, timeout_ms) };
        match n {
            n if n >= 0 => Ok(n as usize),
            n if -n == libc::EINTR => Ok(0),
            n => Err(io::Error::from_raw_os_error(-n)),
        }
    }

    /// Handles every record available now, without waiting.
    pub fn consume(&mut self) -> io::Result<usize> {
        // SAFETY: a valid ring buffer.
        let n = unsafe { sys::ring_buffer__consume(self.rb) };
        if n < 0 {
            return Err(io::Error::from_raw_os_error(-n));
        }
        Ok(n as usize)
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { sys::ring_buffer__free(self.rb) };
    }
}
