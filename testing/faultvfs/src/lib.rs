//! A fault-injecting SQLite VFS for custdb's reliability tests.
//!
//! It wraps the default (unix) VFS: every file SQLite opens through it
//! (database, WAL, journals) is the real file with a thin layer in front
//! that counts reads, writes, syncs and locks and fails the Nth one (once,
//! or from the Nth on), with `SQLITE_IOERR_*` or, for writes, `SQLITE_FULL`.
//! custdb opens its connections through it with the hidden
//! `Options::vfs(custdb_faultvfs::NAME)`.
//!
//! This crate is test support only: it is never a dependency of the
//! library or of the C library. It holds `unsafe` because a VFS is a C
//! interface; every block says why it is sound.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rusqlite::ffi;

/// The name the VFS is registered under.
pub const NAME: &str = "custdb-faulty";

/// What a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `xRead`.
    Read = 0,
    /// `xWrite`.
    Write = 1,
    /// `xSync`.
    Sync = 2,
    /// `xLock` and `xShmLock`.
    Lock = 3,
}

/// Every kind of operation, for loops over them.
pub const OPS: [Op; 4] = [Op::Read, Op::Write, Op::Sync, Op::Lock];

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The operation that fails.
    pub op: Op,
    /// The first failing call of that operation, counting from 1.
    pub nth: u64,
    /// Every call from the Nth on fails, not only the Nth.
    pub persistent: bool,
    /// A failing write reports a full disk instead of an I/O error.
    pub full: bool,
}

struct State {
    counts: [u64; 4],
    fault: Option<Fault>,
    fired: u64,
}

