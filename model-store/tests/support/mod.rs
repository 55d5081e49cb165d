//! A tiny HTTP/1.1 server on 127.0.0.1 for store tests: fixed routes, a
//! request log, and responses that can be cut mid-body.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// How to answer one path.
#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    /// Announce the full length but close the connection after this many
    /// body bytes.
    pub cut_after: Option<usize>,
}

impl Route {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            cut_after: None,
        }
    }
}

#[derive(Clone, Default)]
pub struct Server {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Server {
            base,
            ..Default::default()
        };
        let shared = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = shared.clone();
                std::thread::spawn(move || s.serve(stream));
            }
        });
        server
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => return,
        });
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            return;
        }
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        self.log.lock().unwrap().push(path.clone());
        let route = self.routes.lock().unwrap().get(&path).cloned();
        let route = route.unwrap_or(Route {
            status: 404,
            body: b"not found".to_vec(),
            cut_after: None,
        });
        let mut stream = stream;
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            route.status,
            route.body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let body = match route.cut_after {
            Some(n) => &route.body[..n.min(route.body.len())],
            None => &route.body[..],
        };
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }
}

/// A wheel (zip) holding `files`.
pub fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Publishes `wheel_bytes` as the only wheel of `package==version`, with a
/// relative download URL (as some mirrors serve).
pub fn publish(server: &Server, package: &str, version: &str, wheel_bytes: &[u8]) {
    let filename = format!("{}-{version}-py3-none-any.whl", package.replace('-', "_"));
    let json = serde_json::json!({
        "info": {"name": package},
        "releases": {
            version: [{
                "packagetype": "bdist_wheel",
                "filename": filename,
                "url": format!("../../files/{filename}"),
                "digests": {"sha256": sha256(wheel_bytes)},
            }]
        }
    });
    server.route(
        &format!("/pypi/{package}/json"),
        Route::ok(serde_json::to_vec(&json).unwrap()),
    );
    server.route(
        &format!("/files/{filename}"),
        Route::ok(wheel_bytes.to_vec()),
    );
}
