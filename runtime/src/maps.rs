//! Reading BPF maps from userspace.

use libbpf_sys as sys;
use std::io;
use std::os::fd::RawFd;

/// A key with its value, once per CPU for per-CPU maps (once for the others).
pub type Entry = (Vec<u8>, Vec<Vec<u8>>);

/// How values are laid out in a lookup buffer: the bytes per value (8-aligned per CPU for
/// per-CPU maps) and how many values there are.
fn value_layout(value_size: u32, percpu: bool) -> (usize, usize) {
    if percpu {
        (
            value_size.div_ceil(8) as usize * 8,
            crate::libbpf::possible_cpus(),
        )
    } else {
        (value_size as usize, 1)
    }
}

/// Every key of a map.
pub fn keys(map_fd: RawFd, key_size: u32) -> io::Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = vec![];
    let mut next = vec![0u8; key_size as usize];
    loop {
        let prev = out.last().map_or(std::ptr::null(), |k| k.as_ptr().cast());
        // SAFETY: key buffers have the map's key size.
        let rc = unsafe { sys::bpf_map_get_next_key(map_fd, prev, next.as_mut_ptr().cast()) };
        if rc < 0 {
            if -rc == libc::ENOENT {
                return Ok(out);
            }
            return Err(io::Error::from_raw_os_error(-rc));
        }
        out.push(next.clone());
    }
}

/// Every key of a map with its value; per-CPU maps give one value per possible CPU.
pub fn entries(
    map_fd: RawFd,
    key_size: u32,
    value_size: u32,
    percpu: bool,
) -> io::Result<Vec<Entry>> {
    let (stride, cpus) = value_layout(value_size, percpu);
    let mut out = vec![];
    for key in keys(map_fd, key_size)? {
        let mut value = vec![0u8; stride * cpus];
        // SAFETY: the value buffer holds a value per CPU at the kernel's stride.
        let rc = unsafe {
            sys::bpf_map_lookup_elem(map_fd, key.as_ptr().cast(), value.as_mut_ptr().cast())
        };
        if rc < 0 {
            // Deleted between the two calls.
            continue;
        }
        let values = value
            .chunks(stride)
            .map(|c| c[..value_size as usize].to_vec())
            .collect();
        out.push((key, values));
    }
    Ok(out)
}

/// Sets the value of `key` (which need not exist yet in a hash, and exists in an array).
pub fn update(map_fd: RawFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    // SAFETY: key and value buffers of the map's sizes.
    let rc =
        unsafe { sys::bpf_map_update_elem(map_fd, key.as_ptr().cast(), value.as_ptr().cast(), 0) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok(())
}

/// The value of one key, if present (`value_len` bytes).
pub fn lookup(map_fd: RawFd, key: &[u8], value_len: usize) -> io::Result<Option<Vec<u8>>> {
    let mut value = vec![0u8; value_len];
    // SAFETY: buffers of the map's key and value sizes.
    let rc =
        unsafe { sys::bpf_map_lookup_elem(map_fd, key.as_ptr().cast(), value.as_mut_ptr().cast()) };
    match rc {
        0 => Ok(Some(value)),
        rc if -rc == libc::ENOENT => Ok(None),
        rc => Err(io::Error::from_raw_os_error(-rc)),
    }
}

/// Deletes every element.
pub fn clear(map_fd: RawFd, key_size: u32) -> io::Result<()> {
    for key in keys(map_fd, key_size)? {
        // SAFETY: a key of the map's key size.
        unsafe { sys::bpf_map_delete_elem(map_fd, key.as_ptr().cast()) };
    }
    Ok(())
}

/// Writes each 64-bit value at its byte offset of the value of key 0 of a per-CPU array,
/// on every CPU (the rest of the value is zeroed).
pub fn set_on_every_cpu(map_fd: RawFd, value_size: u32, words: &[(usize, u64)]) -> io::Result<()> {
    let (stride, cpus) = value_layout(value_size, true);
    let mut values = vec![0u8; stride * cpus];
    for cpu in 0..cpus {
        for &(at, word) in words {
            values[cpu * stride + at..cpu * stride + at + 8].copy_from_slice(&word.to_ne_bytes());
        }
    }
    let key = 0u32.to_ne_bytes();
    // SAFETY: key and value buffers of the map's sizes.
    let rc =
        unsafe { sys::bpf_map_update_elem(map_fd, key.as_ptr().cast(), values.as_ptr().cast(), 0) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok(())
}

/// Sets every value to zero, keeping the keys (on every CPU for per-CPU maps).
pub fn zero(map_fd: RawFd, key_size: u32, value_size: u32, percpu: bool) -> io::Result<()> {
    let (stride, cpus) = value_layout(value_size, percpu);
    let zeros = vec![0u8; stride * cpus];
    for key in keys(map_fd, key_size)? {
        // SAFETY: key and value buffers of the map's sizes.
        let rc = unsafe {
            sys::bpf_map_update_elem(map_fd, key.as_ptr().cast(), zeros.as_ptr().cast(), 0)
        };
        if rc < 0 && -rc != libc::ENOENT {
            return Err(io::Error::from_raw_os_error(-rc));
        }
    }
    Ok(())
}
