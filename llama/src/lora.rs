//! Whether a LoRA adapter's GGUF fits its base model, checked on the two headers with the
//! rules llama.cpp applies when it loads an adapter (`llama_adapter_lora_init`). llama.cpp
//! only answers that loading failed; this check says why, before it is asked.

use super::gguf::{GgufInfo, TensorInfo};

/// Checks that `adapter` is a LoRA adapter for `base`: `general.type` is `adapter`,
/// `adapter.type` is `lora`, the architecture is the model's, and every `NAME.lora_a` has
/// its `NAME.lora_b`, `NAME` is a tensor of the model and the pair's shapes fit it
/// (`lora_a` is `[in, rank]`, `lora_b` `[rank, out]` for a model tensor of `[in, out]`, in
/// ggml's order, fastest dimension first; for `token_embd.weight`, `lora_a` is
/// `[rank, out]` and `lora_b` `[rank, in]`).
///
/// # Errors
/// The first misfit, said for people.
pub(crate) fn check_fit(adapter: &GgufInfo, base: &GgufInfo) -> Result<(), String> {
    let text = |key: &str| {
        adapter
            .metadata
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
    };
    match text("general.type") {
        "adapter" => {}
        "" => return Err("it has no `general.type`; a LoRA adapter has `adapter`".into()),
        other => {
            return Err(format!(
                "its `general.type` is `{other}`, not `adapter`: it is not a LoRA adapter"
            ));
        }
    }
    match text("adapter.type") {
        "lora" => {}
        other => {
            return Err(format!(
                "its `adapter.type` is `{other}`, not `lora`: it is not a LoRA adapter"
            ));
        }
    }
    if adapter.architecture != base.architecture {
        return Err(format!(
            "it is for the architecture `{}`, the model is `{}`",
            adapter.architecture, base.architecture
        ));
    }
    let mut pairs: Vec<(&str, Option<&TensorInfo>, Option<&TensorInfo>)> = Vec::new();
    for tensor in &adapter.tensors {
        let (target, is_a) = if let Some(target) = tensor.name.strip_suffix(".lora_a") {
            (target, true)
        } else if let Some(target) = tensor.name.strip_suffix(".lora_b") {
            (target, false)
        } else if tensor.name.ends_with("_norm.weight") {
            // llama.cpp skips norm vectors.
            continue;
        } else {
            return Err(format!(
                "its tensor `{}` is neither a `.lora_a` nor a `.lora_b`",
                tensor.name
            ));
        };
        let at = match pairs.iter().position(|(name, _, _)| *name == target) {
            Some(at) => at,
            None => {
                pairs.push((target, None, None));
                pairs.len() - 1
            }
        };
        if is_a {
            pairs[at].1 = Some(tensor);
        } else {
            pairs[at].2 = Some(tensor);
        }
    }
    for (target, a, b) in pairs {
        let (Some(a), Some(b)) = (a, b) else {
            let missing = if a.is_none() { "lora_a" } else { "lora_b" };
            return Err(format!("`{target}` has no `{target}.{missing}`"));
        };
        let Some(model_tensor) = base.tensors.iter().find(|t| t.name == target) else {
            return Err(format!(
                "`{target}` is not a tensor of the model (is the adapter for another model?)"
            ));
        };
        let ne = |t: &TensorInfo, i: usize| t.dims.get(i).copied().unwrap_or(1);
        let (want_a, want_b) = if target.ends_with("token_embd.weight") {
            // The embedding's pair is flipped (llama.cpp's llm_build_inp_embd).
            (
                format!("[r, {}]", ne(model_tensor, 1)),
                format!("[r, {}]", ne(model_tensor, 0)),
            )
        } else {
            (
                format!("[{}, r]", ne(model_tensor, 0)),
                format!("[r, {}]", ne(model_tensor, 1)),
            )
        };
        let fits = if target.ends_with("token_embd.weight") {
            // llama.cpp does not compare the ranks here, and ggml aborts on a mismatch.
            ne(model_tensor, 0) == ne(b, 1)
                && ne(model_tensor, 1) == ne(a, 1)
                && ne(a, 0) == ne(b, 0)
        } else {
            ne(model_tensor, 0) == ne(a, 0)
                && ne(model_tensor, 1) == ne(b, 1)
                && ne(a, 1) == ne(b, 0)
        };
        if !fits {
            return Err(format!(
                "the shapes of `{target}`'s pair do not fit the model: lora_a is {:?} and \
                 lora_b {:?}, the model's tensor is {:?}, so lora_a must be {want_a} and \
                 lora_b {want_b} (ggml order, rank r)",
                a.dims, b.dims, model_tensor.dims
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::gguf::MetaValue;

    fn tensor(name: &str, dims: &[u64]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dims: dims.to_vec(),
            ggml_type: 0,
            offset: 0,
        }
    }

    fn info(architecture: &str, metadata: &[(&str, &str)], tensors: Vec<TensorInfo>) -> GgufInfo {
        GgufInfo {
            path: "x.gguf".into(),
            file_size: 0,
            version: 3,
            architecture: architecture.into(),
            name: None,
            parameters: 0,
            tensor_bytes: 0,
            file_type: None,
            layers: None,
            embedding_size: None,
            heads: None,
            kv_heads: None,
            key_length: None,
            value_length: None,
            context_length: None,
            vocab_size: None,
            has_chat_template: false,
            tensors,
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), MetaValue::String(v.to_string())))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn base() -> GgufInfo {
        info(
            "llama",
            &[("general.type", "model")],
            vec![
                tensor("token_embd.weight", &[64, 1000]),
                tensor("blk.0.ffn_down.weight", &[256, 64]),
                tensor("blk.0.attn_norm.weight", &[64]),
            ],
        )
    }

    fn lora(architecture: &str, tensors: Vec<TensorInfo>) -> GgufInfo {
        info(
            architecture,
            &[("general.type", "adapter"), ("adapter.type", "lora")],
            tensors,
        )
    }

    #[test]
    fn a_fitting_adapter_passes() {
        let adapter = lora(
            "llama",
            vec![
                tensor("blk.0.ffn_down.weight.lora_a", &[256, 4]),
                tensor("blk.0.ffn_down.weight.lora_b", &[4, 64]),
                tensor("token_embd.weight.lora_a", &[4, 1000]),
                tensor("token_embd.weight.lora_b", &[4, 64]),
                tensor("blk.0.attn_norm.weight", &[64]),
            ],
        );
        assert_eq!(check_fit(&adapter, &base()), Ok(()));
    }

    #[test]
    fn each_misfit_is_named() {
        let refused = |adapter: GgufInfo| check_fit(&adapter, &base()).unwrap_err();
        assert!(refused(base()).contains("`general.type` is `model`, not `adapter`"));
        let mut not_lora = lora("llama", Vec::new());
        not_lora.metadata.insert(
            "adapter.type".into(),
            MetaValue::String("control_vector".into()),
        );
        assert!(refused(not_lora).contains("`adapter.type` is `control_vector`, not `lora`"));
        assert_eq!(
            refused(lora("gemma3", Vec::new())),
            "it is for the architecture `gemma3`, the model is `llama`"
        );
        assert_eq!(
            refused(lora(
                "llama",
                vec![tensor("blk.0.ffn_down.weight.lora_a", &[256, 4])]
            )),
            "`blk.0.ffn_down.weight` has no `blk.0.ffn_down.weight.lora_b`"
        );
        assert!(
            refused(lora(
                "llama",
                vec![
                    tensor("blk.9.ffn_down.weight.lora_a", &[256, 4]),
                    tensor("blk.9.ffn_down.weight.lora_b", &[4, 64]),
                ]
            ))
            .starts_with("`blk.9.ffn_down.weight` is not a tensor of the model")
        );
        // Input and output sides swapped, as for a tensor of the other orientation.
        let swapped = refused(lora(
            "llama",
            vec![
                tensor("blk.0.ffn_down.weight.lora_a", &[64, 4]),
                tensor("blk.0.ffn_down.weight.lora_b", &[4, 256]),
            ],
        ));
        assert!(
            swapped.contains("lora_a must be [256, r] and lora_b [r, 64]"),
            "{swapped}"
        );
        // The embedding's pair the other way round (as for any other tensor).
        let embedding = refused(lora(
            "llama",
            vec![
                tensor("token_embd.weight.lora_a", &[64, 4]),
                tensor("token_embd.weight.lora_b", &[4, 1000]),
            ],
        ));
        assert!(
            embedding.contains("lora_a must be [r, 1000] and lora_b [r, 64]"),
            "{embedding}"
        );
        let ranks = refused(lora(
            "llama",
            vec![
                tensor("token_embd.weight.lora_a", &[4, 1000]),
                tensor("token_embd.weight.lora_b", &[2, 64]),
            ],
        ));
        assert!(ranks.contains("do not fit"), "{ranks}");
        // Ranks that differ between the two.
        assert!(
            refused(lora(
                "llama",
                vec![
                    tensor("blk.0.ffn_down.weight.lora_a", &[256, 4]),
                    tensor("blk.0.ffn_down.weight.lora_b", &[2, 64]),
                ]
            ))
            .contains("do not fit")
        );
        assert!(
            refused(lora(
                "llama",
                vec![tensor("blk.0.ffn_down.weight", &[256, 64])]
            ))
            .contains("neither a `.lora_a` nor a `.lora_b`")
        );
    }
}
