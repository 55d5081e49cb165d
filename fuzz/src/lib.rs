//! The pure-Rust parts of `agentry-llama` that read untrusted input, compiled here from
//! their sources so that the fuzz targets do not build and link llama.cpp: the GGUF header
//! reader and the chat-template renderer.

#![allow(dead_code, unused_imports)]

/// `llama/src`, as far as the fuzz targets need it.
#[path = "../../llama/src"]
pub mod llama {
    pub mod gguf;
    pub mod template;
}