static STATE: Mutex<State> = Mutex::new(State {
    counts: [0; 4],
    fault: None,
    fired: 0,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sets the fault to inject (or none) and zeroes the counters.
pub fn arm(fault: Option<Fault>) {
    let mut s = state();
    s.counts = [0; 4];
    s.fault = fault;
    s.fired = 0;
}

/// Calls of each operation since the last [`arm`], indexed by [`Op`].
pub fn counts() -> [u64; 4] {
    state().counts
}

/// How many calls failed since the last [`arm`].
pub fn fired() -> u64 {
    state().fired
}

/// How long each `xSync` waits before it syncs, in microseconds: a disk
/// whose flush is slow, for the benchmarks of group commit.
static SYNC_DELAY_US: AtomicU64 = AtomicU64::new(0);

/// Makes every sync through this VFS take `delay` longer (zero: as the
/// disk is). Emulates storage whose flush is slow (a disk without a
/// write cache, network storage), where the sync dominates a commit.
pub fn set_sync_delay(delay: Duration) {
    SYNC_DELAY_US.store(
        u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// Counts a call and says whether it must fail.
fn fails(op: Op) -> Option<Fault> {
    let mut s = state();
    s.counts[op as usize] += 1;
    let n = s.counts[op as usize];
    match s.fault {
        Some(f) if f.op == op && (n == f.nth || (f.persistent && n > f.nth)) => {
            s.fired += 1;
            Some(f)
        }
        _ => None,
    }
}

/// Our file: SQLite's header, then a pointer to the real file, which lives
/// in the same allocation right after [`HEADER`] bytes.
#[repr(C)]
struct FaultFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
}

const HEADER: usize = (std::mem::size_of::<FaultFile>() + 15) & !15;

/// The real file behind one of ours.
///
/// # Safety
///
/// `file` is a file our `x_open` opened successfully.
unsafe fn real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: x_open stored the pointer before installing our methods, and
    // SQLite calls these methods only on such files.
    unsafe { (*file.cast::<FaultFile>()).real }
}

/// The real file's methods.
///
/// # Safety
///
/// As [`real`].
unsafe fn methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    // SAFETY: the parent VFS set pMethods on success and keeps it valid
    // until xClose; its methods table is static in SQLite.
    unsafe { &*(*real(file)).pMethods }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives us szOsFile bytes at `file` (our header plus the
    // parent's file size, see `register`); pAppData is the parent VFS.
    unsafe {
        let parent = (*vfs).pAppData.cast::<ffi::sqlite3_vfs>();
        let inner = file.cast::<u8>().add(HEADER).cast::<ffi::sqlite3_file>();
        // No methods until the real file is open: SQLite then skips xClose
        // if opening fails.
        (*file).pMethods = ptr::null();
        let Some(open) = (*parent).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(parent, name, inner, flags, out_flags);
        if rc == ffi::SQLITE_OK && !(*inner).pMethods.is_null() {
            (*file.cast::<FaultFile>()).real = inner;
            (*file).pMethods = &IO_METHODS;
        }
        rc
    }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: an open file of ours; closed once, as SQLite promises.
    unsafe {
        methods(file)
            .xClose
            .map_or(ffi::SQLITE_OK, |f| f(real(file)))
    }
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    if fails(Op::Read).is_some() {
        return ffi::SQLITE_IOERR_READ;
    }
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file).xRead.map_or(ffi::SQLITE_IOERR_READ, |f| {
            f(real(file), buf, amount, offset)
        })
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    if let Some(f) = fails(Op::Write) {
        return if f.full {
            ffi::SQLITE_FULL
        } else {
            ffi::SQLITE_IOERR_WRITE
        };
    }
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file).xWrite.map_or(ffi::SQLITE_IOERR_WRITE, |f| {
            f(real(file), buf, amount, offset)
        })
    }
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xTruncate
            .map_or(ffi::SQLITE_IOERR_TRUNCATE, |f| f(real(file), size))
    }
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if fails(Op::Sync).is_some() {
        return ffi::SQLITE_IOERR_FSYNC;
    }
    let delay = SYNC_DELAY_US.load(Ordering::Relaxed);
    if delay > 0 {
        std::thread::sleep(Duration::from_micros(delay));
    }
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xSync
            .map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(real(file), flags))
    }
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xFileSize
            .map_or(ffi::SQLITE_IOERR_FSTAT, |f| f(real(file), size))
    }
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    if fails(Op::Lock).is_some() {
        return ffi::SQLITE_IOERR_LOCK;
    }
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xLock
            .map_or(ffi::SQLITE_IOERR_LOCK, |f| f(real(file), level))
    }
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xUnlock
            .map_or(ffi::SQLITE_IOERR_UNLOCK, |f| f(real(file), level))
    }
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xCheckReservedLock
            .map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |f| f(real(file), out))
    }
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xFileControl
            .map_or(ffi::SQLITE_NOTFOUND, |f| f(real(file), op, arg))
    }
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe { methods(file).xSectorSize.map_or(4096, |f| f(real(file))) }
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xDeviceCharacteristics
            .map_or(0, |f| f(real(file)))
    }
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file).xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |f| {
            f(real(file), page, page_size, extend, out)
        })
    }
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    if fails(Op::Lock).is_some() {
        return ffi::SQLITE_IOERR_SHMLOCK;
    }
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xShmLock
            .map_or(ffi::SQLITE_IOERR_SHMLOCK, |f| {
                f(real(file), offset, n, flags)
            })
    }
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        if let Some(f) = methods(file).xShmBarrier {
            f(real(file))
        }
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xShmUnmap
            .map_or(ffi::SQLITE_OK, |f| f(real(file), delete))
    }
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file. No mapping
    // (a NULL *out) makes SQLite read through xRead, where faults apply.
    unsafe {
        match methods(file).xFetch {
            Some(f) => f(real(file), offset, amount, out),
            None => {
                *out = ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    p: *mut c_void,
) -> c_int {
    // SAFETY: forwarded as SQLite called us, to the real file.
    unsafe {
        methods(file)
            .xUnfetch
            .map_or(ffi::SQLITE_OK, |f| f(real(file), offset, p))
    }
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// The VFS structure SQLite keeps a pointer to: leaked on purpose, as SQLite
/// may use it until the process ends.
struct Registered(#[allow(dead_code)] *mut ffi::sqlite3_vfs);
// SAFETY: the pointer is written once, before anyone reads it, and SQLite
// itself serializes VFS registration.
unsafe impl Send for Registered {}
// SAFETY: as above; the structure is never mutated after registration.
unsafe impl Sync for Registered {}

/// Registers the VFS (once per process; not as the default) and returns
/// its name.
pub fn register() -> &'static str {
    static REGISTERED: OnceLock<Registered> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        static NAME_C: &[u8] = b"custdb-faulty\0";
        // SAFETY: sqlite3_vfs_find(NULL) initializes SQLite and returns the
        // default VFS, which lives as long as the process. Our copy keeps
        // its methods (they ignore which VFS structure they are called
        // with, except xOpen, which we replace and forward with the
        // parent); it is leaked so that it outlives every connection.
        unsafe {
            let parent = ffi::sqlite3_vfs_find(ptr::null());
            assert!(!parent.is_null(), "SQLite has a default VFS");
            let mut vfs: ffi::sqlite3_vfs = ptr::read(parent);
            vfs.zName = NAME_C.as_ptr().cast::<c_char>();
            vfs.pNext = ptr::null_mut();
            vfs.szOsFile = HEADER as c_int + (*parent).szOsFile;
            vfs.pAppData = parent.cast::<c_void>();
            vfs.xOpen = Some(x_open);
            let leaked: *mut ffi::sqlite3_vfs = Box::into_raw(Box::new(vfs));
            let rc = ffi::sqlite3_vfs_register(leaked, 0);
            assert_eq!(rc, ffi::SQLITE_OK, "registering the fault VFS");
            Registered(leaked)
        }
    });
    NAME
}
