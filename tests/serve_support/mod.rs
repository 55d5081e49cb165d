//! A running `agentry serve` on a free port, stopped (SIGTERM, then waited for) on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `agentry serve ARGS` on a free port.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Served {
    /// Starts the server on SmolLM2-135M and waits until it prints its address.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Served {
        Self::start_on("smollm2-135m", args, envs)
    }

    /// Starts the server on `model` and waits until it prints its address.
    pub fn start_on(model: &str, args: &[&str], envs: &[(&str, &str)]) -> Served {
        let mut all = vec!["--model", model];
        all.extend_from_slice(args);
        Self::start_with(&all, envs)
    }

    /// Starts the server with `args` and no `--model` of its own (so the model is the
    /// first `--workflow`'s, else the default) and waits until it prints its address.
    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentry"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--threads",
                "2",
                "--ctx",
                "4096",
            ])
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start agentry serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the address line");
        let Some(rest) = line.split("listening on http://").nth(1) else {
            let _ = child.kill();
            panic!("agentry serve did not start: {line:?}");
        };
        let address = rest.split('/').next().unwrap().to_owned();
        Served {
            child,
            base: format!("http://{address}"),
        }
    }

    /// Stops the server with SIGTERM and returns whether it exited cleanly in time.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id() as i32;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
