//! Language models: the GGUF header reader and the model store.

pub mod gguf;

/// The model store (the `agentry-store` crate): specs, registry, downloads.
pub use agentry_store as store;
