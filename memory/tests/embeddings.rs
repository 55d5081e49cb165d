//! The real embedder (all-MiniLM-L6-v2 from the model store) is sane.

mod common;

use agentry_memory::Embedder;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test]
async fn a_paraphrase_ranks_above_an_unrelated_sentence() {
    let e = common::embedder().await;
    let texts = [
        "The cat sits on the mat".to_string(),
        "A cat is sitting on a rug".to_string(),
        "Quarterly revenue grew 5%".to_string(),
    ];
    let v = e.embed(&texts).await.expect("embed");
    assert_eq!(v.len(), 3);
    let para = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(para > 0.6, "paraphrase similarity {para}");
    assert!(unrelated < 0.2, "unrelated similarity {unrelated}");
    assert!(para > unrelated + 0.4);
}

#[tokio::test]
async fn vectors_are_384_dimensional_unit_length_and_batch_invariant() {
    let e = common::embedder().await;
    assert_eq!(e.dimension(), 384);
    let one = e
        .embed_one("Vectors are normalised.")
        .await
        .expect("embed one");
    assert_eq!(one.len(), 384);
    let norm = one.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
    let batch: Vec<String> = (0..40).map(|i| format!("sentence number {i}")).collect();
    let many = e.embed(&batch).await.expect("embed batch");
    assert_eq!(many.len(), 40);
    let alone = e
        .embed_one("sentence number 37")
        .await
        .expect("embed alone");
    assert!(
        cosine(&many[37], &alone) > 0.999,
        "same text, same vector regardless of batch"
    );
    assert!(e.embed(&[]).await.expect("empty batch").is_empty());
}

#[tokio::test]
async fn a_missing_model_directory_is_an_error_naming_the_file() {
    let e = common::embedder().await; // ONNX Runtime is loaded once per process
    let _ = e;
    let dir = tempfile::tempdir().expect("tempdir");
    let err =
        agentry_memory::FastEmbedder::from_files(dir.path(), "/nonexistent/libonnxruntime.so")
            .await
            .expect_err("no model there");
    assert!(err.to_string().contains("model.onnx"), "{err}");
}
