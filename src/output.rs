//! Printing that a closed stdout or stderr cannot turn into a panic.
//!
//! `println!` panics when stdout is a pipe whose reader has gone
//! (`agentry validate bad.yaml 2>&1 | head -1` exited 101 with a panic). The
//! binary keeps Rust's default of ignoring SIGPIPE, so a child process or a
//! socket that closes early is an error rather than the end of agentry, and
//! prints through [`outln!`], [`out!`], [`errln!`] and [`err!`] instead: a
//! write to a closed stdout or stderr ends the program quietly, the way a
//! program killed by SIGPIPE ends (what `head` and shells expect).

use std::fmt;
use std::io::{self, Write};

/// `println!` on stdout; a closed stdout ends the program quietly.
macro_rules! outln {
    () => {
        $crate::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` on stdout; a closed stdout ends the program quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` on stderr; a closed stderr ends the program quietly.
macro_rules! errln {
    () => {
        $crate::output::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` on stderr; a closed stderr ends the program quietly.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::output::stderr(format_args!($($arg)*))
    };
}

/// Writes `args` to stdout and flushes it.
pub fn stdout(args: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(error) = out.write_fmt(args).and_then(|()| out.flush()) {
        drop(out);
        failed("stdout", &error);
    }
}

/// Writes `args` to stderr.
pub fn stderr(args: fmt::Arguments<'_>) {
    if let Err(error) = io::stderr().lock().write_fmt(args) {
        failed("stderr", &error);
    }
}

/// A write to `stream` failed: a closed pipe ends the program quietly; any
/// other error is said on stderr (if it can be) and ends it with status 1.
fn failed(stream: &str, error: &io::Error) -> ! {
    if is_closed(error) {
        exit_closed();
    }
    let _ = writeln!(io::stderr(), "error: cannot write to {stream}: {error}");
    std::process::exit(1)
}

/// Whether `error` means the reader of our output has gone.
pub fn is_closed(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::BrokenPipe
}

/// Whether any cause in `error`'s chain is a closed pipe.
pub fn is_closed_chain(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(is_closed)
}

/// Ends the program as a write to a closed pipe would have ended it: killed
/// by SIGPIPE on unix (exit status 141 in a shell), status 141 elsewhere.
pub fn exit_closed() -> ! {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE and raising it on
    // this thread ends the process; no Rust state is touched.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(128 + 13)
}
