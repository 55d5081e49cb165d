//! A real MCP server over HTTPS for the TLS tests: the official Python SDK's streamable
//! HTTP app served by uvicorn (`tools/tests/fixtures/tls_server.py`, run by the venv of
//! `scripts/install-mcp-servers.sh`) with a certificate from a private CA the fixture
//! makes. Its one tool is `add(a, b)`. Shared by `tools/tests` and, through `#[path]`, by
//! the binary's tests; needs the `mcp_servers` module beside it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::mcp_servers;

/// The running fixture, killed on drop.
pub struct HttpsMcpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl HttpsMcpServer {
    /// Starts the fixture and waits until it accepts connections.
    pub fn start() -> Self {
        let python = mcp_servers::python_with("mcp, uvicorn, cryptography");
        let dir = tempfile::tempdir().expect("tempdir");
        // The fixture travels in the test binary: this file is included from two crates.
        let script = dir.path().join("tls_server.py");
        std::fs::write(&script, include_str!("../fixtures/tls_server.py")).expect("write");
        let log = dir.path().join("server.log");
        let mut child = Command::new(python)
            .arg(&script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a log file"))
            .spawn()
            .expect("the fixture starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the fixture prints its port");
        let printed = |line: &str| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("the fixture printed {line:?}, not `listening PORT`; its stderr:\n{log}")
        };
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{}", printed(&line)));
        Self { child, port, dir }
    }

    /// Its endpoint, `https://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/mcp", self.port)
    }

    /// The PEM file of the CA that signed its certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Drop for HttpsMcpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
